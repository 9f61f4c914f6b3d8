/**
 * Building blocks of decoder language models as graph functions. Each block takes a `Graph`, a parameter-name
 * prefix such as `h.0.attn` and its options, and declares its parameters with `g.parameter` under that prefix.
 * It returns its output together with the intermediate tensors (attention weights per head, MLP activations)
 * that inspection exposes as graph outputs.
 */
import type { Graph, Tensor } from '@glassbox/graph';
import type { DropoutNoise } from './model.js';

/** Nonlinearity of an MLP or of Models 1 and 2: exact GELU (erf), GPT-2's tanh GELU, or ReLU. */
export type Activation = 'gelu' | 'gelu-tanh' | 'relu';

/**
 * Weight layout of a linear layer: `conv1d` stores [in, out] as GPT-2's Conv1D does (y = x W + b), `linear`
 * stores [out, in] as PyTorch's nn.Linear does (y = x W^T + b).
 */
export type LinearLayout = 'conv1d' | 'linear';

/**
 * Called with each named intermediate (a site such as `h.0.attn.heads`) while a model is built. Returning a
 * tensor replaces the value that flows on, as a PyTorch forward hook that returns a value does; returning
 * undefined leaves it unchanged.
 */
export type ActivationHook = (site: string, value: Tensor) => Tensor | undefined;

/** Collects the named intermediates of a forward pass and applies an optional hook to each. */
export class ActivationRecorder {
  readonly values = new Map<string, Tensor>();

  constructor(readonly hook?: ActivationHook) {}

  /** Records `value` under `site` after the hook has had the chance to replace it, and returns that tensor. */
  record(site: string, value: Tensor): Tensor {
    const replaced = this.hook?.(site, value) ?? value;
    if (replaced.graph !== value.graph)
      throw new Error(`hook at "${site}" returned a tensor of another graph.`);
    this.values.set(site, replaced);
    return replaced;
  }
}

/** Dropout probability and the source of its uniform noise inputs; omit it to turn dropout off. */
export interface DropoutSettings {
  p: number;
  noise: DropoutNoise;
}

/** Options that every block with intermediates accepts. */
export interface BlockContext {
  recorder?: ActivationRecorder;
  dropout?: DropoutSettings;
}

function record(context: BlockContext, site: string, value: Tensor): Tensor {
  return context.recorder ? context.recorder.record(site, value) : value;
}

function staticShape(x: Tensor, site: string): number[] {
  return x.shape.map((d) => {
    if (typeof d !== 'number') {
      throw new Error(`dropout at "${site}": ${x} needs static batch and sequence sizes.`);
    }
    return d;
  });
}

/**
 * Inverted dropout at `site`: the noise input comes from `settings.noise(site, shape)`. Returns `x` when dropout
 * is off (no settings, p = 0, or no noise supplied for the site).
 */
export function dropout(g: Graph, site: string, x: Tensor, settings?: DropoutSettings): Tensor {
  if (!settings || settings.p === 0) return x;
  const noise = settings.noise(site, staticShape(x, site));
  return noise ? g.dropout(x, noise, settings.p) : x;
}

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
}

/** Embedding table `${prefix}.weight` [numEmbeddings, embeddingDim], looked up at integer `indices`. */
export function embedding(
  g: Graph,
  prefix: string,
  indices: Tensor,
  options: EmbeddingOptions,
): { output: Tensor; weight: Tensor } {
  const weight = g.parameter(`${prefix}.weight`, [options.numEmbeddings, options.embeddingDim]);
  return { output: g.gather(weight, indices), weight };
}

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Adds `${prefix}.bias` [outFeatures]; default true. */
  bias?: boolean;
  /** Default `conv1d`, GPT-2's [in, out]. */
  layout?: LinearLayout;
}

/** Returns the weight shape of a linear layer in `layout`. */
export function linearWeightShape(inFeatures: number, outFeatures: number, layout: LinearLayout): number[] {
  return layout === 'conv1d' ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
}

/** Affine map over the last axis, with `${prefix}.weight` and (by default) `${prefix}.bias`. */
export function linear(
  g: Graph,
  prefix: string,
  x: Tensor,
  options: LinearOptions,
): { output: Tensor; weight: Tensor; bias?: Tensor } {
  const layout = options.layout ?? 'conv1d';
  const weight = g.parameter(
    `${prefix}.weight`,
    linearWeightShape(options.inFeatures, options.outFeatures, layout),
  );
  const product = g.matmul(x, layout === 'conv1d' ? weight : g.transpose(weight, [1, 0]));
  if (options.bias === false) return { output: product, weight };
  const bias = g.parameter(`${prefix}.bias`, [options.outFeatures]);
  return { output: g.add(product, bias), weight, bias };
}

export interface LayerNormOptions {
  dim: number;
  /** Default 1e-5, as GPT-2 and nn.LayerNorm use. */
  epsilon?: number;
}

/** Layer normalization over the last axis, with scale `${prefix}.weight` and shift `${prefix}.bias`. */
export function layerNorm(
  g: Graph,
  prefix: string,
  x: Tensor,
  options: LayerNormOptions,
): { output: Tensor; weight: Tensor; bias: Tensor } {
  const weight = g.parameter(`${prefix}.weight`, [options.dim]);
  const bias = g.parameter(`${prefix}.bias`, [options.dim]);
  return { output: g.layerNorm(x, weight, bias, options.epsilon ?? 1e-5), weight, bias };
}

/** Applies `activation` element-wise. */
export function activate(g: Graph, x: Tensor, activation: Activation): Tensor {
  switch (activation) {
    case 'gelu':
      return g.gelu(x, 'none');
    case 'gelu-tanh':
      return g.gelu(x, 'tanh');
    case 'relu':
      return g.relu(x);
  }
}

export interface CausalAttentionResult {
  /** Weighted sum of the values [..., T, d]. */
  output: Tensor;
  /** Scaled scores q k^T / sqrt(d) before the mask [..., T, T]. */
  scores: Tensor;
  /** Softmax of the masked scores [..., T, T]: each row sums to 1 and is 0 above the diagonal. */
  weights: Tensor;
}

/**
 * Causal scaled dot-product attention written out: scores = q k^T / sqrt(d), -Infinity above the diagonal,
 * softmax over keys, then the weighted sum of v. `q`, `k`, `v` are [..., T, d]. The weights are recorded as
 * `${prefix}.weights` before dropout (so a hook there changes the weighted sum), and dropout at that site
 * applies to them before the sum.
 */
export function causalAttention(
  g: Graph,
  prefix: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  context: BlockContext = {},
): CausalAttentionResult {
  const headDim = q.shape[q.rank - 1];
  if (typeof headDim !== 'number') throw new Error(`causalAttention: the head size of ${q} must be static.`);
  const perm = [...Array(k.rank).keys()];
  [perm[k.rank - 2], perm[k.rank - 1]] = [perm[k.rank - 1], perm[k.rank - 2]];
  const scores = g.mul(g.matmul(q, g.transpose(k, perm)), 1 / Math.sqrt(headDim));
  const weights = record(context, `${prefix}.weights`, g.softmax(g.causalMask(scores), -1));
  const output = g.matmul(dropout(g, `${prefix}.weights`, weights, context.dropout), v);
  return { output, scores, weights };
}

export interface AttentionOptions extends BlockContext {
  embedDim: number;
  /** Biases on the projections; default true (GPT-2). The course's single head has none. */
  bias?: boolean;
  layout?: LinearLayout;
  /**
   * With false, the queries are the block's inputs themselves and no query projection exists (the course's
   * "do we really need Q?" experiment). Default true.
   */
  queryProjection?: boolean;
}

export interface SingleHeadAttentionResult {
  /** Output of the output projection `${prefix}.c_proj` [B, T, C]. */
  output: Tensor;
  /** Attention weights [B, T, T]. */
  weights: Tensor;
  /** Weighted values before the output projection [B, T, C]. */
  head: Tensor;
}

/**
 * Builds one causal attention head as the course's Models 3 and 4 do: separate query, key and value projections
 * `${prefix}.q_proj`, `k_proj`, `v_proj` of width C, attention scaled by 1/sqrt(C), then the output projection
 * `${prefix}.c_proj`. Records `${prefix}.weights`, `${prefix}.head` and `${prefix}.output`.
 */
export function singleHeadAttention(
  g: Graph,
  prefix: string,
  x: Tensor,
  options: AttentionOptions,
): SingleHeadAttentionResult {
  const c = options.embedDim;
  const projection = (name: string) =>
    linear(g, `${prefix}.${name}`, x, {
      inFeatures: c,
      outFeatures: c,
      bias: options.bias ?? true,
      layout: options.layout,
    }).output;
  const q = options.queryProjection === false ? x : projection('q_proj');
  const k = projection('k_proj');
  const v = projection('v_proj');
  const attention = causalAttention(g, prefix, q, k, v, options);
  const weights = attention.weights;
  const head = record(options, `${prefix}.head`, attention.output);
  let output = linear(g, `${prefix}.c_proj`, head, {
    inFeatures: c,
    outFeatures: c,
    bias: options.bias ?? true,
    layout: options.layout,
  }).output;
  output = dropout(g, `${prefix}.residual`, output, options.dropout);
  output = record(options, `${prefix}.output`, output);
  return { output, weights, head };
}

export interface MultiHeadAttentionOptions extends AttentionOptions {
  nHead: number;
}

export interface MultiHeadAttentionResult {
  /** Output of `${prefix}.c_proj` [B, T, C], after residual dropout. */
  output: Tensor;
  /** Attention weights of all heads [B, H, T, T]. */
  weights: Tensor;
  /** Attention weights of each head [B, T, T]. */
  headWeights: Tensor[];
  /** Weighted values of all heads before they are merged [B, H, T, C / H]. */
  heads: Tensor;
  /** Weighted values of each head [B, T, C / H]. */
  headOutputs: Tensor[];
}

/**
 * Causal multi-head self-attention with a fused QKV projection `${prefix}.c_attn` (C -> 3C, or C -> 2C for keys
 * and values only without a query projection) and the output projection `${prefix}.c_proj`, computed as
 * Hugging Face's GPT-2 does. Records `${prefix}.weights` [B, H, T, T], `${prefix}.heads` [B, H, T, d] (a hook
 * there can zero or scale single heads before they are merged), per-head `${prefix}.head.{h}.weights` and
 * `${prefix}.head.{h}.output`, and `${prefix}.output`.
 */
export function multiHeadAttention(
  g: Graph,
  prefix: string,
  x: Tensor,
  options: MultiHeadAttentionOptions,
): MultiHeadAttentionResult {
  const { embedDim: c, nHead } = options;
  if (!Number.isInteger(nHead) || nHead <= 0 || c % nHead !== 0) {
    throw new Error(`multiHeadAttention: embedDim (${c}) must be divisible by nHead (${nHead}).`);
  }
  const headDim = c / nHead;
  const withQuery = options.queryProjection !== false;
  const fused = linear(g, `${prefix}.c_attn`, x, {
    inFeatures: c,
    outFeatures: (withQuery ? 3 : 2) * c,
    bias: options.bias ?? true,
    layout: options.layout,
  }).output;
  // [B, T, C] -> [B, H, T, d]
  const splitHeads = (t: Tensor) => g.transpose(g.reshape(t, [0, 0, nHead, headDim]), [0, 2, 1, 3]);
  const parts = g.split(fused, -1, withQuery ? [c, c, c] : [c, c]).map(splitHeads);
  const [q, k, v] = withQuery ? parts : [splitHeads(x), ...parts];

  const attention = causalAttention(g, prefix, q, k, v, options);
  const weights = attention.weights;
  const heads = record(options, `${prefix}.heads`, attention.output);
  const perHead = (t: Tensor, h: number) => g.squeeze(g.slice(t, 1, h, h + 1), [1]);
  const headWeights: Tensor[] = [];
  const headOutputs: Tensor[] = [];
  for (let h = 0; h < nHead; h++) {
    headWeights.push(record(options, `${prefix}.head.${h}.weights`, perHead(weights, h)));
    headOutputs.push(record(options, `${prefix}.head.${h}.output`, perHead(heads, h)));
  }
  const merged = g.reshape(g.transpose(heads, [0, 2, 1, 3]), [0, 0, c]);
  let output = linear(g, `${prefix}.c_proj`, merged, {
    inFeatures: c,
    outFeatures: c,
    bias: options.bias ?? true,
    layout: options.layout,
  }).output;
  output = dropout(g, `${prefix}.residual`, output, options.dropout);
  output = record(options, `${prefix}.output`, output);
  return { output, weights, headWeights, heads, headOutputs };
}

export interface MlpOptions extends BlockContext {
  embedDim: number;
  /** Width of the hidden layer; default 4 embedDim. */
  hiddenDim?: number;
  activation: Activation;
  bias?: boolean;
  layout?: LinearLayout;
}

export interface MlpResult {
  output: Tensor;
  /** Expansion `${prefix}.c_fc` before the nonlinearity [B, T, hidden]. */
  preActivation: Tensor;
  /** The nonlinearity's output [B, T, hidden] (the "neurons"). */
  activation: Tensor;
}

/**
 * Position-wise MLP: `${prefix}.c_fc` (C -> hidden), the activation, `${prefix}.c_proj` (hidden -> C). Records
 * `${prefix}.pre_activation`, `${prefix}.activation` and `${prefix}.output`.
 */
export function mlp(g: Graph, prefix: string, x: Tensor, options: MlpOptions): MlpResult {
  const c = options.embedDim;
  const hidden = options.hiddenDim ?? 4 * c;
  const common = { bias: options.bias ?? true, layout: options.layout };
  const expanded = linear(g, `${prefix}.c_fc`, x, { inFeatures: c, outFeatures: hidden, ...common }).output;
  const preActivation = record(options, `${prefix}.pre_activation`, expanded);
  const activation = record(options, `${prefix}.activation`, activate(g, preActivation, options.activation));
  let output = linear(g, `${prefix}.c_proj`, activation, {
    inFeatures: hidden,
    outFeatures: c,
    ...common,
  }).output;
  output = dropout(g, `${prefix}.residual`, output, options.dropout);
  output = record(options, `${prefix}.output`, output);
  return { output, preActivation, activation };
}

export interface TransformerBlockOptions extends BlockContext {
  embedDim: number;
  /** Number of heads; `single` builds the course's one-head block with separate Q, K, V projections. */
  attention: { kind: 'multi'; nHead: number } | { kind: 'single' };
  activation: Activation;
  /** Biases on the attention projections; default true. */
  attentionBias?: boolean;
  /** Biases on the MLP; default true. */
  mlpBias?: boolean;
  queryProjection?: boolean;
  layout?: LinearLayout;
  layerNormEpsilon?: number;
}

export interface TransformerBlockResult {
  /** The residual stream after the block [B, T, C]. */
  output: Tensor;
  /** The residual stream between attention and MLP. */
  afterAttention: Tensor;
  /** Attention weights [B, H, T, T] (multi-head) or [B, T, T] (single head). */
  attentionWeights: Tensor;
  /** Attention weights of each head [B, T, T]. */
  headWeights: Tensor[];
  mlp: MlpResult;
}

/**
 * Builds a pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(.)). Parameters live under
 * `${prefix}.ln_1`, `${prefix}.attn`, `${prefix}.ln_2` and `${prefix}.mlp`, and the block output is recorded
 * as `${prefix}.output`.
 */
export function transformerBlock(
  g: Graph,
  prefix: string,
  x: Tensor,
  options: TransformerBlockOptions,
): TransformerBlockResult {
  const c = options.embedDim;
  const epsilon = options.layerNormEpsilon;
  const context: BlockContext = { recorder: options.recorder, dropout: options.dropout };

  const ln1 = layerNorm(g, `${prefix}.ln_1`, x, { dim: c, epsilon }).output;
  const attentionOptions = {
    ...context,
    embedDim: c,
    bias: options.attentionBias,
    layout: options.layout,
    queryProjection: options.queryProjection,
  };
  let attentionOutput: Tensor;
  let attentionWeights: Tensor;
  let headWeights: Tensor[];
  if (options.attention.kind === 'multi') {
    const result = multiHeadAttention(g, `${prefix}.attn`, ln1, {
      ...attentionOptions,
      nHead: options.attention.nHead,
    });
    attentionOutput = result.output;
    attentionWeights = result.weights;
    headWeights = result.headWeights;
  } else {
    const result = singleHeadAttention(g, `${prefix}.attn`, ln1, attentionOptions);
    attentionOutput = result.output;
    attentionWeights = result.weights;
    headWeights = [result.weights];
  }

  const afterAttention = record(context, `${prefix}.after_attn`, g.add(x, attentionOutput));
  const ln2 = layerNorm(g, `${prefix}.ln_2`, afterAttention, { dim: c, epsilon }).output;
  const mlpResult = mlp(g, `${prefix}.mlp`, ln2, {
    ...context,
    embedDim: c,
    activation: options.activation,
    bias: options.mlpBias,
    layout: options.layout,
  });
  const output = record(context, `${prefix}.output`, g.add(afterAttention, mlpResult.output));
  return { output, afterAttention, attentionWeights, headWeights, mlp: mlpResult };
}
