/**
 * GPT-2 as Hugging Face `transformers` implements it (`GPT2LMHeadModel`): the published sizes, the
 * `config.json` format (`GPT2Config`) and the tensor names of `model.safetensors`.
 */
import { type SafetensorsFile, type TensorEntry, toFloat32 } from '@glassbox/graph';
import { gptToSafetensors } from './checkpoint.js';
import { type GptConfig, gptParameterShapes, resolveGptConfig } from './config.js';

/** Names of the four GPT-2 checkpoints that OpenAI published. */
export type Gpt2PresetName = 'gpt2' | 'gpt2-medium' | 'gpt2-large' | 'gpt2-xl';

const GPT2_SIZES: Record<Gpt2PresetName, { nLayer: number; nHead: number; nEmbd: number }> = {
  gpt2: { nLayer: 12, nHead: 12, nEmbd: 768 },
  'gpt2-medium': { nLayer: 24, nHead: 16, nEmbd: 1024 },
  'gpt2-large': { nLayer: 36, nHead: 20, nEmbd: 1280 },
  'gpt2-xl': { nLayer: 48, nHead: 25, nEmbd: 1600 },
};

/** Configurations of the published GPT-2 sizes: vocabulary 50,257, context 1,024, dropout 0.1. */
export const GPT2_PRESETS: Readonly<Record<Gpt2PresetName, GptConfig>> = Object.freeze(
  Object.fromEntries(
    Object.entries(GPT2_SIZES).map(([name, size]) => [
      name,
      Object.freeze(resolveGptConfig({ vocabSize: 50257, blockSize: 1024, dropout: 0.1, ...size })),
    ]),
  ) as Record<Gpt2PresetName, GptConfig>,
);

/** The fields of Hugging Face's `GPT2Config` that Glassbox reads and writes. */
export interface Gpt2HfConfig {
  model_type?: string;
  architectures?: string[];
  vocab_size?: number;
  n_positions?: number;
  n_embd?: number;
  n_layer?: number;
  n_head?: number;
  n_inner?: number | null;
  activation_function?: string;
  resid_pdrop?: number;
  embd_pdrop?: number;
  attn_pdrop?: number;
  layer_norm_epsilon?: number;
  scale_attn_weights?: boolean;
  scale_attn_by_inverse_layer_idx?: boolean;
  add_cross_attention?: boolean;
  tie_word_embeddings?: boolean;
  bos_token_id?: number | null;
  eos_token_id?: number | null;
  [key: string]: unknown;
}

/** `GPT2Config` defaults (transformers 4.x), used for keys that a `config.json` leaves out, as transformers does. */
const HF_DEFAULTS = {
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  activation_function: 'gelu_new',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  layer_norm_epsilon: 1e-5,
} as const;

export interface HfConfigOptions {
  /**
   * Dropout for the model. GptConfig has one rate for embeddings, attention and residuals, so without this
   * option the three `*_pdrop` values of the file must be equal.
   */
  dropout?: number;
}

/**
 * Reads a Hugging Face GPT-2 `config.json` object into a GptConfig. Options that change the computation
 * and that Glassbox does not implement (another activation, `n_inner`, unscaled or layer-scaled attention,
 * cross-attention, an untied head) raise an error naming the option. `source` names the file in errors.
 */
export function gptConfigFromHf(
  json: Gpt2HfConfig,
  source = 'config.json',
  options: HfConfigOptions = {},
): GptConfig {
  if (json.model_type !== undefined && json.model_type !== 'gpt2') {
    throw new Error(`${source}: model_type is "${json.model_type}", expected "gpt2".`);
  }
  const read = (key: keyof typeof HF_DEFAULTS): number => {
    const value = json[key] ?? HF_DEFAULTS[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`${source}: ${key} must be a number, got ${JSON.stringify(value)}.`);
    }
    return value;
  };
  const activation = json.activation_function ?? HF_DEFAULTS.activation_function;
  if (activation !== 'gelu_new') {
    throw new Error(
      `${source}: activation_function "${activation}" is not supported. Glassbox GPT-2 uses gelu_new (GELU, tanh approximation).`,
    );
  }
  const nEmbd = read('n_embd');
  if (json.n_inner !== undefined && json.n_inner !== null && json.n_inner !== 4 * nEmbd) {
    throw new Error(
      `${source}: n_inner ${json.n_inner} is not supported. The MLP width must be 4 * n_embd = ${4 * nEmbd}.`,
    );
  }
  if (json.scale_attn_weights === false) {
    throw new Error(
      `${source}: scale_attn_weights false is not supported, because attention is scaled by 1/sqrt(head_dim).`,
    );
  }
  if (json.scale_attn_by_inverse_layer_idx === true) {
    throw new Error(`${source}: scale_attn_by_inverse_layer_idx true is not supported.`);
  }
  if (json.add_cross_attention === true) {
    throw new Error(
      `${source}: add_cross_attention true is not supported, because this GPT-2 is decoder-only.`,
    );
  }
  if (json.tie_word_embeddings === false) {
    throw new Error(
      `${source}: tie_word_embeddings false is not supported, because the output head is tied to wte.`,
    );
  }

  let dropout = options.dropout;
  if (dropout === undefined) {
    const rates = {
      resid_pdrop: read('resid_pdrop'),
      embd_pdrop: read('embd_pdrop'),
      attn_pdrop: read('attn_pdrop'),
    };
    if (rates.resid_pdrop !== rates.embd_pdrop || rates.resid_pdrop !== rates.attn_pdrop) {
      throw new Error(
        `${source}: resid_pdrop, embd_pdrop and attn_pdrop differ (${Object.values(rates).join(', ')}). ` +
          'Glassbox uses one dropout rate, so pass options.dropout.',
      );
    }
    dropout = rates.resid_pdrop;
  }
  try {
    return resolveGptConfig({
      vocabSize: read('vocab_size'),
      blockSize: read('n_positions'),
      nLayer: read('n_layer'),
      nHead: read('n_head'),
      nEmbd,
      dropout,
      layerNormEpsilon: read('layer_norm_epsilon'),
    });
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`, { cause: error });
  }
}

export interface HfConfigWriteOptions {
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  /** Extra keys merged into the JSON object, such as a run's settings. */
  extra?: Record<string, unknown>;
}

/**
 * Writes a GptConfig as a Hugging Face `GPT2Config` JSON object for `GPT2LMHeadModel`, with the
 * defaults that `GPT2Config()` of transformers 4.x writes for the fields that Glassbox does not vary.
 */
export function gptConfigToHf(config: GptConfig, options: HfConfigWriteOptions = {}): Gpt2HfConfig {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.blockSize,
    n_ctx: config.blockSize,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: config.dropout,
    embd_pdrop: config.dropout,
    attn_pdrop: config.dropout,
    layer_norm_epsilon: config.layerNormEpsilon,
    initializer_range: 0.02,
    summary_type: 'cls_index',
    summary_use_proj: true,
    summary_activation: null,
    summary_proj_to_labels: true,
    summary_first_dropout: 0.1,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: true,
    use_cache: true,
    bos_token_id: options.bosTokenId ?? null,
    eos_token_id: options.eosTokenId ?? null,
    torch_dtype: 'float32',
    ...options.extra,
  };
}

/** Causal-mask buffers that older transformers versions save with each attention layer. */
const IGNORED_BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/**
 * Reads GPT-2 parameters from a Hugging Face `model.safetensors` (F32, F16 or BF16), with or without the
 * `transformer.` prefix. The attention-mask buffers `h.N.attn.bias` and `h.N.attn.masked_bias` are skipped.
 * `lm_head.weight` is accepted when it equals `wte.weight`, because the head is tied. A missing, unexpected
 * or misshapen tensor raises an error naming the tensor, the expected and the found shape.
 */
export function gpt2ParametersFromSafetensors(
  file: SafetensorsFile,
  config: GptConfig,
  source = 'model.safetensors',
): Map<string, Float32Array> {
  const shapes = gptParameterShapes(config);
  const parameters = new Map<string, Float32Array>();
  let lmHead: TensorEntry | undefined;
  for (const [rawName, entry] of file.tensors) {
    const name = rawName.startsWith('transformer.') ? rawName.slice('transformer.'.length) : rawName;
    if (IGNORED_BUFFER.test(name)) continue;
    if (name === 'lm_head.weight') {
      lmHead = entry;
      continue;
    }
    const shape = shapes.get(name);
    if (!shape) {
      throw new Error(
        `${source}: unexpected tensor "${rawName}" with shape [${entry.shape}], which is not a GPT-2 parameter of this config.`,
      );
    }
    if (parameters.has(name))
      throw new Error(`${source}: tensor "${name}" appears twice (with and without "transformer.").`);
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${source}: tensor "${rawName}" has shape [${entry.shape}], expected [${shape}].`);
    }
    parameters.set(name, Float32Array.from(toFloat32(entry)));
  }
  for (const [name, shape] of shapes) {
    if (!parameters.has(name))
      throw new Error(`${source}: tensor "${name}" is missing; expected shape [${shape}].`);
  }
  if (lmHead) {
    const wte = parameters.get('wte.weight')!;
    const expected = shapes.get('wte.weight')!;
    if (lmHead.shape.length !== 2 || lmHead.shape[0] !== expected[0] || lmHead.shape[1] !== expected[1]) {
      throw new Error(
        `${source}: tensor "lm_head.weight" has shape [${lmHead.shape}], expected [${expected}].`,
      );
    }
    if (!sameValues(Float32Array.from(toFloat32(lmHead)), wte)) {
      throw new Error(
        `${source}: "lm_head.weight" differs from "wte.weight", and untied output heads are not supported.`,
      );
    }
  }
  return parameters;
}

/** Serializes GPT-2 parameters in Hugging Face's layout; the same file as `gptToSafetensors` writes. */
export function gpt2ToSafetensors(
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
): Uint8Array {
  return gptToSafetensors(config, parameters);
}
