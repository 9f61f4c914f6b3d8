import { type GptConfig, gptConfigToHf } from '@glassbox/gpt-core';

/** The tokenizer file of a run directory, in Hugging Face `tokenizer.json` form for BPE tokenizers. */
export const TOKENIZER_FILE = 'tokenizer.json';

/** The configuration of a run directory: Hugging Face's GPT2Config, plus the run's settings under `glassbox`. */
export const CONFIG_FILE = 'config.json';

/** The model weights of a run directory, with Hugging Face GPT-2 tensor names. */
export const MODEL_FILE = 'model.safetensors';

/**
 * Builds a `config.json` in Hugging Face's GPT-2 format (`GPT2Config`), so the directory reads like a Hugging Face
 * model, with the run's own settings under `glassbox`.
 */
export function huggingFaceConfig(config: GptConfig, run: Record<string, unknown>): Record<string, unknown> {
  return { ...gptConfigToHf(config), glassbox: run };
}
