import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import { saveGpt2Directory } from '@glassbox/gpt-core/node';
import { Rng } from '@glassbox/graph';
import { beforeAll, describe, expect, it } from 'vitest';
import { doWeNeedQ } from './building-gpt-query-noise.js';
import { populatedTestCache, runForTest, TEST_DATA, trainedTestModel } from './testing.js';

const SHAKESPEARE = join(TEST_DATA, 'corpora/tiny-shakespeare.txt');

let cache: string;
let modelDir: string;

beforeAll(async () => {
  cache = await populatedTestCache();
  modelDir = await trainedTestModel();
}, 120_000);

function runOn(model: string, raw: Record<string, string>) {
  return runForTest(doWeNeedQ, cache, raw, { corpusPaths: [SHAKESPEARE], modelDir: model });
}

describe('do-we-need-q', () => {
  it('raises the loss of a trained model', async () => {
    const { results, output } = await runOn(modelDir, {
      prompt: 'ROMEO:',
      'new-tokens': '20',
      windows: '8',
      'window-length': '32',
    });
    const intact = results.intactLoss as number;
    const single = results.singleLayerLosses as number[];
    const cumulative = results.cumulativeLosses as number[];
    // Trained: well below ln(65) = 4.17 of a uniform guess.
    expect(intact).toBeLessThan(2.8);
    expect(results.evaluationTokens).toBe(8 * 32);
    expect(single).toHaveLength(2);
    expect(cumulative).toHaveLength(3);
    expect(cumulative[0]).toBe(intact);
    // Layer 0 alone equals the first cumulative step: the same noise in the same place.
    expect(cumulative[1]).toBe(single[0]);
    expect(cumulative[2]).toBeGreaterThan(intact + 0.05);
    const generations = results.generations as string[];
    expect(generations).toHaveLength(3);
    for (const text of generations) expect(text).toHaveLength(20);
    expect(output.figures).toEqual(['loss-cumulative', 'loss-by-layer']);
  });

  it('replaces V instead of Q', async () => {
    const q = await runOn(modelDir, { 'new-tokens': '1', windows: '4', 'window-length': '32' });
    const v = await runOn(modelDir, {
      'new-tokens': '1',
      windows: '4',
      'window-length': '32',
      projection: 'v',
    });
    expect(v.results.intactLoss).toBe(q.results.intactLoss);
    expect(v.results.cumulativeLosses).not.toEqual(q.results.cumulativeLosses);
  });

  it('names the missing tokenizer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glassbox-no-tokenizer-'));
    const config = resolveGptConfig({ vocabSize: 30, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 4 });
    await saveGpt2Directory(dir, config, initGptParameters(config, new Rng(1)));
    await expect(runOn(dir, {})).rejects.toThrow(/has no tokenizer\.json .* 30-token vocabulary/);
  });
});
