import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGpt, type GptConfig, initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import { Graph, GraphSession, parseSafetensors, Rng, toFloat32, toOnnx } from '@glassbox/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGpt2Directory, saveGpt2Directory } from '../packages/gpt-core/src/export-node.js';
import { CachedGenerator } from '../packages/gpt-core/src/kv-cache.js';
import {
  maxAbsDifference,
  pythonScript,
  relativeMaxError,
  runPython,
  TORCH_SKIP_REASON,
  torchAvailable,
} from './src/python.js';

/** A GPT-2 directory written by transformers 4.36.2 `save_pretrained`: 1 layer, width 2, vocabulary 21. */
const HF_TINY = fileURLToPath(new URL('../../shared/data/models/hf-tiny-gpt2', import.meta.url));
const SCRIPT = pythonScript('hf_gpt2_logits.py');

/** Logits [batch, seq, vocab] of every position, from the uncached graph of `buildGpt`. */
async function fullLogits(
  config: GptConfig,
  parameters: Map<string, Float32Array>,
  rows: number[][],
): Promise<Float32Array> {
  const g = new Graph('parity');
  const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence']);
  g.output('logits', buildGpt(g, config, { inputIds }).logits);
  const session = await GraphSession.create(toOnnx(g), { intraOpThreads: 1 });
  const feeds = Object.fromEntries(
    [...parameters].map(([name, data]) => [
      name,
      session.tensor('float32', data, g.parameters.find((p) => p.name === name)!.shape as number[]),
    ]),
  );
  const ids = BigInt64Array.from(rows.flat(), (v) => BigInt(v));
  const result = await session.run({
    ...feeds,
    input_ids: session.tensor('int64', ids, [rows.length, rows[0].length]),
  });
  await session.release();
  return result.logits.data as Float32Array;
}

function referenceLogits(directory: string, rows: number[][], out: string): Promise<Float32Array> {
  runPython([
    SCRIPT,
    '--model-dir',
    directory,
    '--out',
    out,
    ...rows.flatMap((row) => ['--ids', row.join(',')]),
  ]);
  return readFile(out).then((bytes) =>
    Float32Array.from(toFloat32(parseSafetensors(new Uint8Array(bytes)).tensors.get('logits')!)),
  );
}

describe.skipIf(!torchAvailable())(`Hugging Face GPT-2 matches PyTorch (${TORCH_SKIP_REASON})`, () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'glassbox-hf-parity-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('transformers-written model gives reference logits', async () => {
    const { config, parameters } = await loadGpt2Directory(HF_TINY);
    const rows = [
      [20, 14, 3, 15, 11, 0, 1],
      [16, 17, 18, 10, 9, 8, 7],
    ];
    const expected = await referenceLogits(HF_TINY, rows, join(directory, 'tiny.safetensors'));
    const actual = await fullLogits(config, parameters, rows);
    expect(actual.length).toBe(2 * 7 * 21);
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-5);

    // The cached generator's first step gives the last position's logits.
    const generator = await CachedGenerator.create(config, parameters, { intraOpThreads: 1 });
    const state = await generator.prefill(rows);
    for (let row = 0; row < rows.length; row++) {
      const offset = (row * 7 + 6) * 21;
      expect(maxAbsDifference(state.logits[row], expected.subarray(offset, offset + 21))).toBeLessThan(1e-5);
    }
    await generator.release();
  });

  it('saved directory loads in the independent reader', async () => {
    const config = resolveGptConfig({ vocabSize: 40, blockSize: 16, nLayer: 2, nHead: 4, nEmbd: 32 });
    const parameters = initGptParameters(config, new Rng(11));
    // Ten times GPT-2's initialization, so that GELU's nonlinearity and the attention pattern matter.
    for (const [name, data] of parameters) {
      if (name.endsWith('.weight') && !name.includes('ln_'))
        for (let i = 0; i < data.length; i++) data[i] *= 10;
    }
    const saved = join(directory, 'saved');
    await saveGpt2Directory(saved, config, parameters);
    const rows = [[1, 5, 39, 0, 12, 7, 7, 30, 2, 19, 4, 4, 8, 33, 21, 9]];
    const expected = await referenceLogits(saved, rows, join(directory, 'saved.safetensors'));
    const actual = await fullLogits(config, parameters, rows);
    expect(relativeMaxError(actual, expected)).toBeLessThan(1e-4);
  });
});
