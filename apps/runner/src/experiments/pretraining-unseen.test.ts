import { beforeAll, describe, expect, it } from 'vitest';
import { unseenTokens } from './pretraining-unseen.js';
import { populatedTestCache, runForTest } from './testing.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('unseen-tokens', () => {
  it('pushes never-used tokens down', async () => {
    const { results, output } = await runForTest(unseenTokens, cache, {
      'max-chars': '60000',
      steps: '60',
      'batch-size': '4',
      'block-size': '16',
      'eval-interval': '20',
    });
    expect(results.vocabSize).toBe(50257);
    const unique = results.uniqueTokens as number;
    expect(unique).toBeGreaterThan(1000);
    expect(unique + (results.neverUsedCount as number)).toBe(50257);
    expect(results.uniformLogProb).toBe(-10.8249);
    const initial = results.initialMeanLogProb as Record<string, number>;
    const final = results.finalMeanLogProb as Record<string, number>;
    for (const value of Object.values(initial)) expect(Math.abs(value + 10.8249)).toBeLessThan(0.1);
    expect(final['most common']).toBeGreaterThan(initial['most common'] + 1);
    expect(final['never used']).toBeLessThan(initial['never used'] - 0.05);
    expect(final['never used']).toBeLessThan(final['least common']);
    expect((results.tracked as unknown[]).map((entry) => (entry as { step: number }).step)).toEqual([
      0, 20, 40, 60,
    ]);
    expect(output.figures).toEqual(['category-log-probs', 'training-loss', 'vocabulary-use']);
  });
});
