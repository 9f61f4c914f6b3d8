import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import { saveGpt2Directory } from '@glassbox/gpt-core/node';
import { Rng } from '@glassbox/graph';
import { beforeAll, describe, expect, it } from 'vitest';
import { doWeNeedQ, mostSensitiveLayerNote } from './building-gpt-query-noise.js';
import { populatedTestCache, runForTest, TEST_CORPORA, TEST_DATA, trainedTestModel } from './testing.js';

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

  it('names the characters a --prompt lacks', async () => {
    await expect(runOn(modelDir, { prompt: 'café {x}' })).rejects.toThrow(
      /--prompt "café \{x\}" cannot be encoded with the tokenizer of .*tokenizer\.json: the tokenizer has no token for "é", "\{", "\}"\. Use only characters/,
    );
  });

  it('names the text whose characters the model lacks', async () => {
    const run = runForTest(doWeNeedQ, cache, {}, { corpusPaths: [TEST_CORPORA.timeMachine], modelDir });
    await expect(run).rejects.toThrow(
      /the text the-time-machine\.txt cannot be encoded .*: the tokenizer has no token for .*"\(".* with --corpus PATH/,
    );
  });

  it('reports a --model directory that does not exist', async () => {
    await expect(runOn(join(tmpdir(), 'glassbox-no-such-model'), {})).rejects.toThrow(
      /--model directory ".*glassbox-no-such-model" not found\./,
    );
  });

  it('reports a --model path that is a file', async () => {
    await expect(runOn(join(modelDir, 'config.json'), {})).rejects.toThrow(
      /--model ".*config\.json" is a file\. Pass the directory/,
    );
  });

  it('notes a window length cut to the context', async () => {
    const { results, output } = await runOn(modelDir, {
      'new-tokens': '1',
      windows: '2',
      'window-length': '64',
    });
    expect(results.evaluationTokens).toBe(2 * 32);
    expect(output.notes).toContain(
      "--window-length 64 exceeds the model's context of 32 tokens, so each window has 32 tokens.",
    );
  });
});

describe('mostSensitiveLayerNote', () => {
  it('names the layer with the largest increase', () => {
    expect(mostSensitiveLayerNote([0.1, 0.5, -0.2], 'Q')).toBe(
      "Noise in layer 1's Q alone costs the most: +0.5 nats.",
    );
  });

  it('says when no layer raised the loss', () => {
    expect(mostSensitiveLayerNote([-0.007608, -0.0004677], 'Q')).toBe(
      "Noise in no single layer's Q raised the loss. The smallest decrease was 0.0004677 nats, in layer 1.",
    );
  });
});
