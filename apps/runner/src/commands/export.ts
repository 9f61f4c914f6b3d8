import { readdir } from 'node:fs/promises';
import { writeTransformersJsModel } from '@glassbox/gpt-core/node';
import { UsageError } from '../args.js';
import { loadModelDirectory } from '../model-directory.js';
import type { ExportOptions } from '../model-options.js';

/**
 * Exports the model in `options.model` for transformers.js: config.json, generation_config.json,
 * tokenizer.json, tokenizer_config.json and onnx/model.onnx with `input_ids`, `attention_mask`,
 * `position_ids` and `past_key_values.N.key/value` inputs.
 */
export async function runExport(options: ExportOptions): Promise<void> {
  try {
    if ((await readdir(options.out)).length > 0) {
      throw new UsageError(
        `--out ${options.out} is not empty; choose a new directory so no files are overwritten.`,
      );
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // A directory that does not exist yet is created by the export.
  }
  const { config, parameters, tokenizer, tokenizerError } = await loadModelDirectory(options.model);
  if (!tokenizer) {
    throw new UsageError(
      tokenizerError
        ? `${tokenizerError}; transformers.js needs a tokenizer.json that loads.`
        : `${options.model} has no tokenizer.json or vocab.json + merges.txt; transformers.js needs a tokenizer.`,
    );
  }
  if (tokenizer.kind === 'char') {
    throw new UsageError(
      `${options.model} uses a character tokenizer, which has no Hugging Face tokenizer.json form that transformers.js reads; train with --tokenizer bpe to export.`,
    );
  }
  await writeTransformersJsModel(options.out, config, parameters, { tokenizer });
  process.stderr.write(
    `glassbox export: wrote ${options.out} (config.json, tokenizer.json, onnx/model.onnx)\n`,
  );
}
