import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GptConfig, initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { type ByteLevelBpeTokenizer, trainBpe } from '@glassbox/tokenizers';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  type Tensor as HfTensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  pipeline,
} from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTransformersJsModel } from '../packages/gpt-core/src/export-node.js';
import { CachedGenerator } from '../packages/gpt-core/src/kv-cache.js';

const CORPUS = fileURLToPath(new URL('../../shared/data/corpora/the-time-machine.txt', import.meta.url));
const EOS = '<|endoftext|>';

/** Weights five times GPT-2's initialization, so that greedy choices are not near-ties between runtimes. */
function largeParameters(config: GptConfig, seed: number): Map<string, Float32Array> {
  const parameters = initGptParameters(config, new Rng(seed));
  for (const [name, data] of parameters) {
    if (name.endsWith('.weight') && !name.includes('ln_')) for (let i = 0; i < data.length; i++) data[i] *= 5;
  }
  return parameters;
}

describe('transformers.js loads an exported GPT-2', () => {
  let directory: string;
  let modelDirectory: string;
  let tokenizer: ByteLevelBpeTokenizer;
  let config: GptConfig;
  let generator: CachedGenerator;
  let hfModel: PreTrainedModel;
  let hfTokenizer: PreTrainedTokenizer;

  beforeAll(async () => {
    const text = (await readFile(CORPUS, 'utf8')).slice(0, 40_000);
    tokenizer = trainBpe(text, { vocabSize: 300, preTokenizer: 'gpt2', specialTokens: [EOS] });
    config = resolveGptConfig({
      vocabSize: tokenizer.vocabSize,
      blockSize: 96,
      nLayer: 2,
      nHead: 4,
      nEmbd: 32,
    });
    const parameters = largeParameters(config, 21);

    directory = await mkdtemp(join(tmpdir(), 'glassbox-transformers-'));
    modelDirectory = join(directory, 'tiny-gpt2');
    await writeTransformersJsModel(modelDirectory, config, parameters, { tokenizer, eosToken: EOS });
    // transformers.js loads its own onnxruntime-node, whose shared library (libonnxruntime.so.1) cannot
    // coexist in one process with the version @glassbox/graph uses, so this side runs on onnxruntime-web.
    generator = await CachedGenerator.create(config, parameters, { backend: 'web', intraOpThreads: 1 });

    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = dirname(modelDirectory);
    const options = { local_files_only: true, dtype: 'fp32', device: 'cpu' } as const;
    hfTokenizer = await AutoTokenizer.from_pretrained(basename(modelDirectory), { local_files_only: true });
    hfModel = await AutoModelForCausalLM.from_pretrained(basename(modelDirectory), options);
  });

  afterAll(async () => {
    await generator?.release();
    await hfModel?.dispose();
    await rm(directory, { recursive: true, force: true });
  });

  it('writes the expected files', async () => {
    const configJson = JSON.parse(await readFile(join(modelDirectory, 'config.json'), 'utf8'));
    expect(configJson.model_type).toBe('gpt2');
    expect(configJson.use_cache).toBe(true);
    expect(configJson.eos_token_id).toBe(tokenizer.specialTokens.get(EOS));
    const generation = JSON.parse(await readFile(join(modelDirectory, 'generation_config.json'), 'utf8'));
    expect(generation.eos_token_id).toBe(tokenizer.specialTokens.get(EOS));
    const tokenizerJson = JSON.parse(await readFile(join(modelDirectory, 'tokenizer.json'), 'utf8'));
    expect(tokenizerJson).toEqual(JSON.parse(JSON.stringify(tokenizer.toJSON())));
  });

  it('tokenizer encodes like the Glassbox one', () => {
    const sample = 'The Time Traveller (for so it will be convenient to speak of him)';
    expect(hfTokenizer.encode(sample)).toEqual(tokenizer.encode(sample));
  });

  it('greedy tokens equal CachedGenerator', async () => {
    const text = 'The Time Traveller smiled. "It is simply this."';
    const prompt = tokenizer.encode(text);
    const stopToken = tokenizer.specialTokens.get(EOS)!;
    const ours = await generator.generate(prompt, {
      maxNewTokens: 30,
      rng: new Rng(0),
      temperature: 0,
      stopTokens: [stopToken],
    });
    const output = (await hfModel.generate({
      ...hfTokenizer(text),
      max_new_tokens: 30,
      do_sample: false,
    })) as HfTensor;
    const theirs = Array.from(output.data as BigInt64Array, Number).slice(prompt.length);
    expect(new Set(ours).size).toBeGreaterThan(3);
    expect(theirs).toEqual(ours);
  });

  it('left-padded batch matches CachedGenerator', async () => {
    const texts = ['He was', 'The Psychologist looked at us'];
    const prompts = texts.map((t) => tokenizer.encode(t));
    const ours = await generator.generateBatch(prompts, {
      maxNewTokens: 12,
      rng: new Rng(0),
      temperature: 0,
    });

    hfTokenizer.padding_side = 'left';
    hfTokenizer.pad_token_id = 0;
    hfTokenizer.pad_token = tokenizer.idToToken(0)!;
    const inputs = hfTokenizer(texts, { padding: true });
    const output = (await hfModel.generate({ ...inputs, max_new_tokens: 12, do_sample: false })) as HfTensor;
    const [rows, width] = output.dims;
    const data = Array.from(output.data as BigInt64Array, Number);
    const theirs = Array.from({ length: rows }, (_, row) =>
      data.slice(row * width + (width - 12), (row + 1) * width),
    );
    expect(theirs).toEqual(ours);
  });

  it('text-generation pipeline continues the prompt', async () => {
    const generate = await pipeline('text-generation', basename(modelDirectory), {
      local_files_only: true,
      dtype: 'fp32',
    });
    const prompt = 'It was at ten';
    const result = (await generate(prompt, { max_new_tokens: 10, do_sample: false })) as {
      generated_text: string;
    }[];
    const ids = await generator.generate(tokenizer.encode(prompt), {
      maxNewTokens: 10,
      rng: new Rng(0),
      temperature: 0,
    });
    expect(result[0].generated_text).toBe(prompt + tokenizer.decode(ids));
    await generate.dispose();
  });
});
