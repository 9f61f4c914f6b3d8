import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveGptConfig } from '@glassbox/gpt-core';
import { describe, expect, it } from 'vitest';
import { splitTrainValidation } from './data.js';
import { runTraining } from './loop.js';
import { loadCheckpoint, saveCheckpoint } from './node.js';
import { GptTrainer, type StepMetrics, type TrainerOptions } from './trainer.js';

const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(60);
const VOCAB = [...new Set(TEXT)].sort();
const DATA = splitTrainValidation(
  Int32Array.from(TEXT, (c) => VOCAB.indexOf(c)),
  0.1,
);

function options(overrides: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    model: resolveGptConfig({ vocabSize: VOCAB.length, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 }),
    batchSize: 4,
    learningRate: 1e-2,
    minLearningRate: 1e-3,
    warmupSteps: 5,
    maxSteps: 80,
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

async function train(settings: TrainerOptions, calls: number): Promise<StepMetrics[]> {
  const trainer = await GptTrainer.create(settings, DATA);
  try {
    const metrics: StepMetrics[] = [];
    for (let i = 0; i < calls; i++) metrics.push(await trainer.trainStep());
    return metrics;
  } finally {
    await trainer.release();
  }
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

describe('mixed-float16 precision', () => {
  it('follows the float32 loss curve', async () => {
    const full = await train(options(), 80);
    const mixed = await train(options({ precision: 'mixed-float16' }), 80);
    expect(full.every((m) => !m.skipped && m.lossScale === undefined)).toBe(true);
    for (const metrics of mixed) expect(metrics.lossScale).toBeGreaterThan(0);
    // Before any update both runs compute the loss of the same initial model on the same batch.
    expect(Math.abs(mixed[0].loss - full[0].loss)).toBeLessThan(5e-3);
    const taken = mixed.filter((m) => !m.skipped).length;
    expect(taken).toBeGreaterThan(70);
    const tail = (metrics: StepMetrics[]) => mean(metrics.slice(-10).map((m) => m.loss));
    expect(tail(full)).toBeLessThan(1.2);
    expect(Math.abs(tail(mixed) - tail(full))).toBeLessThan(0.05);
  });

  it('skips overflowing steps and halves the scale', async () => {
    // 2^30 times the gradient overflows float16 (largest finite value 65504) until the scale has halved enough.
    const metrics = await train(
      options({ precision: 'mixed-float16', lossScaler: { initScale: 2 ** 30, growthInterval: 1000 } }),
      30,
    );
    const skipped = metrics.filter((m) => m.skipped);
    expect(skipped.length).toBeGreaterThan(5);
    expect(metrics[0].skipped).toBe(true);
    expect(metrics[0].step).toBe(0);
    for (let i = 1; i < metrics.length; i++) {
      const previous = metrics[i - 1];
      const expectedScale = previous.skipped ? previous.lossScale! / 2 : previous.lossScale!;
      expect(metrics[i].lossScale).toBe(expectedScale);
      expect(metrics[i].step).toBe(previous.step + (metrics[i].skipped ? 0 : 1));
    }
    expect(metrics.at(-1)!.skipped).toBe(false);
  });

  it('grows the scale after good steps', async () => {
    const metrics = await train(
      options({ precision: 'mixed-float16', lossScaler: { initScale: 1, growthInterval: 3 } }),
      9,
    );
    expect(metrics.map((m) => m.lossScale)).toEqual([1, 1, 1, 2, 2, 2, 4, 4, 4]);
  });

  it('resumes with the same loss scale', async () => {
    const settings = options({
      precision: 'mixed-float16',
      lossScaler: { initScale: 2 ** 20, growthInterval: 4 },
    });
    const expected = (await train(settings, 30)).map((m) => [m.loss, m.lossScale, m.skipped]);

    const first = await GptTrainer.create(settings, DATA);
    const seen: (number | boolean | undefined)[][] = [];
    for (let i = 0; i < 15; i++) {
      const m = await first.trainStep();
      seen.push([m.loss, m.lossScale, m.skipped]);
    }
    const directory = await mkdtemp(join(tmpdir(), 'glassbox-mixed-checkpoint-'));
    await saveCheckpoint(directory, first.state(), settings);
    await first.release();
    const restored = await loadCheckpoint(directory);
    expect(restored.state.lossScaler).toEqual(first.state().lossScaler);
    const second = await GptTrainer.create(
      { ...restored.options, session: settings.session },
      DATA,
      restored.state,
    );
    for (let i = 0; i < 15; i++) {
      const m = await second.trainStep();
      seen.push([m.loss, m.lossScale, m.skipped]);
    }
    await second.release();
    await rm(directory, { recursive: true });
    expect(seen).toEqual(expected);
  });

  it('evaluates once per step number in runTraining', async () => {
    const trainer = await GptTrainer.create(
      options({ precision: 'mixed-float16', lossScaler: { initScale: 2 ** 30 } }),
      DATA,
    );
    const evaluated: number[] = [];
    try {
      await runTraining(trainer, {
        maxSteps: 10,
        evalInterval: 5,
        onEvaluate: (r) => void evaluated.push(r.step),
      });
    } finally {
      await trainer.release();
    }
    expect(evaluated).toEqual([5, 10]);
  });

  it('rejects an unknown precision', async () => {
    await expect(
      GptTrainer.create(options({ precision: 'bfloat16' as TrainerOptions['precision'] }), DATA),
    ).rejects.toThrow(/precision must be "float32" or "mixed-float16", got "bfloat16"/);
  });
});
