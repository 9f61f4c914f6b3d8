import { dropout, type GptConfig, gptParameterShapes } from '@glassbox/gpt-core';
import { Graph, GraphSession, type Rng, toOnnx } from '@glassbox/graph';
import {
  applyInitRules,
  GptTrainer,
  type InitRule,
  type TrainerState,
  tensorStatistics,
} from '@glassbox/trainer';
import { z } from 'zod';
import { barChartSpec } from './charts.js';
import { lineChartSpec } from './pretraining-charts.js';
import {
  gptConfigFor,
  loadCharCorpus,
  meanOfLast,
  round,
  smallGptParams,
  splitTail,
  trainerOptionsFor,
  trainWithCurves,
} from './pretraining-common.js';
import { defineExperiment } from './types.js';

export const INIT_SCHEMES = ['gpt2', 'normal-0.02', 'normal-1', 'xavier', 'kaiming', 'pytorch'] as const;
type InitSchemeName = (typeof INIT_SCHEMES)[number];

/** Layer norms keep weight 1 and bias 0 under every scheme, as PyTorch's nn.LayerNorm starts. */
const LAYER_NORM_RULES: InitRule[] = [
  { pattern: /ln_.*\.weight$/, scheme: { type: 'ones' } },
  { pattern: /ln_.*\.bias$/, scheme: { type: 'zeros' } },
];

/**
 * Returns the rules of `scheme` in two lists. The embedding rules run with PyTorch's [count, dim] layout, so
 * fan-in is the embedding width. The other rules run with GPT-2's Conv1D [in, out] layout.
 */
function initRules(scheme: Exclude<InitSchemeName, 'gpt2'>, config: GptConfig) {
  const zeroBias: InitRule = { pattern: /\.bias$/, scheme: { type: 'zeros' } };
  const everyWeight = (rule: InitRule['scheme']) => ({
    embeddings: [{ pattern: /\.weight$/, scheme: rule }],
    others: [...LAYER_NORM_RULES, zeroBias, { pattern: /\.weight$/, scheme: rule }],
  });
  switch (scheme) {
    case 'normal-0.02':
      return everyWeight({ type: 'normal', std: 0.02 });
    case 'normal-1':
      return everyWeight({ type: 'normal', std: 1 });
    case 'xavier':
      return everyWeight({ type: 'xavier-normal' });
    case 'kaiming':
      return everyWeight({ type: 'kaiming-uniform' });
    case 'pytorch':
      // nn.Embedding draws N(0, 1); nn.Linear draws weights and biases from U(-1/sqrt(in), 1/sqrt(in)).
      return {
        embeddings: [{ pattern: /\.weight$/, scheme: { type: 'embedding-default' } }],
        others: [
          ...LAYER_NORM_RULES,
          { pattern: 'h.*.mlp.c_proj.bias', scheme: { type: 'linear-default', fanIn: 4 * config.nEmbd } },
          { pattern: /\.bias$/, scheme: { type: 'linear-default', fanIn: config.nEmbd } },
          { pattern: /\.weight$/, scheme: { type: 'linear-default' } },
        ],
      } as { embeddings: InitRule[]; others: InitRule[] };
  }
}

/** Copies `gpt2Parameters` and redraws them by `scheme`; `gpt2` keeps GPT-2's initialization. */
function initializedParameters(
  scheme: InitSchemeName,
  config: GptConfig,
  gpt2Parameters: ReadonlyMap<string, Float32Array>,
  rng: Rng,
): Map<string, Float32Array> {
  const copies = new Map([...gpt2Parameters].map(([name, data]) => [name, Float32Array.from(data)]));
  if (scheme === 'gpt2') return copies;
  const shapes = gptParameterShapes(config);
  const entries = [...copies].map(([name, data]) => [name, { shape: shapes.get(name)!, data }] as const);
  const isEmbedding = (name: string) => name === 'wte.weight' || name === 'wpe.weight';
  const rules = initRules(scheme, config);
  applyInitRules(new Map(entries.filter(([name]) => isEmbedding(name))), rules.embeddings, rng, 'out-in');
  applyInitRules(new Map(entries.filter(([name]) => !isEmbedding(name))), rules.others, rng, 'in-out');
  return copies;
}

export const weightInits = defineExperiment({
  id: 'weight-inits',
  title: 'Weight initializations and training',
  section: '88-89. Weight initializations; CodeChallenge: Train model 5 with weight inits',
  description:
    "Trains one small character-level GPT from six initializations on the same batches: GPT-2's (N(0, 0.02), residual projections scaled by 1/sqrt(2 nLayer)), N(0, 0.02) everywhere, N(0, 1), Xavier normal, Kaiming uniform, and PyTorch's defaults (N(0, 1) embeddings, U(-1/sqrt(in), 1/sqrt(in)) linear layers). Layer norms start at weight 1 and bias 0, and biases at 0 except under PyTorch's defaults. Shows the initial loss against ln(vocabulary size) and the loss after training. The initial weights reach GptTrainer through the state argument of GptTrainer.create.",
  needs: ['trainer', 'The Time Machine (Gutenberg download) or --corpus'],
  typicalTime: '9 s',
  params: z.object({
    ...smallGptParams(),
    schemes: z
      .string()
      .regex(new RegExp(`^(${INIT_SCHEMES.join('|')})(,(${INIT_SCHEMES.join('|')}))*$`), {
        message: `expected a comma-separated list of ${INIT_SCHEMES.join(', ')}`,
      })
      .default(INIT_SCHEMES.join(','))
      .describe(`initializations to compare: ${INIT_SCHEMES.join(', ')}`),
    steps: z.number().int().min(1).max(100_000).default(300).describe('optimizer steps per run'),
    lr: z.number().positive().max(1).default(0.003).describe('AdamW learning rate'),
    evalIters: z.number().int().min(1).max(1000).default(10).describe('batches per loss evaluation'),
  }),
  async run({ params, seed, rng, progress, figure, assets }) {
    const corpus = await loadCharCorpus(assets, params.maxChars, progress);
    const model = gptConfigFor(params, corpus.tokenizer.vocabSize);
    const { head, tail } = splitTail(corpus.tokens, 0.1);
    const data = { train: head, validation: tail };
    const options = trainerOptionsFor(params, model, {
      learningRate: params.lr,
      steps: params.steps,
      seed,
      evalIters: params.evalIters,
      optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 },
    });
    const base = await GptTrainer.create(options, data);
    const baseState: TrainerState = base.state();
    await base.release();

    const schemes = [...new Set(params.schemes.split(','))] as InitSchemeName[];
    const runs = [];
    for (const scheme of schemes) {
      progress.stage(`Training from the ${scheme} initialization`);
      const parameters = initializedParameters(
        scheme,
        model,
        baseState.parameters,
        rng.fork(runs.length + 1),
      );
      const trainer = await GptTrainer.create(options, data, { ...baseState, parameters });
      try {
        const curves = await trainWithCurves(trainer, params.steps, 0, progress);
        runs.push({
          scheme,
          wteStd: tensorStatistics(parameters.get('wte.weight')!).std,
          attentionStd: tensorStatistics(parameters.get('h.0.attn.c_attn.weight')!).std,
          ...curves,
        });
      } finally {
        await trainer.release();
      }
    }
    const uniformLoss = Math.log(corpus.tokenizer.vocabSize);
    await figure(
      'loss-curves',
      lineChartSpec({
        title: `Training loss from ${runs.length} initializations`,
        xTitle: 'step',
        yTitle: 'training loss (nats per character, log scale)',
        points: runs.flatMap((run) =>
          run.stepLosses.map((loss, i) => ({ x: i + 1, y: loss, series: run.scheme })),
        ),
        yScale: 'log',
      }),
    );
    await figure(
      'initial-final-loss',
      barChartSpec({
        title: `Validation loss before and after ${params.steps} steps (ln V = ${round(uniformLoss, 2)})`,
        xTitle: 'initialization',
        yTitle: 'validation loss (nats per character)',
        bars: runs.flatMap((run) => [
          { label: run.scheme, value: run.evaluations[0].validation, group: 'initial' },
          {
            label: run.scheme,
            value: run.evaluations.at(-1)!.validation,
            group: `after ${params.steps} steps`,
          },
        ]),
        grouped: true,
        width: 420,
      }),
    );
    const summary = Object.fromEntries(
      runs.map((run) => [
        run.scheme,
        {
          wteStd: round(run.wteStd, 5),
          attentionWeightStd: round(run.attentionStd, 5),
          initialLoss: round(run.evaluations[0].validation),
          finalLoss: round(run.evaluations.at(-1)!.validation),
          meanLossOfLastSteps: round(meanOfLast(run.stepLosses, 10)),
        },
      ]),
    );
    return {
      results: {
        corpus: corpus.name,
        uniformLoss: round(uniformLoss),
        steps: params.steps,
        schemes: summary,
      },
      tables: [
        {
          title: 'Validation loss by initialization (std: standard deviation of the initial weights)',
          columns: [
            'initialization',
            'wte std',
            'h.0 c_attn std',
            'initial loss',
            `loss after ${params.steps} steps`,
          ],
          rows: runs.map((run) => [
            run.scheme,
            summary[run.scheme].wteStd,
            summary[run.scheme].attentionWeightStd,
            summary[run.scheme].initialLoss,
            summary[run.scheme].finalLoss,
          ]),
        },
      ],
    };
  },
});

/** Applies dropout with probability `p` to a vector of ones, as nn.Dropout does in training mode. */
async function dropoutOnOnes(p: number, count: number, rng: Rng): Promise<Float32Array> {
  const g = new Graph('dropout');
  const x = g.input('x', 'float32', [count]);
  const noise = g.input('noise', 'float32', [count]);
  g.output('y', dropout(g, 'demo', x, { p, noise: () => noise }));
  const session = await GraphSession.create(toOnnx(g));
  try {
    const result = await session.run({
      x: session.tensor('float32', new Float32Array(count).fill(1), [count]),
      noise: session.tensor('float32', rng.fillUniform(new Float32Array(count)) as Float32Array, [count]),
    });
    return result.y.data as Float32Array;
  } finally {
    await session.release();
  }
}

export const dropoutTraining = defineExperiment({
  id: 'dropout-training',
  title: 'Dropout in training and evaluation',
  section: '90. Dropout in theory and in Pytorch',
  description:
    'Applies dropout to a vector of ones: about a fraction p of the entries become 0 and the survivors are scaled by 1/(1 - p), so the expected value stays 1. Then trains one small GPT without dropout and with dropout p on the embeddings, attention weights and residual branches, and draws the train and validation losses. Evaluation runs with dropout off, so the training-batch losses of the dropout run sit above its evaluated training loss.',
  needs: ['trainer', 'The Time Machine (Gutenberg download) or --corpus'],
  typicalTime: '3 s',
  params: z.object({
    ...smallGptParams({ maxChars: 20_000 }),
    p: z.number().gt(0).lt(1).default(0.2).describe('dropout probability'),
    vectorLength: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(1000)
      .describe('length of the vector of ones'),
    steps: z.number().int().min(1).max(100_000).default(300).describe('optimizer steps per run'),
    lr: z.number().positive().max(1).default(0.003).describe('AdamW learning rate'),
    evalInterval: z.number().int().min(1).max(100_000).default(25).describe('steps between evaluations'),
    evalIters: z.number().int().min(1).max(1000).default(10).describe('batches per loss evaluation'),
  }),
  async run({ params, seed, rng, progress, figure, assets }) {
    progress.stage('Dropout on a vector of ones');
    const dropped = await dropoutOnOnes(params.p, params.vectorLength, rng.fork(1));
    const survivors = [...new Set(Array.from(dropped).filter((value) => value !== 0))];
    const zeroFraction = dropped.filter((value) => value === 0).length / dropped.length;
    const mean = dropped.reduce((sum, value) => sum + value, 0) / dropped.length;

    const corpus = await loadCharCorpus(assets, params.maxChars, progress);
    const { head, tail } = splitTail(corpus.tokens, 0.1);
    const runs = [];
    for (const p of [0, params.p]) {
      progress.stage(`Training with dropout ${p}`);
      const model = gptConfigFor(params, corpus.tokenizer.vocabSize, p);
      const trainer = await GptTrainer.create(
        trainerOptionsFor(params, model, {
          learningRate: params.lr,
          steps: params.steps,
          seed,
          evalIters: params.evalIters,
          optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 },
        }),
        { train: head, validation: tail },
      );
      try {
        runs.push({ p, ...(await trainWithCurves(trainer, params.steps, params.evalInterval, progress)) });
      } finally {
        await trainer.release();
      }
    }
    await figure(
      'train-validation-loss',
      lineChartSpec({
        title: `Train and validation loss without and with dropout ${params.p}`,
        xTitle: 'step',
        yTitle: 'loss (nats per character)',
        points: runs.flatMap((run) => [
          ...run.evaluations.map((e) => ({ x: e.step, y: e.train, series: `train, dropout ${run.p}` })),
          ...run.evaluations.map((e) => ({
            x: e.step,
            y: e.validation,
            series: `validation, dropout ${run.p}`,
          })),
        ]),
        dashed: runs.map((run) => `validation, dropout ${run.p}`),
      }),
    );
    const smoothing = Math.min(params.evalInterval, params.steps);
    const summary = runs.map((run) => {
      const last = run.evaluations.at(-1)!;
      const batchLoss = meanOfLast(run.stepLosses, smoothing);
      return {
        dropout: run.p,
        finalTrainLoss: round(last.train),
        finalValidationLoss: round(last.validation),
        generalizationGap: round(last.validation - last.train),
        meanTrainingBatchLoss: round(batchLoss),
        batchMinusEvaluatedTrainLoss: round(batchLoss - last.train),
      };
    });
    return {
      results: {
        p: params.p,
        expectedSurvivorValue: 1 / (1 - params.p),
        survivorValues: survivors,
        zeroFraction: round(zeroFraction),
        meanAfterDropout: round(mean),
        runs: summary,
        evaluations: Object.fromEntries(runs.map((run) => [`dropout ${run.p}`, run.evaluations])),
      },
      tables: [
        {
          title: `Losses after ${params.steps} steps; batch loss: mean training loss of the last ${smoothing} steps, with dropout on`,
          columns: ['dropout', 'train loss', 'validation loss', 'gap', 'batch loss'],
          rows: summary.map((row) => [
            row.dropout,
            row.finalTrainLoss,
            row.finalValidationLoss,
            row.generalizationGap,
            row.meanTrainingBatchLoss,
          ]),
        },
      ],
      notes: [
        `Dropout ${params.p} on ${params.vectorLength} ones: ${(100 * zeroFraction).toFixed(1)}% zeros, survivors ${survivors.join(', ')} (1/(1 - p) = ${1 / (1 - params.p)}).`,
      ],
    };
  },
});
