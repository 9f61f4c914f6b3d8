import type { GenerateOptions } from '../options.js';

/** Generates text with the model in `options.model` and writes it to stdout. */
export async function runGenerate(_options: GenerateOptions): Promise<void> {
  // TODO: load the checkpoint and tokenizer, then sample with @glassbox/gpt-core.
  throw new Error('not wired yet');
}
