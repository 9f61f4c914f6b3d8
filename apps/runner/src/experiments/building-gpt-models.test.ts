import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { models1To5, trainWithoutQ } from './building-gpt-models.js';
import { populatedTestCache, runForTest, TEST_DATA } from './testing.js';

const SHAKESPEARE = join(TEST_DATA, 'corpora/tiny-shakespeare.txt');

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('models-1-to-5', () => {
  it('starts near ln(vocabulary size)', async () => {
    const { results } = await runForTest(
      models1To5,
      cache,
      { 'n-embd': '32', 'block-size': '16', 'new-tokens': '5' },
      { corpusPaths: [SHAKESPEARE] },
    );
    expect(results.vocabSize).toBe(65);
    expect(results.uniformLoss as number).toBeCloseTo(Math.log(65), 10);
    const models = results.models as { model: number; parameters: number; loss: number; generated: string }[];
    expect(models.map((row) => row.model)).toEqual([1, 2, 3, 4, 5]);
    // Model 1: wte 65 x 32 and lm_head 65 x 32.
    expect(models[0].parameters).toBe(2 * 65 * 32);
    // Model 5 adds its blocks to 65 x 32 + 16 x 32 embeddings and ln_f.
    const block = 2 * 2 * 32 + 32 * 96 + 96 + 32 * 32 + 32 + 32 * 128 + 128 + 128 * 32 + 32;
    expect(models[4].parameters).toBe(65 * 32 + 16 * 32 + 2 * block + 2 * 32);
    for (const index of [0, 2, 4]) expect(Math.abs(models[index].loss - Math.log(65))).toBeLessThan(0.6);
    expect(models[3].loss).toBeGreaterThan(Math.log(65) + 1);
    for (const row of models) expect([...row.generated]).toHaveLength(5);
  });
});

describe('train-without-q', () => {
  it('trains with and without Q', async () => {
    const { results, output } = await runForTest(
      trainWithoutQ,
      cache,
      {
        steps: '25',
        batch: '4',
        'n-embd': '16',
        'n-layer': '1',
        'n-head': '2',
        'block-size': '16',
        smoothing: '5',
      },
      { corpusPaths: [SHAKESPEARE] },
    );
    expect((results.parametersWithQ as number) - (results.parametersWithoutQ as number)).toBe(16 * 16 + 16);
    expect(results.lossesWithQ as number[]).toHaveLength(25);
    expect(results.lossesWithoutQ as number[]).toHaveLength(25);
    expect(results.finalLossWithQ as number).toBeLessThan((results.initialLossWithQ as number) - 0.3);
    expect(results.finalLossWithoutQ as number).toBeLessThan((results.initialLossWithoutQ as number) - 0.3);
    expect(output.figures).toEqual(['loss']);
  });
});
