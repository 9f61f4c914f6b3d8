import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExperimentAssets } from '../assets.js';
import { cpuVsGpu, gpt2WeightDistributions } from './building-gpt-gpt2.js';
import { parseExperimentParams } from './params.js';
import { runExperiment, SILENT_PROGRESS } from './run-experiment.js';
import { populatedTestCache, runForTest, TEST_DATA } from './testing.js';

const TINY_GPT2 = join(TEST_DATA, 'models/hf-tiny-gpt2');

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('cpu-vs-gpu', () => {
  it('times the CPU and reports the GPU', async () => {
    const { results, report } = await runForTest(cpuVsGpu, cache, {
      'vocab-size': '100',
      'n-embd': '32',
      'n-layer': '1',
      'n-head': '2',
      'block-size': '16',
      batch: '2',
      repeats: '2',
    });
    expect(results.tokensPerPass).toBe(32);
    expect(results.cpuForwardMs as number[]).toHaveLength(2);
    expect(results.cpuMeanForwardMs as number).toBeGreaterThan(0);
    if (results.gpuAvailable) {
      expect(results.gpuForwardMs as number[]).toHaveLength(2);
    } else {
      expect(results.gpuError as string).not.toBe('');
      expect(report).toContain('No GPU time');
    }
  });
});

describe('gpt2-weight-distributions', () => {
  it('splits Q, K and V of a local model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glassbox-gpt2-weights-'));
    const output = await runExperiment(gpt2WeightDistributions, {
      params: parseExperimentParams(gpt2WeightDistributions, new Map([['range', '0']])),
      seed: 42,
      outDir: dir,
      assets: new ExperimentAssets({ cacheDir: cache, offline: true, modelDir: TINY_GPT2 }),
      progress: SILENT_PROGRESS,
    });
    const results = output.results;
    expect(results.nEmbd).toBe(2);
    expect(results.nLayer).toBe(1);
    expect((results.wte as { count: number }).count).toBe(21 * 2);
    expect((results.wpe as { count: number }).count).toBe(1024 * 2);
    const qkv = results.qkv as Record<string, { count: number; std: number }>;
    for (const name of ['Q', 'K', 'V']) expect(qkv[name].count).toBe(2 * 2);
    expect(output.figures).toEqual(['embeddings', 'attention-by-layer', 'mlp-by-layer', 'qkv']);
  });

  it('names --model DIR when offline without a cached model', async () => {
    await expect(runForTest(gpt2WeightDistributions, cache)).rejects.toThrow(/--offline.*--model DIR/);
  });
});
