import { CourseModelSession, type GptConfig, type Model5Config } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { cleanGutenbergText } from '@glassbox/tokenizers';
import { z } from 'zod';
import { BOOKS } from '../assets.js';
import { lineChartSpec } from '../plot.js';
import { round } from './building-gpt-graph.js';
import { crossEntropy } from './building-gpt-models.js';
import { barChartSpec } from './charts.js';
import { encodeForModel, loadPretrainedGpt2 } from './pretrained-gpt2.js';
import { defineExperiment } from './types.js';

const PROJECTIONS = ['q', 'k', 'v'] as const;
type Projection = (typeof PROJECTIONS)[number];

/** Column offset of a projection inside GPT-2's fused Conv1D `c_attn` weight [C, 3C]: Q, then K, then V. */
function projectionOffset(projection: Projection, c: number): number {
  return PROJECTIONS.indexOf(projection) * c;
}

/** Copies the [C, C] block of `projection` out of a `c_attn` weight [C, 3C]. */
function readProjection(weight: Float32Array, c: number, offset: number): Float32Array {
  const block = new Float32Array(c * c);
  for (let row = 0; row < c; row++) {
    block.set(weight.subarray(row * 3 * c + offset, row * 3 * c + offset + c), row * c);
  }
  return block;
}

/** Writes a [C, C] block into the columns of `projection` of a `c_attn` weight [C, 3C], in place. */
function writeProjection(weight: Float32Array, block: Float32Array, c: number, offset: number): void {
  for (let row = 0; row < c; row++) {
    weight.set(block.subarray(row * c, (row + 1) * c), row * 3 * c + offset);
  }
}

/** Gaussian noise with the mean and (biased) standard deviation of `values`, as the course's torch.normal. */
function matchedNoise(values: Float32Array, rng: Rng): Float32Array {
  let sum = 0;
  for (const value of values) sum += value;
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  const std = Math.sqrt(squares / values.length);
  return Float32Array.from(values, () => rng.normal(mean, std));
}

/** Windows of `length + 1` tokens spread evenly over `ids`: inputs are the first `length`, targets the last. */
function evenWindows(ids: readonly number[], count: number, length: number) {
  const span = ids.length - length - 1;
  const inputs: number[][] = [];
  const targets: number[][] = [];
  for (let row = 0; row < count; row++) {
    const start = count === 1 ? 0 : Math.floor((row * span) / (count - 1));
    inputs.push(ids.slice(start, start + length));
    targets.push(ids.slice(start + 1, start + length + 1));
  }
  return { inputs, targets };
}

/**
 * Describes the layer whose noisy projection alone raised the loss the most, or states that no single layer
 * raised it. `increases[i]` is the loss with layer i's projection noisy minus the intact loss, in nats.
 */
export function mostSensitiveLayerNote(increases: readonly number[], projection: string): string {
  const worst = increases.reduce((best, increase, layer) => (increase > increases[best] ? layer : best), 0);
  if (!(increases[worst] > 0)) {
    return `Noise in no single layer's ${projection} raised the loss. The smallest decrease was ${round(-increases[worst])} nats, in layer ${worst}.`;
  }
  return `Noise in layer ${worst}'s ${projection} alone costs the most: +${round(increases[worst])} nats.`;
}

function model5Of(config: GptConfig): Model5Config {
  return {
    model: 5,
    vocabSize: config.vocabSize,
    nEmbd: config.nEmbd,
    blockSize: config.blockSize,
    nLayer: config.nLayer,
    nHead: config.nHead,
    layerNormEpsilon: config.layerNormEpsilon,
  };
}

export const doWeNeedQ = defineExperiment({
  id: 'do-we-need-q',
  title: 'Do we really need Q? Trained query weights replaced with noise',
  section: '76. CodeChallenge: Do we really need Q?',
  description:
    "Loads a trained GPT-2 (OpenAI's gpt2 from the Hugging Face Hub, or --model DIR: a Hugging Face GPT-2 directory or a glassbox train run) and replaces the query block of each layer's c_attn weight (the first nEmbd columns of the Conv1D [C, 3C] matrix) with Gaussian noise of the same mean and standard deviation. It does so in each layer alone, then cumulatively in layers 0 to i as the course does. After each change it measures the cross-entropy on windows of a text (The Time Machine, or --corpus PATH) and samples a continuation of the prompt with the same seed. --projection k or v replaces the keys or values instead, for comparison.",
  needs: [
    'gpt-core',
    'GPT-2 model.safetensors (download) or --model DIR',
    'Gutenberg book (download) or --corpus',
  ],
  typicalTime: '3 min on gpt2 (124M) after its download, 2 s on a small glassbox run',
  params: z.object({
    prompt: z.string().min(1).default('I went to the market to buy').describe('text to continue'),
    newTokens: z.number().int().min(1).max(1000).default(30).describe('tokens sampled after the prompt'),
    topK: z
      .number()
      .int()
      .min(0)
      .default(50)
      .describe('sample from the k most likely tokens, as Hugging Face generate does; 0 keeps all'),
    projection: z.enum(PROJECTIONS).default('q').describe('the c_attn block to replace: q, k or v'),
    windows: z.number().int().min(1).max(256).default(8).describe('text windows in each loss measurement'),
    windowLength: z
      .number()
      .int()
      .min(2)
      .max(4096)
      .default(128)
      .describe("tokens per window, at most the model's context length"),
    maxChars: z
      .number()
      .int()
      .min(100)
      .max(10_000_000)
      .default(100_000)
      .describe('characters read from the start of the text'),
  }),
  async run({ params, seed, assets, progress, figure }) {
    const model = await loadPretrainedGpt2(assets, progress);
    const { config, tokenizer } = model;
    const c = config.nEmbd;
    const length = Math.min(params.windowLength, config.blockSize);

    progress.stage('Reading and encoding the text');
    const book = await assets.book(BOOKS.timeMachine);
    const ids = encodeForModel(
      model,
      Array.from(cleanGutenbergText(book.text)).slice(0, params.maxChars).join(''),
      `the text ${book.name}`,
      "Pass text in the model's alphabet with --corpus PATH, such as the text it was trained on.",
    );
    if (ids.length < length + 2) {
      throw new Error(
        `${book.name} encodes to ${ids.length} tokens, fewer than the ${length + 2} one window needs. Give a longer text with --corpus PATH, raise --max-chars or lower --window-length.`,
      );
    }
    const { inputs, targets } = evenWindows(ids, params.windows, length);
    const promptIds = encodeForModel(
      model,
      params.prompt,
      `--prompt ${JSON.stringify(params.prompt)}`,
      'Use only characters of the text the model was trained on.',
    );
    if (promptIds.length >= config.blockSize) {
      throw new Error(
        `--prompt encodes to ${promptIds.length} tokens; the model's context is ${config.blockSize}. Give a shorter prompt.`,
      );
    }

    // The session reads the parameter buffers on every run, so editing c_attn in place changes the model.
    // The loaded parameters belong to this run alone, so they are edited without a copy.
    const parameters = model.parameters;
    const session = await CourseModelSession.create(model5Of(config), parameters);
    const offset = projectionOffset(params.projection, c);
    const weightOf = (layer: number) => parameters.get(`h.${layer}.attn.c_attn.weight`)!;
    const original = Array.from({ length: config.nLayer }, (_, layer) =>
      readProjection(weightOf(layer), c, offset),
    );
    const noiseRng = new Rng(seed);
    const noise = original.map((block) => matchedNoise(block, noiseRng));
    const setNoisy = (noisyLayers: ReadonlySet<number>) => {
      for (let layer = 0; layer < config.nLayer; layer++) {
        writeProjection(weightOf(layer), noisyLayers.has(layer) ? noise[layer] : original[layer], c, offset);
      }
    };
    const measureLoss = async (): Promise<number> => {
      let total = 0;
      for (let row = 0; row < inputs.length; row++) {
        const { logits } = await session.forward([inputs[row]]);
        total += crossEntropy(logits.data, [targets[row]], config.vocabSize);
      }
      return total / inputs.length;
    };
    const sample = async (): Promise<string> => {
      const generated = await session.generate(promptIds, {
        maxNewTokens: params.newTokens,
        rng: new Rng(seed + 1),
        temperature: 1,
        topK: params.topK,
      });
      return tokenizer.decode(generated);
    };

    const name = params.projection.toUpperCase();
    const totalRuns = 2 * config.nLayer + 1;
    let runs = 0;
    const tick = () => progress.advance(++runs, totalRuns);
    const single: { layer: number; loss: number }[] = [];
    const cumulative: { noisyLayers: number; loss: number; text: string }[] = [];
    try {
      progress.stage(`Measuring the model with ${name} replaced by noise`);
      setNoisy(new Set());
      cumulative.push({ noisyLayers: 0, loss: await measureLoss(), text: await sample() });
      tick();
      for (let layer = 0; layer < config.nLayer; layer++) {
        setNoisy(new Set([layer]));
        single.push({ layer, loss: await measureLoss() });
        tick();
      }
      for (let count = 1; count <= config.nLayer; count++) {
        setNoisy(new Set(Array.from({ length: count }, (_, layer) => layer)));
        cumulative.push({ noisyLayers: count, loss: await measureLoss(), text: await sample() });
        tick();
      }
    } finally {
      await session.release();
    }

    const intact = cumulative[0].loss;
    const noisyRange = (count: number) => (count === 0 ? 'none' : `0-${count - 1}`);
    await figure(
      'loss-cumulative',
      lineChartSpec({
        title: `Loss with ${name} replaced by noise in layers 0 to i`,
        xTitle: `layers with noise in place of ${name} (0 = intact model)`,
        yTitle: 'cross-entropy (nats per token)',
        points: cumulative.map((row) => ({ x: row.noisyLayers, y: row.loss, series: `noisy ${name}` })),
        markedSeries: [`noisy ${name}`],
        integerX: true,
      }),
    );
    await figure(
      'loss-by-layer',
      barChartSpec({
        title: `Loss increase with ${name} replaced by noise in one layer`,
        xTitle: 'layer',
        yTitle: 'loss - intact loss (nats per token)',
        bars: single.map((row) => ({ label: String(row.layer), value: row.loss - intact })),
      }),
    );
    const increases = single.map((row) => row.loss - intact);
    const worst = single.reduce((a, b) => (b.loss > a.loss ? b : a));
    const notes = [
      `Intact model: ${round(intact)} nats per token; with ${name} noisy in every layer: ${round(cumulative.at(-1)!.loss)}.`,
      mostSensitiveLayerNote(increases, name),
    ];
    if (params.windowLength > length) {
      notes.push(
        `--window-length ${params.windowLength} exceeds the model's context of ${config.blockSize} tokens, so each window has ${length} tokens.`,
      );
    }
    return {
      results: {
        model: model.directory,
        nLayer: config.nLayer,
        nEmbd: c,
        projection: params.projection,
        corpus: book.name,
        evaluationTokens: inputs.length * length,
        prompt: params.prompt,
        intactLoss: intact,
        singleLayerLosses: single.map((row) => row.loss),
        cumulativeLosses: cumulative.map((row) => row.loss),
        generations: cumulative.map((row) => row.text),
        mostSensitiveLayer: worst.layer,
      },
      tables: [
        {
          title: `Cross-entropy on ${inputs.length} windows of ${length} tokens, and the sampled continuation`,
          columns: [`layers with noisy ${name}`, 'loss (nats)', 'continuation'],
          rows: cumulative.map((row) => [
            noisyRange(row.noisyLayers),
            round(row.loss),
            JSON.stringify(row.text),
          ]),
        },
        {
          title: `Noise in one layer's ${name} only`,
          columns: ['layer', 'loss (nats)', 'increase'],
          rows: single.map((row) => [row.layer, round(row.loss), round(row.loss - intact)]),
        },
      ],
      notes,
    };
  },
});
