import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionWrittenVsFused,
  multiHeadAttentionExperiment,
  transformerBlockExperiment,
} from './building-gpt-attention.js';
import { populatedTestCache, runForTest } from './testing.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('attention-written-vs-fused', () => {
  it('agrees to float32 rounding', async () => {
    const { results, output } = await runForTest(attentionWrittenVsFused, cache, { batch: '2', length: '6' });
    expect(results.outputShape).toEqual([2, 6, 16]);
    expect(results.weightsShape).toEqual([2, 4, 6, 6]);
    expect(results.maxDifferenceOutput as number).toBeLessThan(1e-5);
    expect(results.maxDifferenceOutput as number).toBeGreaterThan(0);
    expect(results.maxDifferenceWeights as number).toBeLessThan(1e-5);
    expect(results.maxWeightAboveDiagonal).toBe(0);
    expect(results.firstQueryWeight).toBe(1);
    expect(output.figures).toEqual(['head-0-weights', 'head-1-weights', 'head-2-weights', 'head-3-weights']);
  });
});

describe('transformer-block', () => {
  it('keeps shapes and residuals', async () => {
    const { results } = await runForTest(transformerBlockExperiment, cache, {
      'embed-dim': '32',
      batch: '2',
    });
    const shapes = results.shapes as Record<string, number[]>;
    expect(shapes.input).toEqual([2, 8, 32]);
    expect(shapes['h.0.attn.weights']).toEqual([2, 8, 8]);
    expect(shapes['h.0.mlp.activation']).toEqual([2, 8, 128]);
    expect(shapes['h.0.output']).toEqual([2, 8, 32]);
    expect(results.maxDifferenceAttentionResidual as number).toBeLessThan(1e-6);
    expect(results.maxDifferenceMlpResidual as number).toBeLessThan(1e-6);
    expect(results.maxRowSumError as number).toBeLessThan(1e-6);
  });

  it('uses multi-head attention with several heads', async () => {
    const { results } = await runForTest(transformerBlockExperiment, cache, {
      'embed-dim': '32',
      batch: '1',
      heads: '2',
    });
    const shapes = results.shapes as Record<string, number[]>;
    expect(shapes['h.0.attn.weights']).toEqual([1, 2, 8, 8]);
    expect(shapes['h.0.attn.head.1.weights']).toEqual([1, 8, 8]);
  });
});

describe('multi-head-attention', () => {
  it('tracks shapes and matches the fused block', async () => {
    const { results } = await runForTest(multiHeadAttentionExperiment, cache, { 'embed-dim': '32' });
    const shapes = (results.stageShapes as { stage: string; shape: number[] }[]).map((stage) => stage.shape);
    expect(shapes).toEqual([
      [5, 8, 32],
      [5, 8, 32],
      [5, 8, 4, 8],
      [5, 4, 8, 8],
      [5, 4, 8, 8],
      [5, 4, 8, 8],
      [5, 8, 4, 8],
      [5, 8, 32],
      [5, 8, 32],
    ]);
    expect(results.maxDifferenceFused as number).toBeLessThan(1e-5);
  });
});
