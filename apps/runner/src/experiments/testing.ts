import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveGptConfig } from '@glassbox/gpt-core';
import { saveGpt2Directory } from '@glassbox/gpt-core/node';
import { CharTokenizer } from '@glassbox/tokenizers';
import { saveTokenizer } from '@glassbox/tokenizers/node';
import { GptTrainer, runTraining } from '@glassbox/trainer';
import { BERT_TOKENIZER, BOOKS, ExperimentAssets } from '../assets.js';
import { parseExperimentParams } from './params.js';
import { trainerOptionsFor } from './pretraining-common.js';
import { RUN_FILES, type RunResults, runExperiment, SILENT_PROGRESS } from './run-experiment.js';
import type { Experiment } from './types.js';

/** The data folder of real books and tokenizer files that tests read, next to the repository. */
export const TEST_DATA = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
export const TEST_CORPORA = {
  timeMachine: join(TEST_DATA, 'corpora/the-time-machine.txt'),
  alice: join(TEST_DATA, 'corpora/alice-in-wonderland.txt'),
  gulliver: join(TEST_DATA, 'corpora/gullivers-travels.txt'),
};

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Creates an offline cache that contains The Time Machine as Gutenberg book 35 and bert-base-uncased's
 * tokenizer.json, copied from the test data, as a download would have stored them.
 */
export async function populatedTestCache(): Promise<string> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'glassbox-cache-'));
  const assets = new ExperimentAssets({ cacheDir });
  await mkdir(join(cacheDir, 'gutenberg'), { recursive: true });
  await copyFile(TEST_CORPORA.timeMachine, assets.bookCachePath(BOOKS.timeMachine.id));
  await mkdir(join(cacheDir, 'hub', BERT_TOKENIZER.repository), { recursive: true });
  await copyFile(
    join(TEST_DATA, 'tokenizers/bert-base-uncased/tokenizer.json'),
    assets.hubCachePath(BERT_TOKENIZER),
  );
  return cacheDir;
}

export interface TestRun {
  dir: string;
  output: RunResults;
  results: RunResults['results'];
  report: string;
}

/**
 * Runs an experiment offline with parameters given as command-line text, into a new temporary
 * directory, and checks that every figure exists as an SVG document and a PNG image.
 */
export async function runForTest(
  experiment: Experiment,
  cacheDir: string,
  raw: Record<string, string> = {},
  options: { seed?: number; corpusPaths?: string[]; modelDir?: string } = {},
): Promise<TestRun> {
  const dir = await mkdtemp(join(tmpdir(), `glassbox-${experiment.id}-`));
  const params = parseExperimentParams(experiment, new Map(Object.entries(raw)));
  const output = await runExperiment(experiment, {
    params,
    seed: options.seed ?? 42,
    outDir: dir,
    assets: new ExperimentAssets({
      cacheDir,
      offline: true,
      corpusPaths: options.corpusPaths,
      modelDir: options.modelDir,
    }),
    progress: SILENT_PROGRESS,
  });
  for (const name of output.figures) {
    const svg = await readFile(join(dir, `${name}.svg`), 'utf8');
    if (!svg.startsWith('<svg')) throw new Error(`${name}.svg is not an SVG document`);
    const png = await readFile(join(dir, `${name}.png`));
    if (!png.subarray(0, 8).equals(PNG_SIGNATURE) || png.length < 2000) {
      throw new Error(`${name}.png is not a PNG image of a chart`);
    }
  }
  const stored = JSON.parse(await readFile(join(dir, RUN_FILES.results), 'utf8')) as RunResults;
  const report = await readFile(join(dir, RUN_FILES.report), 'utf8');
  for (const name of output.figures) {
    if (!report.includes(`](${name}.png)`)) throw new Error(`report.md does not embed ${name}.png`);
  }
  return { dir, output, results: stored.results, report };
}

let trainedModel: Promise<string> | undefined;

/**
 * Trains a two-layer character GPT (width 48) for 300 steps on the first 100,000 characters of Tiny
 * Shakespeare and saves it as a run directory with config.json, model.safetensors and tokenizer.json.
 * The model is trained once per test process and its directory shared.
 */
export function trainedTestModel(): Promise<string> {
  trainedModel ??= trainSmallModel();
  return trainedModel;
}

async function trainSmallModel(): Promise<string> {
  const text = (await readFile(join(TEST_DATA, 'corpora/tiny-shakespeare.txt'), 'utf8')).slice(0, 100_000);
  const tokenizer = CharTokenizer.fromText(text);
  const tokens = Int32Array.from(tokenizer.encode(text));
  const size = { nLayer: 2, nHead: 2, nEmbd: 48, blockSize: 32, batchSize: 16, maxChars: text.length };
  const config = resolveGptConfig({ vocabSize: tokenizer.vocabSize, ...size });
  const steps = 300;
  const trainer = await GptTrainer.create(
    trainerOptionsFor(size, config, { learningRate: 0.005, steps, seed: 7, evalIters: 1 }),
    { train: tokens, validation: tokens.subarray(-1000) },
  );
  const dir = await mkdtemp(join(tmpdir(), 'glassbox-trained-model-'));
  try {
    await runTraining(trainer, { maxSteps: steps, evalInterval: steps });
    await saveGpt2Directory(dir, config, trainer.parameterViews());
  } finally {
    await trainer.release();
  }
  await saveTokenizer(join(dir, 'tokenizer.json'), tokenizer);
  return dir;
}
