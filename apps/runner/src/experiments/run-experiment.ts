import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '@glassbox/graph';
import type { ExperimentAssets } from '../assets.js';
import { writeFileAtomic } from '../atomic-write.js';
import { type ChartSpec, renderChart } from '../plot.js';
import { formatReport } from './report-markdown.js';
import type { Experiment, ExperimentOutput, JsonValue, ProgressReporter } from './types.js';

/** The files of a finished run. */
export const RUN_FILES = {
  params: 'params.json',
  results: 'results.json',
  report: 'report.md',
} as const;

/** Contents of params.json. */
export interface RunParams {
  experiment: string;
  title: string;
  section: string;
  seed: number;
  params: Record<string, unknown>;
  /** Local files that replaced downloads. */
  corpus?: string[];
  model?: string;
  startedAt: string;
}

/** Contents of results.json. */
export interface RunResults extends ExperimentOutput {
  experiment: string;
  /** Figure names; each has `<name>.svg` and `<name>.png` in the run directory. */
  figures: string[];
  elapsedSeconds: number;
}

export interface RunExperimentOptions {
  /** Parameters already validated by `parseExperimentParams`. */
  params: Record<string, unknown>;
  seed: number;
  outDir: string;
  assets: ExperimentAssets;
  progress: ProgressReporter;
}

/** A progress reporter that shows nothing. */
export const SILENT_PROGRESS: ProgressReporter = { stage() {}, advance() {} };

/** Valid figure names: they become file names and report links. */
const FIGURE_NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Runs an experiment and writes params.json, every figure as SVG and PNG, results.json and
 * report.md into `outDir`. Raises an Error when `outDir` already contains files, so runs are
 * never mixed. Returns the contents of results.json.
 */
export async function runExperiment(
  experiment: Experiment,
  options: RunExperimentOptions,
): Promise<RunResults> {
  await mkdir(options.outDir, { recursive: true });
  const existing = await readdir(options.outDir);
  if (existing.length > 0) {
    throw new Error(`output directory ${JSON.stringify(options.outDir)} is not empty; choose another --out`);
  }
  const started = performance.now();
  const runParams: RunParams = {
    experiment: experiment.id,
    title: experiment.title,
    section: experiment.section,
    seed: options.seed,
    params: options.params,
    corpus: options.assets.options.corpusPaths?.length ? [...options.assets.options.corpusPaths] : undefined,
    model: options.assets.options.modelDir,
    startedAt: new Date().toISOString(),
  };
  await writeJson(join(options.outDir, RUN_FILES.params), runParams);

  const figures: string[] = [];
  const figure = async (name: string, spec: ChartSpec): Promise<void> => {
    if (!FIGURE_NAME.test(name) || figures.includes(name)) {
      throw new Error(`invalid or repeated figure name ${JSON.stringify(name)}`);
    }
    options.progress.stage(`Rendering ${name}.svg and ${name}.png`);
    await renderChart(spec, join(options.outDir, name));
    figures.push(name);
  };

  const output = await experiment.run({
    params: options.params,
    rng: new Rng(options.seed),
    seed: options.seed,
    progress: options.progress,
    figure,
    assets: options.assets,
  });
  const results: RunResults = {
    experiment: experiment.id,
    ...output,
    figures,
    elapsedSeconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
  await writeJson(join(options.outDir, RUN_FILES.results), results);
  await writeFileAtomic(join(options.outDir, RUN_FILES.report), formatReport(experiment, runParams, results));
  return results;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

/** Writes NaN and infinities as null, as JSON has no such numbers, and typed arrays as arrays. */
function jsonReplacer(_key: string, value: unknown): JsonValue | unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>);
  return value;
}
