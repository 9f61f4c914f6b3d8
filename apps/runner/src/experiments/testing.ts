import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BERT_TOKENIZER, BOOKS, ExperimentAssets } from '../assets.js';
import { parseExperimentParams } from './params.js';
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
  options: { seed?: number; corpusPaths?: string[] } = {},
): Promise<TestRun> {
  const dir = await mkdtemp(join(tmpdir(), `glassbox-${experiment.id}-`));
  const params = parseExperimentParams(experiment, new Map(Object.entries(raw)));
  const output = await runExperiment(experiment, {
    params,
    seed: options.seed ?? 42,
    outDir: dir,
    assets: new ExperimentAssets({ cacheDir, offline: true, corpusPaths: options.corpusPaths }),
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
