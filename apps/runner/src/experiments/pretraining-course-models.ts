import {
  type CourseModelConfig,
  CourseModelSession,
  countCourseModelParameters,
  type Model1Config,
  type Model5Config,
} from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { cleanGutenbergText, loadEncoding, type Tokenizer } from '@glassbox/tokenizers';
import { z } from 'zod';
import { UsageError } from '../args.js';
import { BOOKS } from '../assets.js';
import {
  CourseModelTrainer,
  randomWindows,
  selectWindows,
  strideWindows,
  type TokenWindows,
} from './course-model-training.js';
import { encodeForModel, loadPretrainedGpt2 } from './pretrained-gpt2.js';
import { lineChartSpec } from './pretraining-charts.js';
import { round, splitTail } from './pretraining-common.js';
import type { ProgressReporter } from './types.js';
import { defineExperiment } from './types.js';

/**
 * Samples `count` tokens after the prompt `promptIds` at temperature 1 and decodes them. The caller encodes
 * the prompt before training, so that a prompt the tokenizer rejects fails before minutes of training.
 */
async function sampleText(
  config: CourseModelConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  tokenizer: Tokenizer,
  promptIds: number[],
  count: number,
  seed: number,
): Promise<string> {
  const session = await CourseModelSession.create(config, parameters);
  try {
    const ids = await session.generate(promptIds, { maxNewTokens: count, rng: new Rng(seed) });
    return tokenizer.decode(ids);
  } finally {
    await session.release();
  }
}

/** Reads a book (or the `--corpus` file), drops a Gutenberg header and footer and keeps `maxChars` characters. */
async function bookText(
  assets: Parameters<typeof loadPretrainedGpt2>[0],
  book: (typeof BOOKS)[keyof typeof BOOKS],
  maxChars: number,
  progress: ProgressReporter,
): Promise<{ name: string; text: string }> {
  progress.stage('Loading the text');
  const loaded = await assets.book(book);
  return { name: loaded.name, text: Array.from(cleanGutenbergText(loaded.text)).slice(0, maxChars).join('') };
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/**
 * Throws a UsageError naming the parameter to change when the windows of the text leave no test window or
 * fewer training windows than one batch.
 */
export function checkWindowSplit(
  text: string,
  windows: number,
  testWindows: number,
  params: { seqLen: number; testFraction: number; batchSize: number },
): void {
  if (windows === 0) {
    throw new UsageError(
      `${text} is too short for one window of ${params.seqLen + 1} tokens. Raise --max-chars or lower --seq-len.`,
    );
  }
  if (testWindows === 0) {
    throw new UsageError(
      `--test-fraction ${params.testFraction} of ${text}'s ${windows} windows rounds down to no test window. Raise --test-fraction or --max-chars.`,
    );
  }
  const trainWindows = windows - testWindows;
  if (trainWindows < params.batchSize) {
    throw new UsageError(
      `${text} leaves ${trainWindows} training windows (${windows} minus ${testWindows} for --test-fraction ${params.testFraction}), fewer than one --batch-size ${params.batchSize}. ` +
        'Lower --batch-size or --test-fraction, or raise --max-chars.',
    );
  }
}

const EMBEDDING_RUNS = [
  { name: 'random embeddings', pretrained: false, frozen: false },
  { name: 'GPT-2 embeddings, trained', pretrained: true, frozen: false },
  { name: 'GPT-2 embeddings, frozen', pretrained: true, frozen: true },
] as const;

interface EmbeddingRun {
  name: string;
  pretrained: boolean;
  frozen: boolean;
  trainableParameters: number;
  /** Mean training loss of each epoch's steps and the test loss after it; epoch 0 is before training. */
  epochs: { epoch: number; train: number; test: number }[];
  /** Largest absolute change of any wte value during training. */
  embeddingChange: number;
  generated: string;
}

export const model1Gpt2Embeddings = defineExperiment({
  id: 'model1-gpt2-embeddings',
  title: "Training Model 1 with GPT-2's embeddings",
  section: "83. CodeChallenge: Train model 1 with GPT2's embeddings",
  description:
    "Trains Model 1 (embedding -> GELU -> unembedding without bias) three times on the same windows of a book (The Time Machine, or --corpus PATH) encoded with the pretrained model's tokenizer: from PyTorch's default random embeddings, from a copy of GPT-2's token embeddings wte, and from that copy frozen. The width is the pretrained model's (768 for OpenAI's gpt2; --model DIR takes a Hugging Face GPT-2 directory or a glassbox train run). Windows of 8 tokens every 2 tokens are split 90/10 at random into train and test sets; AdamW with learning rate 1e-3 and weight decay 0.01, batches of 64, shuffled epochs. Reports the train and test loss of every epoch. The course trains 10 epochs; the default here is 2 because a 50,257-token vocabulary at width 768 costs about 2 s per step on a CPU.",
  needs: [
    'gpt-core',
    'GPT-2 model.safetensors (download) or --model DIR',
    'Gutenberg book (download) or --corpus',
  ],
  typicalTime:
    '12 min on gpt2 after its download (an estimate: 3 runs of about 100 steps at 2 s), 5 s on a small glassbox run',
  params: z.object({
    maxChars: z
      .number()
      .int()
      .min(200)
      .max(10_000_000)
      .default(30_000)
      .describe('characters read from the start of the text'),
    seqLen: z.number().int().min(1).max(1024).default(8).describe('tokens per window'),
    stride: z.number().int().min(1).max(1024).default(2).describe('tokens between window starts'),
    batchSize: z.number().int().min(1).max(1024).default(64).describe('windows per step'),
    epochs: z.number().int().min(1).max(1000).default(2).describe('passes over the training windows'),
    testFraction: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.1)
      .describe('fraction of the windows held out for testing'),
    lr: z.number().positive().max(1).default(0.001).describe('AdamW learning rate'),
    weightDecay: z.number().min(0).max(1).default(0.01).describe('AdamW weight decay'),
    prompt: z
      .string()
      .min(1)
      .default('I thought the Eloi would be smarter than')
      .describe('text continued by each trained model'),
    newTokens: z.number().int().min(1).max(1000).default(20).describe('tokens sampled after the prompt'),
  }),
  async run({ params, seed, assets, progress, figure }) {
    const pretrained = await loadPretrainedGpt2(assets, progress);
    const { tokenizer } = pretrained;
    const wte = pretrained.parameters.get('wte.weight')!;
    const promptIds = encodeForModel(
      pretrained,
      params.prompt,
      `--prompt ${JSON.stringify(params.prompt)}`,
      'Use only characters of the text the model was trained on.',
    );
    const book = await bookText(assets, BOOKS.timeMachine, params.maxChars, progress);
    const ids = encodeForModel(
      pretrained,
      book.text,
      `the text ${book.name}`,
      "Pass text in the model's alphabet with --corpus PATH, such as the text it was trained on.",
    );
    const windows = strideWindows(ids, params.seqLen, params.stride);
    const order = new Rng(seed).shuffle(Int32Array.from(windows.inputs, (_, i) => i));
    const testCount = Math.floor(order.length * params.testFraction);
    checkWindowSplit(book.name, windows.inputs.length, testCount, params);
    const train = selectWindows(windows, order.subarray(testCount));
    const test = selectWindows(windows, order.subarray(0, testCount));
    const stepsPerEpoch = Math.floor(train.inputs.length / params.batchSize);
    const config: Model1Config = {
      model: 1,
      vocabSize: pretrained.config.vocabSize,
      nEmbd: pretrained.config.nEmbd,
    };

    const runs: EmbeddingRun[] = [];
    for (const setting of EMBEDDING_RUNS) {
      progress.stage(`Training with ${setting.name}`);
      const trainer = await CourseModelTrainer.create(config, {
        batchSize: params.batchSize,
        length: params.seqLen,
        learningRate: params.lr,
        weightDecay: params.weightDecay,
        seed,
        initialValues: setting.pretrained ? new Map([['wte.weight', wte]]) : undefined,
        frozen: setting.frozen ? new Set(['wte.weight']) : undefined,
      });
      try {
        const start = Float32Array.from(trainer.parameters().get('wte.weight')!);
        const epochs = [
          { epoch: 0, train: await trainer.meanLoss(train), test: await trainer.meanLoss(test) },
        ];
        // Every run trains on the windows in the same order, so the runs differ only by their embeddings.
        const shuffle = new Rng(seed + 1);
        for (let epoch = 1; epoch <= params.epochs; epoch++) {
          const epochOrder = shuffle.shuffle(Int32Array.from(train.inputs, (_, i) => i));
          let sum = 0;
          for (let step = 0; step < stepsPerEpoch; step++) {
            const rows = epochOrder.subarray(step * params.batchSize, (step + 1) * params.batchSize);
            sum += await trainer.step(selectWindows(train, rows));
            progress.advance((epoch - 1) * stepsPerEpoch + step + 1, params.epochs * stepsPerEpoch);
          }
          epochs.push({ epoch, train: sum / stepsPerEpoch, test: await trainer.meanLoss(test) });
        }
        const parameters = trainer.parameters();
        runs.push({
          ...setting,
          trainableParameters:
            countCourseModelParameters(config) - (setting.frozen ? config.vocabSize * config.nEmbd : 0),
          epochs,
          embeddingChange: maxAbsDifference(start, parameters.get('wte.weight')!),
          generated: await sampleText(config, parameters, tokenizer, promptIds, params.newTokens, seed),
        });
      } finally {
        await trainer.release();
      }
    }

    await figure(
      'loss',
      lineChartSpec({
        title: 'Model 1: train and test loss per epoch',
        xTitle: 'epoch',
        yTitle: 'cross-entropy (nats per token)',
        points: runs.flatMap((run) => [
          ...run.epochs.slice(1).map((e) => ({ x: e.epoch, y: e.train, series: `${run.name} (train)` })),
          ...run.epochs.map((e) => ({ x: e.epoch, y: e.test, series: `${run.name} (test)` })),
        ]),
        dashed: runs.map((run) => `${run.name} (test)`),
        colorKey: (series) => series.replace(/ \((train|test)\)$/, ''),
      }),
    );
    const summary = (run: EmbeddingRun) => ({
      trainableParameters: run.trainableParameters,
      initialTestLoss: run.epochs[0].test,
      finalTrainLoss: run.epochs.at(-1)!.train,
      finalTestLoss: run.epochs.at(-1)!.test,
      embeddingMaxChange: run.embeddingChange,
      epochs: run.epochs,
      generated: run.generated,
    });
    return {
      results: {
        model: pretrained.directory,
        corpus: book.name,
        vocabSize: config.vocabSize,
        nEmbd: config.nEmbd,
        trainWindows: train.inputs.length,
        testWindows: test.inputs.length,
        stepsPerEpoch,
        uniformLoss: Math.log(config.vocabSize),
        runs: Object.fromEntries(runs.map((run) => [run.name, summary(run)])),
      },
      tables: [
        {
          title: `After ${params.epochs} epochs of ${stepsPerEpoch} steps`,
          columns: [
            'embeddings',
            'trainable parameters',
            'test loss before',
            'train loss',
            'test loss',
            'generated',
          ],
          rows: runs.map((run) => [
            run.name,
            run.trainableParameters,
            round(run.epochs[0].test),
            round(run.epochs.at(-1)!.train),
            round(run.epochs.at(-1)!.test),
            JSON.stringify(run.generated),
          ]),
        },
      ],
      notes: [
        `A uniform guess over ${config.vocabSize} tokens has loss ln(${config.vocabSize}) = ${round(Math.log(config.vocabSize))} nats.`,
        `The frozen embeddings moved by at most ${runs[2].embeddingChange}; the trained copy moved by up to ${round(runs[1].embeddingChange, 6)}.`,
      ],
    };
  },
});

const MODEL5_RUNS = [
  { name: 'log-softmax(logits / sqrt(C))', scaleLogits: true },
  { name: 'plain logits', scaleLogits: false },
] as const;

interface Model5Run {
  name: string;
  scaleLogits: boolean;
  parameters: number;
  stepLosses: number[];
  evaluations: { step: number; train: number; test: number }[];
  before: string;
  after: string;
}

export const model5WithModifications = defineExperiment({
  id: 'model5-with-mods',
  title: 'Training Model 5 with modifications',
  section: '84. CodeChallenge: Train model 5 with modifications',
  description:
    "Trains Model 5 (GPT-2) on a book (Gulliver's Travels, or --corpus PATH) encoded with GPT-2's r50k_base tokenizer, with the course's modification: the model outputs log-softmax(logits / sqrt(C)) and trains with the negative log-likelihood, which equals the cross-entropy of the scaled logits. A second run with the same initialization and batches keeps the plain logits. The first 90% of the tokens train, the last 10% test; batches are random windows; AdamW with learning rate 1e-3 and weight decay 0.01. Shows generated text before and after training. The course trains the 124M configuration (12 layers, 12 heads, width 768) with 256-token windows and batches of 16 for 501 steps; the defaults here are a smaller model that trains on a CPU in minutes, and --n-layer 12 --n-head 12 --n-embd 768 --block-size 256 restores the course's size.",
  needs: ['gpt-core', 'tokenizers', 'Gutenberg book (download) or --corpus'],
  typicalTime: '4 min',
  params: z.object({
    maxChars: z
      .number()
      .int()
      .min(1000)
      .max(10_000_000)
      .default(300_000)
      .describe('characters read from the start of the text'),
    nLayer: z.number().int().min(1).max(24).default(2).describe('transformer blocks'),
    nHead: z.number().int().min(1).max(32).default(4).describe('attention heads per block'),
    nEmbd: z.number().int().min(2).max(1600).default(128).describe('embedding width, a multiple of --n-head'),
    blockSize: z.number().int().min(2).max(1024).default(64).describe('context length in tokens'),
    batchSize: z.number().int().min(1).max(512).default(16).describe('windows per step'),
    steps: z.number().int().min(1).max(100_000).default(200).describe('AdamW steps per run'),
    evalInterval: z.number().int().min(1).max(100_000).default(50).describe('steps between loss evaluations'),
    evalBatches: z.number().int().min(1).max(1000).default(4).describe('batches per loss evaluation'),
    lr: z.number().positive().max(1).default(0.001).describe('AdamW learning rate'),
    weightDecay: z.number().min(0).max(1).default(0.01).describe('AdamW weight decay'),
    prompt: z
      .string()
      .min(1)
      .default('The man-mountain shall not depart from our dominions')
      .describe('text continued before and after training'),
    newTokens: z.number().int().min(1).max(1000).default(30).describe('tokens sampled after the prompt'),
  }),
  async run({ params, seed, assets, progress, figure }) {
    if (params.nEmbd % params.nHead !== 0) {
      throw new Error(`--n-embd ${params.nEmbd} must be a multiple of --n-head ${params.nHead}.`);
    }
    const book = await bookText(assets, BOOKS.gulliver, params.maxChars, progress);
    progress.stage('Loading r50k_base');
    const tokenizer = await loadEncoding('r50k_base');
    // Special-token text such as <|endoftext|> is encoded as ordinary text, in the book and in the prompt.
    const ids = tokenizer.encode(book.text, { disallowedSpecial: new Set() });
    const promptIds = tokenizer.encode(params.prompt, { disallowedSpecial: new Set() });
    const { head, tail } = splitTail(Int32Array.from(ids), 0.1);
    const trainIds = Array.from(head);
    const testIds = Array.from(tail);
    if (testIds.length < params.blockSize + 2) {
      throw new Error(
        `the last 10% of ${book.name} has ${testIds.length} tokens, fewer than one window of ${params.blockSize + 1}. Raise --max-chars or lower --block-size.`,
      );
    }
    const evalWindows = (source: number[], rng: Rng): TokenWindows =>
      randomWindows(source, params.evalBatches * params.batchSize, params.blockSize, rng);

    const runs: Model5Run[] = [];
    for (const setting of MODEL5_RUNS) {
      const config: Model5Config = {
        model: 5,
        vocabSize: tokenizer.vocabSize,
        nEmbd: params.nEmbd,
        blockSize: params.blockSize,
        nLayer: params.nLayer,
        nHead: params.nHead,
        scaleLogits: setting.scaleLogits,
      };
      progress.stage(`Training with ${setting.name}`);
      const trainer = await CourseModelTrainer.create(config, {
        batchSize: params.batchSize,
        length: params.blockSize,
        learningRate: params.lr,
        weightDecay: params.weightDecay,
        seed,
      });
      try {
        // The same generators in every run: the same batches, evaluation windows and samples.
        const batches = new Rng(seed + 1);
        const evaluationRng = new Rng(seed + 2);
        const evaluate = async (step: number) => ({
          step,
          train: await trainer.meanLoss(evalWindows(trainIds, evaluationRng)),
          test: await trainer.meanLoss(evalWindows(testIds, evaluationRng)),
        });
        const before = await sampleText(
          config,
          trainer.parameters(),
          tokenizer,
          promptIds,
          params.newTokens,
          seed,
        );
        const evaluations = [await evaluate(0)];
        const stepLosses: number[] = [];
        for (let step = 1; step <= params.steps; step++) {
          stepLosses.push(
            await trainer.step(randomWindows(trainIds, params.batchSize, params.blockSize, batches)),
          );
          progress.advance(step, params.steps);
          if (step % params.evalInterval === 0 || step === params.steps)
            evaluations.push(await evaluate(step));
        }
        const after = await sampleText(
          config,
          trainer.parameters(),
          tokenizer,
          promptIds,
          params.newTokens,
          seed,
        );
        runs.push({
          ...setting,
          parameters: countCourseModelParameters(config),
          stepLosses,
          evaluations,
          before,
          after,
        });
      } finally {
        await trainer.release();
      }
    }

    await figure(
      'loss',
      lineChartSpec({
        title: 'Model 5: train and test loss with and without the modification',
        xTitle: 'step',
        yTitle: 'cross-entropy (nats per token)',
        points: runs.flatMap((run) => [
          ...run.evaluations.map((e) => ({ x: e.step, y: e.train, series: `${run.name} (train)` })),
          ...run.evaluations.map((e) => ({ x: e.step, y: e.test, series: `${run.name} (test)` })),
        ]),
        dashed: runs.map((run) => `${run.name} (test)`),
        colorKey: (series) => series.replace(/ \((train|test)\)$/, ''),
      }),
    );
    const [modified, plain] = runs;
    const last = (run: Model5Run) => run.evaluations.at(-1)!;
    return {
      results: {
        corpus: book.name,
        trainTokens: trainIds.length,
        testTokens: testIds.length,
        parameters: modified.parameters,
        uniformLoss: Math.log(tokenizer.vocabSize),
        runs: Object.fromEntries(
          runs.map((run) => [
            run.name,
            {
              initialTestLoss: run.evaluations[0].test,
              finalTrainLoss: last(run).train,
              finalTestLoss: last(run).test,
              evaluations: run.evaluations,
              stepLosses: run.stepLosses,
              generatedBefore: run.before,
              generatedAfter: run.after,
            },
          ]),
        ),
      },
      tables: [
        {
          title: `Losses after ${params.steps} steps`,
          columns: ['output', 'test loss before', 'train loss', 'test loss', 'generated after training'],
          rows: runs.map((run) => [
            run.name,
            round(run.evaluations[0].test),
            round(last(run).train),
            round(last(run).test),
            JSON.stringify(run.after),
          ]),
        },
      ],
      notes: [
        `Model 5 with ${params.nLayer} layers, ${params.nHead} heads and width ${params.nEmbd}: ${modified.parameters.toLocaleString('en-US')} parameters.`,
        `Before training, with ${modified.name}: ${JSON.stringify(modified.before)}`,
        `Test loss ${round(last(modified).test)} with ${modified.name}, ${round(last(plain).test)} with ${plain.name}.`,
      ],
    };
  },
});
