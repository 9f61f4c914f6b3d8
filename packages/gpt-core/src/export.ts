/**
 * Export of an inference model in the layout that transformers.js (`@huggingface/transformers`) loads:
 * `config.json`, `generation_config.json`, `tokenizer.json`, `tokenizer_config.json` and
 * `onnx/model.onnx`, the last with the weights stored as initializers.
 */
import { Graph, toOnnx } from '@glassbox/graph';
import { type GptConfig, gptParameterShapes } from './config.js';
import { gptConfigToHf } from './gpt2.js';
import { addCachedGptOutputs, buildCachedGpt } from './kv-cache.js';

/**
 * Builds the ONNX model of one cached generation step with every weight as an initializer. The inputs are
 * `input_ids`, `attention_mask`, `position_ids` and `past_key_values.N.key/value`. The outputs are `logits`
 * [batch, seq, vocab] and `present.N.key/value`, the names that transformers.js feeds and reads.
 */
export function gptToOnnxWithCache(
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
): Uint8Array {
  for (const [name, shape] of gptParameterShapes(config)) {
    const data = parameters.get(name);
    if (!data) throw new Error(`gptToOnnxWithCache: missing parameter "${name}".`);
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(
        `gptToOnnxWithCache: parameter "${name}" has ${data.length} values, expected ${expected} for shape [${shape}].`,
      );
    }
  }
  const g = new Graph('gpt2');
  addCachedGptOutputs(g, buildCachedGpt(g, config));
  return toOnnx(g, { initializers: parameters, metadata: { model_type: 'gpt2' } });
}

export interface TransformersJsExportOptions {
  /** The Hugging Face `tokenizer.json` object, for example a Glassbox tokenizer's `toJSON()`. */
  tokenizerJson: unknown;
  /** The end-of-text token string. It becomes `eos_token_id`, where generation stops. */
  eosToken?: string;
  /** The beginning-of-text token string. Defaults to `eosToken`, as in GPT-2. */
  bosToken?: string;
  /** Extra keys for `generation_config.json`, such as `max_length`. */
  generationConfig?: Record<string, unknown>;
}

interface TokenizerJsonShape {
  added_tokens?: { id: number; content: string }[];
  model?: { vocab?: Record<string, number> };
}

/** Looks a token string up in a `tokenizer.json` object: first its added tokens, then the model vocabulary. */
function tokenIdIn(tokenizerJson: unknown, token: string): number {
  const json = tokenizerJson as TokenizerJsonShape;
  const added = json.added_tokens?.find((t) => t.content === token);
  if (added) return added.id;
  const id = json.model?.vocab?.[token];
  if (typeof id === 'number') return id;
  throw new Error(
    `export: token "${token}" was not found in tokenizer.json, neither among added tokens nor in the vocabulary.`,
  );
}

/** One file of an export, by its path relative to the model directory. */
export type ExportedFiles = Map<string, string | Uint8Array>;

/**
 * Returns the files of a transformers.js model directory. JSON files are strings. `onnx/model.onnx` contains
 * the whole model, so its size is about 4 bytes per parameter.
 */
export function exportForTransformersJs(
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  options: TransformersJsExportOptions,
): ExportedFiles {
  const eosTokenId =
    options.eosToken === undefined ? null : tokenIdIn(options.tokenizerJson, options.eosToken);
  const bosToken = options.bosToken ?? options.eosToken;
  const bosTokenId = bosToken === undefined ? null : tokenIdIn(options.tokenizerJson, bosToken);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

  const files: ExportedFiles = new Map();
  files.set('config.json', json(gptConfigToHf(config, { bosTokenId, eosTokenId })));
  files.set(
    'generation_config.json',
    json({ bos_token_id: bosTokenId, eos_token_id: eosTokenId, ...options.generationConfig }),
  );
  files.set('tokenizer.json', json(options.tokenizerJson));
  files.set(
    'tokenizer_config.json',
    json({
      tokenizer_class: 'GPT2Tokenizer',
      model_max_length: config.blockSize,
      add_bos_token: false,
      add_prefix_space: false,
      clean_up_tokenization_spaces: false,
      bos_token: bosToken ?? null,
      eos_token: options.eosToken ?? null,
      unk_token: options.eosToken ?? null,
    }),
  );
  files.set('onnx/model.onnx', gptToOnnxWithCache(config, parameters));
  return files;
}
