import { buildGpt, type GptConfig, gptParameterShapes } from '@glassbox/gpt-core';
import { Graph, GraphSession, toOnnx } from '@glassbox/graph';
import { cleanGutenbergText, loadEncoding } from '@glassbox/tokenizers';
import { GptTrainer, runTraining, type TokenArray } from '@glassbox/trainer';
import { z } from 'zod';
import { BOOKS } from '../assets.js';
import { barChartSpec } from './charts.js';
import { lineChartSpec } from './pretraining-charts.js';
import { gptConfigFor, round, splitTail, trainerOptionsFor } from './pretraining-common.js';
import { defineExperiment } from './types.js';

/**
 * Compiles a forward pass that returns the log-probability of every vocabulary token averaged over all
 * positions of a fixed batch, so the mean over a set of tokens is a mean of that vector's entries.
 */
async function createProbe(config: GptConfig, batch: BigInt64Array, batchSize: number) {
  const g = new Graph('gpt-probe');
  const dims = [batchSize, config.blockSize];
  const inputIds = g.input('input_ids', 'int64', dims);
  const { logits } = buildGpt(g, config, { inputIds });
  g.output('mean_log_probs', g.reduceMean(g.logSoftmax(logits), [0, 1]));
  const session = await GraphSession.create(toOnnx(g));
  const shapes = gptParameterShapes(config);
  return {
    async meanLogProbs(parameters: ReadonlyMap<string, Float32Array>): Promise<Float32Array> {
      const feeds: Record<string, ReturnType<typeof session.tensor>> = {
        input_ids: session.tensor('int64', batch, dims),
      };
      for (const [name, shape] of shapes)
        feeds[name] = session.tensor('float32', parameters.get(name)!, shape);
      return (await session.run(feeds)).mean_log_probs.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** Returns windows spread evenly over `tokens`, for a probe batch that stays fixed during training. */
function evenWindows(tokens: TokenArray, blockSize: number, count: number): BigInt64Array {
  const out = new BigInt64Array(count * blockSize);
  const span = tokens.length - blockSize;
  for (let row = 0; row < count; row++) {
    const start = Math.floor((row * span) / count);
    for (let j = 0; j < blockSize; j++) out[row * blockSize + j] = BigInt(tokens[start + j]);
  }
  return out;
}

function meanAt(values: ArrayLike<number>, ids: readonly number[]): number {
  return ids.reduce((sum, id) => sum + values[id], 0) / ids.length;
}

export const unseenTokens = defineExperiment({
  id: 'unseen-tokens',
  title: 'What happens to unused tokens',
  section: '95. CodeChallenge: What happens to unused tokens?',
  description:
    "Encodes a book with GPT-2's r50k_base tokenizer, counts the vocabulary tokens that the book uses and the ones it never contains, and trains a small GPT with the full 50,257-token vocabulary on it. Tracks the mean log-probability that the model assigns to the most common, the least common and never-used tokens on a fixed batch: at initialization all are near -ln(50257) = -10.82; training raises the common tokens and pushes the never-used ones down, since they only ever receive gradient that lowers their logits. The course's notebook indexes the never-used category with token ids as positions in its list of used tokens; here the category is the never-used ids themselves.",
  needs: ['tokenizers', 'trainer', 'The Time Machine (Gutenberg download) or --corpus'],
  typicalTime: '17 s',
  params: z.object({
    maxChars: z
      .number()
      .int()
      .min(1000)
      .max(10_000_000)
      .default(200_000)
      .describe('characters read from the start of the book'),
    category: z.number().int().min(1).max(10_000).default(100).describe('tokens in each category'),
    nEmbd: z.number().int().min(2).max(768).default(32).describe('embedding width, a multiple of --n-head'),
    nHead: z.number().int().min(1).max(16).default(2).describe('attention heads per block'),
    nLayer: z.number().int().min(1).max(12).default(1).describe('transformer blocks'),
    blockSize: z.number().int().min(2).max(1024).default(32).describe('context length in tokens'),
    batchSize: z.number().int().min(1).max(512).default(8).describe('sequences per optimizer step'),
    steps: z.number().int().min(1).max(100_000).default(200).describe('optimizer steps'),
    lr: z.number().positive().max(1).default(0.003).describe('AdamW learning rate'),
    evalInterval: z.number().int().min(1).max(100_000).default(20).describe('steps between probes'),
  }),
  async run({ params, seed, progress, figure, assets }) {
    progress.stage('Loading the book');
    const book = await assets.book(BOOKS.timeMachine);
    const text = cleanGutenbergText(book.text).slice(0, params.maxChars);
    progress.stage('Loading r50k_base');
    const tokenizer = await loadEncoding('r50k_base');
    const tokens = Int32Array.from(tokenizer.encode(text, { disallowedSpecial: new Set() }));
    const counts = new Uint32Array(tokenizer.vocabSize);
    for (const id of tokens) counts[id]++;
    const used = [...counts.keys()].filter((id) => counts[id] > 0);
    const neverUsed = [...counts.keys()].filter((id) => counts[id] === 0);
    const byCount = [...used].sort((a, b) => counts[b] - counts[a] || a - b);
    const size = Math.min(params.category, Math.floor(used.length / 2), neverUsed.length);
    if (size < 1)
      throw new Error(`the text uses ${used.length} token types. Give a longer text with --max-chars.`);
    const categories = {
      'most common': byCount.slice(0, size),
      'least common': byCount.slice(-size),
      'never used': neverUsed.slice(0, size),
    };

    const config = gptConfigFor(params, tokenizer.vocabSize);
    const { head, tail } = splitTail(tokens, 0.1);
    const trainer = await GptTrainer.create(
      trainerOptionsFor(params, config, {
        learningRate: params.lr,
        steps: params.steps,
        seed,
        evalIters: 2,
        optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 },
      }),
      { train: head, validation: tail },
    );
    const probe = await createProbe(
      config,
      evenWindows(tail, params.blockSize, params.batchSize),
      params.batchSize,
    );
    const tracked: { step: number; loss: number | null; means: Record<string, number> }[] = [];
    const record = async (step: number, loss: number | null) => {
      const logProbs = await probe.meanLogProbs(trainer.parameterViews());
      const means = Object.fromEntries(
        Object.entries(categories).map(([name, ids]) => [name, meanAt(logProbs, ids)]),
      );
      tracked.push({ step, loss, means });
    };
    const stepLosses: number[] = [];
    try {
      progress.stage(`Training for ${params.steps} steps`);
      await record(0, null);
      await runTraining(trainer, {
        maxSteps: params.steps,
        evalInterval: 0,
        onStep: async (report) => {
          stepLosses.push(report.loss);
          progress.advance(report.step, params.steps);
          if (report.step % params.evalInterval === 0 || report.step === params.steps) {
            await record(report.step, report.loss);
          }
        },
      });
    } finally {
      await probe.release();
      await trainer.release();
    }

    await figure(
      'category-log-probs',
      lineChartSpec({
        title: `Mean log-probability of ${size} tokens per category (${book.name})`,
        xTitle: 'step',
        yTitle: 'mean log-probability (nats)',
        points: tracked.flatMap((entry) =>
          Object.entries(entry.means).map(([series, y]) => ({ x: entry.step, y, series })),
        ),
      }),
    );
    await figure(
      'training-loss',
      lineChartSpec({
        title: 'Training loss with the r50k_base vocabulary',
        xTitle: 'step',
        yTitle: 'training loss (nats per token)',
        points: stepLosses.map((loss, i) => ({ x: i + 1, y: loss, series: 'training loss' })),
      }),
    );
    await figure(
      'vocabulary-use',
      barChartSpec({
        title: `r50k_base tokens in ${book.name}`,
        xTitle: 'tokens',
        yTitle: 'vocabulary entries',
        bars: [
          { label: 'used', value: used.length },
          { label: 'never used', value: neverUsed.length },
        ],
        width: 240,
      }),
    );
    const first = tracked[0].means;
    const last = tracked.at(-1)!.means;
    const decode = (ids: readonly number[]) => ids.slice(0, 10).map((id) => tokenizer.decode([id]));
    return {
      results: {
        book: book.name,
        totalTokens: tokens.length,
        uniqueTokens: used.length,
        vocabSize: tokenizer.vocabSize,
        vocabFractionUsed: round(used.length / tokenizer.vocabSize),
        neverUsedCount: neverUsed.length,
        categorySize: size,
        mostCommonExamples: decode(categories['most common']),
        neverUsedExamples: decode(categories['never used']),
        uniformLogProb: round(-Math.log(tokenizer.vocabSize)),
        initialMeanLogProb: Object.fromEntries(Object.entries(first).map(([k, v]) => [k, round(v)])),
        finalMeanLogProb: Object.fromEntries(Object.entries(last).map(([k, v]) => [k, round(v)])),
        tracked: tracked.map((entry) => ({
          step: entry.step,
          loss: entry.loss === null ? null : round(entry.loss),
          means: Object.fromEntries(Object.entries(entry.means).map(([k, v]) => [k, round(v)])),
        })),
      },
      tables: [
        {
          title: `Mean log-probability per category, on ${params.batchSize} fixed windows of the held-out tail`,
          columns: ['category', 'step 0', `step ${params.steps}`],
          rows: Object.keys(categories).map((name) => [name, round(first[name]), round(last[name])]),
        },
      ],
      notes: [
        `${book.name}: ${tokens.length} tokens, ${used.length} distinct (${(100 * (used.length / tokenizer.vocabSize)).toFixed(2)}% of the ${tokenizer.vocabSize}-token vocabulary); ${neverUsed.length} tokens never occur.`,
      ],
    };
  },
});
