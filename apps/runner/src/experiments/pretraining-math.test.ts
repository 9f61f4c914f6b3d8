import { beforeAll, describe, expect, it } from 'vitest';
import { attentionScaling, customLoss, logitsVsLogSoftmax } from './pretraining-math.js';
import { populatedTestCache, runForTest, trainedTestModel } from './testing.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('attention-scaling', () => {
  it('keeps scaled softmax spread out', async () => {
    const { results, output } = await runForTest(attentionScaling, cache, { dims: '4,64,1024' });
    expect(Math.abs((results.qkStd50x50 as number) - Math.sqrt(50))).toBeLessThan(0.4);
    const scoreStd = results.scoreStd as number[];
    expect(Math.abs(scoreStd[2] / Math.sqrt(1024) - 1)).toBeLessThan(0.1);
    const rawMax = results.rawMaxWeight as number[];
    const scaledMax = results.scaledMaxWeight as number[];
    const rawEntropy = results.rawEntropy as number[];
    const scaledEntropy = results.scaledEntropy as number[];
    // Unscaled scores with a standard deviation of 32 put nearly all weight on one of 50 keys.
    expect(rawMax[2]).toBeGreaterThan(0.85);
    expect(rawEntropy[2]).toBeLessThan(0.4);
    expect(rawEntropy[0]).toBeGreaterThan(rawEntropy[1]);
    expect(rawEntropy[1]).toBeGreaterThan(rawEntropy[2]);
    // Scaled scores have unit spread at every d, so the softmax keeps the same shape.
    expect(Math.abs(scaledEntropy[2] - scaledEntropy[0])).toBeLessThan(0.15);
    expect(scaledMax[2]).toBeLessThan(0.3);
    expect(scaledEntropy[2]).toBeLessThan(results.uniformEntropy as number);
    expect(output.figures).toEqual(['entropy', 'max-weight', 'score-std']);
    expect(results.layerNorms).toBeUndefined();
  });

  it('draws the layer norms of a trained model', async () => {
    const modelDir = await trainedTestModel();
    const { results, output, report } = await runForTest(
      attentionScaling,
      cache,
      { dims: '4', 'layer-norms': 'true' },
      { modelDir },
    );
    type Summary = { count: number; mean: number; min: number; max: number; outsideRange: number };
    const layerNorms = results.layerNorms as { layerNorms: number; gamma: Summary; beta: Summary };
    // Two blocks with ln_1 and ln_2 each, and ln_f, all of width 48.
    expect(layerNorms.layerNorms).toBe(5);
    expect(layerNorms.gamma.count).toBe(5 * 48);
    expect(layerNorms.beta.count).toBe(5 * 48);
    // Training moves the scales away from their initial 1 and the shifts away from 0.
    expect(layerNorms.gamma.max - layerNorms.gamma.min).toBeGreaterThan(0.1);
    expect(layerNorms.beta.max - layerNorms.beta.min).toBeGreaterThan(0.05);
    expect(layerNorms.gamma.outsideRange).toBe(0);
    expect(output.figures).toEqual([
      'entropy',
      'max-weight',
      'score-std',
      'layer-norm-gamma',
      'layer-norm-beta',
    ]);
    expect(report).toContain('Layer norm scales (gamma) of the trained model');
  }, 120_000);
});

describe('logits-vs-log-softmax', () => {
  it('matches the reference log-softmax', async () => {
    const { results, output } = await runForTest(logitsVsLogSoftmax, cache);
    expect(results.logSoftmax).toEqual([-3.4377, -0.1377, -2.3377]);
    expect(results.logSoftmaxGraph).toEqual([-3.4377, -0.1377, -2.3377]);
    expect(results.nllPerClass).toEqual([3.4377, 0.1377, 2.3377]);
    expect(results.meanBatchNll).toBeCloseTo(2.3377, 4);
    expect(output.figures).toEqual(['scores']);
  });

  it('gives one loss for logits and log-probabilities', async () => {
    const { results } = await runForTest(logitsVsLogSoftmax, cache, { 'vocab-size': '100' });
    const losses = results.modelLosses as Record<string, number>;
    expect(results.maxLossDifference as number).toBeLessThan(1e-5);
    // A GPT-2 initialization gives almost uniform predictions: a loss near ln(100).
    expect(Math.abs(losses.crossEntropyOfLogits - Math.log(100))).toBeLessThan(0.1);
    expect(Object.keys(losses)).toEqual([
      'crossEntropyOfLogits',
      'nllOfLogSoftmax',
      'crossEntropyOfLogSoftmax',
    ]);
  });

  it('rejects a target outside the classes', async () => {
    await expect(runForTest(logitsVsLogSoftmax, cache, { targets: '0,3' })).rejects.toThrow(
      /--targets: 3 is not a class index in \[0, 3\)/,
    );
  });
});

describe('custom-loss', () => {
  it('trains one weight under L1 and L2', async () => {
    const { results, output } = await runForTest(customLoss, cache);
    expect(results.l1).toBe(3);
    expect(results.l2).toBe(9);
    const finals = results.finalWeights as Record<string, number>;
    // L1 moves by lr = 0.05 per step: 50 steps from 0 reach 2.5.
    expect(finals.L1).toBeCloseTo(2.5, 4);
    // L2: w_k = 3 - 3 * (1 - 2 * 0.05)^k.
    expect(finals.L2).toBeCloseTo(3 - 3 * 0.9 ** 50, 4);
    const l1Weights = (results.weights as Record<string, number[]>).L1;
    expect(l1Weights[1] - l1Weights[0]).toBeCloseTo(0.05, 6);
    expect(output.figures).toEqual(['losses', 'weights']);
  });

  it('oscillates around the target under L1', async () => {
    const { results } = await runForTest(customLoss, cache, { iterations: '70', lr: '0.07' });
    const finals = results.finalWeights as Record<string, number>;
    expect(Math.abs(finals.L1 - 3)).toBeLessThanOrEqual(0.07);
    expect(finals.L2).toBeCloseTo(3 - 3 * 0.86 ** 70, 4);
  });
});
