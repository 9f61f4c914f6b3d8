import { float16Bits } from './float16.js';
import { OPS, type OpDefinition } from './ops.js';
import { type Dim, type DType, formatShape, type Shape, staticSize } from './tensor.js';

/** The origin of a tensor: a graph input, a trainable parameter, or an op. */
export type TensorRole = 'input' | 'parameter' | 'op';

/** A typed handle to a value in a `Graph`. */
export class Tensor {
  constructor(
    readonly graph: Graph,
    /** The ONNX value name; unique within the graph. */
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
    readonly role: TensorRole,
    /** The node that computes this tensor; undefined for inputs and parameters. */
    readonly producer?: GraphNode,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

/** One application of a registered op. */
export interface GraphNode {
  readonly id: number;
  readonly op: OpDefinition;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: Record<string, unknown>;
}

/** Constant data attached to a `constant` node; written as an ONNX initializer. */
/** Constant values; float16 constants are stored as their binary16 bit patterns. */
export type ConstantData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export type TensorLike = Tensor | number;

/**
 * Builds a computation graph out of typed ops. Every op is defined once in the op registry with its ONNX
 * emission, its shape rule and its gradient rule, so the methods here only validate arguments and record nodes.
 */
export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Tensor[] = [];
  readonly parameters: Tensor[] = [];
  readonly outputs = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly scalarCache = new Map<string, Tensor>();
  private counter = 0;

  constructor(readonly name = 'glassbox') {}

  /** Runs `build` with `prefix` prepended to the names of the tensors it creates, as in `h.0.attn`. */
  scope<T>(prefix: string, build: () => T): T {
    this.scopes.push(prefix);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** Declares a graph input that is fed on every run (token ids, targets, the learning rate, ...). */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    const tensor = new Tensor(this, this.claimName(name, true), dtype, [...shape], 'input');
    this.inputs.push(tensor);
    return tensor;
  }

  /**
   * Declares a trainable parameter. Parameters are graph inputs so that one compiled graph serves every
   * step; their values live in buffers owned by the caller.
   */
  parameter(name: string, shape: readonly number[], dtype: DType = 'float32'): Tensor {
    for (const dim of shape) {
      if (!Number.isInteger(dim) || dim <= 0) {
        throw new Error(`parameter "${name}": shape ${formatShape(shape)} must contain positive integers.`);
      }
    }
    const tensor = new Tensor(this, this.claimName(name, true), dtype, [...shape], 'parameter');
    this.parameters.push(tensor);
    return tensor;
  }

  /** Marks a tensor as a graph output under `name`. */
  output(name: string, tensor: Tensor): Tensor {
    if (tensor.graph !== this) throw new Error(`output "${name}": the tensor belongs to another graph.`);
    if (this.outputs.has(name)) throw new Error(`output "${name}" is already defined.`);
    const aliased = this.apply('identity', [tensor], {}, name)[0];
    this.outputs.set(name, aliased);
    return aliased;
  }

  /** A constant tensor. Scalars of the same value and dtype are shared. */
  constant(
    values: ArrayLike<number> | number,
    shape: readonly number[] = [],
    dtype: DType = 'float32',
  ): Tensor {
    const size = staticSize(shape) ?? 0;
    const list = typeof values === 'number' ? [values] : Array.from(values);
    if (list.length !== size) {
      throw new Error(
        `constant: ${list.length} values do not fill shape ${formatShape(shape)} (${size} elements).`,
      );
    }
    const key = shape.length === 0 ? `${dtype}:${Object.is(list[0], -0) ? '-0' : list[0]}` : undefined;
    if (key !== undefined) {
      const cached = this.scalarCache.get(key);
      if (cached) return cached;
    }
    let data: ConstantData;
    if (dtype === 'float32') data = Float32Array.from(list);
    else if (dtype === 'int64') data = BigInt64Array.from(list, (v) => BigInt(Math.trunc(v)));
    else if (dtype === 'int32') data = Int32Array.from(list);
    else if (dtype === 'bool') data = Uint8Array.from(list, (v) => (v ? 1 : 0));
    else if (dtype === 'float16') data = Uint16Array.from(list, float16Bits);
    else throw new Error(`constant: dtype ${dtype} is not supported for constants.`);
    const tensor = this.apply('constant', [], { data, shape: [...shape], dtype })[0];
    if (key !== undefined) this.scalarCache.set(key, tensor);
    return tensor;
  }

  /** Turns a number into a scalar constant of `dtype`; passes tensors through after a graph check. */
  lift(value: TensorLike, dtype: DType = 'float32'): Tensor {
    if (typeof value === 'number') return this.constant(value, [], dtype);
    if (value.graph !== this) throw new Error(`tensor ${value.name} belongs to another graph.`);
    return value;
  }

  /** Records one op application and returns its output tensors. */
  apply(
    opName: string,
    inputs: readonly Tensor[],
    attrs: Record<string, unknown> = {},
    outputName?: string,
  ): Tensor[] {
    const op = OPS.get(opName);
    if (!op) throw new Error(`unknown op "${opName}"; registered ops: ${[...OPS.keys()].join(', ')}.`);
    for (const input of inputs) {
      if (input.graph !== this) throw new Error(`${opName}: input ${input.name} belongs to another graph.`);
    }
    const metas = op.infer(inputs, attrs);
    const id = this.nodes.length;
    const outputs: Tensor[] = [];
    const node: GraphNode = { id, op, inputs: [...inputs], outputs, attrs };
    metas.forEach((meta, i) => {
      const name =
        outputName !== undefined && i === 0
          ? this.claimName(outputName, true)
          : this.claimName(opName, false);
      outputs.push(new Tensor(this, name, meta.dtype, meta.shape, 'op', node));
    });
    this.nodes.push(node);
    return outputs;
  }

  /** Reserves a value name. Exact names (inputs, parameters, outputs) are used as given, without the scope. */
  private claimName(base: string, exact: boolean): string {
    const scoped = !exact && this.scopes.length > 0 ? `${this.scopes.join('.')}.${base}` : base;
    if (exact) {
      if (this.names.has(scoped))
        throw new Error(`the name "${scoped}" is already used in graph ${this.name}.`);
      this.names.add(scoped);
      return scoped;
    }
    let name: string;
    do {
      name = `${scoped}_${this.counter++}`;
    } while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  // ---- element-wise arithmetic ----

  add(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('add', a, b);
  }
  sub(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('sub', a, b);
  }
  mul(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('mul', a, b);
  }
  div(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('div', a, b);
  }
  pow(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('pow', a, b);
  }
  /** Element-wise maximum of two tensors. */
  maximum(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('maximum', a, b);
  }
  /** Element-wise minimum of two tensors. */
  minimum(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('minimum', a, b);
  }
  equal(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('equal', a, b);
  }
  less(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('less', a, b);
  }
  greater(a: TensorLike, b: TensorLike): Tensor {
    return this.binary('greater', a, b);
  }
  neg(x: Tensor): Tensor {
    return this.apply('neg', [x])[0];
  }
  sqrt(x: Tensor): Tensor {
    return this.apply('sqrt', [x])[0];
  }
  exp(x: Tensor): Tensor {
    return this.apply('exp', [x])[0];
  }
  log(x: Tensor): Tensor {
    return this.apply('log', [x])[0];
  }
  tanh(x: Tensor): Tensor {
    return this.apply('tanh', [x])[0];
  }
  erf(x: Tensor): Tensor {
    return this.apply('erf', [x])[0];
  }
  relu(x: Tensor): Tensor {
    return this.apply('relu', [x])[0];
  }
  sigmoid(x: Tensor): Tensor {
    return this.apply('sigmoid', [x])[0];
  }
  abs(x: Tensor): Tensor {
    return this.apply('abs', [x])[0];
  }
  not(x: Tensor): Tensor {
    return this.apply('not', [x])[0];
  }
  identity(x: Tensor): Tensor {
    return this.apply('identity', [x])[0];
  }
  /**
   * GELU. `approximate: 'tanh'` is the form GPT-2 uses (Hugging Face's `gelu_new`); `'none'` is the exact
   * form with erf, as `torch.nn.functional.gelu` computes by default.
   */
  gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
    return this.apply('gelu', [x], { approximate })[0];
  }
  cast(x: Tensor, to: DType): Tensor {
    return this.apply('cast', [x], { to })[0];
  }

  // ---- linear algebra and layout ----

  /** Matrix product with NumPy semantics: batched over leading dimensions, which broadcast. */
  matmul(a: Tensor, b: Tensor): Tensor {
    return this.apply('matmul', [a, b])[0];
  }
  transpose(x: Tensor, perm?: readonly number[]): Tensor {
    const order = perm ?? [...Array(x.rank).keys()].reverse();
    return this.apply('transpose', [x], { perm: [...order] })[0];
  }
  /** Reshape; a 0 copies the input's dimension at that position and one -1 is inferred, as in ONNX. */
  reshape(x: Tensor, shape: readonly number[]): Tensor {
    return this.apply('reshape', [x], { shape: [...shape] })[0];
  }
  unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
    return this.apply('unsqueeze', [x], { axes: [...axes] })[0];
  }
  squeeze(x: Tensor, axes: readonly number[]): Tensor {
    return this.apply('squeeze', [x], { axes: [...axes] })[0];
  }
  /** Broadcasts `x` to the run-time shape of `like`. */
  expandAs(x: Tensor, like: Tensor): Tensor {
    return this.apply('expandAs', [x, like])[0];
  }
  /** Elements `start` to `end` (exclusive) along `axis`; `end` defaults to the end of the axis. */
  slice(x: Tensor, axis: number, start: number, end = Number.POSITIVE_INFINITY): Tensor {
    return this.apply('slice', [x], { axis, start, end })[0];
  }
  concat(tensors: readonly Tensor[], axis: number): Tensor {
    return this.apply('concat', tensors, { axis })[0];
  }
  split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
    return this.apply('split', [x], { axis, sizes: [...sizes] });
  }
  /** Looks up slices of `x` along `axis` (0 for an embedding table) at integer `indices`. */
  gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
    return this.apply('gather', [x, indices], { axis })[0];
  }
  where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
    let dtype: DType = 'float32';
    if (typeof a !== 'number') dtype = a.dtype;
    else if (typeof b !== 'number') dtype = b.dtype;
    return this.apply('where', [condition, this.lift(a, dtype), this.lift(b, dtype)])[0];
  }
  /** Returns the int64 range 0, 1, ..., n - 1, where n is the run-time size of `like` along `axis` (position ids). */
  arange(like: Tensor, axis: number): Tensor {
    return this.apply('arange', [like], { axis })[0];
  }
  /** Returns the run-time shape of `x` as a 1-D int64 tensor. */
  shapeOf(x: Tensor): Tensor {
    return this.apply('shapeOf', [x])[0];
  }

  // ---- reductions ----

  reduceSum(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
    return this.apply('reduceSum', [x], { axes: axes ? [...axes] : undefined, keepDims })[0];
  }
  reduceMean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
    return this.apply('reduceMean', [x], { axes: axes ? [...axes] : undefined, keepDims })[0];
  }
  /** Maximum over `axes`; the gradient is shared equally among tied maxima, as `torch.amax` does. */
  max(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
    return this.apply('max', [x], { axes: axes ? [...axes] : undefined, keepDims })[0];
  }

  // ---- neural-network ops ----

  softmax(x: Tensor, axis = -1): Tensor {
    return this.apply('softmax', [x], { axis })[0];
  }
  logSoftmax(x: Tensor, axis = -1): Tensor {
    return this.apply('logSoftmax', [x], { axis })[0];
  }
  /** Layer normalization over the last dimension, with a scale and a shift of that dimension's size. */
  layerNorm(x: Tensor, weight: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
    return this.apply('layerNorm', [x, weight, bias], { epsilon })[0];
  }
  /**
   * Inverted dropout: zeroes each element where `noise < p` and scales the rest by 1 / (1 - p). `noise` is a
   * uniform [0, 1) tensor of the same shape that the caller feeds from a seeded generator, so masks are
   * reproducible and identical in Node and in browsers.
   */
  dropout(x: Tensor, noise: Tensor, p: number): Tensor {
    if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}.`);
    if (p === 0) return x;
    return this.apply('dropout', [x, noise], { p })[0];
  }
  /**
   * Mean cross-entropy between `logits` [..., V] and integer `targets` [...], skipping targets equal to
   * `ignoreIndex` as `torch.nn.functional.cross_entropy` does (the mean is over the kept targets).
   */
  crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
    return this.apply('crossEntropy', [logits, targets], { ignoreIndex })[0];
  }
  /**
   * Causal masking of attention scores [..., Tq, Tk]: query i attends to keys up to position i + (Tk - Tq), so it
   * also serves queries that follow Tk - Tq cached keys. Masked scores become -Infinity.
   */
  causalMask(scores: Tensor): Tensor {
    return this.apply('causalMask', [scores])[0];
  }

  private binary(opName: string, a: TensorLike, b: TensorLike): Tensor {
    if (typeof a === 'number' && typeof b === 'number') {
      throw new Error(`${opName}: at least one operand must be a tensor.`);
    }
    const dtype = typeof a === 'number' ? (b as Tensor).dtype : a.dtype;
    return this.apply(opName, [this.lift(a, dtype), this.lift(b, dtype)])[0];
  }
}
