import { beforeAll, describe, expect, it } from 'vitest';
import {
  causalAveraging,
  dropoutExperiment,
  embeddingVsLinear,
  geluVsRelu,
  gpt2ParameterCounts,
  layerNormExperiment,
  samplingMethods,
} from './building-gpt-basics.js';
import { populatedTestCache, runForTest } from './testing.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('gpt2-parameter-counts', () => {
  it('matches the Hugging Face counts', async () => {
    const { results } = await runForTest(gpt2ParameterCounts, cache);
    expect(results.totals).toEqual({
      gpt2: 124_439_808,
      'gpt2-medium': 354_823_168,
      'gpt2-large': 774_030_080,
      'gpt2-xl': 1_557_611_200,
    });
    expect(results.totalsByFormula).toEqual(results.totals);
    const components = results.byComponent as Record<string, Record<string, number>>;
    expect(components.gpt2.embeddings).toBe(50257 * 768 + 1024 * 768);
    expect(components.gpt2.attention).toBe(12 * (768 * 2304 + 2304 + 768 * 768 + 768));
    expect(components.gpt2.head).toBe(0);
    expect((results.tiedHeadParameters as Record<string, number>).gpt2).toBe(38_597_376);
  });
});

describe('sampling-methods', () => {
  it('filters tokens per method', async () => {
    const { results } = await runForTest(samplingMethods, cache, {
      draws: '4000',
      'top-k': '2',
      'top-p': '0.5',
    });
    const methods = results.methods as Record<string, { observedPercent: number[]; tokensDrawn: number }>;
    expect(methods.greedy.observedPercent[0]).toBe(100);
    expect(methods.greedy.tokensDrawn).toBe(1);
    expect(methods['top-k (k = 2)'].tokensDrawn).toBe(2);
    expect(methods.multinomial.tokensDrawn).toBeGreaterThan(5);
    // softmax([2.5, 2, ...]) puts 34.6 % and 21.0 % on the first two tokens, so p = 0.5 keeps both.
    expect(methods['top-p (p = 0.5)'].tokensDrawn).toBe(2);
    expect(results.maxFrequencyError as number).toBeLessThan(3);
  });
});

describe('layer-norm', () => {
  it('gives rows of mean beta and std gamma', async () => {
    const { results } = await runForTest(layerNormExperiment, cache);
    for (const value of results.rowMeansScaled as number[]) expect(value).toBeCloseTo(5, 4);
    for (const value of results.rowStdsScaled as number[]) expect(value).toBeCloseTo(3, 3);
    for (const value of results.rowUnbiasedStdsScaled as number[]) expect(value).toBeCloseTo(3.1623, 3);
    for (const value of results.rowMeansStandard as number[]) expect(Math.abs(value)).toBeLessThan(1e-5);
    expect(results.correlationInputNormalized as number).toBeGreaterThan(0.9);
  });
});

describe('causal-averaging', () => {
  it('agrees between tril and masked softmax', async () => {
    const { results, output } = await runForTest(causalAveraging, cache, { length: '5' });
    expect(results.trilWeightsLastRow).toEqual([0.2, 0.2, 0.2, 0.2, 0.2]);
    const diagonal = results.softmaxWeightsDiagonal as number[];
    for (const [i, value] of diagonal.entries()) expect(value).toBeCloseTo(1 / (i + 1), 6);
    expect(results.maxDifferenceTrilSoftmax as number).toBeLessThan(1e-6);
    expect(results.maxDifferenceAverages as number).toBeLessThan(1e-5);
    expect(results.maxDifferenceCumulativeMean as number).toBeLessThan(1e-12);
    expect(results.zeroMaskedFutureWeight as number).toBeCloseTo(0.8, 6);
    expect(output.figures).toEqual(['tril-weights', 'softmax-weights', 'zero-masked-weights']);
  });
});

describe('embedding-vs-linear', () => {
  it('equals the one-hot product', async () => {
    const { results } = await runForTest(embeddingVsLinear, cache, { 'vocab-size': '500', tokens: '8' });
    expect(results.dim).toBe(22);
    expect(results.maxDifferenceLookupOneHot).toBe(0);
    expect(results.embeddingParameters).toBe(11000);
    expect(results.linearParameters).toBe(11500);
    expect(results.embeddingStd as number).toBeCloseTo(1, 1);
    expect(results.linearStd as number).toBeCloseTo(results.linearExpectedStd as number, 2);
  });
});

describe('gelu-vs-relu', () => {
  it('matches closed-form derivatives', async () => {
    const { results } = await runForTest(geluVsRelu, cache);
    expect(results.maxDifferenceGeluTanh as number).toBeGreaterThan(1e-4);
    expect(results.maxDifferenceGeluTanh as number).toBeLessThan(1e-3);
    expect(results.correlationGeluTanh as number).toBeGreaterThan(0.9999);
    expect(results.reluDerivativeValues).toEqual([0, 1]);
    expect(results.geluDerivativeAtZero as number).toBeCloseTo(0.5, 6);
    expect(results.maxErrorGeluDerivative as number).toBeLessThan(1e-5);
    expect(results.maxErrorGeluTanhDerivative as number).toBeLessThan(1e-5);
    expect(results.maxErrorReluDerivative).toBe(0);
  });
});

describe('dropout', () => {
  it('scales survivors to 1.25', async () => {
    const { results } = await runForTest(dropoutExperiment, cache, { size: '20000' });
    expect(results.trainingValues).toEqual([0, 1.25]);
    expect(Math.abs((results.trainingZeroFraction as number) - 0.2)).toBeLessThan(0.01);
    expect(Math.abs((results.trainingMean as number) - 1)).toBeLessThan(0.02);
    expect(results.evaluationValues).toEqual([1]);
    expect(results.evaluationZeroFraction).toBe(0);
  });
});
