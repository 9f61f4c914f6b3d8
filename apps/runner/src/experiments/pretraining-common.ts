import { type GptConfig, GptInference, resolveGptConfig } from '@glassbox/gpt-core';
import type { OptimizerConfig, Rng } from '@glassbox/graph';
import { CharTokenizer, cleanGutenbergText } from '@glassbox/tokenizers';
import {
  type GptTrainer,
  runTraining,
  type ScheduleConfig,
  type TokenArray,
  type TrainerOptions,
} from '@glassbox/trainer';
import { z } from 'zod';
import { BOOKS, type ExperimentAssets } from '../assets.js';
import type { ProgressReporter } from './types.js';

/** Parameters of the small character-level GPT that the training experiments share. */
export const smallGptParams = (defaults: { maxChars?: number } = {}) => ({
  maxChars: z
    .number()
    .int()
    .min(200)
    .max(10_000_000)
    .default(defaults.maxChars ?? 50_000)
    .describe('characters read from the start of the corpus'),
  nLayer: z.number().int().min(1).max(12).default(1).describe('transformer blocks'),
  nHead: z.number().int().min(1).max(16).default(2).describe('attention heads per block'),
  nEmbd: z.number().int().min(2).max(768).default(32).describe('embedding width, a multiple of --n-head'),
  blockSize: z.number().int().min(2).max(1024).default(32).describe('context length in tokens'),
  batchSize: z.number().int().min(1).max(512).default(8).describe('sequences per optimizer step'),
});

export interface SmallGptParams {
  maxChars: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  batchSize: number;
}

/** A corpus encoded one character per token. */
export interface CharCorpus {
  name: string;
  text: string;
  tokenizer: CharTokenizer;
  tokens: Int32Array;
}

/**
 * Loads The Time Machine (or the `--corpus` file), drops a Project Gutenberg header and footer, keeps the
 * first `maxChars` characters and encodes them with a character tokenizer built from that text.
 */
export async function loadCharCorpus(
  assets: ExperimentAssets,
  maxChars: number,
  progress: ProgressReporter,
): Promise<CharCorpus> {
  progress.stage('Loading the corpus');
  const loaded = await assets.book(BOOKS.timeMachine);
  const text = Array.from(cleanGutenbergText(loaded.text)).slice(0, maxChars).join('');
  const tokenizer = CharTokenizer.fromText(text);
  return { name: loaded.name, text, tokenizer, tokens: Int32Array.from(tokenizer.encode(text)) };
}

/** Resolves the GPT configuration; raises an Error when `nEmbd` is not a multiple of `nHead`. */
export function gptConfigFor(params: SmallGptParams, vocabSize: number, dropout = 0): GptConfig {
  if (params.nEmbd % params.nHead !== 0) {
    throw new Error(`--n-embd ${params.nEmbd} must be a multiple of --n-head ${params.nHead}.`);
  }
  return resolveGptConfig({
    vocabSize,
    blockSize: params.blockSize,
    nLayer: params.nLayer,
    nHead: params.nHead,
    nEmbd: params.nEmbd,
    dropout,
  });
}

/** Builds trainer options with no gradient clipping and a constant learning rate unless `schedule` is given. */
export function trainerOptionsFor(
  params: SmallGptParams,
  model: GptConfig,
  settings: {
    learningRate: number;
    steps: number;
    seed: number;
    evalIters: number;
    optimizer?: OptimizerConfig;
    schedule?: ScheduleConfig;
    weightDecay?: number;
  },
): TrainerOptions {
  return {
    model,
    batchSize: params.batchSize,
    learningRate: settings.learningRate,
    minLearningRate: settings.learningRate,
    warmupSteps: 0,
    maxSteps: settings.steps,
    weightDecay: settings.weightDecay ?? 0,
    beta1: 0.9,
    beta2: 0.95,
    gradClip: 0,
    evalIters: settings.evalIters,
    seed: settings.seed,
    optimizer: settings.optimizer,
    schedule: settings.schedule ?? { type: 'constant' },
  };
}

/** Loss curves of one training run. */
export interface TrainingCurves {
  /** Training loss of each step's batch, step 1 first. */
  stepLosses: number[];
  /** Evaluations: mean losses over `evalIters` random batches of each split, dropout off. */
  evaluations: { step: number; train: number; validation: number }[];
}

/**
 * Evaluates the untrained model (step 0), then trains for `steps` steps, evaluating every `evalInterval`
 * steps and at the last step.
 */
export async function trainWithCurves(
  trainer: GptTrainer,
  steps: number,
  evalInterval: number,
  progress: ProgressReporter,
): Promise<TrainingCurves> {
  const curves: TrainingCurves = { stepLosses: [], evaluations: [] };
  curves.evaluations.push({ step: 0, ...(await trainer.evaluate()) });
  await runTraining(trainer, {
    maxSteps: steps,
    evalInterval,
    onStep: (report) => {
      curves.stepLosses.push(report.loss);
      progress.advance(report.step, steps);
    },
    onEvaluate: (report) => {
      curves.evaluations.push(report);
    },
  });
  return curves;
}

/** Mean of the last `count` values (all of them when there are fewer). */
export function meanOfLast(values: readonly number[], count: number): number {
  const tail = values.slice(-count);
  return tail.reduce((sum, value) => sum + value, 0) / tail.length;
}

/** Rounds to `digits` decimals for results and tables. */
export function round(value: number, digits = 4): number {
  return Number(value.toFixed(digits));
}

/** Splits a token stream at a fraction of its length into a head and a tail. */
export function splitTail(tokens: TokenArray, tailFraction: number): { head: TokenArray; tail: TokenArray } {
  const cut = Math.floor(tokens.length * (1 - tailFraction));
  return { head: tokens.subarray(0, cut), tail: tokens.subarray(cut) };
}

/** Generates `count` tokens from `parameters` after `prompt`, sampling at temperature 1 without top-k. */
export async function generateTokens(
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  prompt: readonly number[],
  count: number,
  rng: Rng,
): Promise<number[]> {
  const model = await GptInference.create(config, parameters);
  try {
    return await model.generate(prompt, { maxNewTokens: count, rng, temperature: 1 });
  } finally {
    await model.release();
  }
}
