import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closestMatch, UsageError } from '../args.js';
import { assetOptionsFromEnv, ExperimentAssets } from '../assets.js';
import { parameterInfo, parseExperimentParams } from '../experiments/params.js';
import { EXPERIMENTS, findExperiment } from '../experiments/registry.js';
import { formatNumber } from '../experiments/report-markdown.js';
import { RUN_FILES, runExperiment } from '../experiments/run-experiment.js';
import type { Experiment, ProgressReporter } from '../experiments/types.js';

/** Options of `glassbox run` that every experiment accepts. */
export const GLOBAL_RUN_OPTIONS = ['seed', 'out', 'offline', 'corpus', 'model', 'help'] as const;

/** Seed used when `--seed` is not given. */
export const DEFAULT_SEED = 42;

/** The parsed command line of `glassbox run`. */
export interface RunCommandOptions {
  experiment: Experiment;
  /** Parameters validated by the experiment's schema. */
  params: Record<string, unknown>;
  seed: number;
  out: string;
  offline: boolean;
  corpus?: string[];
  model?: string;
  help: boolean;
}

/** Output streams and environment, as the CLI passes them. */
export interface RunIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** Returns the default run directory, `runs/<id>-<UTC timestamp>`. */
export function defaultExperimentDirectory(id: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
  return join('runs', `${id}-${stamp}`);
}

function unknownExperimentError(id: string): UsageError {
  const ids = EXPERIMENTS.map((experiment) => experiment.id);
  const suggestion = closestMatch(id, ids);
  const hint = suggestion === undefined ? '' : ` Did you mean ${suggestion}?`;
  return new UsageError(
    `unknown experiment ${JSON.stringify(id)}.${hint} Run glassbox list to see them all.`,
  );
}

/**
 * Parses `glassbox run <id> [--param value ...] [--seed N] [--out DIR] [--offline] [--corpus PATH[,PATH]]
 * [--model DIR]`. An option is `--name value` or `--name=value`; a boolean parameter and `--offline`
 * may stand alone for true. Raises a one-line UsageError for anything invalid.
 */
export function parseRunArgs(argv: readonly string[], now: Date = new Date()): RunCommandOptions {
  const [id, ...rest] = argv;
  if (id === undefined || id === '--help' || id === '-h') {
    throw new UsageError(
      'missing experiment id: glassbox run <id> [--param value ...]. Run glassbox list to see them.',
    );
  }
  if (id.startsWith('-'))
    throw new UsageError(`expected an experiment id before the options, got ${JSON.stringify(id)}.`);
  const experiment = findExperiment(id);
  if (experiment === undefined) throw unknownExperimentError(id);
  const booleanParams = new Set(
    parameterInfo(experiment)
      .filter((info) => info.type === 'boolean')
      .map((info) => info.flag),
  );

  const raw = new Map<string, string>();
  const global = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '-h') {
      global.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(arg)}; parameters are written --name value.`,
      );
    }
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
    let value = equals === -1 ? undefined : arg.slice(equals + 1);
    const standsAlone = name === 'help' || name === 'offline' || booleanParams.has(name);
    if (value === undefined) {
      const next = rest[i + 1];
      if (
        next !== undefined &&
        !next.startsWith('--') &&
        !(standsAlone && next !== 'true' && next !== 'false')
      ) {
        value = next;
        i++;
      } else if (standsAlone) {
        value = 'true';
      } else {
        throw new UsageError(
          `--${name} requires a value (--${name} VALUE, or --${name}=VALUE for one that starts with --).`,
        );
      }
    }
    if ((GLOBAL_RUN_OPTIONS as readonly string[]).includes(name)) global.set(name, value);
    else raw.set(name, value);
  }

  const help = global.get('help') === 'true';
  const params = help ? {} : parseExperimentParams(experiment, raw);
  const seedText = global.get('seed');
  let seed = DEFAULT_SEED;
  if (seedText !== undefined) {
    seed = Number(seedText);
    if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(seed)) {
      throw new UsageError(`--seed must be a non-negative integer, got ${JSON.stringify(seedText)}.`);
    }
  }
  const offlineText = global.get('offline');
  if (offlineText !== undefined && offlineText !== 'true' && offlineText !== 'false') {
    throw new UsageError(`--offline must be true or false, got ${JSON.stringify(offlineText)}.`);
  }
  const corpus = global.get('corpus');
  const out = global.get('out');
  for (const [flag, value] of [
    ['out', out],
    ['corpus', corpus],
    ['model', global.get('model')],
  ] as const) {
    if (value !== undefined && value.trim() === '')
      throw new UsageError(`--${flag} must be a path, got an empty value.`);
  }
  // An experiment that reads a model lists --model in `needs`. Any other would ignore --model but record it.
  if (global.get('model') !== undefined && !experiment.needs.some((need) => need.includes('--model'))) {
    throw new UsageError(
      `--model is not used by experiment ${experiment.id}, which reads no model. Remove --model; glassbox list shows what each experiment needs.`,
    );
  }
  return {
    experiment,
    params,
    seed,
    out: out ?? defaultExperimentDirectory(experiment.id, now),
    offline: offlineText === 'true',
    corpus: corpus?.split(',').filter((path) => path !== ''),
    model: global.get('model'),
    help,
  };
}

/** Returns the help of `glassbox run <id>`: the experiment, its parameters and the global options. */
export function experimentUsage(experiment: Experiment): string {
  const lines = [
    `Usage: glassbox run ${experiment.id} [--param value ...] [--seed N] [--out DIR] [--offline] [--corpus PATH] [--model DIR]`,
    '',
    `${experiment.title} (course section ${experiment.section}). Needs: ${experiment.needs.join(', ')}. Typical time: ${experiment.typicalTime}.`,
    '',
    experiment.description,
    '',
    'Parameters:',
  ];
  const infos = parameterInfo(experiment);
  if (infos.length === 0) lines.push('  none');
  for (const info of infos) {
    const type = info.choices?.join('|') ?? info.type;
    lines.push(
      `  --${info.flag} ${type}: ${info.description} (default: ${JSON.stringify(info.defaultValue)})`,
    );
  }
  lines.push(
    '',
    'Options of every experiment:',
    `  --seed N          seed of the random generator (default: ${DEFAULT_SEED})`,
    '  --out DIR         run directory, which must be empty or missing (default: runs/<id>-<UTC timestamp>)',
    '  --offline         never download; a file missing from the cache is an error',
    '  --corpus PATH     local text file(s), comma-separated, used instead of downloaded books',
    '  --model DIR       local directory with Hub files (tokenizer.json, ...) used instead of downloads',
    '',
    'Downloads are cached in $GLASSBOX_CACHE, or ~/.cache/glassbox when it is not set.',
    '',
  );
  return lines.join('\n');
}

export function runUsage(): string {
  return [
    'Usage: glassbox run <id> [--param value ...] [--seed N] [--out DIR] [--offline] [--corpus PATH] [--model DIR]',
    '',
    'Runs a course experiment and writes params.json, results.json, figures (SVG and PNG) and report.md',
    'into the run directory, then prints the report. glassbox list shows the experiments, and',
    'glassbox run <id> --help shows the parameters of one.',
    '',
  ].join('\n');
}

/** Creates a progress reporter that writes stage lines and, at most every 2 s, progress lines to `stream`. */
export function createRunProgress(
  id: string,
  stream: { write(text: string): unknown },
  now: () => number = () => performance.now(),
): ProgressReporter {
  let lastLine = Number.NEGATIVE_INFINITY;
  return {
    stage(message) {
      stream.write(`glassbox run ${id}: ${message}\n`);
      lastLine = now();
    },
    advance(done, total) {
      const time = now();
      if (done < total && time - lastLine < 2000) return;
      lastLine = time;
      const percent = total > 0 ? ` (${formatNumber((100 * done) / total)}%)` : '';
      stream.write(`glassbox run ${id}:   ${done}/${total}${percent}\n`);
    },
  };
}

/** Runs `glassbox run` and prints the report to stdout. */
export async function runRunCommand(argv: readonly string[], io: RunIo): Promise<void> {
  const options = parseRunArgs(argv);
  if (options.help) {
    io.stdout.write(experimentUsage(options.experiment));
    return;
  }
  const assets = new ExperimentAssets({
    ...assetOptionsFromEnv(io.env),
    offline: options.offline,
    corpusPaths: options.corpus,
    modelDir: options.model,
  });
  const progress = createRunProgress(options.experiment.id, io.stderr);
  progress.stage(`writing to ${options.out}`);
  await runExperiment(options.experiment, {
    params: options.params,
    seed: options.seed,
    outDir: options.out,
    assets,
    progress,
  });
  io.stdout.write(await readFile(join(options.out, RUN_FILES.report), 'utf8'));
}
