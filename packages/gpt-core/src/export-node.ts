/**
 * Node.js file-system entry points: Hugging Face GPT-2 directories and transformers.js exports.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readSafetensors, writeFileAtomic } from '@glassbox/graph/node';
import type { GptConfig } from './config.js';
import { exportForTransformersJs, type TransformersJsExportOptions } from './export.js';
import {
  type Gpt2HfConfig,
  gpt2ParametersFromSafetensors,
  gpt2ToSafetensors,
  gptConfigFromHf,
  gptConfigToHf,
  type HfConfigOptions,
  type HfConfigWriteOptions,
} from './gpt2.js';

export interface LoadedGpt2 {
  config: GptConfig;
  parameters: Map<string, Float32Array>;
  /** The `config.json` object as read, for fields Glassbox does not use (token ids, ...). */
  hfConfig: Gpt2HfConfig;
}

/**
 * Loads a Hugging Face GPT-2 directory: `config.json` and `model.safetensors`, as `save_pretrained`
 * writes them. Errors name the file and, for tensors, the tensor and both shapes.
 */
export async function loadGpt2Directory(
  directory: string,
  options: HfConfigOptions = {},
): Promise<LoadedGpt2> {
  const configPath = join(directory, 'config.json');
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw new Error(`Failed to read ${configPath}: ${(error as Error).message}`, { cause: error });
  }
  let hfConfig: Gpt2HfConfig;
  try {
    hfConfig = JSON.parse(text) as Gpt2HfConfig;
  } catch (error) {
    throw new Error(`${configPath} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const config = gptConfigFromHf(hfConfig, configPath, options);
  const weightsPath = join(directory, 'model.safetensors');
  const parameters = gpt2ParametersFromSafetensors(await readSafetensors(weightsPath), config, weightsPath);
  return { config, parameters, hfConfig };
}

/**
 * Writes a directory that transformers' `GPT2LMHeadModel.from_pretrained` loads: `config.json` in
 * `GPT2Config` format and `model.safetensors` with names as `save_pretrained` writes a tied GPT-2.
 */
export async function saveGpt2Directory(
  directory: string,
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  options: HfConfigWriteOptions = {},
): Promise<void> {
  await mkdir(directory, { recursive: true });
  await writeFileAtomic(join(directory, 'model.safetensors'), gpt2ToSafetensors(config, parameters));
  await writeFileAtomic(
    join(directory, 'config.json'),
    `${JSON.stringify(gptConfigToHf(config, options), null, 2)}\n`,
  );
}

export interface TransformersJsWriteOptions extends Omit<TransformersJsExportOptions, 'tokenizerJson'> {
  /** The tokenizer: an object with `toJSON()` that returns a Hugging Face `tokenizer.json`, or a path to one. */
  tokenizer: { toJSON(): unknown } | string;
}

/**
 * Writes a model directory that transformers.js loads with `local_files_only`: `config.json`,
 * `generation_config.json`, `tokenizer.json`, `tokenizer_config.json` and `onnx/model.onnx`.
 */
export async function writeTransformersJsModel(
  directory: string,
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  options: TransformersJsWriteOptions,
): Promise<void> {
  const { tokenizer, ...rest } = options;
  let tokenizerJson: unknown;
  if (typeof tokenizer === 'string') {
    try {
      tokenizerJson = JSON.parse(await readFile(tokenizer, 'utf8'));
    } catch (error) {
      throw new Error(`Failed to read tokenizer ${tokenizer}: ${(error as Error).message}`, { cause: error });
    }
  } else {
    tokenizerJson = tokenizer.toJSON();
  }
  const files = exportForTransformersJs(config, parameters, { ...rest, tokenizerJson });
  for (const [path, contents] of files) {
    const target = join(directory, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFileAtomic(target, contents);
  }
}
