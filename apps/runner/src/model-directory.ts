import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GptConfig } from '@glassbox/gpt-core';
import { loadGpt2Directory } from '@glassbox/gpt-core/node';
import { ByteLevelBpeTokenizer, type Tokenizer } from '@glassbox/tokenizers';
import { loadTokenizer } from '@glassbox/tokenizers/node';
import { UsageError } from './args.js';

/** A model directory: a `glassbox train` run or a Hugging Face GPT-2 directory. */
export interface ModelDirectory {
  config: GptConfig;
  parameters: Map<string, Float32Array>;
  /** The tokenizer from `tokenizer.json`, or from GPT-2's `vocab.json` + `merges.txt`; undefined when neither exists. */
  tokenizer?: Tokenizer;
  /** The file the tokenizer was read from. */
  tokenizerPath?: string;
  /** The error of a tokenizer file that exists but could not be loaded; commands that need text report it. */
  tokenizerError?: string;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Loads the model of `directory`: `config.json` in Hugging Face's GPT2Config format and `model.safetensors`
 * (with or without the `transformer.` prefix), and the tokenizer when one is there. Problems become usage
 * errors that name the file and the `--model` option.
 */
export async function loadModelDirectory(directory: string): Promise<ModelDirectory> {
  for (const name of ['config.json', 'model.safetensors']) {
    if (!(await isFile(join(directory, name)))) {
      throw new UsageError(
        `${join(directory, name)} not found: --model must be a run directory written by glassbox train or a Hugging Face GPT-2 directory.`,
      );
    }
  }
  let loaded: Awaited<ReturnType<typeof loadGpt2Directory>>;
  try {
    loaded = await loadGpt2Directory(directory);
  } catch (error) {
    throw new UsageError(`--model ${directory} cannot be loaded: ${(error as Error).message}`);
  }
  const result: ModelDirectory = { config: loaded.config, parameters: loaded.parameters };
  const tokenizerJson = join(directory, 'tokenizer.json');
  const vocab = join(directory, 'vocab.json');
  const merges = join(directory, 'merges.txt');
  let source: string | undefined;
  try {
    if (await isFile(tokenizerJson)) {
      source = tokenizerJson;
      result.tokenizer = await loadTokenizer(tokenizerJson);
    } else if ((await isFile(vocab)) && (await isFile(merges))) {
      source = `${vocab} and merges.txt`;
      result.tokenizer = ByteLevelBpeTokenizer.fromGpt2Files(
        await readFile(vocab, 'utf8'),
        await readFile(merges, 'utf8'),
      );
    }
    result.tokenizerPath = source;
  } catch (error) {
    // Token ids need no tokenizer, so a broken one only matters to commands that encode or decode text.
    const reason = (error as Error).message.replace(/\.$/, '');
    result.tokenizerError = `the tokenizer in ${source} cannot be loaded (${reason})`;
  }
  if (result.tokenizer && result.tokenizer.vocabSize > loaded.config.vocabSize) {
    result.tokenizerError = `${result.tokenizerPath} has ${result.tokenizer.vocabSize} tokens but the model has only ${loaded.config.vocabSize}; they come from different models`;
    result.tokenizer = undefined;
  }
  return result;
}
