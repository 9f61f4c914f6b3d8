import { dirname } from 'node:path';
import type { GptConfig } from '@glassbox/gpt-core';
import { loadEncoding, type Tokenizer } from '@glassbox/tokenizers';
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
  progress.stage('Loading GPT-2 (downloads model.safetensors unless it is cached or --model is given)');
  const paths: string[] = [];
  for (const ref of GPT2_MODEL_FILES) paths.push(await assets.hubFile(ref));
  const directory = dirname(paths[1]);
  const loaded = await loadModelDirectory(directory);
  let tokenizer = loaded.tokenizer;
  if (tokenizer === undefined) {
    if (loaded.tokenizerError !== undefined) {
      throw new Error(`${loaded.tokenizerError}. Put the model's tokenizer.json in ${directory}.`);
    }
    if (loaded.config.vocabSize !== GPT2_VOCAB_SIZE) {
      throw new Error(
        `${directory} has no tokenizer.json (or vocab.json and merges.txt) for its ${loaded.config.vocabSize}-token vocabulary. Put the model's tokenizer.json there.`,
      );
    }
    tokenizer = await loadEncoding('r50k_base');
  }
  return { directory, config: loaded.config, parameters: loaded.parameters, tokenizer };
}
