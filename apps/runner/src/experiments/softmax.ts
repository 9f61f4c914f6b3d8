import { samplingProbabilities } from '@glassbox/gpt-core';
import { z } from 'zod';
import { barChartSpec, scatterChartSpec } from './charts.js';
import { defineExperiment } from './types.js';

/** Parses numbers separated by commas, such as `1,2,3`. */
const numberList = (fallback: string, description: string) =>
  z
    .string()
    .regex(
      /^\s*-?\d+(\.\d+)?(\s*,\s*-?\d+(\.\d+)?)*\s*$/,
      'expected numbers separated by commas, such as 1,2,3',
    )
    .default(fallback)
    .describe(description);

function parseList(text: string): number[] {
  return text.split(',').map(Number);
}

/** Log-softmax computed as z - log(sum(exp(z))), with the maximum subtracted first so large values stay finite. */
export function logSoftmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const logSum = Math.log(logits.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max;
  return logits.map((value) => value - logSum);
}

function linspace(start: number, end: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + ((end - start) * i) / (count - 1));
}

export const softmax = defineExperiment({
  id: 'softmax',
  title: 'Softmax and temperature',
  section: '52. Softmax (and temperature): math, numpy, and pytorch',
  description:
    "Computes softmax by the formula exp(z) / sum(exp(z)) and with @glassbox/gpt-core's samplingProbabilities, for a small vector and for random integers, then shows how temperature flattens (T > 1) or sharpens (T < 1) the distribution over 35 evenly spaced scores.",
  needs: ['gpt-core'],
  typicalTime: '2 s',
  params: z.object({
    logits: numberList('1,2,3', 'scores to turn into probabilities'),
    temperatures: numberList('1,2,10', 'temperatures of the curves'),
    randomCount: z.number().int().min(1).max(1000).default(25).describe('random integer scores in [-5, 15)'),
  }),
  async run({ params, rng, figure }) {
    const logits = parseList(params.logits);
    const byFormula = logits
      .map((value) => Math.exp(value))
      .map((value, _, all) => value / all.reduce((a, b) => a + b, 0));
    const byLibrary = Array.from(samplingProbabilities(logits));
    const randomScores = Array.from({ length: params.randomCount }, () => rng.randint(-5, 15));
    const randomProbabilities = Array.from(samplingProbabilities(randomScores));
    const scores = linspace(-5, 15, 35);
    const temperatures = parseList(params.temperatures).filter((value) => value > 0);
    const curves = temperatures.map((temperature) => ({
      temperature,
      probabilities: Array.from(samplingProbabilities(scores, { temperature })),
      log: logSoftmax(scores.map((score) => score / temperature)),
    }));
    await figure(
      'random-scores',
      scatterChartSpec({
        title: `Softmax of ${params.randomCount} random integers`,
        xTitle: 'score z',
        yTitle: 'softmax(z)',
        points: randomScores.map((score, i) => ({ x: score, y: randomProbabilities[i] })),
      }),
    );
    for (const [name, key, yTitle] of [
      ['temperature', 'probabilities', 'probability'],
      ['temperature-log', 'log', 'log probability'],
    ] as const) {
      await figure(
        name,
        scatterChartSpec({
          title: key === 'log' ? 'Log-softmax at several temperatures' : 'Softmax at several temperatures',
          xTitle: 'score z',
          yTitle,
          points: curves.flatMap((curve) =>
            scores.map((score, i) => ({ x: score, y: curve[key][i], series: `T = ${curve.temperature}` })),
          ),
          lines: true,
        }),
      );
    }
    return {
      results: {
        logits,
        softmaxByFormula: byFormula,
        softmaxByLibrary: byLibrary,
        sum: byLibrary.reduce((a, b) => a + b, 0),
        maxDifference: Math.max(...byFormula.map((value, i) => Math.abs(value - byLibrary[i]))),
        randomScores,
        largestProbabilityByTemperature: Object.fromEntries(
          curves.map((curve) => [String(curve.temperature), Math.max(...curve.probabilities)]),
        ),
      },
    };
  },
});

export const logSoftmaxExperiment = defineExperiment({
  id: 'log-softmax',
  title: 'Log-softmax and negative log-likelihood',
  section: '43. Loss function to train the embeddings',
  description:
    'Computes log-softmax of three scores and the negative log-likelihood loss for each target class and for a batch of targets, the loss that cross-entropy training minimizes.',
  needs: ['nothing beyond Node.js'],
  typicalTime: '1 s',
  params: z.object({
    logits: numberList('-1,2.3,0.1', 'scores of the classes'),
    targets: numberList('0,1,2,0', 'target classes of the batch'),
  }),
  async run({ params }) {
    const logits = parseList(params.logits);
    const logProbabilities = logSoftmax(logits);
    const targets = parseList(params.targets);
    for (const target of targets) {
      if (!Number.isInteger(target) || target < 0 || target >= logits.length) {
        throw new Error(`target ${target} is not a class index in [0, ${logits.length})`);
      }
    }
    const losses = logProbabilities.map((value) => -value);
    const batchLoss = targets.reduce((sum, target) => sum + losses[target], 0) / targets.length;
    return {
      results: {
        logits,
        logSoftmax: logProbabilities,
        nllPerTarget: losses,
        targets,
        meanBatchLoss: batchLoss,
      },
    };
  },
});

export const multinomial = defineExperiment({
  id: 'multinomial',
  title: 'Sampling tokens from weights',
  section: '53. Randomly sampling words with torch.multinomial',
  description:
    "Draws samples from unnormalized weights and from the softmax of the same numbers with the seeded categorical sampler of @glassbox/graph's Rng, and compares the observed frequencies with the expected ones, weight / sum of weights.",
  needs: ['graph'],
  typicalTime: '1 s',
  params: z.object({
    weights: numberList('1,2,5', 'non-negative sampling weights'),
    samples: z.number().int().min(1).max(10_000_000).default(10_000).describe('number of draws'),
  }),
  async run({ params, rng, figure }) {
    const weights = parseList(params.weights);
    if (weights.some((weight) => weight < 0) || weights.every((weight) => weight === 0)) {
      throw new Error(`weights must be non-negative with a positive sum, got ${params.weights}`);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    const expected = weights.map((weight) => (100 * weight) / total);
    const softmaxProbabilities = Array.from(samplingProbabilities(weights));
    const draw = (probabilities: readonly number[]) => {
      const counts = new Array<number>(probabilities.length).fill(0);
      for (let i = 0; i < params.samples; i++) counts[rng.categorical(probabilities)]++;
      return counts.map((count) => (100 * count) / params.samples);
    };
    const observed = draw(weights.map((weight) => weight / total));
    const observedSoftmax = draw(softmaxProbabilities);
    await figure(
      'frequencies',
      barChartSpec({
        title: `Frequencies over ${params.samples} draws`,
        xTitle: 'category (weight)',
        yTitle: 'frequency (%)',
        bars: weights.flatMap((weight, i) => [
          { label: `${i} (${weight})`, value: expected[i], group: 'expected, weights' },
          { label: `${i} (${weight})`, value: observed[i], group: 'observed, weights' },
          { label: `${i} (${weight})`, value: 100 * softmaxProbabilities[i], group: 'expected, softmax' },
          { label: `${i} (${weight})`, value: observedSoftmax[i], group: 'observed, softmax' },
        ]),
        grouped: true,
        width: 360,
      }),
    );
    return {
      results: {
        weights,
        expectedPercent: expected,
        observedPercent: observed,
        softmaxExpectedPercent: softmaxProbabilities.map((p) => 100 * p),
        softmaxObservedPercent: observedSoftmax,
      },
    };
  },
});
