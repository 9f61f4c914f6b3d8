import type { OptimizerConfig } from '@glassbox/graph';
import { cosineWithWarmup, GptTrainer, type ScheduleConfig, scheduleCurve } from '@glassbox/trainer';
import { z } from 'zod';
import { lineChartSpec } from './pretraining-charts.js';
import {
  gptConfigFor,
  loadCharCorpus,
  meanOfLast,
  round,
  smallGptParams,
  splitTail,
  type TrainingCurves,
  trainerOptionsFor,
  trainWithCurves,
} from './pretraining-common.js';
import { defineExperiment } from './types.js';

const OPTIMIZER_NAMES = ['SGD', 'Adam', 'AdamW'] as const;

export const optimizers = defineExperiment({
  id: 'optimizers',
  title: 'SGD vs Adam vs AdamW',
  section: '80. CodeChallenge: SGD vs. Adam vs. AdamW',
  description:
    'Trains the same small character-level GPT, from the same initial weights and on the same batches, with plain SGD, Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), each at its own constant learning rate, and draws the three loss curves. SGD needs a far larger learning rate than the Adam family to move at all.',
  needs: ['trainer', 'The Time Machine (Gutenberg download) or --corpus'],
  typicalTime: '5 s',
  params: z.object({
    ...smallGptParams(),
    steps: z.number().int().min(1).max(100_000).default(300).describe('optimizer steps per run'),
    sgdLr: z.number().positive().max(100).default(0.5).describe('SGD learning rate'),
    adamLr: z.number().positive().max(1).default(0.003).describe('Adam and AdamW learning rate'),
    weightDecay: z
      .number()
      .min(0)
      .max(10)
      .default(0.1)
      .describe('weight decay of Adam (as L2) and AdamW (decoupled), on matrices and embeddings'),
    evalIters: z.number().int().min(1).max(1000).default(10).describe('batches per loss evaluation'),
  }),
  async run({ params, seed, progress, figure, assets }) {
    const corpus = await loadCharCorpus(assets, params.maxChars, progress);
    const model = gptConfigFor(params, corpus.tokenizer.vocabSize);
    const { head, tail } = splitTail(corpus.tokens, 0.1);
    const configs: Record<(typeof OPTIMIZER_NAMES)[number], { optimizer: OptimizerConfig; lr: number }> = {
      SGD: { optimizer: { type: 'sgd' }, lr: params.sgdLr },
      Adam: {
        optimizer: { type: 'adam', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: params.weightDecay },
        lr: params.adamLr,
      },
      AdamW: {
        optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: params.weightDecay },
        lr: params.adamLr,
      },
    };
    const runs = [];
    for (const name of OPTIMIZER_NAMES) {
      progress.stage(`Training with ${name}`);
      const trainer = await GptTrainer.create(
        trainerOptionsFor(params, model, {
          learningRate: configs[name].lr,
          steps: params.steps,
          seed,
          evalIters: params.evalIters,
          optimizer: configs[name].optimizer,
          weightDecay: params.weightDecay,
        }),
        { train: head, validation: tail },
      );
      try {
        const curves = await trainWithCurves(trainer, params.steps, 0, progress);
        runs.push({ name, lr: configs[name].lr, ...curves });
      } finally {
        await trainer.release();
      }
    }
    await figure(
      'loss-curves',
      lineChartSpec({
        title: `Training loss of one GPT with three optimizers (${corpus.name})`,
        xTitle: 'step',
        yTitle: 'training loss (nats per character)',
        points: runs.flatMap((run) =>
          run.stepLosses.map((loss, i) => ({ x: i + 1, y: loss, series: `${run.name}, lr ${run.lr}` })),
        ),
      }),
    );
    const smoothing = Math.min(10, params.steps);
    const summary = Object.fromEntries(
      runs.map((run) => [
        run.name,
        {
          learningRate: run.lr,
          initialLoss: round(run.evaluations[0].train),
          finalTrainLoss: round(run.evaluations.at(-1)!.train),
          finalValidationLoss: round(run.evaluations.at(-1)!.validation),
          meanLossOfLastSteps: round(meanOfLast(run.stepLosses, smoothing)),
        },
      ]),
    );
    return {
      results: {
        corpus: corpus.name,
        vocabSize: corpus.tokenizer.vocabSize,
        uniformLoss: round(Math.log(corpus.tokenizer.vocabSize)),
        steps: params.steps,
        optimizers: summary,
        stepLosses: Object.fromEntries(runs.map((run) => [run.name, run.stepLosses.map((v) => round(v))])),
      },
      tables: [
        {
          title: `Losses after ${params.steps} steps (validation: the last 10% of the text)`,
          columns: [
            'optimizer',
            'learning rate',
            'initial loss',
            'final train loss',
            'final validation loss',
          ],
          rows: runs.map((run) => [
            run.name,
            run.lr,
            summary[run.name].initialLoss,
            summary[run.name].finalTrainLoss,
            summary[run.name].finalValidationLoss,
          ]),
        },
      ],
      notes: [
        `All three runs start from the same GPT-2 initialization and see the same batches; ln(vocabulary size) = ${round(Math.log(corpus.tokenizer.vocabSize))}.`,
      ],
    };
  },
});

/** Lists the Hugging Face and PyTorch schedules of the exercise with their names in the chart's legend. */
function namedSchedules(params: {
  steps: number;
  warmupSteps: number;
  numCycles: number;
  stepSize: number;
  gamma: number;
}): { name: string; config: ScheduleConfig }[] {
  const { steps, warmupSteps } = params;
  return [
    { name: 'constant', config: { type: 'constant' } },
    { name: 'constant with warmup', config: { type: 'constant-with-warmup', warmupSteps } },
    { name: 'linear with warmup', config: { type: 'linear-with-warmup', warmupSteps, totalSteps: steps } },
    {
      name: `cosine with warmup (${params.numCycles} cycles)`,
      config: { type: 'cosine-with-warmup', warmupSteps, totalSteps: steps, numCycles: params.numCycles },
    },
    {
      name: `step decay (x${params.gamma} every ${params.stepSize})`,
      config: { type: 'step', stepSize: params.stepSize, gamma: params.gamma },
    },
  ];
}

export const lrSchedules = defineExperiment({
  id: 'lr-schedules',
  title: 'Learning-rate schedules',
  section: '96. Optimization options',
  description:
    "Draws the learning rate at every step of Hugging Face's constant, constant-with-warmup, linear-with-warmup and cosine-with-warmup schedules and of PyTorch's StepLR, all multiplying one peak rate, and of nanoGPT's schedule: linear warmup to the peak, cosine decay to a minimum rate, then constant.",
  needs: ['trainer'],
  typicalTime: '1 s',
  params: z.object({
    steps: z.number().int().min(2).max(1_000_000).default(200).describe('steps to draw'),
    peakLr: z.number().positive().max(10).default(0.001).describe('peak learning rate'),
    minLr: z
      .number()
      .min(0)
      .max(10)
      .default(0.0001)
      .describe("nanoGPT's final learning rate, at most --peak-lr"),
    warmupSteps: z.number().int().min(0).max(1_000_000).default(20).describe('steps of linear warmup'),
    numCycles: z
      .number()
      .positive()
      .max(100)
      .default(0.5)
      .describe('cosine periods after warmup (0.5 decays once to 0)'),
    stepSize: z.number().int().min(1).max(1_000_000).default(50).describe('steps between step-decay drops'),
    gamma: z.number().positive().max(1).default(0.5).describe('step-decay factor'),
  }),
  async run({ params, figure }) {
    if (params.minLr > params.peakLr) {
      throw new Error(`--min-lr ${params.minLr} must be at most --peak-lr ${params.peakLr}.`);
    }
    if (params.warmupSteps >= params.steps) {
      throw new Error(`--warmup-steps ${params.warmupSteps} must be less than --steps ${params.steps}.`);
    }
    const schedules = namedSchedules(params).map(({ name, config }) => ({
      name,
      lrs: scheduleCurve(config, params.peakLr, params.steps).map((point) => point.lr),
    }));
    const nanoGptName = `nanoGPT warmup + cosine to ${params.minLr}`;
    schedules.push({
      name: nanoGptName,
      lrs: Array.from({ length: params.steps }, (_, step) =>
        cosineWithWarmup(step, {
          maxLearningRate: params.peakLr,
          minLearningRate: params.minLr,
          warmupSteps: params.warmupSteps,
          decaySteps: params.steps - 1,
        }),
      ),
    });
    await figure(
      'schedules',
      lineChartSpec({
        title: `Learning-rate schedules, peak ${params.peakLr}, ${params.warmupSteps} warmup steps`,
        xTitle: 'step',
        yTitle: 'learning rate',
        points: schedules.flatMap((schedule) =>
          schedule.lrs.map((lr, step) => ({ x: step, y: lr, series: schedule.name })),
        ),
        // Constant with warmup and step decay follow the constant schedule for some steps, so they are
        // dashed to leave it visible between their dashes.
        dashed: [
          nanoGptName,
          'constant with warmup',
          ...schedules
            .filter((schedule) => schedule.name.startsWith('step decay'))
            .map((schedule) => schedule.name),
        ],
        width: 560,
      }),
    );
    const probes = [...new Set([0, params.warmupSteps, Math.floor(params.steps / 2), params.steps - 1])];
    return {
      results: {
        steps: params.steps,
        peakLr: params.peakLr,
        probeSteps: probes,
        learningRates: Object.fromEntries(
          schedules.map((schedule) => [schedule.name, probes.map((step) => schedule.lrs[step])]),
        ),
        meanLearningRate: Object.fromEntries(
          schedules.map((schedule) => [
            schedule.name,
            schedule.lrs.reduce((sum, lr) => sum + lr, 0) / schedule.lrs.length,
          ]),
        ),
      },
      tables: [
        {
          title: 'Learning rate at selected steps',
          columns: ['schedule', ...probes.map((step) => `step ${step}`)],
          rows: schedules.map((schedule) => [
            schedule.name,
            ...probes.map((step) => Number(schedule.lrs[step].toPrecision(4))),
          ]),
        },
      ],
      notes: [
        'Hugging Face schedules start warmup at 0 (step s gets peak * s / warmup); nanoGPT starts at peak / (warmup + 1).',
      ],
    };
  },
});

export const trainTestSplit = defineExperiment({
  id: 'train-test-split',
  title: 'Adding a held-out test set',
  section: '82. CodeChallenge: Add a test set',
  description:
    'Holds out the last part of the text as a test set and trains a small GPT on the rest, tracking train and test loss; then trains the same model on the whole text, test part included, and measures its loss on that same test part. That second number is optimistic: the model has seen the text it is tested on.',
  needs: ['trainer', 'The Time Machine (Gutenberg download) or --corpus'],
  typicalTime: '4 s',
  params: z.object({
    ...smallGptParams({ maxChars: 10_000 }),
    steps: z.number().int().min(1).max(100_000).default(300).describe('optimizer steps per run'),
    lr: z.number().positive().max(1).default(0.003).describe('AdamW learning rate'),
    testFraction: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.1)
      .describe('fraction of the text, from its end, held out'),
    evalInterval: z.number().int().min(1).max(100_000).default(25).describe('steps between evaluations'),
    evalIters: z.number().int().min(1).max(1000).default(10).describe('batches per loss evaluation'),
  }),
  async run({ params, seed, progress, figure, assets }) {
    const corpus = await loadCharCorpus(assets, params.maxChars, progress);
    const model = gptConfigFor(params, corpus.tokenizer.vocabSize);
    const { head, tail } = splitTail(corpus.tokens, params.testFraction);
    const runs: ({ name: string } & TrainingCurves)[] = [];
    for (const [name, train] of [
      ['held out', head],
      ['trained on everything', corpus.tokens],
    ] as const) {
      progress.stage(`Training ${name === 'held out' ? 'without' : 'with'} the test text`);
      const trainer = await GptTrainer.create(
        trainerOptionsFor(params, model, {
          learningRate: params.lr,
          steps: params.steps,
          seed,
          evalIters: params.evalIters,
          optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 },
        }),
        { train, validation: tail },
      );
      try {
        runs.push({ name, ...(await trainWithCurves(trainer, params.steps, params.evalInterval, progress)) });
      } finally {
        await trainer.release();
      }
    }
    const [heldOut, everything] = runs;
    await figure(
      'train-test-loss',
      lineChartSpec({
        title: 'Train and test loss, with and without the test text in training',
        xTitle: 'step',
        yTitle: 'loss (nats per character)',
        points: [
          ...heldOut.evaluations.map((e) => ({
            x: e.step,
            y: e.train,
            series: 'train loss (test held out)',
          })),
          ...heldOut.evaluations.map((e) => ({
            x: e.step,
            y: e.validation,
            series: 'test loss (test held out)',
          })),
          ...everything.evaluations.map((e) => ({
            x: e.step,
            y: e.validation,
            series: 'test loss (trained on everything)',
          })),
        ],
        dashed: ['test loss (test held out)', 'test loss (trained on everything)'],
      }),
    );
    const last = (run: (typeof runs)[number]) => run.evaluations.at(-1)!;
    const heldOutTest = last(heldOut).validation;
    const optimisticTest = last(everything).validation;
    return {
      results: {
        corpus: corpus.name,
        trainTokens: head.length,
        testTokens: tail.length,
        steps: params.steps,
        heldOut: { finalTrainLoss: round(last(heldOut).train), finalTestLoss: round(heldOutTest) },
        trainedOnEverything: {
          finalTrainLoss: round(last(everything).train),
          finalTestLoss: round(optimisticTest),
        },
        optimismGap: round(heldOutTest - optimisticTest),
        evaluations: Object.fromEntries(runs.map((run) => [run.name, run.evaluations])),
      },
      tables: [
        {
          title: `Losses after ${params.steps} steps; the test set is the last ${Math.round(100 * params.testFraction)}% of the text`,
          columns: ['run', 'train loss', 'test loss'],
          rows: runs.map((run) => [run.name, round(last(run).train), round(last(run).validation)]),
        },
      ],
      notes: [
        `Test loss ${round(heldOutTest)} with the test text held out, ${round(optimisticTest)} when the model also trained on it.`,
      ],
    };
  },
});
