import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveGptConfig } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { RandomWindowSampler, splitTrainValidation } from './data.js';
import { runTraining } from './loop.js';
import { loadCheckpoint, saveCheckpoint } from './node.js';
import { cosineWithWarmup } from './schedule.js';
import { GptTrainer, type TrainerOptions } from './trainer.js';

/** A small repetitive text: a model that learns anything at all predicts it well. */
const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(60);
const VOCAB = [...new Set(TEXT)].sort();
const TOKENS = Int32Array.from(TEXT, (c) => VOCAB.indexOf(c));

function options(overrides: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    model: resolveGptConfig({ vocabSize: VOCAB.length, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 }),
    batchSize: 4,
    learningRate: 1e-2,
    minLearningRate: 1e-3,
    warmupSteps: 5,
    maxSteps: 150,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.99,
    gradClip: 1,
    evalIters: 4,
    seed: 42,
    session: { intraOpThreads: 1 },
    ...overrides,
  };
}

describe('cosineWithWarmup', () => {
  const schedule = { maxLearningRate: 1e-3, minLearningRate: 1e-4, warmupSteps: 10, decaySteps: 110 };

  it('warms up linearly as nanoGPT does', () => {
    expect(cosineWithWarmup(0, schedule)).toBeCloseTo(1e-3 / 11, 12);
    expect(cosineWithWarmup(9, schedule)).toBeCloseTo((1e-3 * 10) / 11, 12);
  });

  it('decays by a half cosine to the minimum', () => {
    expect(cosineWithWarmup(10, schedule)).toBeCloseTo(1e-3, 12);
    expect(cosineWithWarmup(60, schedule)).toBeCloseTo(5.5e-4, 12);
    expect(cosineWithWarmup(110, schedule)).toBeCloseTo(1e-4, 12);
    expect(cosineWithWarmup(500, schedule)).toBe(1e-4);
  });
});

describe('data', () => {
  it('holds out the tail for validation', () => {
    const { train, validation } = splitTrainValidation(
      Int32Array.from({ length: 100 }, (_, i) => i),
      0.1,
    );
    expect(train.length).toBe(90);
    expect(Array.from(validation)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });

  it('samples windows whose targets are the inputs shifted by one', () => {
    const tokens = Int32Array.from({ length: 50 }, (_, i) => i);
    const sampler = new RandomWindowSampler(tokens, 8, 3);
    const x = new BigInt64Array(24);
    const y = new BigInt64Array(24);
    sampler.sample(new Rng(1), x, y);
    for (let row = 0; row < 3; row++) {
      const start = Number(x[row * 8]);
      expect(start + 8).toBeLessThanOrEqual(49);
      for (let j = 0; j < 8; j++) {
        expect(Number(x[row * 8 + j])).toBe(start + j);
        expect(Number(y[row * 8 + j])).toBe(start + j + 1);
      }
    }
  });

  it('rejects a stream shorter than the context', () => {
    expect(() => new RandomWindowSampler(new Int32Array(8), 8, 1)).toThrow(/fewer than blockSize \+ 1 = 9/);
  });
});

describe('GptTrainer', () => {
  it('lowers the validation loss', async () => {
    const { train, validation } = splitTrainValidation(TOKENS, 0.1);
    const trainer = await GptTrainer.create(options(), { train, validation });
    const before = await trainer.evaluate();
    expect(before.validation).toBeGreaterThan(Math.log(VOCAB.length) - 0.3);
    for (let i = 0; i < 150; i++) await trainer.trainStep();
    const after = await trainer.evaluate();
    expect(after.validation).toBeLessThan(0.5);
    await trainer.release();
  });

  it('resumes 100 + 100 steps like 200 straight', async () => {
    const data = splitTrainValidation(TOKENS, 0.1);
    const settings = options({ model: { ...options().model, dropout: 0.1 } });
    const straight = await GptTrainer.create(settings, { train: data.train, validation: data.validation });
    const expected: number[] = [];
    for (let i = 0; i < 200; i++) expected.push((await straight.trainStep()).loss);
    await straight.release();

    const first = await GptTrainer.create(settings, { train: data.train, validation: data.validation });
    const losses: number[] = [];
    for (let i = 0; i < 100; i++) losses.push((await first.trainStep()).loss);
    const directory = await mkdtemp(join(tmpdir(), 'glassbox-checkpoint-'));
    await saveCheckpoint(directory, first.state(), settings);
    await first.release();
    expect((await readdir(directory)).sort()).toEqual([
      'model.safetensors',
      'optimizer.safetensors',
      'trainer-state.json',
    ]);

    const restored = await loadCheckpoint(directory);
    expect(restored.state.step).toBe(100);
    const second = await GptTrainer.create(
      { ...restored.options, session: settings.session },
      { train: data.train, validation: data.validation },
      restored.state,
    );
    for (let i = 0; i < 100; i++) losses.push((await second.trainStep()).loss);
    await second.release();
    await rm(directory, { recursive: true });
    expect(losses).toEqual(expected);
  });

  it('accumulates micro-batches like one larger batch', async () => {
    const data = splitTrainValidation(TOKENS, 0.1);
    const whole = await GptTrainer.create(options({ batchSize: 8 }), data);
    const micro = await GptTrainer.create(options({ batchSize: 4, gradientAccumulationSteps: 2 }), data);
    for (let i = 0; i < 5; i++) {
      const a = await whole.trainStep();
      const b = await micro.trainStep();
      expect(b.loss).toBeCloseTo(a.loss, 4);
      expect(b.tokens).toBe(a.tokens);
    }
    const expected = whole.parameters().get('h.1.mlp.c_fc.weight')!;
    const actual = micro.parameters().get('h.1.mlp.c_fc.weight')!;
    let maxDifference = 0;
    for (let i = 0; i < expected.length; i++)
      maxDifference = Math.max(maxDifference, Math.abs(expected[i] - actual[i]));
    expect(maxDifference).toBeLessThan(1e-4);
    await whole.release();
    await micro.release();
  });

  it('runs a loop with callbacks and stops when aborted', async () => {
    const trainer = await GptTrainer.create(options(), splitTrainValidation(TOKENS, 0.1));
    const steps: number[] = [];
    const evaluations: number[] = [];
    const stop = new AbortController();
    const result = await runTraining(trainer, {
      maxSteps: 20,
      evalInterval: 4,
      signal: stop.signal,
      onStep: (report) => {
        steps.push(report.step);
        expect(report.tokensPerSecond).toBeGreaterThan(0);
        if (report.step === 10) stop.abort();
      },
      onEvaluate: (report) => {
        evaluations.push(report.step);
      },
    });
    expect(result).toEqual({ status: 'aborted', step: 10 });
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(evaluations).toEqual([4, 8]);
    const rest = await runTraining(trainer, {
      maxSteps: 13,
      evalInterval: 0,
      onEvaluate: (r) => {
        evaluations.push(r.step);
      },
    });
    expect(rest).toEqual({ status: 'completed', step: 13 });
    expect(evaluations).toEqual([4, 8, 13]);
    await trainer.release();
  });

  it('names the missing file of an incomplete checkpoint', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'glassbox-empty-'));
    await expect(loadCheckpoint(directory)).rejects.toThrow(/model\.safetensors not found/);
    await rm(directory, { recursive: true });
  });
});
