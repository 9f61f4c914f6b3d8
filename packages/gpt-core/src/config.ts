/** Hyperparameters of a GPT-2-style decoder, with nanoGPT's names. */
export interface GptConfig {
  vocabSize: number;
  /** Maximum context length: the number of learned position embeddings. */
  blockSize: number;
  nLayer: number;
  nHead: number;
  /** Width of the residual stream; must be divisible by `nHead`. */
  nEmbd: number;
  /** Dropout probability on embeddings, attention weights and residual branches during training. */
  dropout: number;
  /** Layer norm epsilon; GPT-2 uses 1e-5. */
  layerNormEpsilon: number;
}

export const GPT_DEFAULTS = { dropout: 0, layerNormEpsilon: 1e-5 } as const;

/** Fills defaults and checks a configuration, with an error that names the bad field. */
export function resolveGptConfig(
  config: Partial<GptConfig> & Pick<GptConfig, 'vocabSize' | 'blockSize' | 'nLayer' | 'nHead' | 'nEmbd'>,
): GptConfig {
  const resolved: GptConfig = { ...GPT_DEFAULTS, ...config };
  for (const key of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`GPT config: ${key} must be a positive integer, got ${value}.`);
  }
  if (resolved.nEmbd % resolved.nHead !== 0) {
    throw new Error(`GPT config: nEmbd (${resolved.nEmbd}) must be divisible by nHead (${resolved.nHead}).`);
  }
  if (!(resolved.dropout >= 0 && resolved.dropout < 1)) {
    throw new Error(`GPT config: dropout must be in [0, 1), got ${resolved.dropout}.`);
  }
  if (!(resolved.layerNormEpsilon > 0)) {
    throw new Error(`GPT config: layerNormEpsilon must be positive, got ${resolved.layerNormEpsilon}.`);
  }
  return resolved;
}

/**
 * Parameter names and shapes in Hugging Face's GPT-2 layout (`transformers` GPT2Model without the
 * `transformer.` prefix). Linear weights are stored [in, out] as GPT-2's Conv1D does, so y = x W + b.
 */
export function gptParameterShapes(config: GptConfig): Map<string, number[]> {
  const { vocabSize: v, blockSize: t, nLayer, nEmbd: c } = config;
  const shapes = new Map<string, number[]>();
  shapes.set('wte.weight', [v, c]);
  shapes.set('wpe.weight', [t, c]);
  for (let i = 0; i < nLayer; i++) {
    const p = `h.${i}`;
    shapes.set(`${p}.ln_1.weight`, [c]);
    shapes.set(`${p}.ln_1.bias`, [c]);
    shapes.set(`${p}.attn.c_attn.weight`, [c, 3 * c]);
    shapes.set(`${p}.attn.c_attn.bias`, [3 * c]);
    shapes.set(`${p}.attn.c_proj.weight`, [c, c]);
    shapes.set(`${p}.attn.c_proj.bias`, [c]);
    shapes.set(`${p}.ln_2.weight`, [c]);
    shapes.set(`${p}.ln_2.bias`, [c]);
    shapes.set(`${p}.mlp.c_fc.weight`, [c, 4 * c]);
    shapes.set(`${p}.mlp.c_fc.bias`, [4 * c]);
    shapes.set(`${p}.mlp.c_proj.weight`, [4 * c, c]);
    shapes.set(`${p}.mlp.c_proj.bias`, [c]);
  }
  shapes.set('ln_f.weight', [c]);
  shapes.set('ln_f.bias', [c]);
  return shapes;
}

/** Total number of parameters; the output head is tied to `wte` and counted once. */
export function countGptParameters(config: GptConfig): number {
  let total = 0;
  for (const shape of gptParameterShapes(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

/** Checks whether nanoGPT would apply weight decay: to matrices and embeddings, not to biases and layer norms. */
export function isDecayedParameter(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && !name.includes('ln_');
}

/** Writes a config into string metadata (for safetensors `__metadata__`). */
export function configToMetadata(config: GptConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
}

/** Reads a config back from string metadata, with an error that names the missing key. */
export function configFromMetadata(metadata: Record<string, string>, source: string): GptConfig {
  const read = (key: keyof GptConfig, fallback?: number) => {
    const raw = metadata[key];
    if (raw === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${source}: the metadata has no "${key}"; it is not a Glassbox GPT checkpoint.`);
    }
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`${source}: metadata "${key}" is not a number: "${raw}".`);
    return value;
  };
  return resolveGptConfig({
    vocabSize: read('vocabSize'),
    blockSize: read('blockSize'),
    nLayer: read('nLayer'),
    nHead: read('nHead'),
    nEmbd: read('nEmbd'),
    dropout: read('dropout', 0),
    layerNormEpsilon: read('layerNormEpsilon', 1e-5),
  });
}
