/**
 * The five models of the "Build a GPT" course, each one step up from the last:
 *
 * 1. token embedding -> activation -> linear unembedding (a bigram model);
 * 2. + learned positions, a layer norm, the unembedding tied to the token embedding, logits scaled by
 *    1/sqrt(nEmbd);
 * 3. + one causal attention head between the layer norm and the unembedding;
 * 4. + a stack of pre-LayerNorm transformer blocks with one head each and a final layer norm;
 * 5. + multi-head attention with a fused QKV projection: GPT-2, with Hugging Face's parameter names.
 *
 * Each model has a config type, a parameter-shape function, an init function, a build function that writes
 * the forward pass into a `Graph` and returns the logits with every named intermediate, and a parameter count.
 */
import type { Graph, Rng, Tensor } from '@glassbox/graph';
import {
  type Activation,
  type ActivationHook,
  ActivationRecorder,
  activate,
  type BlockContext,
  dropout,
  embedding,
  type LinearLayout,
  layerNorm,
  linearWeightShape,
  singleHeadAttention,
  transformerBlock,
} from './blocks.js';
import type { DropoutNoise } from './model.js';

/**
 * Initialization: `pytorch` is PyTorch's default for each module (nn.Embedding N(0, 1); nn.Linear weight and
 * bias U(-1/sqrt(in), 1/sqrt(in)), which is kaiming_uniform_ with a = sqrt(5) for the weight; nn.LayerNorm
 * weight 1, bias 0). `gpt2` is GPT-2's: weights and embeddings N(0, 0.02), residual output projections of
 * transformer blocks N(0, 0.02 / sqrt(2 nLayer)), biases 0, layer norms 1 and 0.
 */
export type InitScheme = 'pytorch' | 'gpt2';

/** Model 1: embedding -> activation -> linear unembedding `lm_head` [vocab, nEmbd]. */
export interface Model1Config {
  model: 1;
  vocabSize: number;
  nEmbd: number;
  /** Default `gelu` (exact), as nn.GELU computes. */
  activation?: Activation;
  /** Adds `lm_head.bias`; default false, as the course's nn.Linear(bias=False). */
  headBias?: boolean;
  /** Default `pytorch`. */
  init?: InitScheme;
}

/** Model 2: Model 1 plus learned positions, a layer norm after the activation, weight tying and scaled logits. */
export interface Model2Config {
  model: 2;
  vocabSize: number;
  nEmbd: number;
  /** Context length: the number of learned positions. */
  blockSize: number;
  activation?: Activation;
  /** Uses the token embedding as the unembedding; default true. False adds `lm_head.weight` [vocab, nEmbd]. */
  tieWeights?: boolean;
  /** Multiplies the logits by 1/sqrt(nEmbd); default true. */
  scaleLogits?: boolean;
  layerNormEpsilon?: number;
  init?: InitScheme;
  /** Layout of linear layers; default `linear` (nn.Linear's [out, in]). */
  linearLayout?: LinearLayout;
}

/**
 * Model 3: embeddings -> layer norm -> one causal attention head (separate bias-free Q, K, V projections and an
 * output projection) -> tied unembedding scaled by 1/sqrt(nEmbd). As in the course, there is no residual
 * connection and no MLP yet.
 */
export interface Model3Config {
  model: 3;
  vocabSize: number;
  nEmbd: number;
  blockSize: number;
  /** With false, the queries are the layer-norm outputs themselves; default true. */
  queryProjection?: boolean;
  /** Biases on the attention projections; default false, as the course's head. */
  attentionBias?: boolean;
  tieWeights?: boolean;
  scaleLogits?: boolean;
  layerNormEpsilon?: number;
  init?: InitScheme;
  linearLayout?: LinearLayout;
}

/** Model 4: `nLayer` pre-LN transformer blocks with one attention head each, a final layer norm, tied logits. */
export interface Model4Config {
  model: 4;
  vocabSize: number;
  nEmbd: number;
  blockSize: number;
  nLayer: number;
  /** MLP activation; default `gelu`. */
  activation?: Activation;
  queryProjection?: boolean;
  /** Biases on the attention projections; default false (the MLP always has biases, as nn.Linear). */
  attentionBias?: boolean;
  tieWeights?: boolean;
  /** Default false: Model 4 drops the 1/sqrt(nEmbd) scaling. */
  scaleLogits?: boolean;
  layerNormEpsilon?: number;
  /** Dropout on embeddings, attention weights and residual branches during training; default 0. */
  dropout?: number;
  init?: InitScheme;
  linearLayout?: LinearLayout;
}

/**
 * Model 5: GPT-2. With the defaults it computes exactly what `buildGpt` computes, with the same parameter names.
 */
export interface Model5Config {
  model: 5;
  vocabSize: number;
  nEmbd: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  /** MLP activation; default `gelu-tanh`, GPT-2's `gelu_new`. */
  activation?: Activation;
  queryProjection?: boolean;
  tieWeights?: boolean;
  scaleLogits?: boolean;
  layerNormEpsilon?: number;
  dropout?: number;
  /** Default `gpt2`, the initialization of `initGptParameters`. */
  init?: InitScheme;
  /** Default `conv1d`, GPT-2's [in, out] layout. */
  linearLayout?: LinearLayout;
}

export type CourseModelConfig = Model1Config | Model2Config | Model3Config | Model4Config | Model5Config;

/** Initialization rule of one parameter. */
export type ParameterInit =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; bound: number }
  | { kind: 'constant'; value: number };

/** Shape and initialization of one parameter. */
export interface ParameterSpec {
  shape: number[];
  init: ParameterInit;
}

export interface ModelBuildOptions {
  /** Token ids [batch, seq], int64. */
  inputIds: Tensor;
  /** Noise inputs for dropout; dropout is off when omitted. */
  dropoutNoise?: DropoutNoise;
  /** Called at every named intermediate; may replace it (see `ActivationHook`). */
  hook?: ActivationHook;
  /** Computes logits for the last position only, as generation needs. */
  lastPositionOnly?: boolean;
}

export interface ModelGraph {
  /** Logits [batch, seq, vocab] (or [batch, 1, vocab] with `lastPositionOnly`). */
  logits: Tensor;
  /** Parameters by name, in declaration order. */
  parameters: Map<string, Tensor>;
  /**
   * Named intermediates: `embeddings`, the sites of each block (`h.0.attn.weights`, `h.0.attn.head.1.weights`,
   * `h.0.mlp.activation`, `h.0.output`, ...), `hidden` (the input of the unembedding) and `logits`.
   */
  intermediates: Map<string, Tensor>;
}

// ---------------------------------------------------------------------------------------------------------
// Configuration

function requirePositiveInteger(model: number, key: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw new Error(`Model ${model} config: ${key} must be a positive integer, got ${String(value)}.`);
  }
}

/** Checks a configuration and throws an error that names the invalid field. */
export function validateCourseModelConfig(config: CourseModelConfig): void {
  const model = config.model;
  if (![1, 2, 3, 4, 5].includes(model)) {
    throw new Error(`course model: model must be 1, 2, 3, 4 or 5, got ${String(model)}.`);
  }
  requirePositiveInteger(model, 'vocabSize', config.vocabSize);
  requirePositiveInteger(model, 'nEmbd', config.nEmbd);
  if (config.model !== 1) requirePositiveInteger(model, 'blockSize', config.blockSize);
  if (config.model === 4 || config.model === 5) requirePositiveInteger(model, 'nLayer', config.nLayer);
  if (config.model === 5) {
    requirePositiveInteger(model, 'nHead', config.nHead);
    if (config.nEmbd % config.nHead !== 0) {
      throw new Error(
        `Model 5 config: nEmbd (${config.nEmbd}) must be divisible by nHead (${config.nHead}).`,
      );
    }
  }
  if (config.model === 4 || config.model === 5) {
    const p = config.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new Error(`Model ${model} config: dropout must be in [0, 1), got ${p}.`);
  }
  if (config.model !== 1) {
    const epsilon = config.layerNormEpsilon ?? 1e-5;
    if (!(epsilon > 0)) {
      throw new Error(`Model ${model} config: layerNormEpsilon must be positive, got ${epsilon}.`);
    }
  }
}

function initScheme(config: CourseModelConfig): InitScheme {
  return config.init ?? (config.model === 5 ? 'gpt2' : 'pytorch');
}

function linearLayout(config: CourseModelConfig): LinearLayout {
  if (config.model === 1) return 'linear';
  return config.linearLayout ?? (config.model === 5 ? 'conv1d' : 'linear');
}

/** Maximum context length: `blockSize`, or 1 for Model 1, whose logits depend on the last token only. */
export function contextLength(config: CourseModelConfig): number {
  return config.model === 1 ? 1 : config.blockSize;
}

// ---------------------------------------------------------------------------------------------------------
// Parameter specifications

class SpecBuilder {
  readonly specs = new Map<string, ParameterSpec>();

  constructor(
    readonly scheme: InitScheme,
    readonly layout: LinearLayout,
    /** Number of residual blocks, for GPT-2's scaled output projections; 0 for models without blocks. */
    readonly residualLayers: number,
  ) {}

  embedding(prefix: string, count: number, dim: number): void {
    const std = this.scheme === 'gpt2' ? 0.02 : 1;
    this.specs.set(`${prefix}.weight`, { shape: [count, dim], init: { kind: 'normal', std } });
  }

  linear(prefix: string, inFeatures: number, outFeatures: number, bias: boolean, residual = false): void {
    const shape = linearWeightShape(inFeatures, outFeatures, this.layout);
    this.specs.set(`${prefix}.weight`, { shape, init: this.weightInit(inFeatures, residual) });
    if (bias) this.specs.set(`${prefix}.bias`, { shape: [outFeatures], init: this.biasInit(inFeatures) });
  }

  /** Adds an unembedding [vocab, nEmbd] in nn.Linear's layout whatever the model's layout, as GPT-2's lm_head. */
  head(vocabSize: number, nEmbd: number, bias: boolean): void {
    this.specs.set('lm_head.weight', { shape: [vocabSize, nEmbd], init: this.weightInit(nEmbd, false) });
    if (bias) this.specs.set('lm_head.bias', { shape: [vocabSize], init: this.biasInit(nEmbd) });
  }

  layerNorm(prefix: string, dim: number): void {
    this.specs.set(`${prefix}.weight`, { shape: [dim], init: { kind: 'constant', value: 1 } });
    this.specs.set(`${prefix}.bias`, { shape: [dim], init: { kind: 'constant', value: 0 } });
  }

  private weightInit(inFeatures: number, residual: boolean): ParameterInit {
    if (this.scheme === 'pytorch') return { kind: 'uniform', bound: 1 / Math.sqrt(inFeatures) };
    const std = residual && this.residualLayers > 0 ? 0.02 / Math.sqrt(2 * this.residualLayers) : 0.02;
    return { kind: 'normal', std };
  }

  private biasInit(inFeatures: number): ParameterInit {
    if (this.scheme === 'pytorch') return { kind: 'uniform', bound: 1 / Math.sqrt(inFeatures) };
    return { kind: 'constant', value: 0 };
  }
}

/**
 * Lists every parameter of a model with its shape and initialization, in declaration order. Tied weights appear once
 * (the tied unembedding is `wte.weight`). Model 5's order is `gptParameterShapes`'s order.
 */
export function courseModelParameterSpecs(config: CourseModelConfig): Map<string, ParameterSpec> {
  validateCourseModelConfig(config);
  const c = config.nEmbd;
  const layers = config.model === 4 || config.model === 5 ? config.nLayer : 0;
  const b = new SpecBuilder(initScheme(config), linearLayout(config), layers);
  b.embedding('wte', config.vocabSize, c);
  if (config.model === 1) {
    b.head(config.vocabSize, c, config.headBias ?? false);
    return b.specs;
  }
  b.embedding('wpe', config.blockSize, c);
  if (config.model === 2) {
    b.layerNorm('ln_f', c);
  } else if (config.model === 3) {
    const bias = config.attentionBias ?? false;
    b.layerNorm('ln_1', c);
    if (config.queryProjection !== false) b.linear('attn.q_proj', c, c, bias);
    b.linear('attn.k_proj', c, c, bias);
    b.linear('attn.v_proj', c, c, bias);
    b.linear('attn.c_proj', c, c, bias);
  } else {
    for (let i = 0; i < config.nLayer; i++) {
      const p = `h.${i}`;
      const withQuery = config.queryProjection !== false;
      b.layerNorm(`${p}.ln_1`, c);
      if (config.model === 5) {
        b.linear(`${p}.attn.c_attn`, c, (withQuery ? 3 : 2) * c, true);
        b.linear(`${p}.attn.c_proj`, c, c, true, true);
      } else {
        const bias = config.attentionBias ?? false;
        if (withQuery) b.linear(`${p}.attn.q_proj`, c, c, bias);
        b.linear(`${p}.attn.k_proj`, c, c, bias);
        b.linear(`${p}.attn.v_proj`, c, c, bias);
        b.linear(`${p}.attn.c_proj`, c, c, bias, true);
      }
      b.layerNorm(`${p}.ln_2`, c);
      b.linear(`${p}.mlp.c_fc`, c, 4 * c, true);
      b.linear(`${p}.mlp.c_proj`, 4 * c, c, true, true);
    }
    b.layerNorm('ln_f', c);
  }
  if (config.tieWeights === false) b.head(config.vocabSize, c, false);
  return b.specs;
}

/** Parameter names and shapes, in declaration order. */
export function courseModelParameterShapes(config: CourseModelConfig): Map<string, number[]> {
  return new Map([...courseModelParameterSpecs(config)].map(([name, spec]) => [name, spec.shape]));
}

/** Total number of parameters; a tied unembedding is counted once. */
export function countCourseModelParameters(config: CourseModelConfig): number {
  let total = 0;
  for (const { shape } of courseModelParameterSpecs(config).values())
    total += shape.reduce((a, d) => a * d, 1);
  return total;
}

/** Draws every parameter from `rng` in declaration order, following the config's `init` scheme. */
export function initCourseModelParameters(config: CourseModelConfig, rng: Rng): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  for (const [name, { shape, init }] of courseModelParameterSpecs(config)) {
    const data = new Float32Array(shape.reduce((a, d) => a * d, 1));
    if (init.kind === 'normal') rng.fillNormal(data, 0, init.std);
    else if (init.kind === 'uniform') rng.fillUniform(data, -init.bound, init.bound);
    else data.fill(init.value);
    values.set(name, data);
  }
  return values;
}

// ---------------------------------------------------------------------------------------------------------
// Forward pass

/**
 * Writes the forward pass of a course model into `g` and returns its logits, parameters and named
 * intermediates. Parameters are declared with the names of `courseModelParameterShapes`.
 */
export function buildCourseModel(
  g: Graph,
  config: CourseModelConfig,
  options: ModelBuildOptions,
): ModelGraph {
  validateCourseModelConfig(config);
  const inputIds = options.inputIds;
  if (inputIds.rank !== 2)
    throw new Error(`Model ${config.model}: inputIds must be [batch, seq], got ${inputIds}.`);
  const seq = inputIds.shape[1];
  if (config.model !== 1 && typeof seq === 'number' && seq > config.blockSize) {
    throw new Error(`Model ${config.model}: sequence length ${seq} exceeds blockSize ${config.blockSize}.`);
  }
  const recorder = new ActivationRecorder(options.hook);
  const p = config.model === 4 || config.model === 5 ? (config.dropout ?? 0) : 0;
  const context: BlockContext = {
    recorder,
    dropout: p > 0 && options.dropoutNoise ? { p, noise: options.dropoutNoise } : undefined,
  };
  const declaredBefore = g.parameters.length;
  const c = config.nEmbd;
  const layout = linearLayout(config);
  const epsilon = config.model === 1 ? 1e-5 : (config.layerNormEpsilon ?? 1e-5);

  const tokens = embedding(g, 'wte', inputIds, { numEmbeddings: config.vocabSize, embeddingDim: c });
  let x: Tensor;
  if (config.model === 1) {
    x = recorder.record('embeddings', tokens.output);
  } else {
    const positions = embedding(g, 'wpe', g.arange(inputIds, 1), {
      numEmbeddings: config.blockSize,
      embeddingDim: c,
    });
    x = g.scope('embeddings', () => g.add(tokens.output, positions.output));
    x = recorder.record('embeddings', dropout(g, 'embeddings', x, context.dropout));
  }

  let hidden: Tensor;
  switch (config.model) {
    case 1:
      hidden = recorder.record('activation', activate(g, x, config.activation ?? 'gelu'));
      break;
    case 2: {
      const activated = recorder.record('activation', activate(g, x, config.activation ?? 'gelu'));
      hidden = layerNorm(g, 'ln_f', activated, { dim: c, epsilon }).output;
      break;
    }
    case 3: {
      const normed = recorder.record('ln_1', layerNorm(g, 'ln_1', x, { dim: c, epsilon }).output);
      // The course's notebook multiplies element-wise (y *= W0(y)); this is the projection y = W0(y) that
      // its later models use.
      hidden = singleHeadAttention(g, 'attn', normed, {
        ...context,
        embedDim: c,
        bias: config.attentionBias ?? false,
        layout,
        queryProjection: config.queryProjection,
      }).output;
      break;
    }
    default: {
      for (let i = 0; i < config.nLayer; i++) {
        const prefix = `h.${i}`;
        x = g.scope(prefix, () =>
          transformerBlock(g, prefix, x, {
            ...context,
            embedDim: c,
            attention: config.model === 5 ? { kind: 'multi', nHead: config.nHead } : { kind: 'single' },
            activation: config.activation ?? (config.model === 5 ? 'gelu-tanh' : 'gelu'),
            attentionBias: config.model === 5 ? true : (config.attentionBias ?? false),
            mlpBias: true,
            queryProjection: config.queryProjection,
            layout,
            layerNormEpsilon: epsilon,
          }),
        ).output;
      }
      hidden = layerNorm(g, 'ln_f', x, { dim: c, epsilon }).output;
    }
  }
  hidden = recorder.record('hidden', hidden);
  if (options.lastPositionOnly) hidden = g.slice(hidden, 1, -1);

  const tied = config.model !== 1 && config.tieWeights !== false;
  const unembedding = tied ? tokens.weight : g.parameter('lm_head.weight', [config.vocabSize, c]);
  let logits = g.matmul(hidden, g.transpose(unembedding, [1, 0]));
  if (config.model === 1 && config.headBias) {
    logits = g.add(logits, g.parameter('lm_head.bias', [config.vocabSize]));
  }
  const scale =
    config.model === 1 ? false : (config.scaleLogits ?? (config.model === 2 || config.model === 3));
  if (scale) logits = g.mul(logits, 1 / Math.sqrt(c));
  logits = recorder.record('logits', logits);

  const parameters = collectParameters(g, config, declaredBefore);
  return { logits, parameters, intermediates: recorder.values };
}

/** Checks that the build declared exactly the parameters of the specification, with the same shapes. */
function collectParameters(g: Graph, config: CourseModelConfig, declaredBefore: number): Map<string, Tensor> {
  const expected = courseModelParameterShapes(config);
  const declared = g.parameters.slice(declaredBefore);
  const parameters = new Map(declared.map((t) => [t.name, t]));
  const mismatch =
    declared.length !== expected.size ||
    declared.some((t) => expected.get(t.name)?.join(',') !== (t.shape as number[]).join(','));
  if (mismatch) {
    const describe = (entries: [string, readonly unknown[]][]) =>
      entries.map(([name, shape]) => `${name}[${shape}]`).join(', ');
    throw new Error(
      `Model ${config.model}: the graph declares ${describe(declared.map((t) => [t.name, t.shape]))} ` +
        `but the specification lists ${describe([...expected])}.`,
    );
  }
  return parameters;
}
