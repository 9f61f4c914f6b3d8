// Resuming a training run: the files and settings a run directory records, and the checks that a resumed
// run reads the same corpus, tokenizer and settings as the run that wrote it.

import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Tokenizer } from '@glassbox/tokenizers';
import { loadTokenizer } from '@glassbox/tokenizers/node';
import { CHECKPOINT_FILES, GptTrainer, type TrainerOptions } from '@glassbox/trainer';
import { loadCheckpoint } from '@glassbox/trainer/node';
import { type Corpus, hashCorpusText, loadCorpus, MOBY_DICK } from '../corpus.js';
import { resolvePrecision, type TrainOptions, UsageError } from '../options.js';
import { CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE } from '../run-files.js';

/** Files that a run directory written by `glassbox train` contains and that `--resume` reads. */
export const RESUME_FILES = [
  MODEL_FILE,
  CHECKPOINT_FILES.optimizer,
  CHECKPOINT_FILES.state,
  CONFIG_FILE,
  TOKENIZER_FILE,
] as const;

/** Settings of a run that are not part of the trainer's checkpoint, kept in `config.json` under `glassbox`. */
export interface RunSettings {
  /** `moby-dick`, or the absolute path of the corpus file. */
  corpus: string;
  /** SHA-256 of the corpus text in hex. Runs written before it was recorded lack it. */
  corpusSha256?: string;
  tokenizer: string;
  /**
   * The requested `--bpe-vocab-size` of a BPE run. The trained vocabulary is smaller when BPE runs out of
   * pairs to merge. Character runs and runs written before it was recorded lack it.
   */
  bpeVocabSize?: number;
  evalInterval: number;
  valFraction: number;
}

/**
 * Finds the first option given on the command line that would change a setting of the run being resumed, as
 * `[flag, given value, run's value]`. A resumed run keeps its model, data and optimizer; `--steps`,
 * `--eval-interval`, `--out` and `--threads` may change. `loadResumeCorpus` checks `--corpus`.
 */
export function changedOnResume(
  options: TrainOptions,
  trainer: Omit<TrainerOptions, 'session'>,
  run: RunSettings,
): [string, unknown, unknown] | undefined {
  const tokenizerKind = options.tokenizer === 'char' ? 'char' : 'byte-level-bpe';
  const fixed: [string, unknown, unknown][] = [
    ['tokenizer', tokenizerKind, run.tokenizer],
    ['bpe-vocab-size', options.bpeVocabSize, run.bpeVocabSize ?? trainer.model.vocabSize],
    ['n-layer', options.nLayer, trainer.model.nLayer],
    ['n-head', options.nHead, trainer.model.nHead],
    ['n-embd', options.nEmbd, trainer.model.nEmbd],
    ['block-size', options.blockSize, trainer.model.blockSize],
    ['dropout', options.dropout, trainer.model.dropout],
    ['precision', resolvePrecision(options.precision, options.device), trainer.precision ?? 'float32'],
    ['batch-size', options.batchSize, trainer.batchSize],
    ['lr', options.lr, trainer.learningRate],
    ['min-lr', options.minLr, trainer.minLearningRate],
    ['warmup-steps', options.warmupSteps, trainer.warmupSteps],
    ['weight-decay', options.weightDecay, trainer.weightDecay],
    ['beta1', options.beta1, trainer.beta1],
    ['beta2', options.beta2, trainer.beta2],
    ['grad-clip', options.gradClip, trainer.gradClip],
    ['eval-iters', options.evalIters, trainer.evalIters],
    ['val-fraction', options.valFraction, run.valFraction],
    ['seed', options.seed, trainer.seed],
  ];
  // BPE training stops when no pair is left to merge, and then any larger request trains the same
  // tokenizer. So both the requested and the trained vocabulary size match the run.
  const matches = (flag: string, given: unknown, stored: unknown) =>
    given === stored || (flag === 'bpe-vocab-size' && given === trainer.model.vocabSize);
  return fixed.find(([flag, given, stored]) => options.given.has(flag) && !matches(flag, given, stored));
}

/**
 * Rejects a `--resume` directory that lacks one of the files in `RESUME_FILES`. A path that does not exist or
 * is a file lacks all of them.
 */
export async function checkResumeDirectory(directory: string): Promise<void> {
  const missing: string[] = [];
  for (const name of RESUME_FILES) {
    if (!(await pathExists(join(directory, name)))) missing.push(name);
  }
  if (missing.length > 0) {
    throw new UsageError(
      `--resume ${directory} is missing ${missing.join(', ')}; a run directory written by glassbox train ` +
        `contains ${RESUME_FILES.join(', ')}. Pass a complete run directory, or start a new run without --resume.`,
    );
  }
}

/** Loads the checkpoint of `--resume`, reporting a damaged or partial directory as a usage error. */
export async function loadResumeCheckpoint(directory: string): ReturnType<typeof loadCheckpoint> {
  try {
    const checkpoint = await loadCheckpoint(directory);
    GptTrainer.validateState(checkpoint.state);
    return checkpoint;
  } catch (error) {
    throw new UsageError(
      `--resume ${directory} cannot be loaded: ${(error as Error).message.replace(/\.$/, '')}. Pass a run directory written by glassbox train.`,
    );
  }
}

/** Reads the run settings that `glassbox train` stored in a run directory's config.json. */
export async function readRunSettings(directory: string): Promise<RunSettings> {
  const path = join(directory, CONFIG_FILE);
  let config: { glassbox?: Partial<RunSettings> };
  try {
    config = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `cannot read ${path} (${(error as Error).message}); --resume needs a run directory written by glassbox train.`,
    );
  }
  const run = config.glassbox;
  if (
    !run ||
    typeof run.corpus !== 'string' ||
    typeof run.evalInterval !== 'number' ||
    typeof run.valFraction !== 'number' ||
    typeof run.tokenizer !== 'string' ||
    !['string', 'undefined'].includes(typeof run.corpusSha256) ||
    !['number', 'undefined'].includes(typeof run.bpeVocabSize)
  ) {
    throw new UsageError(
      `${path} has no complete "glassbox" section; --resume needs a run directory written by glassbox train.`,
    );
  }
  return run as RunSettings;
}

/** Loads the tokenizer of the `--resume` directory, reporting a damaged file as a usage error. */
export async function loadRunTokenizer(directory: string): Promise<Tokenizer> {
  const path = join(directory, TOKENIZER_FILE);
  try {
    return await loadTokenizer(path);
  } catch (error) {
    throw new UsageError(
      `cannot load ${path} (${(error as Error).message.replace(/\.$/, '')}). Pass a run directory written by glassbox train.`,
    );
  }
}

/**
 * Loads the corpus of the run in `directory`: the recorded file, or the `--corpus` given in its place.
 * A run that records the SHA-256 of its corpus text accepts any file with that text and rejects changed
 * text. A run written before the hash was recorded accepts another `--corpus` only when the recorded file
 * no longer exists, and then cannot compare the text.
 */
export async function loadResumeCorpus(
  options: TrainOptions,
  run: RunSettings,
  directory: string,
  log: (line: string) => void,
): Promise<Corpus> {
  const recorded = run.corpus;
  const requested = options.given.has('corpus') ? recordedCorpusName(options.corpus) : recorded;
  const moved = requested !== recorded;
  const recordedExists = recorded === MOBY_DICK || (await pathExists(recorded));

  if (!moved && !recordedExists) {
    throw new UsageError(
      `corpus file ${recorded}, recorded in ${join(directory, CONFIG_FILE)}, not found. ` +
        'Pass its new path with --corpus, or start a new run without --resume.',
    );
  }
  if (moved && run.corpusSha256 === undefined && recordedExists) {
    throw new UsageError(
      `--corpus ${requested} differs from ${recorded}, the corpus of the run in ${directory}; a resumed run keeps ` +
        'its model, data and optimizer settings. Drop the option, or start a new run without --resume.',
    );
  }

  const corpus = await loadCorpus(moved ? options.corpus : recorded);
  if (run.corpusSha256 !== undefined && hashCorpusText(corpus.text) !== run.corpusSha256) {
    const changed = moved
      ? `--corpus ${requested} has other text than ${recorded}, the corpus of the run in ${directory}, so the text changed since the checkpoint`
      : `corpus file ${recorded} changed since the checkpoint in ${directory} was saved`;
    throw new UsageError(
      `${changed} (its SHA-256 differs). Pass a file with the text the run was trained on, or start a new run without --resume.`,
    );
  }
  if (moved) {
    const check =
      run.corpusSha256 === undefined
        ? `the run in ${directory} records no corpus hash, so its text is not compared`
        : 'its text matches the checkpoint';
    log(`glassbox train: reading the corpus from ${requested} in place of ${recorded}; ${check}`);
  }
  return corpus;
}

/** Returns the corpus name a run records: `moby-dick`, or the absolute path of the file. */
export function recordedCorpusName(corpus: string): string {
  return corpus === MOBY_DICK ? MOBY_DICK : resolve(corpus);
}

/**
 * Checks whether `path` exists. A missing entry, or a file where a parent directory should be, counts as absent,
 * and other errors are raised.
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw error;
  }
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
