import { describe, expect, it } from 'vitest';
import { Graph } from './graph.js';
import { addTrainingStep, type OptimizerConfig, type ParameterSettings } from './optim.js';
import { TrainingSession } from './training.js';

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
  });
  const session = await TrainingSession.create(g, spec, { intraOpThreads: 1 });
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
