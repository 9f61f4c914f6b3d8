import {
  buildGpt,
  histogram,
  initGptParameters,
  resolveGptConfig,
  tensorStatistics,
} from '@glassbox/gpt-core';
import { loadGpt2Directory } from '@glassbox/gpt-core/node';
import { addTrainingStep, Graph, GraphSession, type Rng, TrainingSession, toOnnx } from '@glassbox/graph';
import { l1Loss, mseLoss, nllLoss } from '@glassbox/trainer';
import { z } from 'zod';
import type { ExperimentAssets } from '../assets.js';
import type { ChartSpec } from '../plot.js';
import { barChartSpec, histogramChartSpec } from './charts.js';
import { gpt2Directory } from './pretrained-gpt2.js';
import { lineChartSpec } from './pretraining-charts.js';
import { round } from './pretraining-common.js';
import { logSoftmax } from './softmax.js';
import { defineExperiment, type ProgressReporter } from './types.js';

/** Parses positive integers separated by commas, such as `2,4,8`. */
const integerList = (fallback: string, description: string) =>
  z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'expected positive integers separated by commas, such as 2,4,8')
    .default(fallback)
    .describe(description);

/** Parses numbers separated by commas, such as `-1,2.3,0.1`. */
const numberList = (fallback: string, description: string) =>
  z
    .string()
    .regex(
      /^\s*-?\d+(\.\d+)?(\s*,\s*-?\d+(\.\d+)?)*\s*$/,
      'expected numbers separated by commas, such as -1,2.3,0.1',
    )
    .default(fallback)
    .describe(description);

function parseList(text: string): number[] {
  return text.split(',').map(Number);
}

/** Computes softmax in float64 with the maximum subtracted first, so large scores stay finite. */
function softmax(scores: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i]);
  const out = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    out[i] = Math.exp(scores[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Returns the entropy in nats, where terms with probability 0 contribute 0. */
function entropy(probabilities: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i];
    if (p > 0) total -= p * Math.log(p);
  }
  return total;
}

function standardDeviation(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return Math.sqrt(squares / values.length);
}

/** Draws random N(0, 1) matrices Q [rows, dim] and K [keys, dim] and returns the entries of Q K^T. */
function randomScores(rows: number, keys: number, dim: number, rng: Rng): Float64Array {
  const q = rng.fillNormal(new Float64Array(rows * dim));
  const k = rng.fillNormal(new Float64Array(keys * dim));
  const scores = new Float64Array(rows * keys);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < keys; j++) {
      let dot = 0;
      for (let c = 0; c < dim; c++) dot += q[i * dim + c] * k[j * dim + c];
      scores[i * keys + j] = dot;
    }
  }
  return scores;
}

/** Gamma and beta histogram ranges of the course's figure. */
const GAMMA_RANGE: [number, number] = [0, 3];
const BETA_RANGE: [number, number] = [-5, 5];

/** Summary of one kind of layer norm parameter, pooled over every layer norm of the model. */
type LayerNormSummary = {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Values outside the histogram range, which the histogram leaves out. */
  outsideRange: number;
};

/**
 * Loads GPT-2 (or the `--model` directory) and draws histograms of the scales and shifts of all its layer
 * norms (`ln_1`, `ln_2` of every block and `ln_f`) on a symlog count axis, as the course does on a log axis.
 */
async function drawLayerNorms(
  assets: ExperimentAssets,
  progress: ProgressReporter,
  figure: (name: string, spec: ChartSpec) => Promise<void>,
  bins: number,
): Promise<{ model: string; layerNorms: number; gamma: LayerNormSummary; beta: LayerNormSummary }> {
  const directory = await gpt2Directory(assets, progress);
  const { parameters } = await loadGpt2Directory(directory);
  const names = [...parameters.keys()].filter((name) => /(^|\.)ln_(1|2|f)\.weight$/.test(name));
  const pool = (suffix: 'weight' | 'bias') => {
    const parts = names.map((name) => parameters.get(name.replace(/weight$/, suffix))!);
    const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  };
  const summarize = (values: Float32Array, range: readonly [number, number]): LayerNormSummary => {
    const stats = tensorStatistics(values);
    const outsideRange = values.filter((value) => value < range[0] || value > range[1]).length;
    return {
      count: values.length,
      mean: stats.mean,
      std: stats.std,
      min: stats.min,
      max: stats.max,
      outsideRange,
    };
  };
  const draw = async (name: string, title: string, values: Float32Array, range: [number, number]) => {
    const { edges, counts } = histogram(values, bins, range);
    await figure(
      name,
      histogramChartSpec({
        title,
        xTitle: 'value',
        yTitle: 'count (symlog axis)',
        series: [{ name, edges: Array.from(edges), heights: Array.from(counts) }],
        yScale: 'symlog',
      }),
    );
  };
  const gamma = pool('weight');
  const beta = pool('bias');
  await draw(
    'layer-norm-gamma',
    `Layer norm scales (gamma) of ${names.length} layer norms`,
    gamma,
    GAMMA_RANGE,
  );
  await draw('layer-norm-beta', `Layer norm shifts (beta) of ${names.length} layer norms`, beta, BETA_RANGE);
  return {
    model: directory,
    layerNorms: names.length,
    gamma: summarize(gamma, GAMMA_RANGE),
    beta: summarize(beta, BETA_RANGE),
  };
}

export const attentionScaling = defineExperiment({
  id: 'attention-scaling',
  title: 'Numerical scaling of attention scores',
  section: '87. CodeChallenge: Numerical scaling issues in DL models',
  description:
    "Draws random N(0, 1) queries and keys of growing dimension d and applies softmax to their dot products, raw and divided by sqrt(d). The raw scores have a standard deviation of sqrt(d), so their softmax collapses onto one key (entropy near 0, maximum weight near 1) as d grows; the scaled scores keep a standard deviation of 1 and a softmax of the same shape at every d. With --layer-norms it also draws histograms of the scales (gamma) and shifts (beta) of every layer norm of a trained GPT-2: OpenAI's gpt2, or the model of --model DIR.",
  needs: ['nothing beyond Node.js', 'with --layer-norms: GPT-2 model.safetensors (download) or --model DIR'],
  typicalTime: '1 s',
  params: z.object({
    dims: integerList('2,4,8,16,32,64,128,256,512,1024', 'query and key dimensions d'),
    keys: z.number().int().min(2).max(10_000).default(50).describe('keys per query: the softmax length'),
    queries: z.number().int().min(1).max(10_000).default(50).describe('queries per dimension'),
    layerNorms: z
      .boolean()
      .default(false)
      .describe(
        'also draw histograms of the layer norm weights of GPT-2 (downloads about 550 MB unless cached or --model DIR is given)',
      ),
    bins: z.number().int().min(2).max(1000).default(60).describe('bins of the layer norm histograms'),
  }),
  async run({ params, rng, figure, progress, assets }) {
    const dims = parseList(params.dims);
    if (dims.some((d) => d < 1)) throw new Error(`--dims must list positive integers, got ${params.dims}.`);
    progress.stage('Softmax of random dot products');
    const rows = dims.map((dim, index) => {
      progress.advance(index, dims.length);
      const scores = randomScores(params.queries, params.keys, dim, rng);
      const stats = { raw: { entropy: 0, maxWeight: 0 }, scaled: { entropy: 0, maxWeight: 0 } };
      for (let query = 0; query < params.queries; query++) {
        const row = scores.subarray(query * params.keys, (query + 1) * params.keys);
        const raw = softmax(row);
        const scaled = softmax(row.map((score) => score / Math.sqrt(dim)));
        stats.raw.entropy += entropy(raw) / params.queries;
        stats.raw.maxWeight += Math.max(...raw) / params.queries;
        stats.scaled.entropy += entropy(scaled) / params.queries;
        stats.scaled.maxWeight += Math.max(...scaled) / params.queries;
      }
      return { dim, scoreStd: standardDeviation(scores), ...stats };
    });
    const qkStd50 = standardDeviation(randomScores(50, 50, 50, rng));
    const series = (key: 'entropy' | 'maxWeight') =>
      rows.flatMap((row) => [
        { x: row.dim, y: row.raw[key], series: 'q·k' },
        { x: row.dim, y: row.scaled[key], series: 'q·k / sqrt(d)' },
      ]);
    await figure(
      'entropy',
      lineChartSpec({
        title: `Entropy of the softmax over ${params.keys} keys (uniform: ${round(Math.log(params.keys), 2)} nats)`,
        xTitle: 'dimension d',
        yTitle: 'mean entropy (nats)',
        points: series('entropy'),
        xScale: 'log',
      }),
    );
    await figure(
      'max-weight',
      lineChartSpec({
        title: `Largest softmax weight over ${params.keys} keys`,
        xTitle: 'dimension d',
        yTitle: 'mean maximum weight',
        points: series('maxWeight'),
        xScale: 'log',
      }),
    );
    await figure(
      'score-std',
      lineChartSpec({
        title: 'Standard deviation of the dot products',
        xTitle: 'dimension d',
        yTitle: 'standard deviation',
        points: rows.flatMap((row) => [
          { x: row.dim, y: row.scoreStd, series: 'q·k, measured' },
          { x: row.dim, y: Math.sqrt(row.dim), series: 'sqrt(d)' },
        ]),
        xScale: 'log',
        yScale: 'log',
        dashed: ['sqrt(d)'],
      }),
    );
    const layerNorms = params.layerNorms ? await drawLayerNorms(assets, progress, figure, params.bins) : null;
    return {
      results: {
        dims,
        keys: params.keys,
        uniformEntropy: round(Math.log(params.keys)),
        qkStd50x50: round(qkStd50),
        scoreStd: rows.map((row) => round(row.scoreStd)),
        rawEntropy: rows.map((row) => round(row.raw.entropy)),
        scaledEntropy: rows.map((row) => round(row.scaled.entropy)),
        rawMaxWeight: rows.map((row) => round(row.raw.maxWeight)),
        scaledMaxWeight: rows.map((row) => round(row.scaled.maxWeight)),
        ...(layerNorms ? { layerNorms } : {}),
      },
      tables: [
        {
          title: `Softmax over ${params.keys} keys, mean of ${params.queries} queries`,
          columns: [
            'd',
            'std of q·k',
            'entropy raw',
            'entropy scaled',
            'max weight raw',
            'max weight scaled',
          ],
          rows: rows.map((row) => [
            row.dim,
            round(row.scoreStd, 3),
            round(row.raw.entropy, 3),
            round(row.scaled.entropy, 3),
            round(row.raw.maxWeight, 3),
            round(row.scaled.maxWeight, 3),
          ]),
        },
      ],
      notes: [
        `The standard deviation of Q K^T for 50 x 50 N(0, 1) matrices is ${round(qkStd50, 3)}; sqrt(50) = 7.071.`,
        layerNorms
          ? `Layer norm scales (gamma) of the trained model: mean ${round(layerNorms.gamma.mean, 3)}, from ${round(layerNorms.gamma.min, 3)} to ${round(layerNorms.gamma.max, 3)}; shifts (beta): mean ${round(layerNorms.beta.mean, 3)}, from ${round(layerNorms.beta.min, 3)} to ${round(layerNorms.beta.max, 3)}.`
          : 'Add --layer-norms for histograms of the layer norm weights of a trained GPT-2.',
      ],
    };
  },
});

export const logitsVsLogSoftmax = defineExperiment({
  id: 'logits-vs-log-softmax',
  title: 'Logits or log-softmax as model outputs',
  section: '91. Should you output logits or log-softmax(logits)?',
  description:
    "Computes log-softmax of a few scores with the graph's LogSoftmax op and in float64, and the negative log-likelihood of each target. Then runs a freshly initialized GPT on random tokens and compares three losses: cross-entropy of the logits, the NLL loss of their log-softmax, and cross-entropy of the log-softmax. All three agree, because log-softmax of log-probabilities changes nothing, so a model may return either logits or log-probabilities.",
  needs: ['gpt-core'],
  typicalTime: '1 s',
  params: z.object({
    logits: numberList('-1,2.3,0.1', 'scores of the classes'),
    targets: integerList('0,1,2,0', 'target classes of the batch'),
    vocabSize: z.number().int().min(2).max(100_000).default(65).describe('vocabulary of the random GPT'),
    blockSize: z.number().int().min(1).max(1024).default(16).describe('sequence length of the random batch'),
    batchSize: z.number().int().min(1).max(256).default(4).describe('sequences in the random batch'),
  }),
  async run({ params, rng, figure, progress }) {
    const logits = parseList(params.logits);
    const targets = parseList(params.targets);
    for (const target of targets) {
      if (target >= logits.length) {
        throw new Error(`--targets: ${target} is not a class index in [0, ${logits.length}).`);
      }
    }
    progress.stage('Log-softmax with graph ops');
    // One row of the scores per target, so that the NLL loss averages over the batch as F.nll_loss does.
    const rows = targets.length;
    const vector = new Graph('log-softmax');
    const input = vector.input('logits', 'float32', [rows, logits.length]);
    const picked = vector.input('targets', 'int64', [rows]);
    const logProbabilities = vector.logSoftmax(input);
    vector.output('log_softmax', logProbabilities);
    vector.output('nll', nllLoss(vector, logProbabilities, picked));
    const vectorSession = await GraphSession.create(toOnnx(vector));
    const repeated = Float32Array.from({ length: rows * logits.length }, (_, i) => logits[i % logits.length]);
    const vectorOutputs = await vectorSession.run({
      logits: vectorSession.tensor('float32', repeated, [rows, logits.length]),
      targets: vectorSession.tensor('int64', BigInt64Array.from(targets.map(BigInt)), [rows]),
    });
    await vectorSession.release();
    const graphLogSoftmax = Array.from(vectorOutputs.log_softmax.data as Float32Array).slice(
      0,
      logits.length,
    );
    const exactLogSoftmax = logSoftmax(logits);

    progress.stage('Losses of a random GPT');
    const config = resolveGptConfig({
      vocabSize: params.vocabSize,
      blockSize: params.blockSize,
      nLayer: 1,
      nHead: 2,
      nEmbd: 32,
    });
    const g = new Graph('gpt-losses');
    const dims = [params.batchSize, params.blockSize];
    const inputIds = g.input('input_ids', 'int64', dims);
    const targetIds = g.input('targets', 'int64', dims);
    const { logits: modelLogits } = buildGpt(g, config, { inputIds });
    const modelLogProbabilities = g.logSoftmax(modelLogits);
    g.output('ce_logits', g.crossEntropy(modelLogits, targetIds));
    g.output('nll_log_softmax', nllLoss(g, modelLogProbabilities, targetIds));
    g.output('ce_log_softmax', g.crossEntropy(modelLogProbabilities, targetIds));
    const session = await GraphSession.create(toOnnx(g));
    const parameters = initGptParameters(config, rng.fork(1));
    const ids = () =>
      BigInt64Array.from({ length: params.batchSize * params.blockSize }, () =>
        BigInt(rng.randint(0, params.vocabSize)),
      );
    const feeds: Record<string, ReturnType<typeof session.tensor>> = {
      input_ids: session.tensor('int64', ids(), dims),
      targets: session.tensor('int64', ids(), dims),
    };
    const shapes = g.parameters.map((p) => [p.name, p.shape as number[]] as const);
    for (const [name, shape] of shapes) feeds[name] = session.tensor('float32', parameters.get(name)!, shape);
    const outputs = await session.run(feeds);
    await session.release();
    const modelLosses = {
      crossEntropyOfLogits: outputs.ce_logits.data[0] as number,
      nllOfLogSoftmax: outputs.nll_log_softmax.data[0] as number,
      crossEntropyOfLogSoftmax: outputs.ce_log_softmax.data[0] as number,
    };
    const values = Object.values(modelLosses);

    await figure(
      'scores',
      barChartSpec({
        title: 'Logits, their softmax and their log-softmax',
        xTitle: 'class',
        yTitle: 'value',
        bars: logits.flatMap((value, i) => [
          { label: String(i), value, group: 'logit' },
          { label: String(i), value: Math.exp(exactLogSoftmax[i]), group: 'softmax' },
          { label: String(i), value: exactLogSoftmax[i], group: 'log-softmax' },
        ]),
        grouped: true,
        width: 320,
      }),
    );
    const nllPerTarget = exactLogSoftmax.map((value) => -value);
    return {
      results: {
        logits,
        logSoftmax: exactLogSoftmax.map((value) => round(value)),
        logSoftmaxGraph: graphLogSoftmax.map((value) => round(value)),
        nllPerClass: nllPerTarget.map((value) => round(value)),
        targets,
        meanBatchNll: round(vectorOutputs.nll.data[0] as number),
        modelLosses: Object.fromEntries(Object.entries(modelLosses).map(([k, v]) => [k, round(v, 6)])),
        uniformLoss: round(Math.log(params.vocabSize)),
        maxLossDifference: Math.max(...values) - Math.min(...values),
      },
      tables: [
        {
          title: 'Losses of a freshly initialized GPT on one random batch',
          columns: ['loss', 'value'],
          rows: Object.entries(modelLosses).map(([name, value]) => [name, round(value, 6)]),
        },
      ],
      notes: [
        `log_softmax([${logits.join(', ')}]) = [${exactLogSoftmax.map((v) => v.toFixed(4)).join(', ')}]`,
      ],
    };
  },
});

export const customLoss = defineExperiment({
  id: 'custom-loss',
  title: 'Custom loss functions',
  section: '85. Create a custom loss function',
  description:
    'Builds L1 (mean absolute error) and L2 (mean squared error) losses from graph ops, evaluates them on one prediction and target, then trains a single weight toward a target with plain SGD under each loss. The L1 gradient is the sign of the error, so the weight moves by one learning rate per step; the L2 gradient shrinks with the error, so the weight approaches the target exponentially.',
  needs: ['graph', 'trainer'],
  typicalTime: '1 s',
  params: z.object({
    prediction: z.number().default(2).describe('prediction for the loss values'),
    target: z.number().default(5).describe('target for the loss values'),
    startWeight: z.number().default(0).describe('initial value of the trained weight'),
    trainTarget: z.number().default(3).describe('value the weight is trained toward'),
    lr: z.number().positive().max(10).default(0.05).describe('SGD learning rate'),
    iterations: z.number().int().min(1).max(100_000).default(50).describe('SGD steps'),
  }),
  async run({ params, figure, progress }) {
    progress.stage('Evaluating the losses');
    const values = new Graph('losses');
    const prediction = values.input('prediction', 'float32', [1]);
    const target = values.input('target', 'float32', [1]);
    values.output('l1', l1Loss(values, prediction, target));
    values.output('l2', mseLoss(values, prediction, target));
    const valueSession = await GraphSession.create(toOnnx(values));
    const lossValues = await valueSession.run({
      prediction: valueSession.tensor('float32', Float32Array.of(params.prediction), [1]),
      target: valueSession.tensor('float32', Float32Array.of(params.target), [1]),
    });
    await valueSession.release();

    const runs = [];
    for (const [name, build] of [
      ['L1', l1Loss],
      ['L2', mseLoss],
    ] as const) {
      progress.stage(`Training one weight with the ${name} loss`);
      const g = new Graph(`weight-${name}`);
      const weight = g.parameter('w', [1]);
      const loss = build(g, weight, g.constant([params.trainTarget], [1]));
      const session = await TrainingSession.create(
        g,
        addTrainingStep(g, loss, { optimizer: { type: 'sgd' } }),
      );
      session.load(new Map([['w', Float32Array.of(params.startWeight)]]));
      const weights = [params.startWeight];
      const losses: number[] = [];
      for (let i = 0; i < params.iterations; i++) {
        losses.push((await session.runStep(params.lr)).loss);
        weights.push(session.parameters().get('w')![0]);
      }
      await session.release();
      runs.push({ name, weights, losses });
    }
    await figure(
      'losses',
      lineChartSpec({
        title: `Loss while training one weight toward ${params.trainTarget}`,
        xTitle: 'iteration',
        yTitle: 'loss',
        points: runs.flatMap((run) => run.losses.map((loss, i) => ({ x: i, y: loss, series: run.name }))),
      }),
    );
    await figure(
      'weights',
      lineChartSpec({
        title: `Weight trajectory, SGD with learning rate ${params.lr}`,
        xTitle: 'iteration',
        yTitle: 'weight',
        points: runs.flatMap((run) => run.weights.map((w, i) => ({ x: i, y: w, series: run.name }))),
      }),
    );
    return {
      results: {
        l1: lossValues.l1.data[0] as number,
        l2: lossValues.l2.data[0] as number,
        finalWeights: Object.fromEntries(runs.map((run) => [run.name, round(run.weights.at(-1)!, 6)])),
        finalLosses: Object.fromEntries(runs.map((run) => [run.name, round(run.losses.at(-1)!, 6)])),
        weights: Object.fromEntries(runs.map((run) => [run.name, run.weights.map((w) => round(w, 6))])),
      },
      notes: [
        `L1(${params.prediction}, ${params.target}) = ${lossValues.l1.data[0]}, L2(${params.prediction}, ${params.target}) = ${lossValues.l2.data[0]}.`,
      ],
    };
  },
});
