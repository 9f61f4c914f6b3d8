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
    const appliedSteps = mixed.filter((m) => !m.skipped).length;
    expect(appliedSteps).toBeGreaterThan(70);
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

  it('reports zero update norms after a skip', async () => {
    const trainer = await GptTrainer.create(
      options({ precision: 'mixed-float16', lossScaler: { initScale: 2 ** 30 } }),
      DATA,
    );
    try {
      expect((await trainer.trainStep()).skipped).toBe(true);
      for (const norm of trainer.updateNorms().values()) expect(norm).toBe(0);
      let metrics = await trainer.trainStep();
      while (metrics.skipped) metrics = await trainer.trainStep();
      expect(trainer.updateNorms().get('wte.weight')).toBeGreaterThan(0);
    } finally {
      await trainer.release();
    }
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

  it('rejects lossScaler settings that stall training', async () => {
    const cases: [TrainerOptions, RegExp][] = [
      [
        options({ precision: 'mixed-float16', lossScaler: { initScale: 1e39 } }),
        /initScale must be .* got 1e\+39/,
      ],
      [
        options({ precision: 'mixed-float16', lossScaler: { initScale: 1e-50 } }),
        /initScale must be .* got 1e-50/,
      ],
      [
        options({ precision: 'mixed-float16', lossScaler: { growthFactor: Number.POSITIVE_INFINITY } }),
        /growthFactor must be a finite number above 1, got Infinity/,
      ],
      [
        options({ precision: 'mixed-float16', lossScaler: { initscale: 8 } as TrainerOptions['lossScaler'] }),
        /unknown option "initscale"\. Valid options: initScale/,
      ],
      [options({ lossScaler: { initScale: 8 } }), /lossScaler applies only to precision "mixed-float16"/],
    ];
    for (const [settings, message] of cases) {
      await expect(GptTrainer.create(settings, DATA)).rejects.toThrow(message);
    }
  });

  it('stops when the loss scale underflows float32', async () => {
    // One overflow at 2^30 multiplies the scale by 1e-300, which float32 cannot represent, so every later step would skip.
    const trainer = await GptTrainer.create(
      options({ precision: 'mixed-float16', lossScaler: { initScale: 2 ** 30, backoffFactor: 1e-300 } }),
      DATA,
    );
    try {
      await expect(trainer.trainStep()).rejects.toThrow(
        /training stopped at step 0: .* in 1 step, and the loss scale fell to .* below the smallest normal float32/,
      );
    } finally {
      await trainer.release();
    }
  });

  it('blames the float16 forward pass, not finite parameters', async () => {
    const settings = options({ precision: 'mixed-float16' });
    const fresh = await GptTrainer.create(settings, DATA);
    const state = fresh.state();
    await fresh.release();
    // Embeddings of about 2e5 are finite in float32 but exceed float16's largest value 65504.
    const wte = state.parameters.get('wte.weight')!;
    for (let i = 0; i < wte.length; i++) wte[i] *= 1e7;
    const trainer = await GptTrainer.create(settings, DATA, state);
    try {
      await expect(trainer.trainStep()).rejects.toThrow(
        /training stopped at step 0: the loss is \S+ and the gradient norm \S+ while every parameter is finite\. .*precision "float32"/,
      );
    } finally {
      await trainer.release();
    }
  });

  it('rejects a damaged loss scaler state', async () => {
    const settings = options({ precision: 'mixed-float16' });
    const trainer = await GptTrainer.create(settings, DATA);
    const state = trainer.state();
    await trainer.release();
    const damaged: [Partial<typeof state>, RegExp][] = [
      [{ lossScaler: { scale: -1, growthTracker: 0 } }, /loss scale must be .* got -1/],
      [{ lossScaler: { scale: Number.NaN, growthTracker: 0 } }, /loss scale must be .* got NaN/],
      [
        { lossScaler: { scale: 'abc' as unknown as number, growthTracker: 0 } },
        /loss scale must be .* got "abc"/,
      ],
      [{ lossScaler: { scale: 1e40, growthTracker: 0 } }, /loss scale must be .* got 1e\+40/],
      [
        { lossScaler: { scale: 1024, growthTracker: -1 } },
        /growth count must be a non-negative integer, got -1/,
      ],
      [{ step: 1.5 }, /step must be a non-negative integer, got 1\.5/],
    ];
    for (const [change, message] of damaged) {
      expect(() => GptTrainer.validateState({ ...state, ...change })).toThrow(message);
      await expect(GptTrainer.create(settings, DATA, { ...state, ...change })).rejects.toThrow(message);
    }
  });

  it('rejects an unknown precision', async () => {
    await expect(
      GptTrainer.create(options({ precision: 'bfloat16' as TrainerOptions['precision'] }), DATA),
    ).rejects.toThrow(/precision must be "float32" or "mixed-float16", got "bfloat16"/);
  });
});
