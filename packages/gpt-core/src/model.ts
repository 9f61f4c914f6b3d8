import type { Graph, Rng, Tensor } from '@glassbox/graph';
import { type GptConfig, gptParameterShapes } from './config.js';

/** Supplies a uniform [0, 1) noise input of `shape` for the dropout site `site`, or undefined to skip dropout. */
export type DropoutNoise = (site: string, shape: number[]) => Tensor | undefined;

export interface GptGraphOptions {
  /** Token ids [batch, seq], int64. */
  inputIds: Tensor;
  /** Noise inputs for dropout; dropout is off when omitted (evaluation and generation). */
  dropoutNoise?: DropoutNoise;
  /** Computes logits for the last position only, as generation needs. */
  lastPositionOnly?: boolean;
  /**
   * Data type of the matrix products, default `float32`. With `float16` the graph follows PyTorch's autocast
   * policy: linear layers and attention products run in float16 on float16 casts of the float32 parameters.
   * Embeddings, the residual stream, layer norms, softmax and GELU compute in float32, and the logits are cast
   * back to float32.
   */
  computeDtype?: 'float32' | 'float16';
}

export interface GptGraph {
  /** Logits [batch, seq, vocab] (or [batch, 1, vocab] with `lastPositionOnly`). */
  logits: Tensor;
  /** Parameters by Hugging Face name. */
  parameters: Map<string, Tensor>;
}

/** Applies a Conv1D-layout linear layer, y = x W + b. */
export function linear(g: Graph, x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  return g.add(g.matmul(x, weight), bias);
}

/** Splits a fused QKV projection [batch, seq, 3 nEmbd] into q, k and v of shape [batch, nHead, seq, headDim]. */
export function splitHeads(g: Graph, qkv: Tensor, nEmbd: number, nHead: number): Tensor[] {
  return g
    .split(qkv, -1, [nEmbd, nEmbd, nEmbd])
    .map((t) => g.transpose(g.reshape(t, [0, 0, nHead, nEmbd / nHead]), [0, 2, 1, 3]));
}

/** Merges attention heads [batch, nHead, seq, headDim] back into [batch, seq, nEmbd]. */
export function mergeHeads(g: Graph, heads: Tensor, nEmbd: number): Tensor {
  return g.reshape(g.transpose(heads, [0, 2, 1, 3]), [0, 0, nEmbd]);
}

/**
 * Builds a GPT-2 forward pass into `g`: token and learned position embeddings, `nLayer` pre-LayerNorm
 * blocks of causal multi-head self-attention and a GELU (tanh approximation) MLP, a final LayerNorm, and
 * logits from the transposed token embedding (weight tying). This is the computation of Hugging Face's
 * GPT2LMHeadModel.
 */
export function buildGpt(g: Graph, config: GptConfig, options: GptGraphOptions): GptGraph {
  const { nLayer, nHead, nEmbd, dropout } = config;
  const headDim = nEmbd / nHead;
  const parameters = new Map<string, Tensor>();
  for (const [name, shape] of gptParameterShapes(config)) parameters.set(name, g.parameter(name, shape));
  const p = (name: string) => parameters.get(name)!;
  const half = options.computeDtype === 'float16';
  // `low` casts into the compute dtype and `full` back to float32; both are no-ops in float32 graphs.
  const low = (t: Tensor) => (half ? g.cast(t, 'float16') : t);
  const full = (t: Tensor) => (half ? g.cast(t, 'float32') : t);
  const dense = (x: Tensor, weight: string, bias: string) => linear(g, low(x), low(p(weight)), low(p(bias)));
  const inputIds = options.inputIds;
  if (inputIds.rank !== 2) throw new Error(`buildGpt: inputIds must be [batch, seq], got ${inputIds}.`);
  const [batch, seq] = inputIds.shape;

  const drop = (x: Tensor, site: string, shape: () => number[]) => {
    if (dropout === 0 || !options.dropoutNoise) return x;
    const noise = options.dropoutNoise(site, shape());
    return noise ? g.dropout(x, noise, dropout) : x;
  };
  const staticShape = (...dims: (number | string)[]) => {
    if (dims.some((d) => typeof d !== 'number')) {
      throw new Error('buildGpt: dropout needs static batch and sequence sizes.');
    }
    return dims as number[];
  };

  if (typeof seq === 'number' && seq > config.blockSize) {
    throw new Error(`buildGpt: sequence length ${seq} exceeds blockSize ${config.blockSize}.`);
  }
  const positions = g.arange(inputIds, 1);
  let x = g.scope('embeddings', () =>
    g.add(g.gather(p('wte.weight'), inputIds), g.gather(p('wpe.weight'), positions)),
  );
  x = drop(x, 'embeddings', () => staticShape(batch, seq, nEmbd));

  for (let layer = 0; layer < nLayer; layer++) {
    const prefix = `h.${layer}`;
    x = g.scope(prefix, () => {
      const ln1 = g.layerNorm(
        x,
        p(`${prefix}.ln_1.weight`),
        p(`${prefix}.ln_1.bias`),
        config.layerNormEpsilon,
      );
      const qkv = dense(ln1, `${prefix}.attn.c_attn.weight`, `${prefix}.attn.c_attn.bias`);
      const [q, k, v] = splitHeads(g, qkv, nEmbd, nHead);
      const scores = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(headDim));
      let weights = g.softmax(g.causalMask(full(scores)), -1);
      weights = drop(weights, `${prefix}.attn.weights`, () => staticShape(batch, nHead, seq, seq));
      const heads = g.matmul(low(weights), v);
      const merged = mergeHeads(g, heads, nEmbd);
      let attnOut = full(dense(merged, `${prefix}.attn.c_proj.weight`, `${prefix}.attn.c_proj.bias`));
      attnOut = drop(attnOut, `${prefix}.attn.residual`, () => staticShape(batch, seq, nEmbd));
      const afterAttn = g.add(x, attnOut);

      const ln2 = g.layerNorm(
        afterAttn,
        p(`${prefix}.ln_2.weight`),
        p(`${prefix}.ln_2.bias`),
        config.layerNormEpsilon,
      );
      // GELU computes in float32 and stores its result in the compute dtype, as PyTorch's float16 kernel does.
      const fc = dense(ln2, `${prefix}.mlp.c_fc.weight`, `${prefix}.mlp.c_fc.bias`);
      const hidden = low(g.gelu(full(fc), 'tanh'));
      let mlpOut = full(dense(hidden, `${prefix}.mlp.c_proj.weight`, `${prefix}.mlp.c_proj.bias`));
      mlpOut = drop(mlpOut, `${prefix}.mlp.residual`, () => staticShape(batch, seq, nEmbd));
      return g.add(afterAttn, mlpOut);
    });
  }

  let final = g.layerNorm(x, p('ln_f.weight'), p('ln_f.bias'), config.layerNormEpsilon);
  if (options.lastPositionOnly) final = g.slice(final, 1, -1);
  const logits = full(g.matmul(low(final), g.transpose(low(p('wte.weight')), [1, 0])));
  return { logits, parameters };
}

/**
 * Initializes parameters as GPT-2 and nanoGPT do: weights and embeddings from N(0, 0.02), the residual
 * output projections (`attn.c_proj`, `mlp.c_proj`) from N(0, 0.02 / sqrt(2 nLayer)), biases 0, layer
 * norm scales 1 and shifts 0.
 */
export function initGptParameters(config: GptConfig, rng: Rng): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  const residualStd = 0.02 / Math.sqrt(2 * config.nLayer);
  for (const [name, shape] of gptParameterShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.includes('.ln_') || name.startsWith('ln_f')) {
      if (name.endsWith('.weight')) data.fill(1);
    } else if (name.endsWith('.weight')) {
      const std = name.endsWith('c_proj.weight') ? residualStd : 0.02;
      rng.fillNormal(data, 0, std);
    }
    values.set(name, data);
  }
  return values;
}
