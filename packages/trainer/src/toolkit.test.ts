import { resolveGptConfig, tensorStatistics } from '@glassbox/gpt-core';
import { Graph, GraphSession, Rng, toOnnx } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { applyInitRules, fans, initialize } from './init.js';
import { likedTokensLoss } from './losses.js';
import { scheduleCurve, scheduleMultiplier, validateSchedule } from './schedules.js';
import { firstNonFinite } from './statistics.js';
import { GptTrainer } from './trainer.js';

describe('schedules', () => {
  it('warm up linearly from zero as Hugging Face does', () => {
    const linear = { type: 'linear-with-warmup', warmupSteps: 10, totalSteps: 110 } as const;
    expect(scheduleMultiplier(linear, 0)).toBe(0);
    expect(scheduleMultiplier(linear, 5)).toBe(0.5);
    expect(scheduleMultiplier(linear, 10)).toBe(1);
    expect(scheduleMultiplier(linear, 60)).toBe(0.5);
    expect(scheduleMultiplier(linear, 200)).toBe(0);
  });

  it('follow a half cosine after warmup', () => {
    const cosine = { type: 'cosine-with-warmup', warmupSteps: 0, totalSteps: 100 } as const;
    expect(scheduleMultiplier(cosine, 50)).toBeCloseTo(0.5, 12);
    expect(scheduleMultiplier(cosine, 25)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12);
    const twoCycles = { ...cosine, numCycles: 2 };
    expect(scheduleMultiplier(twoCycles, 50)).toBeCloseTo(1, 12);
  });

  it('decay in steps', () => {
    const step = { type: 'step', stepSize: 3, gamma: 0.1 } as const;
    expect([0, 2, 3, 6].map((s) => scheduleMultiplier(step, s))).toEqual([1, 1, 0.1, 0.1 ** 2]);
    expect(scheduleCurve(step, 2, 4).map((p) => p.lr)).toEqual([2, 2, 2, 2 * 0.1]);
  });

  it('reject invalid settings by name', () => {
    expect(() => validateSchedule({ type: 'step', stepSize: 0, gamma: 0.5 })).toThrow(
      /stepSize must be a positive integer/,
    );
    expect(() => validateSchedule({ type: 'constant-with-warmup', warmupSteps: -1 })).toThrow(/warmupSteps/);
  });
});

describe('initialization', () => {
  const std = (data: Float32Array) => tensorStatistics(data).std;

  it('computes fans for both weight layouts', () => {
    expect(fans([128, 512], 'in-out')).toEqual({ fanIn: 128, fanOut: 512 });
    expect(fans([512, 128], 'out-in')).toEqual({ fanIn: 128, fanOut: 512 });
    expect(fans([8, 4, 3, 3])).toEqual({ fanIn: 36, fanOut: 72 });
  });

  it('draws with the standard deviations of torch.nn.init', () => {
    const rng = new Rng(1);
    const shape = [256, 512];
    const data = new Float32Array(256 * 512);
    initialize(data, shape, { type: 'xavier-normal' }, rng);
    expect(std(data)).toBeCloseTo(Math.sqrt(2 / 768), 3);
    initialize(data, shape, { type: 'xavier-uniform' }, rng);
    expect(tensorStatistics(data).max).toBeLessThanOrEqual(Math.sqrt(6 / 768));
    expect(std(data)).toBeCloseTo(Math.sqrt(2 / 768), 3);
    initialize(data, shape, { type: 'kaiming-uniform' }, rng);
    expect(std(data)).toBeCloseTo(Math.sqrt(2 / 256), 3);
    initialize(data, shape, { type: 'linear-default' }, rng);
    expect(tensorStatistics(data).max).toBeLessThanOrEqual(1 / 16);
    expect(tensorStatistics(data).min).toBeGreaterThanOrEqual(-1 / 16);
    initialize(data, shape, { type: 'truncated-normal', std: 1, a: -0.5, b: 0.5 }, rng);
    expect(tensorStatistics(data).max).toBeLessThanOrEqual(0.5);
    initialize(data, shape, { type: 'gpt2-residual', nLayer: 8 }, rng);
    expect(std(data)).toBeCloseTo(0.02 / 4, 4);
  });

  it('applies the first matching rule by name pattern', () => {
    const parameters = new Map(
      ['h.0.mlp.c_proj.weight', 'h.0.mlp.c_fc.weight', 'h.0.ln_1.weight'].map((name) => [
        name,
        { shape: [4, 4], data: new Float32Array(16).fill(7) },
      ]),
    );
    const matched = applyInitRules(
      parameters,
      [
        { pattern: 'h.*.mlp.c_proj.weight', scheme: { type: 'zeros' } },
        { pattern: /mlp/, scheme: { type: 'ones' } },
      ],
      new Rng(1),
    );
    expect(matched).toEqual([['h.0.mlp.c_proj.weight'], ['h.0.mlp.c_fc.weight']]);
    expect(parameters.get('h.0.mlp.c_proj.weight')!.data[0]).toBe(0);
    expect(parameters.get('h.0.mlp.c_fc.weight')!.data[0]).toBe(1);
    expect(parameters.get('h.0.ln_1.weight')!.data[0]).toBe(7);
  });
});

describe('statistics', () => {
  it('finds the first non-finite tensor', () => {
    const found = firstNonFinite(
      new Map([
        ['a', [1, 2]],
        ['b', [3, Number.POSITIVE_INFINITY]],
      ]),
    );
    expect(found).toEqual({ name: 'b', index: 1, value: Number.POSITIVE_INFINITY });
  });
});

describe('likedTokensLoss', () => {
  it('equals minus the log of the liked probability mass', async () => {
    const g = new Graph();
    const logits = g.input('logits', 'float32', [1, 2, 3]);
    g.output('loss', likedTokensLoss(g, logits, [0, 2]));
    const session = await GraphSession.create(toOnnx(g));
    const values = [1, 2, 3, 0, 0, 0];
    const result = await session.run({
      logits: session.tensor('float32', Float32Array.from(values), [1, 2, 3]),
    });
    const first = (Math.exp(1) + Math.exp(3)) / (Math.exp(1) + Math.exp(2) + Math.exp(3));
    const expected = -(Math.log(first) + Math.log(2 / 3)) / 2;
    expect(result.loss.data[0] as number).toBeCloseTo(expected, 5);
  });

  it('rejects a token outside the vocabulary', () => {
    const g = new Graph();
    expect(() => likedTokensLoss(g, g.input('logits', 'float32', [1, 2, 3]), [3])).toThrow(
      /token id 3 is outside/,
    );
  });
});

describe('non-finite detection', () => {
  it('names the step and the first non-finite parameter', async () => {
    const model = resolveGptConfig({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4 });
    const tokens = Int32Array.from({ length: 100 }, (_, i) => i % 5);
    const options = {
      model,
      batchSize: 2,
      learningRate: 1e-3,
      minLearningRate: 1e-3,
      warmupSteps: 0,
      maxSteps: 10,
      weightDecay: 0,
      beta1: 0.9,
      beta2: 0.95,
      gradClip: 1,
      evalIters: 1,
      seed: 1,
    };
    const trainer = await GptTrainer.create(options, {
      train: tokens.subarray(0, 90),
      validation: tokens.subarray(90),
    });
    const parameters = trainer.parameters();
    parameters.get('h.0.mlp.c_fc.bias')![2] = Number.NaN;
    const state = { ...trainer.state(), parameters };
    await trainer.release();
    const broken = await GptTrainer.create(
      options,
      { train: tokens.subarray(0, 90), validation: tokens.subarray(90) },
      state,
    );
    await expect(broken.trainStep()).rejects.toThrow(
      /training stopped at step 1: parameter h\.0\.mlp\.c_fc\.bias held NaN at index 2/,
    );
    await broken.release();
  });
});
