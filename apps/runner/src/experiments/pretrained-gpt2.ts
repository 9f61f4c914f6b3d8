import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { GptConfig } from '@glassbox/gpt-core';
import { loadEncoding, type Tokenizer } from '@glassbox/tokenizers';
import { UsageError } from '../args.js';
import type { ExperimentAssets, HubFileRef } from '../assets.js';
import { loadModelDirectory } from '../model-directory.js';
import type { ProgressReporter } from './types.js';

/** OpenAI's 124M GPT-2 on the Hugging Face Hub. */
export const GPT2_REPOSITORY = 'openai-community/gpt2';

/** The files of GPT-2 that experiments read: the model configuration and its weights (about 550 MB). */
export const GPT2_MODEL_FILES: readonly HubFileRef[] = [
  { repository: GPT2_REPOSITORY, file: 'config.json' },
  { repository: GPT2_REPOSITORY, file: 'model.safetensors' },
];

/** GPT-2's vocabulary size; a model of that size without a tokenizer file gets r50k_base, GPT-2's encoding. */
const GPT2_VOCAB_SIZE = 50_257;

/** A trained GPT with its tokenizer. */
export interface PretrainedGpt {
  /** The directory the model was read from. */
  directory: string;
  config: GptConfig;
  parameters: Map<string, Float32Array>;
  tokenizer: Tokenizer;
  /** Source of the tokenizer: its file, or `r50k_base` for a GPT-2 directory without one. */
  tokenizerSource: string;
}

/** Checks that `--model DIR` names an existing directory, so that the error does not blame a missing file. */
async function checkModelDirectory(directory: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(directory)).isDirectory();
  } catch {
    throw new UsageError(
      `--model directory ${JSON.stringify(directory)} not found. Pass a run directory written by glassbox train or a Hugging Face GPT-2 directory.`,
    );
  }
  if (!isDirectory) {
    throw new UsageError(
      `--model ${JSON.stringify(directory)} is a file. Pass the directory that contains config.json and model.safetensors.`,
    );
  }
}

/**
 * Returns the directory of GPT-2's `config.json` and `model.safetensors`: `--model DIR` when given, else the
 * cache, downloading the files when they are not cached yet.
 */
export async function gpt2Directory(assets: ExperimentAssets, progress: ProgressReporter): Promise<string> {
  progress.stage('Loading GPT-2 (downloads model.safetensors unless it is cached or --model is given)');
  if (assets.options.modelDir !== undefined) await checkModelDirectory(assets.options.modelDir);
  const paths: string[] = [];
  for (const ref of GPT2_MODEL_FILES) paths.push(await assets.hubFile(ref));
  return dirname(paths[1]);
}

/**
 * Loads OpenAI's GPT-2 from the cache or the Hub, or the model of `--model DIR` (a Hugging Face GPT-2
 * directory or a `glassbox train` run) when one is given. The tokenizer is the directory's `tokenizer.json`
 * (or `vocab.json` + `merges.txt`); a directory without one gets r50k_base when the model has GPT-2's
 * 50,257-token vocabulary.
 */
export async function loadPretrainedGpt2(
  assets: ExperimentAssets,
  progress: ProgressReporter,
): Promise<PretrainedGpt> {
  const directory = await gpt2Directory(assets, progress);
  const loaded = await loadModelDirectory(directory);
  const { config, parameters } = loaded;
  if (loaded.tokenizer !== undefined) {
    const tokenizerSource = loaded.tokenizerPath ?? directory;
    return { directory, config, parameters, tokenizer: loaded.tokenizer, tokenizerSource };
  }
  if (loaded.tokenizerError !== undefined) {
    throw new UsageError(
      `--model ${directory}: ${loaded.tokenizerError}. Put the model's tokenizer.json there.`,
    );
  }
  if (config.vocabSize !== GPT2_VOCAB_SIZE) {
    throw new UsageError(
      `--model ${directory} has no tokenizer.json (or vocab.json and merges.txt) for its ${config.vocabSize}-token vocabulary. Put the model's tokenizer.json there.`,
    );
  }
  return {
    directory,
    config,
    parameters,
    tokenizer: await loadEncoding('r50k_base'),
    tokenizerSource: 'r50k_base',
  };
}

/** Checks whether `tokenizer` encodes `text` without raising. */
function canEncode(tokenizer: Tokenizer, text: string): boolean {
  try {
    tokenizer.encode(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Encodes `text` with the model's tokenizer. A character tokenizer raises on characters that its training
 * text lacked. The UsageError then lists them, names `subject` (the option or text that contains them) and
 * ends with `advice`.
 */
export function encodeForModel(
  model: PretrainedGpt,
  text: string,
  subject: string,
  advice: string,
): number[] {
  try {
    return model.tokenizer.encode(text);
  } catch (error) {
    const missing = [...new Set(text)].filter((character) => !canEncode(model.tokenizer, character));
    const listed = missing.slice(0, 10).map((character) => JSON.stringify(character));
    if (missing.length > listed.length) listed.push(`and ${missing.length - listed.length} more`);
    const reason =
      missing.length > 0
        ? `the tokenizer has no token for ${listed.join(', ')}`
        : (error as Error).message.replace(/\.$/, '');
    throw new UsageError(
      `${subject} cannot be encoded with the tokenizer of ${model.tokenizerSource}: ${reason}. ${advice}`,
    );
  }
}
