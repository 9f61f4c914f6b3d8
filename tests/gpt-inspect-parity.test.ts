import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gptToSafetensors, initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import {
  parseSafetensors,
  Rng,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorEntry,
  toFloat32,
} from '@glassbox/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForwardResult, inspectForward } from '../packages/gpt-core/src/inspect.js';
import type { Model5Config } from '../packages/gpt-core/src/models.js';
import {
  maxAbsDifference,
  pythonScript,
  runPython,
  TORCH_SKIP_REASON,
  torchAvailable,
} from './src/python.js';

const SCRIPT = pythonScript('gpt_hidden_states.py');
const BATCH = 2;
const SEQ = 12;
const TOLERANCE = 1e-4;

describe.skipIf(!torchAvailable())(`inspection matches PyTorch hidden states (${TORCH_SKIP_REASON})`, () => {
  const gptConfig = resolveGptConfig({ vocabSize: 41, blockSize: 16, nLayer: 3, nHead: 4, nEmbd: 32 });
  const config: Model5Config = { model: 5, ...gptConfig };
  let directory: string;
  let reference: SafetensorsFile;
  let ours: ForwardResult;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'glassbox-inspect-parity-'));
    const rng = new Rng(17);
    const parameters = initGptParameters(gptConfig, rng);
    // Weights five times GPT-2's scale and random biases and layer norms give attention patterns far from
    // uniform, so a wrong mask, scale or head order shows.
    for (const [name, data] of parameters) {
      if (name.includes('ln_')) rng.fillNormal(data, name.endsWith('.weight') ? 1 : 0, 0.3);
      else if (name.endsWith('.bias')) rng.fillNormal(data, 0, 0.2);
      else for (let i = 0; i < data.length; i++) data[i] *= 5;
    }
    const ids = Array.from({ length: BATCH }, (_, b) =>
      Array.from({ length: SEQ }, (_, t) => (b * 13 + t * 7 + 3) % gptConfig.vocabSize),
    );

    const weightsPath = join(directory, 'weights.safetensors');
    const batchPath = join(directory, 'batch.safetensors');
    const outPath = join(directory, 'hidden-states.safetensors');
    await writeFile(weightsPath, gptToSafetensors(gptConfig, parameters));
    const batch = new Map<string, TensorEntry>([
      ['x', { dtype: 'I64', shape: [BATCH, SEQ], data: BigInt64Array.from(ids.flat(), (v) => BigInt(v)) }],
    ]);
    await writeFile(batchPath, serializeSafetensors(batch));
    runPython([SCRIPT, '--weights', weightsPath, '--batch', batchPath, '--out', outPath, '--threads', '1']);
    reference = parseSafetensors(await readFile(outPath), outPath);

    ours = await inspectForward(config, parameters, ids, {
      capture: 'all',
      session: { intraOpThreads: 1 },
    });
  });

  afterAll(async () => {
    if (directory) await rm(directory, { recursive: true });
  });

  const expected = (name: string) => {
    const entry = reference.tensors.get(name);
    if (!entry) throw new Error(`the PyTorch output has no tensor "${name}"`);
    return { data: toFloat32(entry), shape: entry.shape };
  };
  const actual = (name: string) => {
    const tensor = ours.intermediates.get(name);
    if (!tensor) throw new Error(`the inspection result has no intermediate "${name}"`);
    return tensor;
  };

  it('gives the same logits', () => {
    const { data, shape } = expected('logits');
    expect(ours.logits.shape).toEqual(shape);
    expect(maxAbsDifference(ours.logits.data, data)).toBeLessThan(TOLERANCE);
  });

  it('gives the same hidden state after every layer', () => {
    const names = [
      'embeddings',
      ...Array.from({ length: gptConfig.nLayer }, (_, i) => `h.${i}.output`),
      'hidden',
    ];
    for (const name of names) {
      const { data, shape } = expected(name);
      expect(actual(name).shape, name).toEqual(shape);
      expect(maxAbsDifference(actual(name).data, data), name).toBeLessThan(TOLERANCE);
    }
  });

  it('gives the same MLP activations', () => {
    for (let layer = 0; layer < gptConfig.nLayer; layer++) {
      const name = `h.${layer}.mlp.activation`;
      expect(maxAbsDifference(actual(name).data, expected(name).data), name).toBeLessThan(TOLERANCE);
    }
  });

  it('gives the same attention weights for every head', () => {
    const { nLayer, nHead } = gptConfig;
    for (let layer = 0; layer < nLayer; layer++) {
      const all = expected(`h.${layer}.attn.weights`);
      expect(all.shape).toEqual([BATCH, nHead, SEQ, SEQ]);
      let largest = 0;
      for (let head = 0; head < nHead; head++) {
        const name = `h.${layer}.attn.head.${head}.weights`;
        const ourHead = actual(name);
        expect(ourHead.shape).toEqual([BATCH, SEQ, SEQ]);
        const theirs = new Float32Array(BATCH * SEQ * SEQ);
        for (let b = 0; b < BATCH; b++) {
          theirs.set(
            all.data.subarray((b * nHead + head) * SEQ * SEQ, (b * nHead + head + 1) * SEQ * SEQ),
            b * SEQ * SEQ,
          );
        }
        expect(maxAbsDifference(ourHead.data, theirs), name).toBeLessThan(TOLERANCE);
        largest = Math.max(largest, ...theirs);
      }
      // Far from uniform: some query puts most of its weight on a single earlier key.
      expect(largest, `largest attention weight in layer ${layer}`).toBeGreaterThan(0.5);
    }
  });
});
