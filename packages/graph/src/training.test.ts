import { describe, expect, it } from 'vitest';
import { Graph } from './graph.js';
import { addTrainingStep, type OptimizerConfig, type ParameterSettings } from './optim.js';
import { LossScaler, type LossScalerOptions, TrainingSession } from './training.js';

const X = Float32Array.from({ length: 6 * 3 }, (_, i) => Math.sin(i * 0.7));
const Y = Float32Array.from({ length: 6 * 2 }, (_, i) => Math.cos(i * 0.3));
const W = Float32Array.from({ length: 3 * 2 }, (_, i) => 0.1 * (i - 2));
const B = Float32Array.of(0.05, -0.05);

/** Builds a linear regression y = x W + b with a mean squared error over `rows` rows, ready to train. */
async function regression(
  rows: number,
  optimizer: OptimizerConfig,
  accumulationSteps = 1,
  settings?: (name: string) => ParameterSettings,
  lossScaler?: LossScalerOptions,
) {
  const g = new Graph('regression');
  const x = g.input('x', 'float32', [rows, 3]);
  const y = g.input('y', 'float32', [rows, 2]);
  const w = g.parameter('w', [3, 2]);
  const b = g.parameter('b', [2]);
  const diff = g.sub(g.add(g.matmul(x, w), b), y);
  const spec = addTrainingStep(g, g.reduceMean(g.mul(diff, diff)), {
    optimizer,
    maxGradNorm: 0.5,
    accumulationSteps,
    parameterSettings: settings ? (p) => settings(p.name) : undefined,
    lossScaling: lossScaler !== undefined,
  });
  const session = await TrainingSession.create(g, spec, { intraOpThreads: 1 }, lossScaler);
  session.load(
    new Map([
      ['w', W],
      ['b', B],
    ]),
  );
  return session;
}

describe('TrainingSession', () => {
  for (const optimizer of [
    { type: 'sgd', momentum: 0.9 },
    { type: 'adamw', weightDecay: 0.1 },
  ] as OptimizerConfig[]) {
    it(`accumulates micro-batches like one large batch (${optimizer.type})`, async () => {
      const whole = await regression(6, optimizer);
      const micro = await regression(2, optimizer, 3);
      for (let step = 0; step < 3; step++) {
        (whole.inputBuffer('x') as Float32Array).set(X);
        (whole.inputBuffer('y') as Float32Array).set(Y);
        const expected = await whole.runStep(0.1);
        let lossSum = 0;
        for (let m = 0; m < 3; m++) {
          (micro.inputBuffer('x') as Float32Array).set(X.subarray(m * 6, (m + 1) * 6));
          (micro.inputBuffer('y') as Float32Array).set(Y.subarray(m * 4, (m + 1) * 4));
          lossSum += await micro.runMicroStep();
        }
        const { gradNorm } = await micro.applyUpdate(0.1);
        expect(lossSum / 3).toBeCloseTo(expected.loss, 5);
        expect(gradNorm).toBeCloseTo(expected.gradNorm, 5);
      }
      for (const [name, value] of whole.parameters()) {
        const other = micro.parameters().get(name)!;
        value.forEach((v, i) => {
          expect(other[i]).toBeCloseTo(v, 5);
        });
      }
      expect(micro.step).toBe(3);
      await whole.release();
      await micro.release();
    });
  }

  it('rejects an update before all micro-steps ran', async () => {
    const micro = await regression(2, { type: 'sgd' }, 3);
    await micro.runMicroStep();
    await expect(micro.applyUpdate(0.1)).rejects.toThrow(/1 micro-steps ran, but the graph averages 3/);
    await expect(micro.runStep(0.1)).rejects.toThrow(/call runMicroStep/);
    await micro.release();
  });

  it('scales the learning rate per parameter', async () => {
    const plain = await regression(6, { type: 'sgd' });
    const scaled = await regression(6, { type: 'sgd' }, 1, (name) => ({
      learningRateScale: name === 'b' ? 0.5 : 1,
    }));
    for (const session of [plain, scaled]) {
      (session.inputBuffer('x') as Float32Array).set(X);
      (session.inputBuffer('y') as Float32Array).set(Y);
      await session.runStep(0.1);
    }
    const stepOf = (session: TrainingSession, name: string, initial: Float32Array) =>
      Array.from(session.parameters().get(name)!, (v, i) => v - initial[i]);
    expect(stepOf(scaled, 'w', W)).toEqual(stepOf(plain, 'w', W));
    stepOf(scaled, 'b', B).forEach((delta, i) => {
      expect(delta).toBeCloseTo(stepOf(plain, 'b', B)[i] / 2, 6);
    });
    await plain.release();
    await scaled.release();
  });

  it('freezes parameters', async () => {
    const session = await regression(6, { type: 'adamw' }, 1, (name) => ({ frozen: name === 'w' }));
    (session.inputBuffer('x') as Float32Array).set(X);
    (session.inputBuffer('y') as Float32Array).set(Y);
    await session.runStep(0.1);
    expect(Array.from(session.parameters().get('w')!)).toEqual(Array.from(W));
    expect(Array.from(session.parameters().get('b')!)).not.toEqual(Array.from(B));
    expect([...session.optimizerState().keys()].sort()).toEqual([
      'optimizer.b.exp_avg',
      'optimizer.b.exp_avg_sq',
    ]);
    await session.release();
  });
});

describe('LossScaler', () => {
  it('backs off on overflow and grows after good steps', () => {
    const scaler = new LossScaler({ initScale: 8, growthInterval: 2 });
    const scales: number[] = [];
    for (const overflow of [false, true, false, false, false, true, true, false]) {
      scaler.update(overflow);
      scales.push(scaler.scale);
    }
    expect(scales).toEqual([8, 4, 4, 8, 8, 4, 2, 2]);
    expect(scaler.state()).toEqual({ scale: 2, growthTracker: 1 });
  });

  it('defaults to GradScaler settings', () => {
    const scaler = new LossScaler();
    expect([scaler.scale, scaler.growthFactor, scaler.backoffFactor, scaler.growthInterval]).toEqual([
      65536, 2, 0.5, 2000,
    ]);
  });

  it('rejects invalid settings', () => {
    expect(() => new LossScaler({ initScale: 0 })).toThrow(
      /initScale must be a positive finite number, got 0/,
    );
    expect(() => new LossScaler({ backoffFactor: 1 })).toThrow(/backoffFactor must be in \(0, 1\), got 1/);
    expect(() => new LossScaler({ growthFactor: 1 })).toThrow(/growthFactor must be above 1, got 1/);
    expect(() => new LossScaler({ growthInterval: 1.5 })).toThrow(
      /growthInterval must be a positive integer/,
    );
  });
});

describe('TrainingSession with loss scaling', () => {
  const feed = (session: TrainingSession, x: Float32Array) => {
    (session.inputBuffer('x') as Float32Array).set(x);
    (session.inputBuffer('y') as Float32Array).set(Y);
  };

  it('trains like unscaled float32 with a power-of-two scale', async () => {
    const optimizer: OptimizerConfig = { type: 'adamw', weightDecay: 0.1 };
    const plain = await regression(6, optimizer);
    const scaled = await regression(6, optimizer, 1, undefined, { initScale: 2 ** 12 });
    for (let step = 0; step < 5; step++) {
      feed(plain, X);
      feed(scaled, X);
      const expected = await plain.runStep(0.1);
      const actual = await scaled.runStep(0.1);
      expect(actual).toEqual(expected);
    }
    expect(scaled.parameters()).toEqual(plain.parameters());
    await plain.release();
    await scaled.release();
  });

  it('skips a step with a non-finite gradient', async () => {
    const session = await regression(6, { type: 'adamw' }, 1, undefined, { initScale: 1024 });
    feed(session, X);
    await session.runStep(0.1);
    const before = new Map([...session.parameters()].map(([name, data]) => [name, Float32Array.from(data)]));
    const state = new Map(
      [...session.optimizerState()].map(([name, data]) => [name, Float32Array.from(data)]),
    );

    const poisoned = Float32Array.from(X);
    poisoned[4] = Number.NaN;
    feed(session, poisoned);
    const result = await session.runStep(0.1);
    expect(result.skipped).toBe(true);
    expect(Number.isNaN(result.gradNorm)).toBe(true);
    expect(session.step).toBe(1);
    expect(session.lossScaler!.scale).toBe(512);
    expect(session.parameters()).toEqual(before);
    expect(session.optimizerState()).toEqual(state);

    feed(session, X);
    const next = await session.runStep(0.1);
    expect(next.skipped).toBe(false);
    expect(session.step).toBe(2);
    expect(session.parameters().get('w')).not.toEqual(before.get('w'));
    await session.release();
  });

  it('skips an accumulated update with a non-finite gradient', async () => {
    const session = await regression(2, { type: 'sgd' }, 3, undefined, {});
    const poisoned = Float32Array.from(X);
    poisoned[7] = Number.POSITIVE_INFINITY;
    for (let m = 0; m < 3; m++) {
      (session.inputBuffer('x') as Float32Array).set((m === 1 ? poisoned : X).subarray(m * 6, (m + 1) * 6));
      (session.inputBuffer('y') as Float32Array).set(Y.subarray(m * 4, (m + 1) * 4));
      await session.runMicroStep();
    }
    const { skipped } = await session.applyUpdate(0.1);
    expect(skipped).toBe(true);
    expect(session.step).toBe(0);
    expect(session.parameters().get('w')).toEqual(W);
    await session.release();
  });

  it('applies a non-finite step without loss scaling', async () => {
    const session = await regression(6, { type: 'sgd' });
    const poisoned = Float32Array.from(X);
    poisoned[4] = Number.NaN;
    feed(session, poisoned);
    const result = await session.runStep(0.1);
    expect(result.skipped).toBe(false);
    expect(session.lossScaler).toBeUndefined();
    expect(session.step).toBe(1);
    await session.release();
  });
});

describe('optimizer validation', () => {
  const cases: [unknown, RegExp][] = [
    [{ type: 'rmsprop' }, /type must be "sgd", "adam" or "adamw", got "rmsprop"/],
    [{ type: 'sgd', momentun: 0.9 }, /optimizer sgd has unknown option "momentun"/],
    [{ type: 'adamw', beta1: 1 }, /beta1 must be in \[0, 1\), got 1/],
    [{ type: 'adam', eps: -1 }, /eps must be a finite number >= 0, got -1/],
    [{ type: 'adamw', weightDecay: -5 }, /weightDecay must be a finite number >= 0, got -5/],
    [{ type: 'sgd', momentum: -0.1 }, /momentum must be a finite number >= 0/],
    [{ type: 'sgd', nesterov: true }, /Nesterov momentum requires momentum > 0 and dampening 0/],
    [{ type: 'sgd', nesterov: true, momentum: 0.9, dampening: 0.1 }, /requires momentum > 0 and dampening 0/],
  ];
  for (const [optimizer, message] of cases) {
    it(`rejects ${JSON.stringify(optimizer)}`, async () => {
      await expect(regression(6, optimizer as OptimizerConfig)).rejects.toThrow(message);
    });
  }

  it('negative maxGradNorm', () => {
    const g = new Graph('clip');
    const w = g.parameter('w', [2]);
    expect(() =>
      addTrainingStep(g, g.reduceSum(g.mul(w, w)), { optimizer: { type: 'sgd' }, maxGradNorm: -1 }),
    ).toThrow(/maxGradNorm must be a finite number >= 0 \(0 disables clipping\), got -1/);
  });
});
