import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  fromFloat32,
  parseSafetensors,
  Rng,
  serializeSafetensors,
  type TensorEntry,
  toFloat32,
} from '@glassbox/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gptFromSafetensors } from './checkpoint.js';
import { countGptParameters, gptParameterShapes, resolveGptConfig } from './config.js';
import { loadGpt2Directory, saveGpt2Directory } from './export-node.js';
import {
  GPT2_PRESETS,
  gpt2ParametersFromSafetensors,
  gpt2ToSafetensors,
  gptConfigFromHf,
  gptConfigToHf,
} from './gpt2.js';
import { initGptParameters } from './model.js';

/** A GPT-2 directory that transformers 4.36.2 wrote with `save_pretrained` (1 layer, width 2, vocabulary 21). */
const HF_TINY = fileURLToPath(new URL('../../../../shared/data/models/hf-tiny-gpt2', import.meta.url));

describe('GPT-2 presets', () => {
  it.each([
    ['gpt2', 124_439_808],
    ['gpt2-medium', 354_823_168],
    ['gpt2-large', 774_030_080],
    ['gpt2-xl', 1_557_611_200],
  ] as const)('%s has %i parameters', (name, count) => {
    expect(countGptParameters(GPT2_PRESETS[name])).toBe(count);
  });
});

describe('gptConfigFromHf', () => {
  const base = { n_layer: 2, n_head: 2, n_embd: 8, n_positions: 16, vocab_size: 30 };

  it('reads sizes, epsilon and dropout', () => {
    const config = gptConfigFromHf({
      ...base,
      layer_norm_epsilon: 1e-6,
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
    });
    expect(config).toEqual({
      vocabSize: 30,
      blockSize: 16,
      nLayer: 2,
      nHead: 2,
      nEmbd: 8,
      dropout: 0,
      layerNormEpsilon: 1e-6,
    });
  });

  it('fills GPT2Config defaults for missing keys', () => {
    expect(gptConfigFromHf({})).toEqual(GPT2_PRESETS.gpt2);
  });

  it('rejects another activation by name', () => {
    expect(() => gptConfigFromHf({ ...base, activation_function: 'relu' }, 'x/config.json')).toThrow(
      /x\/config.json: activation_function "relu" is not supported/,
    );
  });

  it('rejects another model type', () => {
    expect(() => gptConfigFromHf({ ...base, model_type: 'llama' })).toThrow(/model_type is "llama"/);
  });

  it('rejects a custom MLP width', () => {
    expect(() => gptConfigFromHf({ ...base, n_inner: 10 })).toThrow(/n_inner 10/);
  });

  it('rejects an untied head', () => {
    expect(() => gptConfigFromHf({ ...base, tie_word_embeddings: false })).toThrow(/tie_word_embeddings/);
  });

  it('rejects unequal dropout rates unless overridden', () => {
    const json = { ...base, resid_pdrop: 0.1, embd_pdrop: 0, attn_pdrop: 0.1 };
    expect(() => gptConfigFromHf(json)).toThrow(/differ \(0.1, 0, 0.1\)/);
    expect(gptConfigFromHf(json, 'config.json', { dropout: 0 }).dropout).toBe(0);
  });

  it('rejects a width not divisible by heads', () => {
    expect(() => gptConfigFromHf({ ...base, n_head: 3 }, 'c.json')).toThrow(/c.json: .*divisible by nHead/);
  });

  it('round-trips through gptConfigToHf', () => {
    const config = resolveGptConfig({
      vocabSize: 50,
      blockSize: 32,
      nLayer: 3,
      nHead: 4,
      nEmbd: 16,
      dropout: 0.2,
    });
    const hf = gptConfigToHf(config, { eosTokenId: 49 });
    expect(hf.model_type).toBe('gpt2');
    expect(hf.architectures).toEqual(['GPT2LMHeadModel']);
    expect(hf.eos_token_id).toBe(49);
    expect(gptConfigFromHf(JSON.parse(JSON.stringify(hf)))).toEqual(config);
  });
});

describe('Hugging Face GPT-2 directory', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'glassbox-gpt2-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('loads the transformers-written tiny model', async () => {
    const { config, parameters, hfConfig } = await loadGpt2Directory(HF_TINY);
    expect(config).toEqual({
      vocabSize: 21,
      blockSize: 1024,
      nLayer: 1,
      nHead: 1,
      nEmbd: 2,
      dropout: 0.1,
      layerNormEpsilon: 1e-5,
    });
    expect(hfConfig.eos_token_id).toBe(20);
    expect([...parameters.keys()].sort()).toEqual([...gptParameterShapes(config).keys()].sort());
    const raw = parseSafetensors(new Uint8Array(await readFile(join(HF_TINY, 'model.safetensors'))));
    expect(parameters.get('wte.weight')).toEqual(toFloat32(raw.tensors.get('wte.weight')!));
  });

  it('saves a directory that loads back equal', async () => {
    const config = resolveGptConfig({ vocabSize: 19, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 });
    const parameters = initGptParameters(config, new Rng(5));
    const target = join(directory, 'saved');
    await saveGpt2Directory(target, config, parameters, { eosTokenId: 18 });
    const loaded = await loadGpt2Directory(target);
    expect(loaded.config).toEqual(config);
    expect(loaded.parameters).toEqual(parameters);
    expect(loaded.hfConfig.eos_token_id).toBe(18);

    const file = parseSafetensors(new Uint8Array(await readFile(join(target, 'model.safetensors'))));
    expect(file.tensors.has('lm_head.weight')).toBe(false);
    expect([...file.tensors.keys()].some((name) => name.startsWith('transformer.'))).toBe(false);
    expect(file.metadata.format).toBe('pt');
    // The Glassbox metadata lets the plain checkpoint reader open it too.
    expect(gptFromSafetensors(file, 'saved').config).toEqual(config);
  });

  it('reports a missing config.json with its path', async () => {
    await expect(loadGpt2Directory(join(directory, 'absent'))).rejects.toThrow(/absent\/config.json/);
  });
});

describe('gpt2ParametersFromSafetensors', () => {
  const config = resolveGptConfig({ vocabSize: 7, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4 });
  const parameters = initGptParameters(config, new Rng(1));

  function hfFile(transform: (tensors: Map<string, TensorEntry>) => void) {
    const tensors = new Map<string, TensorEntry>();
    for (const [name, shape] of gptParameterShapes(config)) {
      tensors.set(`transformer.${name}`, fromFloat32(parameters.get(name)!, shape));
    }
    transform(tensors);
    return parseSafetensors(serializeSafetensors(tensors, { format: 'pt' }));
  }

  it('accepts the prefix, mask buffers and a tied lm_head', () => {
    const file = hfFile((tensors) => {
      tensors.set('transformer.h.0.attn.bias', fromFloat32(new Float32Array(16).fill(1), [1, 1, 4, 4]));
      tensors.set('transformer.h.0.attn.masked_bias', fromFloat32(Float32Array.of(-1e4), []));
      tensors.set('lm_head.weight', fromFloat32(parameters.get('wte.weight')!, [7, 4]));
    });
    expect(gpt2ParametersFromSafetensors(file, config)).toEqual(parameters);
  });

  it('rejects an lm_head that differs from wte', () => {
    const file = hfFile((tensors) => {
      tensors.set('lm_head.weight', fromFloat32(new Float32Array(28), [7, 4]));
    });
    expect(() => gpt2ParametersFromSafetensors(file, config, 'm.safetensors')).toThrow(
      /m.safetensors: "lm_head.weight" differs from "wte.weight"/,
    );
  });

  it('names a misshapen tensor with both shapes', () => {
    const file = hfFile((tensors) => {
      tensors.set('transformer.h.0.mlp.c_fc.weight', fromFloat32(new Float32Array(64), [16, 4]));
    });
    expect(() => gpt2ParametersFromSafetensors(file, config)).toThrow(
      'model.safetensors: tensor "transformer.h.0.mlp.c_fc.weight" has shape [16,4], expected [4,16].',
    );
  });

  it('names a missing tensor with its shape', () => {
    const file = hfFile((tensors) => {
      tensors.delete('transformer.ln_f.bias');
    });
    expect(() => gpt2ParametersFromSafetensors(file, config)).toThrow(
      'tensor "ln_f.bias" is missing; expected shape [4]',
    );
  });

  it('names an unexpected tensor', () => {
    const file = hfFile((tensors) => {
      tensors.set('transformer.h.1.ln_1.weight', fromFloat32(new Float32Array(4), [4]));
    });
    expect(() => gpt2ParametersFromSafetensors(file, config)).toThrow(
      /unexpected tensor "transformer.h.1.ln_1.weight"/,
    );
  });

  it('writes unprefixed names that load back', () => {
    const file = parseSafetensors(gpt2ToSafetensors(config, parameters));
    expect([...file.tensors.keys()].every((name) => !name.startsWith('transformer.'))).toBe(true);
    expect(gpt2ParametersFromSafetensors(file, config)).toEqual(parameters);
  });
});

describe('GPT-2 directory with F16 weights', () => {
  it('converts F16 tensors to float32', async () => {
    const config = resolveGptConfig({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4 });
    const tensors = new Map<string, TensorEntry>();
    for (const [name, shape] of gptParameterShapes(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      tensors.set(name, fromFloat32(new Float32Array(size).fill(1.5), shape, 'F16'));
    }
    const directory = await mkdtemp(join(tmpdir(), 'glassbox-gpt2-f16-'));
    try {
      await writeFile(join(directory, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
      await writeFile(
        join(directory, 'config.json'),
        JSON.stringify({ n_layer: 1, n_head: 1, n_embd: 4, n_positions: 4, vocab_size: 5 }),
      );
      const { parameters } = await loadGpt2Directory(directory);
      expect(parameters.get('h.0.mlp.c_fc.weight')!.every((v) => v === 1.5)).toBe(true);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
