/**
 * Inspection of the course models: parameter counts, tensor statistics and histograms, intermediates returned
 * as extra graph outputs, and interventions inserted as graph ops. This is how the forward hooks of PyTorch
 * notebooks map onto a compiled ONNX graph: what a hook would read becomes an output, and what it would
 * change becomes ops between the producer and its consumers.
 */
import { Graph, GraphSession, type Rng, type SessionOptions, type TensorData, toOnnx } from '@glassbox/graph';
import type * as ort from 'onnxruntime-common';
import type { ActivationHook } from './blocks.js';
import {
  buildCourseModel,
  type CourseModelConfig,
  contextLength,
  courseModelParameterShapes,
} from './models.js';
import { type SamplingOptions, sampleToken } from './sampling.js';

// ---------------------------------------------------------------------------------------------------------
// Parameter counts

/** Parameter counts of a model, from its name-to-shape map. */
export interface ParameterCounts {
  total: number;
  /** Elements in tensors named `*.bias`. */
  biases: number;
  /** Elements in every other tensor (weights, embeddings, layer norm scales). */
  weights: number;
  /** Per module: the parameter name without its last segment, such as `h.0.attn.c_attn`. */
  byModule: Map<string, number>;
  /** Per component: token and position embeddings, attention, MLP, layer norms, and an untied head. */
  byComponent: { embeddings: number; attention: number; mlp: number; layerNorm: number; head: number };
}

function componentOf(name: string): keyof ParameterCounts['byComponent'] {
  const segments = name.split('.');
  if (segments[0] === 'wte' || segments[0] === 'wpe') return 'embeddings';
  if (segments[0] === 'lm_head') return 'head';
  if (segments.some((s) => s.startsWith('ln_'))) return 'layerNorm';
  if (segments.includes('mlp')) return 'mlp';
  if (segments.includes('attn')) return 'attention';
  throw new Error(`countParameters: parameter "${name}" belongs to no known component.`);
}

/**
 * Counts parameters per module, per component and in total. A tied unembedding is one entry (`wte.weight`) in
 * the shape maps of this package, so it is counted once, as `sum(p.numel() for p in model.parameters())` does.
 */
export function countParameters(shapes: ReadonlyMap<string, readonly number[]>): ParameterCounts {
  const counts: ParameterCounts = {
    total: 0,
    biases: 0,
    weights: 0,
    byModule: new Map(),
    byComponent: { embeddings: 0, attention: 0, mlp: 0, layerNorm: 0, head: 0 },
  };
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, d) => a * d, 1);
    const module = name.slice(0, Math.max(0, name.lastIndexOf('.')));
    counts.total += size;
    if (name.endsWith('.bias')) counts.biases += size;
    else counts.weights += size;
    counts.byModule.set(module, (counts.byModule.get(module) ?? 0) + size);
    counts.byComponent[componentOf(name)] += size;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Statistics and histograms

export interface TensorStatistics {
  /** Number of finite elements; the other statistics are over these. */
  count: number;
  mean: number;
  /** Population standard deviation (divides by count; torch.std divides by count - 1 unless unbiased=False). */
  std: number;
  min: number;
  max: number;
  /** Mean of the absolute values. */
  absMean: number;
  /** Fraction of all elements that are exactly 0. */
  zeroFraction: number;
  /** Number of NaN or infinite elements, which the other statistics skip. */
  nonFinite: number;
}

/** Summary statistics of a tensor's values, accumulated in float64. Throws on empty input. */
export function tensorStatistics(data: ArrayLike<number>): TensorStatistics {
  const n = data.length;
  if (n === 0) throw new Error('tensorStatistics: the tensor is empty.');
  let count = 0;
  let sum = 0;
  let absSum = 0;
  let zeros = 0;
  let nonFinite = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    count++;
    sum += v;
    absSum += Math.abs(v);
    if (v === 0) zeros++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = count > 0 ? sum / count : Number.NaN;
  // Two passes: the sum of squared deviations stays accurate when the mean is large relative to the spread.
  let squares = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(data[i])) squares += (data[i] - mean) ** 2;
  return {
    count,
    mean,
    std: count > 0 ? Math.sqrt(squares / count) : Number.NaN,
    min: count > 0 ? min : Number.NaN,
    max: count > 0 ? max : Number.NaN,
    absMean: count > 0 ? absSum / count : Number.NaN,
    zeroFraction: zeros / n,
    nonFinite,
  };
}

/** Statistics of every parameter, by name. */
export function parameterStatistics(
  parameters: ReadonlyMap<string, Float32Array>,
): Map<string, TensorStatistics> {
  return new Map([...parameters].map(([name, data]) => [name, tensorStatistics(data)]));
}

export interface Histogram {
  /** `bins + 1` bin edges, evenly spaced. */
  edges: Float64Array;
  counts: Uint32Array;
}

/**
 * Counts values in `bins` equal-width bins over `range` (default: the data's minimum and maximum), as
 * `numpy.histogram` does. Bins are half-open except the last, which includes its right edge. Values outside
 * the range and NaNs are not counted. A range of zero width becomes [value - 0.5, value + 0.5].
 */
export function histogram(
  data: ArrayLike<number>,
  bins: number,
  range?: readonly [number, number],
): Histogram {
  if (!Number.isInteger(bins) || bins <= 0)
    throw new Error(`histogram: bins must be a positive integer, got ${bins}.`);
  let [lo, hi] = range ?? [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  if (!range) {
    for (let i = 0; i < data.length; i++) {
      if (data[i] < lo) lo = data[i];
      if (data[i] > hi) hi = data[i];
    }
    if (lo > hi) [lo, hi] = [0, 1];
  }
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
    throw new Error(`histogram: the range must be finite with min <= max, got [${lo}, ${hi}].`);
  }
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];

  // Edges and bin indices are computed as numpy 1.x computes them (linspace edges, then a correction of the
  // index by comparing with the edges), so values on an edge land in the same bin as in numpy.
  const step = (hi - lo) / bins;
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) edges[i] = i * step + lo;
  edges[bins] = hi;
  const norm = bins / (hi - lo);
  const counts = new Uint32Array(bins);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(v >= lo && v <= hi)) continue;
    let bin = Math.min(bins - 1, Math.floor((v - lo) * norm));
    if (v < edges[bin]) bin--;
    else if (bin !== bins - 1 && v >= edges[bin + 1]) bin++;
    counts[bin]++;
  }
  return { edges, counts };
}

// ---------------------------------------------------------------------------------------------------------
// Interventions

/** A change to the forward pass, inserted as graph ops at a named intermediate. */
export interface Intervention {
  /** The intermediate it changes; building a model without that site is an error. */
  site: string;
  /** Returns the hook to install while the model is built in `g`; it may declare graph inputs. */
  install(g: Graph): ActivationHook;
  /** Values of the graph inputs that `install` declares, fed on every run. */
  feeds?: ReadonlyMap<string, { data: Float32Array; shape: number[] }>;
}

/** Runs several hooks in order, each on the output of the previous one. */
export function composeHooks(hooks: readonly ActivationHook[]): ActivationHook {
  return (site, value) => {
    let current = value;
    for (const hook of hooks) current = hook(site, current) ?? current;
    return current === value ? undefined : current;
  };
}

/**
 * Multiplies the output of one attention head by `factor` before the heads are merged and projected.
 * `attentionPrefix` names a multi-head attention block, such as `h.1.attn` in Model 5.
 */
export function scaleHead(attentionPrefix: string, head: number, factor: number): Intervention {
  const site = `${attentionPrefix}.heads`;
  return {
    site,
    install: (g) => (name, value) => {
      if (name !== site) return undefined;
      const nHead = value.shape[1];
      if (typeof nHead !== 'number' || !Number.isInteger(head) || head < 0 || head >= nHead) {
        throw new Error(`scaleHead: head ${head} is outside [0, ${String(nHead)}) at ${site}.`);
      }
      const multipliers = Array.from({ length: nHead }, (_, h) => (h === head ? factor : 1));
      return g.mul(value, g.constant(multipliers, [1, nHead, 1, 1]));
    },
  };
}

/** Zero-ablates one attention head (see `scaleHead`). */
export function zeroHead(attentionPrefix: string, head: number): Intervention {
  return scaleHead(attentionPrefix, head, 0);
}

/** Multiplies the intermediate at `site` (a hidden state, MLP activations, ...) by `factor`. */
export function scaleActivation(site: string, factor: number): Intervention {
  return {
    site,
    install: (g) => (name, value) => (name === site ? g.mul(value, factor) : undefined),
  };
}

let replacementCounter = 0;

/**
 * Replaces the intermediate at `site` with given values, fed as a graph input on every run. Without `position`,
 * `values` replaces the whole tensor and `shape` must equal the intermediate's run-time shape ([batch, seq,
 * nEmbd] for a hidden state). With `position`, only that sequence position is replaced and `shape` is
 * [batch, nEmbd] (patching the hidden state of one token).
 */
export function replaceActivation(
  site: string,
  values: Float32Array,
  shape: number[],
  options: { position?: number } = {},
): Intervention {
  const size = shape.reduce((a, d) => a * d, 1);
  if (values.length !== size) {
    throw new Error(`replaceActivation: ${values.length} values do not fill shape [${shape}] at ${site}.`);
  }
  const inputName = `intervention.${replacementCounter++}.${site}`;
  return {
    site,
    install: (g) => (name, value) => {
      if (name !== site) return undefined;
      const replacement = g.input(inputName, value.dtype, shape);
      const position = options.position;
      if (position === undefined) return replacement;
      if (value.rank !== 3 || shape.length !== 2) {
        throw new Error(
          `replaceActivation: with a position, ${site} must be [batch, seq, width] and the values [batch, width].`,
        );
      }
      const atPosition = g.unsqueeze(g.equal(g.arange(value, 1), g.constant(position, [], 'int64')), [1]);
      return g.where(atPosition, g.unsqueeze(replacement, [1]), value);
    },
    feeds: new Map([[inputName, { data: values, shape }]]),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Running a model with intermediates

/** A tensor read back from a run. */
export interface CapturedTensor {
  data: Float32Array;
  shape: number[];
}

export interface ForwardResult {
  logits: CapturedTensor;
  /** The requested intermediates, by name. */
  intermediates: Map<string, CapturedTensor>;
}

export interface CourseModelSessionOptions {
  /**
   * Intermediates to return from `forward`, by name (see `listIntermediates`), or `all`. The logits are
   * always returned, as `ForwardResult.logits`.
   */
  capture?: readonly string[] | 'all';
  interventions?: readonly Intervention[];
  session?: SessionOptions;
}

export interface GenerateTextOptions extends SamplingOptions {
  maxNewTokens: number;
  rng: Rng;
}

/** Names of the intermediates that `buildCourseModel` records for `config`, in the order they are computed. */
export function listIntermediates(config: CourseModelConfig): string[] {
  const g = new Graph('intermediates');
  const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence']);
  return [...buildCourseModel(g, config, { inputIds }).intermediates.keys()];
}

/**
 * A course model compiled for inference, with any number of sequences of equal length per run. Parameters are
 * fed from the given buffers on every run, so changing them in place is seen by the next call.
 */
export class CourseModelSession {
  private constructor(
    readonly config: CourseModelConfig,
    readonly session: GraphSession,
    private readonly baseFeeds: Record<string, ort.Tensor>,
    /** Names of the intermediates that `forward` returns. */
    readonly captured: readonly string[],
  ) {}

  static async create(
    config: CourseModelConfig,
    parameters: ReadonlyMap<string, Float32Array>,
    options: CourseModelSessionOptions = {},
  ): Promise<CourseModelSession> {
    const g = new Graph(`model${config.model}-inference`);
    const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence']);
    const interventions = options.interventions ?? [];
    const hook = composeHooks(interventions.map((i) => i.install(g)));
    const model = buildCourseModel(g, config, { inputIds, hook });
    g.output('logits', model.logits);
    for (const intervention of interventions) {
      if (!model.intermediates.has(intervention.site)) {
        throw new Error(
          `CourseModelSession: Model ${config.model} has no intermediate "${intervention.site}" to intervene on; ` +
            `available: ${[...model.intermediates.keys()].join(', ')}.`,
        );
      }
    }
    const requested =
      options.capture === 'all' ? [...model.intermediates.keys()] : [...(options.capture ?? [])];
    const captured: string[] = [];
    for (const name of requested) {
      const tensor = model.intermediates.get(name);
      if (!tensor) {
        throw new Error(
          `CourseModelSession: Model ${config.model} has no intermediate "${name}"; ` +
            `available: ${[...model.intermediates.keys()].join(', ')}.`,
        );
      }
      if (name === 'logits') continue;
      g.output(name, tensor);
      captured.push(name);
    }
    const session = await GraphSession.create(toOnnx(g), options.session);
    const feeds: Record<string, ort.Tensor> = {};
    const inputs = new Set(session.inputNames);
    for (const [name, shape] of courseModelParameterShapes(config)) {
      if (!inputs.has(name)) continue;
      feeds[name] = session.tensor('float32', checkedParameter(parameters, name, shape), shape);
    }
    for (const intervention of interventions) {
      for (const [name, { data, shape }] of intervention.feeds ?? []) {
        if (inputs.has(name)) feeds[name] = session.tensor('float32', data, shape);
      }
    }
    return new CourseModelSession(config, session, feeds, captured);
  }

  /** Runs one forward pass on `ids` ([seq] or [batch][seq], equal lengths) and returns logits and intermediates. */
  async forward(ids: readonly number[] | readonly (readonly number[])[]): Promise<ForwardResult> {
    const rows = (typeof ids[0] === 'number' ? [ids] : ids) as readonly (readonly number[])[];
    const result = await this.session.run(this.feeds(rows), ['logits', ...this.captured]);
    const read = (name: string): CapturedTensor => ({
      data: result[name].data as Float32Array,
      shape: result[name].dims.map(Number),
    });
    return {
      logits: read('logits'),
      intermediates: new Map(this.captured.map((name) => [name, read(name)])),
    };
  }

  /** Logits of the token after `ids`, from the last `contextLength(config)` tokens. */
  async nextTokenLogits(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0)
      throw new Error('CourseModelSession: the context is empty; give at least one token id.');
    const context = ids.slice(-contextLength(this.config));
    const result = await this.session.run(this.feeds([context]), ['logits']);
    const logits = result.logits.data as Float32Array;
    const vocab = this.config.vocabSize;
    return logits.slice(logits.length - vocab);
  }

  /** Samples `maxNewTokens` ids after `prompt`, cropping the context as the course's `generate` does. */
  async generate(prompt: readonly number[], options: GenerateTextOptions): Promise<number[]> {
    const ids = [...prompt];
    const generated: number[] = [];
    for (let i = 0; i < options.maxNewTokens; i++) {
      const next = sampleToken(await this.nextTokenLogits(ids), options.rng, options);
      ids.push(next);
      generated.push(next);
    }
    return generated;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private feeds(rows: readonly (readonly number[])[]): Record<string, ort.Tensor> {
    const seq = rows[0]?.length ?? 0;
    if (seq === 0) throw new Error('CourseModelSession: give at least one token id per sequence.');
    const data = new BigInt64Array(rows.length * seq);
    rows.forEach((row, r) => {
      if (row.length !== seq) {
        throw new Error(`CourseModelSession: sequence ${r} has ${row.length} ids, sequence 0 has ${seq}.`);
      }
      row.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new Error(
            `CourseModelSession: token id ${id} is outside the vocabulary [0, ${this.config.vocabSize}).`,
          );
        }
        data[r * seq + t] = BigInt(id);
      });
    });
    return {
      ...this.baseFeeds,
      input_ids: this.session.tensor('int64', data as TensorData, [rows.length, seq]),
    };
  }
}

function checkedParameter(
  parameters: ReadonlyMap<string, Float32Array>,
  name: string,
  shape: number[],
): Float32Array {
  const data = parameters.get(name);
  if (!data) throw new Error(`CourseModelSession: missing parameter "${name}".`);
  const expected = shape.reduce((a, d) => a * d, 1);
  if (data.length !== expected) {
    throw new Error(
      `CourseModelSession: parameter "${name}" has ${data.length} values, expected ${expected} for shape [${shape}].`,
    );
  }
  return data;
}

/** Compiles `config`, runs one forward pass on `ids` with the interventions, returns the requested intermediates. */
export async function inspectForward(
  config: CourseModelConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  ids: readonly number[] | readonly (readonly number[])[],
  options: CourseModelSessionOptions = {},
): Promise<ForwardResult> {
  const session = await CourseModelSession.create(config, parameters, options);
  try {
    return await session.forward(ids);
  } finally {
    await session.release();
  }
}
