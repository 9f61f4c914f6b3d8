import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dropoutTraining, weightInits } from './pretraining-inits.js';
import { populatedTestCache, runForTest, TEST_DATA } from './testing.js';

const SHAKESPEARE = join(TEST_DATA, 'corpora/tiny-shakespeare.txt');

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

interface SchemeSummary {
  wteStd: number;
  attentionWeightStd: number;
  initialLoss: number;
  finalLoss: number;
}

describe('weight-inits', () => {
  it('compares the initializations', async () => {
    const { results, output } = await runForTest(
      weightInits,
      cache,
      { steps: '60', 'max-chars': '20000', 'eval-iters': '4' },
      { corpusPaths: [SHAKESPEARE] },
    );
    const schemes = results.schemes as unknown as Record<string, SchemeSummary>;
    const uniform = results.uniformLoss as number;
    expect(Object.keys(schemes)).toEqual(['gpt2', 'normal-0.02', 'normal-1', 'xavier', 'kaiming', 'pytorch']);
    // Sample standard deviations of a few thousand draws, within 6% of the scheme's value.
    const near = (value: number, expected: number) =>
      expect(Math.abs(value / expected - 1)).toBeLessThan(0.06);
    near(schemes['normal-0.02'].wteStd, 0.02);
    near(schemes['normal-1'].wteStd, 1);
    // Xavier normal on wte [V, 32] has std sqrt(2 / (V + 32)). Kaiming uniform on c_attn [32, 96] has std sqrt(2 / 32).
    const vocab = Math.round(Math.exp(uniform));
    near(schemes.xavier.wteStd, Math.sqrt(2 / (vocab + 32)));
    near(schemes.kaiming.attentionWeightStd, Math.sqrt(2 / 32));
    // U(-1/sqrt(32), 1/sqrt(32)) has a standard deviation of 1/sqrt(3 * 32).
    near(schemes.pytorch.attentionWeightStd, 1 / Math.sqrt(3 * 32));
    // Small weights start near ln V; N(0, 1) weights give confident wrong predictions.
    expect(Math.abs(schemes.gpt2.initialLoss - uniform)).toBeLessThan(0.1);
    expect(Math.abs(schemes['normal-0.02'].initialLoss - uniform)).toBeLessThan(0.1);
    expect(schemes['normal-1'].initialLoss).toBeGreaterThan(uniform + 3);
    expect(schemes['normal-1'].finalLoss).toBeGreaterThan(schemes.gpt2.finalLoss + 0.5);
    for (const summary of Object.values(schemes)) expect(summary.finalLoss).toBeLessThan(summary.initialLoss);
    expect(output.figures).toEqual(['loss-curves', 'initial-final-loss']);
  });

  it('rejects an unknown scheme', async () => {
    await expect(runForTest(weightInits, cache, { schemes: 'gpt2,zeros' })).rejects.toThrow(/--schemes/);
  });
});

describe('dropout-training', () => {
  it('scales survivors and turns off in evaluation', async () => {
    const { results, output } = await runForTest(
      dropoutTraining,
      cache,
      {
        steps: '150',
        'eval-interval': '50',
        'max-chars': '10000',
        'eval-iters': '8',
        'vector-length': '10000',
      },
      { corpusPaths: [SHAKESPEARE] },
    );

    expect(results.survivorValues).toEqual([1.25]);
    expect(Math.abs((results.zeroFraction as number) - 0.2)).toBeLessThan(0.02);
    expect(Math.abs((results.meanAfterDropout as number) - 1)).toBeLessThan(0.03);

    const [plain, withDropout] = results.runs as {
      dropout: number;
      finalTrainLoss: number;
      batchMinusEvaluatedTrainLoss: number;
    }[];
    expect(plain.dropout).toBe(0);
    expect(withDropout.dropout).toBe(0.2);
    // Training batches run with dropout on, evaluation with it off.
    expect(withDropout.batchMinusEvaluatedTrainLoss).toBeGreaterThan(
      plain.batchMinusEvaluatedTrainLoss + 0.05,
    );
    expect(withDropout.finalTrainLoss).toBeGreaterThan(plain.finalTrainLoss);

    const curves = results.evaluations as Record<string, { step: number }[]>;
    expect(curves['dropout 0.2'].map((e) => e.step)).toEqual([0, 50, 100, 150]);
    expect(output.figures).toEqual(['train-validation-loss']);
  });
});
