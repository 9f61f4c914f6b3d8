import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parameterInfo } from './params.js';
import { PRETRAINING_EXPERIMENTS } from './pretraining.js';
import { lrSchedules, optimizers, trainTestSplit } from './pretraining-training.js';
import { populatedTestCache, runForTest, TEST_DATA } from './testing.js';

const SHAKESPEARE = join(TEST_DATA, 'corpora/tiny-shakespeare.txt');

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('optimizers', () => {
  it('trains with SGD, Adam and AdamW', async () => {
    const { results, output } = await runForTest(
      optimizers,
      cache,
      { steps: '150', 'max-chars': '20000', 'eval-iters': '4' },
      { corpusPaths: [SHAKESPEARE] },
    );
    const summary = results.optimizers as Record<string, { initialLoss: number; finalTrainLoss: number }>;
    const uniform = results.uniformLoss as number;
    for (const name of ['SGD', 'Adam', 'AdamW']) {
      expect(Math.abs(summary[name].initialLoss - uniform)).toBeLessThan(0.1);
      expect(summary[name].finalTrainLoss).toBeLessThan(summary[name].initialLoss);
    }
    // Same initialization and batches, so only the optimizer differs.
    expect(summary.Adam.initialLoss).toBe(summary.SGD.initialLoss);
    expect(summary.AdamW.finalTrainLoss).toBeLessThan(summary.SGD.finalTrainLoss - 0.1);
    // Adam adds the decay to the gradient, where its per-coordinate scaling makes it dominate small gradients.
    expect(summary.AdamW.finalTrainLoss).toBeLessThan(summary.Adam.finalTrainLoss - 0.1);
    expect(output.figures).toEqual(['loss-curves']);
  });
});

describe('lr-schedules', () => {
  it('matches the schedule formulas', async () => {
    const { results, output } = await runForTest(lrSchedules, cache, {
      steps: '101',
      'warmup-steps': '10',
      'peak-lr': '0.01',
      'min-lr': '0.001',
      'step-size': '30',
      gamma: '0.1',
    });
    expect(results.probeSteps).toEqual([0, 10, 50, 100]);
    const lrs = results.learningRates as Record<string, number[]>;
    expect(lrs.constant).toEqual([0.01, 0.01, 0.01, 0.01]);
    expect(lrs['constant with warmup']).toEqual([0, 0.01, 0.01, 0.01]);
    // Linear decay from step 10 to 0 at step 101: (101 - 50) / 91 of the peak at step 50.
    expect(lrs['linear with warmup'][2]).toBeCloseTo((0.01 * 51) / 91, 12);
    const cosine = lrs['cosine with warmup (0.5 cycles)'];
    expect(cosine[0]).toBe(0);
    expect(cosine[1]).toBeCloseTo(0.01, 12);
    expect(cosine[2]).toBeCloseTo(0.01 * 0.5 * (1 + Math.cos((Math.PI * 40) / 91)), 12);
    expect(lrs['step decay (x0.1 every 30)'][2]).toBeCloseTo(0.01 * 0.1, 12);
    expect(lrs['step decay (x0.1 every 30)'][3]).toBeCloseTo(0.01 * 0.001, 12);
    const nanoGpt = lrs['nanoGPT warmup + cosine to 0.001'];
    expect(nanoGpt[0]).toBeCloseTo(0.01 / 11, 12);
    expect(nanoGpt[1]).toBeCloseTo(0.01, 12);
    expect(nanoGpt[3]).toBeCloseTo(0.001, 12);
    expect(output.figures).toEqual(['schedules']);
  });

  it('draws several cosine cycles', async () => {
    const { results } = await runForTest(lrSchedules, cache, {
      steps: '100',
      'warmup-steps': '0',
      'num-cycles': '2',
    });
    const cosine = (results.learningRates as Record<string, number[]>)['cosine with warmup (2 cycles)'];
    expect(results.probeSteps).toEqual([0, 50, 99]);
    // Two full periods: back at the peak half way through.
    expect(cosine[1]).toBeCloseTo(0.001, 12);
  });

  it('rejects a minimum above the peak', async () => {
    await expect(runForTest(lrSchedules, cache, { 'min-lr': '0.1' })).rejects.toThrow(
      /--min-lr 0.1 must be at most/,
    );
  });
});

describe('train-test-split', () => {
  it('shows the optimistic test loss', async () => {
    const { results, output } = await runForTest(
      trainTestSplit,
      cache,
      { steps: '200', 'eval-interval': '50', 'max-chars': '6000', 'eval-iters': '8' },
      { corpusPaths: [SHAKESPEARE] },
    );
    const heldOut = results.heldOut as { finalTrainLoss: number; finalTestLoss: number };
    const everything = results.trainedOnEverything as { finalTestLoss: number };
    expect(results.trainTokens).toBe(5400);
    expect(results.testTokens).toBe(600);
    expect(heldOut.finalTestLoss).toBeGreaterThan(heldOut.finalTrainLoss);
    expect(everything.finalTestLoss).toBeLessThan(heldOut.finalTestLoss);
    expect(results.optimismGap as number).toBeGreaterThan(0.03);
    const curves = results.evaluations as Record<string, { step: number }[]>;
    expect(curves['held out'].map((e) => e.step)).toEqual([0, 50, 100, 150, 200]);
    expect(output.figures).toEqual(['train-test-loss']);
  });
});

describe('PRETRAINING_EXPERIMENTS', () => {
  it('lists unique ids in course order', () => {
    const ids = PRETRAINING_EXPERIMENTS.map((experiment) => experiment.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([
      'optimizers',
      'train-test-split',
      'model1-gpt2-embeddings',
      'model5-with-mods',
      'custom-loss',
      'like-a-letter',
      'attention-scaling',
      'weight-inits',
      'dropout-training',
      'logits-vs-log-softmax',
      'fineweb-shard',
      'unseen-tokens',
      'lr-schedules',
    ]);
    const sections = PRETRAINING_EXPERIMENTS.map((experiment) => Number.parseInt(experiment.section, 10));
    expect(sections).toEqual([...sections].sort((x, y) => x - y));
  });

  it('describe every parameter for --help', () => {
    for (const experiment of PRETRAINING_EXPERIMENTS) {
      const infos = parameterInfo(experiment);
      for (const info of infos) {
        expect(info.description, `${experiment.id} --${info.flag}`).not.toBe('');
        expect(info.defaultValue, `${experiment.id} --${info.flag}`).not.toBeUndefined();
      }
    }
  });
});
