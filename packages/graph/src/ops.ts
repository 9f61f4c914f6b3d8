/**
 * The op registry. Each op is defined once: its shape rule (`infer`), its ONNX emission (`emit`) and its
 * gradient rule (`grad`, a vector-Jacobian product written with the same graph ops, so the backward pass is
 * ordinary ONNX). Ops that have no gradient give the reason in `noGradient`.
 */
import { attr, type Emitter } from './emit.js';
import type { Graph, GraphNode, Tensor } from './graph.js';
import {
  broadcastShapes,
  type Dim,
  type DType,
  formatShape,
  isFloatDType,
  normalizeAxis,
  type Shape,
  staticSize,
} from './tensor.js';

export interface TensorMeta {
  dtype: DType;
  shape: Dim[];
}

/** Arguments of a gradient rule. */
export interface GradientArgs {
  graph: Graph;
  node: GraphNode;
  /** Gradients of the loss with respect to each output; undefined where an output does not reach the loss. */
  gradOutputs: readonly (Tensor | undefined)[];
  /** Flags of the inputs that need a gradient; rules may skip the others. */
  needsGradient: readonly boolean[];
}

export interface OpDefinition {
  readonly name: string;
  infer(inputs: readonly Tensor[], attrs: Record<string, unknown>): TensorMeta[];
  emit(e: Emitter, node: GraphNode): void;
  /** Returns one gradient per input (undefined for none). */
  grad?: (args: GradientArgs) => (Tensor | undefined)[];
  /** The reason the op has no gradient rule, shown when autodiff needs one. */
  noGradient?: string;
}

/** Every registered op, by name. */
export const OPS = new Map<string, OpDefinition>();

/**
 * Registers an op. A second definition of a name, or one without a gradient rule or `noGradient` reason, throws.
 * Ops defined outside this file become available to `Graph.apply` once their module is imported.
 */
export function defineOp(op: OpDefinition): void {
  if (OPS.has(op.name)) throw new Error(`op "${op.name}" is defined twice.`);
  if (!op.grad && !op.noGradient)
    throw new Error(`op "${op.name}" needs a gradient rule or a noGradient reason.`);
  OPS.set(op.name, op);
}

const names = (tensors: readonly Tensor[]) => tensors.map((t) => t.name);

function requireFloat(op: string, x: Tensor): void {
  if (!isFloatDType(x.dtype)) throw new Error(`${op}: expected a float tensor, got ${x}.`);
}

function requireSameDType(op: string, inputs: readonly Tensor[]): DType {
  const dtype = inputs[0].dtype;
  for (const t of inputs) {
    if (t.dtype !== dtype)
      throw new Error(`${op}: dtypes differ (${inputs.map(String).join(', ')}); cast one of them.`);
  }
  return dtype;
}

function resolveAxes(axes: unknown, rank: number, op: string): number[] {
  const list =
    axes === undefined ? [...Array(rank).keys()] : (axes as number[]).map((a) => normalizeAxis(a, rank, op));
  return [...new Set(list)].sort((a, b) => a - b);
}

function reducedShape(shape: Shape, axes: number[], keepDims: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/**
 * Sums a broadcast gradient back to the shape of `target`: over leading axes that broadcasting added and over
 * axes where `target` has size 1 and the gradient does not.
 */
export function unbroadcast(graph: Graph, grad: Tensor, target: Tensor): Tensor {
  let g = grad;
  const extra = g.rank - target.rank;
  if (extra > 0) g = graph.reduceSum(g, [...Array(extra).keys()], false);
  const axes: number[] = [];
  target.shape.forEach((d, i) => {
    if (d === 1 && g.shape[i] !== 1) axes.push(i);
  });
  if (axes.length > 0) g = graph.reduceSum(g, axes, true);
  return g;
}

// ---------------------------------------------------------------------------------------------------------
// Element-wise binary ops

function binaryInfer(op: string, logical = false) {
  return (inputs: readonly Tensor[]): TensorMeta[] => {
    const dtype = requireSameDType(op, inputs);
    return [
      { dtype: logical ? 'bool' : dtype, shape: broadcastShapes(inputs[0].shape, inputs[1].shape, op) },
    ];
  };
}

function defineBinary(
  name: string,
  onnxOp: string,
  grad:
    | ((args: GradientArgs, a: Tensor, b: Tensor, g: Tensor, out: Tensor) => (Tensor | undefined)[])
    | undefined,
) {
  defineOp({
    name,
    infer: binaryInfer(name, grad === undefined),
    emit: (e, n) => e.node(onnxOp, names(n.inputs), names(n.outputs)),
    grad: grad
      ? (args) => {
          const [a, b] = args.node.inputs;
          const g = args.gradOutputs[0]!;
          const [ga, gb] = grad(args, a, b, g, args.node.outputs[0]);
          return [
            ga && args.needsGradient[0] ? unbroadcast(args.graph, ga, a) : undefined,
            gb && args.needsGradient[1] ? unbroadcast(args.graph, gb, b) : undefined,
          ];
        }
      : undefined,
    noGradient: grad ? undefined : 'its output is boolean',
  });
}

defineBinary('add', 'Add', (_args, _a, _b, g) => [g, g]);
defineBinary('sub', 'Sub', ({ graph }, _a, _b, g, _o) => [g, graph.neg(g)]);
defineBinary('mul', 'Mul', ({ graph, needsGradient }, a, b, g) => [
  needsGradient[0] ? graph.mul(g, b) : undefined,
  needsGradient[1] ? graph.mul(g, a) : undefined,
]);
defineBinary('div', 'Div', ({ graph, needsGradient }, _a, b, g, out) => [
  needsGradient[0] ? graph.div(g, b) : undefined,
  needsGradient[1] ? graph.neg(graph.div(graph.mul(g, out), b)) : undefined,
]);
defineBinary('pow', 'Pow', ({ graph, needsGradient }, a, b, g, out) => [
  needsGradient[0] ? graph.mul(g, graph.mul(b, graph.pow(a, graph.sub(b, 1)))) : undefined,
  needsGradient[1] ? graph.mul(g, graph.mul(out, graph.log(a))) : undefined,
]);

/** Routes the gradient of an element-wise max or min: the winner takes it, ties split it equally (PyTorch). */
function selectGrad(graph: Graph, a: Tensor, b: Tensor, g: Tensor, aWins: Tensor) {
  const tie = graph.equal(a, b);
  const shareA = graph.where(aWins, 1, graph.where(tie, 0.5, 0));
  const shareB = graph.sub(1, shareA);
  return [graph.mul(g, shareA), graph.mul(g, shareB)];
}

defineBinary('maximum', 'Max', ({ graph }, a, b, g) => selectGrad(graph, a, b, g, graph.greater(a, b)));
defineBinary('minimum', 'Min', ({ graph }, a, b, g) => selectGrad(graph, a, b, g, graph.less(a, b)));
defineBinary('equal', 'Equal', undefined);
defineBinary('less', 'Less', undefined);
defineBinary('greater', 'Greater', undefined);

// ---------------------------------------------------------------------------------------------------------
// Element-wise unary ops

function defineUnary(
  name: string,
  onnxOp: string,
  grad: ((graph: Graph, x: Tensor, out: Tensor, g: Tensor) => Tensor | undefined) | string,
) {
  defineOp({
    name,
    infer: ([x]) => {
      if (typeof grad !== 'string') requireFloat(name, x);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    emit: (e, n) => e.node(onnxOp, names(n.inputs), names(n.outputs)),
    grad:
      typeof grad === 'string'
        ? undefined
        : ({ graph, node, gradOutputs }) => [grad(graph, node.inputs[0], node.outputs[0], gradOutputs[0]!)],
    noGradient: typeof grad === 'string' ? grad : undefined,
  });
}

defineUnary('neg', 'Neg', (graph, _x, _o, g) => graph.neg(g));
defineUnary('sqrt', 'Sqrt', (graph, _x, out, g) => graph.div(g, graph.mul(out, 2)));
defineUnary('exp', 'Exp', (graph, _x, out, g) => graph.mul(g, out));
defineUnary('log', 'Log', (graph, x, _o, g) => graph.div(g, x));
defineUnary('tanh', 'Tanh', (graph, _x, out, g) => graph.mul(g, graph.sub(1, graph.mul(out, out))));
defineUnary('erf', 'Erf', (graph, x, _o, g) =>
  graph.mul(g, graph.mul(2 / Math.sqrt(Math.PI), graph.exp(graph.neg(graph.mul(x, x))))),
);
// PyTorch's convention: the derivative of relu at 0 is 0.
defineUnary('relu', 'Relu', (graph, x, _o, g) => graph.where(graph.greater(x, 0), g, 0));
defineUnary('sigmoid', 'Sigmoid', (graph, _x, out, g) => graph.mul(g, graph.mul(out, graph.sub(1, out))));
defineUnary('abs', 'Abs', (graph, x, _o, g) => graph.mul(g, graph.apply('sign', [x])[0]));
defineUnary('sign', 'Sign', () => undefined);
defineUnary('not', 'Not', 'its output is boolean');

defineOp({
  name: 'identity',
  infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape] }],
  emit: (e, n) => e.node('Identity', names(n.inputs), names(n.outputs)),
  grad: ({ gradOutputs }) => [gradOutputs[0]],
});

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_COEFF = 0.044715;

/**
 * GELU is x * gate(x). The exact gate is Phi(x) = 0.5 (1 + erf(x / sqrt(2))). The tanh form's gate is
 * 0.5 (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), which equals sigmoid(2u); written with the
 * sigmoid it takes 6 element-wise passes instead of 8, and its gradient 8 instead of 11.
 *
 * The second output is the gate, which the gradient rule reuses. Where nothing reads it, as in an inference
 * graph, the exact form is emitted as the pattern that ONNX Runtime fuses into a single Gelu kernel.
 */
defineOp({
  name: 'gelu',
  infer: ([x]) => {
    requireFloat('gelu', x);
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: x.dtype, shape: [...x.shape] },
    ];
  },
  emit: (e, n) => {
    const x = n.inputs[0].name;
    const dtype = n.inputs[0].dtype as 'float32' | 'float16';
    const [y, gate] = names(n.outputs);
    if (n.attrs.approximate === 'tanh') {
      // x * sigmoid(x (2 sqrt(2/pi) + 2 sqrt(2/pi) 0.044715 x^2))
      const square = e.temp('gelu_square');
      const scaledSquare = e.temp('gelu_scaled_square');
      const slope = e.temp('gelu_slope');
      const z = e.temp('gelu_z');
      e.node('Mul', [x, x], [square]);
      e.node('Mul', [square, e.float(2 * SQRT_2_OVER_PI * GELU_TANH_COEFF, dtype)], [scaledSquare]);
      e.node('Add', [scaledSquare, e.float(2 * SQRT_2_OVER_PI, dtype)], [slope]);
      e.node('Mul', [x, slope], [z]);
      e.node('Sigmoid', [z], [gate]);
      e.node('Mul', [x, gate], [y]);
      return;
    }
    // 0.5 (1 + erf(x / sqrt(2))) times x
    const scaled = e.temp('gelu_scaled');
    const erf = e.temp('gelu_erf');
    const onePlus = e.temp('gelu_one_plus');
    e.node('Div', [x, e.float(Math.SQRT2, dtype)], [scaled]);
    e.node('Erf', [scaled], [erf]);
    e.node('Add', [erf, e.float(1, dtype)], [onePlus]);
    if (e.isRead(gate)) {
      e.node('Mul', [onePlus, e.float(0.5, dtype)], [gate]);
      e.node('Mul', [x, gate], [y]);
    } else {
      const half = e.temp('gelu_half');
      e.node('Mul', [x, e.float(0.5, dtype)], [half]);
      e.node('Mul', [half, onePlus], [y]);
    }
  },
  grad: ({ graph, node, gradOutputs }) => {
    const x = node.inputs[0];
    const [y, gate] = node.outputs;
    const g = gradOutputs[0]!;
    let slope: Tensor;
    if (node.attrs.approximate === 'tanh') {
      // With y = x sigmoid(z) and z = 2 sqrt(2/pi) (x + 0.044715 x^3):
      // dy/dx = gate + y (1 - gate) dz/dx, dz/dx = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2).
      const dz = graph.add(
        graph.mul(graph.mul(x, x), 6 * SQRT_2_OVER_PI * GELU_TANH_COEFF),
        2 * SQRT_2_OVER_PI,
      );
      slope = graph.add(gate, graph.mul(graph.mul(y, graph.sub(1, gate)), dz));
    } else {
      // dy/dx = Phi(x) + x phi(x), with phi the standard normal density.
      const pdf = graph.mul(graph.exp(graph.mul(graph.mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      slope = graph.add(gate, graph.mul(x, pdf));
    }
    return [graph.mul(g, slope)];
  },
});

const ONNX_TYPE_CODES: Record<DType, number> = { float32: 1, float16: 10, int64: 7, int32: 6, bool: 9 };

defineOp({
  name: 'cast',
  infer: ([x], attrs) => [{ dtype: attrs.to as DType, shape: [...x.shape] }],
  emit: (e, n) =>
    e.node('Cast', names(n.inputs), names(n.outputs), { to: attr.int(ONNX_TYPE_CODES[n.attrs.to as DType]) }),
  grad: ({ graph, node, gradOutputs }) => {
    const x = node.inputs[0];
    if (!isFloatDType(x.dtype)) return [undefined];
    return [graph.cast(gradOutputs[0]!, x.dtype)];
  },
});

defineOp({
  name: 'constant',
  infer: (_inputs, attrs) => [{ dtype: attrs.dtype as DType, shape: [...(attrs.shape as number[])] }],
  emit: (e, n) =>
    e.initializer(
      n.outputs[0].name,
      n.attrs.dtype as DType,
      n.attrs.shape as number[],
      n.attrs.data as ArrayBufferView,
    ),
  noGradient: 'a constant has no inputs',
});

// ---------------------------------------------------------------------------------------------------------
// Linear algebra and layout

function swapLastTwo(graph: Graph, x: Tensor): Tensor {
  const perm = [...Array(x.rank).keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return graph.transpose(x, perm);
}

defineOp({
  name: 'matmul',
  infer: ([a, b]) => {
    requireSameDType('matmul', [a, b]);
    if (a.rank < 2 || b.rank < 2) {
      throw new Error(`matmul: both operands need rank >= 2, got ${a} and ${b}; unsqueeze vectors first.`);
    }
    const k1 = a.shape[a.rank - 1];
    const k2 = b.shape[b.rank - 2];
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new Error(`matmul: inner dimensions differ: ${a} times ${b}.`);
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
    return [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]] }];
  },
  emit: (e, n) => e.node('MatMul', names(n.inputs), names(n.outputs)),
  grad: ({ graph, node, gradOutputs, needsGradient }) => {
    const [a, b] = node.inputs;
    const g = gradOutputs[0]!;
    let ga: Tensor | undefined;
    let gb: Tensor | undefined;
    if (needsGradient[0]) ga = unbroadcast(graph, graph.matmul(g, swapLastTwo(graph, b)), a);
    if (needsGradient[1]) {
      if (b.rank === 2 && a.rank > 2) {
        // A weight shared across the batch: one [K, M*] x [M*, N] product instead of a batched one and a sum.
        const k = a.shape[a.rank - 1] as number;
        const nOut = b.shape[1] as number;
        const a2 = graph.reshape(a, [-1, k]);
        const g2 = graph.reshape(g, [-1, nOut]);
        gb = graph.matmul(graph.transpose(a2, [1, 0]), g2);
      } else {
        gb = unbroadcast(graph, graph.matmul(swapLastTwo(graph, a), g), b);
      }
    }
    return [ga, gb];
  },
});

defineOp({
  name: 'transpose',
  infer: ([x], attrs) => {
    const perm = attrs.perm as number[];
    const sorted = [...perm].sort((p, q) => p - q);
    if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) {
      throw new Error(`transpose: ${formatShape(perm)} is not a permutation of the axes of ${x}.`);
    }
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  emit: (e, n) =>
    e.node('Transpose', names(n.inputs), names(n.outputs), { perm: attr.ints(n.attrs.perm as number[]) }),
  grad: ({ graph, node, gradOutputs }) => {
    const perm = node.attrs.perm as number[];
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [graph.transpose(gradOutputs[0]!, inverse)];
  },
});

let symbolCounter = 0;
function freshSymbol(hint: string): string {
  return `${hint}_${symbolCounter++}`;
}

defineOp({
  name: 'reshape',
  infer: ([x], attrs) => {
    const target = attrs.shape as number[];
    if (target.filter((d) => d === -1).length > 1)
      throw new Error(`reshape: at most one -1 in ${formatShape(target)}.`);
    const out: Dim[] = target.map((d, i) => {
      if (d === 0) {
        if (i >= x.rank)
          throw new Error(`reshape: 0 at position ${i} copies a dimension that ${x} does not have.`);
        return x.shape[i];
      }
      if (d < -1 || !Number.isInteger(d))
        throw new Error(`reshape: invalid dimension ${d} in ${formatShape(target)}.`);
      return d;
    });
    const inferred = out.indexOf(-1);
    const total = staticSize(x.shape);
    if (inferred >= 0) {
      const known = staticSize(out.filter((_, i) => i !== inferred));
      if (total !== undefined && known !== undefined) {
        if (known === 0 || total % known !== 0) {
          throw new Error(`reshape: ${x} cannot be reshaped to ${formatShape(target)}.`);
        }
        out[inferred] = total / known;
      } else {
        out[inferred] = freshSymbol('reshaped');
      }
    } else {
      const size = staticSize(out);
      if (total !== undefined && size !== undefined && total !== size) {
        throw new Error(`reshape: ${x} has ${total} elements but ${formatShape(target)} has ${size}.`);
      }
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (e, n) => e.node('Reshape', [n.inputs[0].name, e.int64(n.attrs.shape as number[])], names(n.outputs)),
  grad: ({ graph, node, gradOutputs }) => [graph.apply('reshapeAs', [gradOutputs[0]!, node.inputs[0]])[0]],
});

defineOp({
  name: 'reshapeAs',
  infer: ([x, like]) => [{ dtype: x.dtype, shape: [...like.shape] }],
  emit: (e, n) => {
    const shape = e.temp('shape');
    e.node('Shape', [n.inputs[1].name], [shape]);
    e.node('Reshape', [n.inputs[0].name, shape], names(n.outputs));
  },
  grad: ({ graph, node, gradOutputs }) => [
    graph.apply('reshapeAs', [gradOutputs[0]!, node.inputs[0]])[0],
    undefined,
  ],
});

defineOp({
  name: 'unsqueeze',
  infer: ([x], attrs) => {
    const rank = x.rank + (attrs.axes as number[]).length;
    const axes = (attrs.axes as number[]).map((a) => normalizeAxis(a, rank, 'unsqueeze'));
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x.shape[j++]);
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (e, n) =>
    e.node('Unsqueeze', [n.inputs[0].name, e.int64(n.attrs.axes as number[])], names(n.outputs)),
  grad: ({ graph, node, gradOutputs }) => [graph.apply('reshapeAs', [gradOutputs[0]!, node.inputs[0]])[0]],
});

defineOp({
  name: 'squeeze',
  infer: ([x], attrs) => {
    const axes = resolveAxes(attrs.axes, x.rank, 'squeeze');
    for (const a of axes) {
      if (x.shape[a] !== 1 && typeof x.shape[a] === 'number') {
        throw new Error(`squeeze: axis ${a} of ${x} has size ${x.shape[a]}, not 1.`);
      }
    }
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
  emit: (e, n) => e.node('Squeeze', [n.inputs[0].name, e.int64(n.attrs.axes as number[])], names(n.outputs)),
  grad: ({ graph, node, gradOutputs }) => [graph.apply('reshapeAs', [gradOutputs[0]!, node.inputs[0]])[0]],
});

defineOp({
  name: 'expandAs',
  infer: ([x, like]) => [{ dtype: x.dtype, shape: broadcastShapes(x.shape, like.shape, 'expandAs') }],
  emit: (e, n) => {
    const shape = e.temp('shape');
    e.node('Shape', [n.inputs[1].name], [shape]);
    e.node('Expand', [n.inputs[0].name, shape], names(n.outputs));
  },
  grad: ({ graph, node, gradOutputs }) => [unbroadcast(graph, gradOutputs[0]!, node.inputs[0]), undefined],
});

defineOp({
  name: 'shapeOf',
  infer: ([x]) => [{ dtype: 'int64', shape: [x.rank] }],
  emit: (e, n) => e.node('Shape', names(n.inputs), names(n.outputs)),
  noGradient: 'its output is an integer shape',
});

defineOp({
  name: 'arange',
  infer: ([like], attrs) => [
    { dtype: 'int64', shape: [like.shape[normalizeAxis(attrs.axis as number, like.rank, 'arange')]] },
  ],
  emit: (e, n) => {
    const shape = e.temp('shape');
    const limit = e.temp('limit');
    e.node('Shape', [n.inputs[0].name], [shape]);
    e.node('Gather', [shape, e.int64([n.attrs.axis as number], [])], [limit], { axis: attr.int(0) });
    e.node('Range', [e.int64([0], []), limit, e.int64([1], [])], names(n.outputs));
  },
  noGradient: 'its output is an integer range',
});

defineOp({
  name: 'zerosLike',
  infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape] }],
  emit: (e, n) => {
    const shape = e.temp('shape');
    e.node('Shape', [n.inputs[0].name], [shape]);
    e.node('ConstantOfShape', [shape], names(n.outputs), { value: attr.scalarTensor(n.inputs[0].dtype, 0) });
  },
  noGradient: 'its output does not depend on the input values',
});

/** Resolves slice bounds against a static dimension, as ONNX Slice clamps them. */
function sliceBounds(dim: number, start: number, end: number): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
  const s = clamp(start);
  return [s, Math.max(s, clamp(end))];
}

const ONNX_INT64_MAX = 9223372036854775807n;

defineOp({
  name: 'slice',
  infer: ([x], attrs) => {
    const axis = normalizeAxis(attrs.axis as number, x.rank, 'slice');
    const dim = x.shape[axis];
    const start = attrs.start as number;
    const end = attrs.end as number;
    const shape = [...x.shape];
    if (typeof dim === 'number') {
      const [s, t] = sliceBounds(dim, start, end);
      shape[axis] = t - s;
    } else if (start === 0 && end === Number.POSITIVE_INFINITY) {
      shape[axis] = dim;
    } else if (start >= 0 && Number.isFinite(end) && end >= start) {
      shape[axis] = end - start;
    } else {
      shape[axis] = freshSymbol(`${dim}_sliced`);
    }
    return [{ dtype: x.dtype, shape }];
  },
  emit: (e, n) => {
    const end = n.attrs.end as number;
    const endName = Number.isFinite(end) ? e.int64([end]) : e.temp('slice_end');
    if (!Number.isFinite(end)) {
      e.initializer(endName, 'int64', [1], BigInt64Array.of(ONNX_INT64_MAX));
    }
    e.node(
      'Slice',
      [n.inputs[0].name, e.int64([n.attrs.start as number]), endName, e.int64([n.attrs.axis as number])],
      names(n.outputs),
    );
  },
  grad: ({ graph, node, gradOutputs }) => {
    const x = node.inputs[0];
    const axis = normalizeAxis(node.attrs.axis as number, x.rank, 'slice');
    const dim = x.shape[axis];
    const start = node.attrs.start as number;
    const end = node.attrs.end as number;
    let before: number;
    let after: number | 'rest';
    if (typeof dim === 'number') {
      const [s, t] = sliceBounds(dim, start, end);
      before = s;
      after = dim - t;
    } else if (start >= 0 && end === Number.POSITIVE_INFINITY) {
      before = start;
      after = 0;
    } else if (start >= 0 && Number.isFinite(end) && end >= start) {
      before = start;
      after = 'rest';
    } else {
      throw new Error(
        `slice: the gradient of slicing [${start}, ${end}) along symbolic axis ${dim} of ${x} is not supported; use non-negative bounds.`,
      );
    }
    return [graph.apply('padAxis', [gradOutputs[0]!, x], { axis, before, after })[0]];
  },
});

defineOp({
  name: 'padAxis',
  infer: ([g, like]) => [{ dtype: g.dtype, shape: [...like.shape] }],
  emit: (e, n) => {
    const [g, like] = n.inputs;
    const axis = n.attrs.axis as number;
    const rank = g.rank;
    const before = n.attrs.before as number;
    const after = n.attrs.after as number | 'rest';
    let pads: string;
    if (after === 'rest') {
      // after = dim(like) - dim(g) - before, computed at run time.
      const shapeLike = e.temp('shape');
      const shapeG = e.temp('shape');
      const diff = e.temp('pad_diff');
      const afterVec = e.temp('pad_after');
      e.node('Shape', [like.name], [shapeLike]);
      e.node('Shape', [g.name], [shapeG]);
      e.node('Sub', [shapeLike, shapeG], [diff]);
      e.node(
        'Sub',
        [diff, e.int64(Array.from({ length: rank }, (_, i) => (i === axis ? before : 0)))],
        [afterVec],
      );
      pads = e.temp('pads');
      e.node(
        'Concat',
        [e.int64(Array.from({ length: rank }, (_, i) => (i === axis ? before : 0))), afterVec],
        [pads],
        {
          axis: attr.int(0),
        },
      );
    } else {
      const values = new Array<number>(2 * rank).fill(0);
      values[axis] = before;
      values[rank + axis] = after;
      pads = e.int64(values);
    }
    e.node('Pad', [g.name, pads], names(n.outputs));
  },
  grad: ({ graph, node, gradOutputs }) => {
    const [g] = node.inputs;
    const axis = node.attrs.axis as number;
    const before = node.attrs.before as number;
    const size = g.shape[axis];
    if (typeof size !== 'number')
      throw new Error('padAxis: the gradient needs a static size along the padded axis.');
    return [graph.slice(gradOutputs[0]!, axis, before, before + size), undefined];
  },
});

defineOp({
  name: 'concat',
  infer: (inputs, attrs) => {
    if (inputs.length === 0) throw new Error('concat: needs at least one tensor.');
    const dtype = requireSameDType('concat', inputs);
    const rank = inputs[0].rank;
    const axis = normalizeAxis(attrs.axis as number, rank, 'concat');
    const shape = [...inputs[0].shape];
    let total: Dim = 0;
    for (const t of inputs) {
      if (t.rank !== rank) throw new Error(`concat: ranks differ (${inputs.map(String).join(', ')}).`);
      const d = t.shape[axis];
      total = typeof total === 'number' && typeof d === 'number' ? total + d : freshSymbol('concat');
    }
    shape[axis] = total;
    return [{ dtype, shape }];
  },
  emit: (e, n) =>
    e.node('Concat', names(n.inputs), names(n.outputs), { axis: attr.int(n.attrs.axis as number) }),
  grad: ({ graph, node, gradOutputs, needsGradient }) => {
    const axis = normalizeAxis(node.attrs.axis as number, node.inputs[0].rank, 'concat');
    let offset = 0;
    return node.inputs.map((t, i) => {
      const size = t.shape[axis];
      if (typeof size !== 'number') {
        throw new Error(`concat: the gradient needs static sizes along axis ${axis}, but ${t} has ${size}.`);
      }
      const piece = needsGradient[i] ? graph.slice(gradOutputs[0]!, axis, offset, offset + size) : undefined;
      offset += size;
      return piece;
    });
  },
});

defineOp({
  name: 'split',
  infer: ([x], attrs) => {
    const axis = normalizeAxis(attrs.axis as number, x.rank, 'split');
    const sizes = attrs.sizes as number[];
    const dim = x.shape[axis];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (typeof dim === 'number' && total !== dim) {
      throw new Error(
        `split: sizes ${formatShape(sizes)} add up to ${total}, but axis ${axis} of ${x} has ${dim}.`,
      );
    }
    return sizes.map((size) => {
      const shape = [...x.shape];
      shape[axis] = size;
      return { dtype: x.dtype, shape };
    });
  },
  emit: (e, n) =>
    e.node('Split', [n.inputs[0].name, e.int64(n.attrs.sizes as number[])], names(n.outputs), {
      axis: attr.int(n.attrs.axis as number),
    }),
  grad: ({ graph, node, gradOutputs }) => {
    const pieces = node.outputs.map((out, i) => gradOutputs[i] ?? graph.apply('zerosLike', [out])[0]);
    return [graph.concat(pieces, node.attrs.axis as number)];
  },
});

defineOp({
  name: 'gather',
  infer: ([x, indices], attrs) => {
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32') {
      throw new Error(`gather: indices must be int64 or int32, got ${indices}.`);
    }
    const axis = normalizeAxis(attrs.axis as number, x.rank, 'gather');
    return [
      { dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)] },
    ];
  },
  emit: (e, n) =>
    e.node('Gather', names(n.inputs), names(n.outputs), { axis: attr.int(n.attrs.axis as number) }),
  grad: ({ graph, node, gradOutputs }) => {
    const [x, indices] = node.inputs;
    if (normalizeAxis(node.attrs.axis as number, x.rank, 'gather') !== 0) {
      throw new Error(
        `gather: the gradient is implemented for axis 0 (embedding lookup) only, got axis ${node.attrs.axis}.`,
      );
    }
    return [graph.apply('scatterAddRows', [gradOutputs[0]!, indices, x])[0], undefined];
  },
});

defineOp({
  name: 'scatterAddRows',
  infer: ([, , like]) => [{ dtype: like.dtype, shape: [...like.shape] }],
  emit: (e, n) => {
    const [g, indices, like] = n.inputs;
    const shape = e.temp('shape');
    const zeros = e.temp('zeros');
    const index64 = e.temp('indices');
    const unsqueezed = e.temp('indices_nd');
    e.node('Shape', [like.name], [shape]);
    e.node('ConstantOfShape', [shape], [zeros], { value: attr.scalarTensor(like.dtype, 0) });
    e.node('Cast', [indices.name], [index64], { to: attr.int(7) });
    e.node('Unsqueeze', [index64, e.int64([-1])], [unsqueezed]);
    e.node('ScatterND', [zeros, unsqueezed, g.name], names(n.outputs), { reduction: attr.string('add') });
  },
  noGradient: 'it only appears in backward passes',
});

defineOp({
  name: 'where',
  infer: ([condition, a, b]) => {
    if (condition.dtype !== 'bool') throw new Error(`where: the condition must be bool, got ${condition}.`);
    const dtype = requireSameDType('where', [a, b]);
    return [
      { dtype, shape: broadcastShapes(condition.shape, broadcastShapes(a.shape, b.shape, 'where'), 'where') },
    ];
  },
  emit: (e, n) => e.node('Where', names(n.inputs), names(n.outputs)),
  grad: ({ graph, node, gradOutputs, needsGradient }) => {
    const [condition, a, b] = node.inputs;
    const g = gradOutputs[0]!;
    return [
      undefined,
      needsGradient[1] ? unbroadcast(graph, graph.where(condition, g, 0), a) : undefined,
      needsGradient[2] ? unbroadcast(graph, graph.where(condition, 0, g), b) : undefined,
    ];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Reductions

function reduceInfer(op: string) {
  return ([x]: readonly Tensor[], attrs: Record<string, unknown>): TensorMeta[] => {
    const axes = resolveAxes(attrs.axes, x.rank, op);
    return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, attrs.keepDims as boolean) }];
  };
}

function emitReduce(onnxOp: string) {
  return (e: Emitter, n: GraphNode) => {
    const axes = resolveAxes(n.attrs.axes, n.inputs[0].rank, onnxOp);
    e.node(onnxOp, [n.inputs[0].name, e.int64(axes)], names(n.outputs), {
      keepdims: attr.int(n.attrs.keepDims ? 1 : 0),
    });
  };
}

/** Brings a reduced gradient back to the input's rank, ready to broadcast against it. */
function keepDimsGrad(graph: Graph, node: GraphNode, g: Tensor): Tensor {
  const x = node.inputs[0];
  if (node.attrs.keepDims || x.rank === 0) return g;
  const axes = resolveAxes(node.attrs.axes, x.rank, node.op.name);
  return graph.unsqueeze(g, axes);
}

/** Number of elements that a reduction over `axes` combines, as a float32 scalar tensor. */
function reducedCount(graph: Graph, x: Tensor, axes: number[]): Tensor {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) {
    return graph.constant(dims.reduce<number>((p, d) => p * (d as number), 1));
  }
  return graph.apply('reducedCount', [x], { axes })[0];
}

defineOp({
  name: 'reducedCount',
  infer: () => [{ dtype: 'float32', shape: [] }],
  emit: (e, n) => {
    const shape = e.temp('shape');
    const dims = e.temp('dims');
    const count = e.temp('count');
    e.node('Shape', [n.inputs[0].name], [shape]);
    e.node('Gather', [shape, e.int64(n.attrs.axes as number[])], [dims], { axis: attr.int(0) });
    e.node('ReduceProd', [dims], [count], { keepdims: attr.int(0) });
    e.node('Cast', [count], names(n.outputs), { to: attr.int(1) });
  },
  noGradient: 'its output is a count',
});

defineOp({
  name: 'reduceSum',
  infer: reduceInfer('reduceSum'),
  emit: emitReduce('ReduceSum'),
  grad: ({ graph, node, gradOutputs }) => [
    graph.expandAs(keepDimsGrad(graph, node, gradOutputs[0]!), node.inputs[0]),
  ],
});

defineOp({
  name: 'reduceMean',
  infer: reduceInfer('reduceMean'),
  emit: emitReduce('ReduceMean'),
  grad: ({ graph, node, gradOutputs }) => {
    const x = node.inputs[0];
    const count = reducedCount(graph, x, resolveAxes(node.attrs.axes, x.rank, 'reduceMean'));
    return [graph.expandAs(graph.div(keepDimsGrad(graph, node, gradOutputs[0]!), count), x)];
  },
});

defineOp({
  name: 'max',
  infer: reduceInfer('max'),
  emit: emitReduce('ReduceMax'),
  grad: ({ graph, node, gradOutputs }) => {
    const x = node.inputs[0];
    const axes = resolveAxes(node.attrs.axes, x.rank, 'max');
    const kept = keepDimsGrad(graph, node, node.outputs[0]);
    const isMax = graph.cast(graph.equal(x, kept), x.dtype);
    const ties = graph.reduceSum(isMax, axes, true);
    return [graph.mul(graph.div(isMax, ties), keepDimsGrad(graph, node, gradOutputs[0]!))];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Neural-network ops

defineOp({
  name: 'softmax',
  infer: ([x], attrs) => {
    requireFloat('softmax', x);
    normalizeAxis(attrs.axis as number, x.rank, 'softmax');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: (e, n) =>
    e.node('Softmax', names(n.inputs), names(n.outputs), { axis: attr.int(n.attrs.axis as number) }),
  grad: ({ graph, node, gradOutputs }) => {
    const y = node.outputs[0];
    const g = gradOutputs[0]!;
    const dot = graph.reduceSum(graph.mul(g, y), [node.attrs.axis as number], true);
    return [graph.mul(y, graph.sub(g, dot))];
  },
});

defineOp({
  name: 'logSoftmax',
  infer: ([x], attrs) => {
    requireFloat('logSoftmax', x);
    normalizeAxis(attrs.axis as number, x.rank, 'logSoftmax');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: (e, n) =>
    e.node('LogSoftmax', names(n.inputs), names(n.outputs), { axis: attr.int(n.attrs.axis as number) }),
  grad: ({ graph, node, gradOutputs }) => {
    const g = gradOutputs[0]!;
    const total = graph.reduceSum(g, [node.attrs.axis as number], true);
    return [graph.sub(g, graph.mul(graph.exp(node.outputs[0]), total))];
  },
});

defineOp({
  name: 'layerNorm',
  infer: ([x, weight, bias]) => {
    requireSameDType('layerNorm', [x, weight, bias]);
    const c = x.shape[x.rank - 1];
    for (const p of [weight, bias]) {
      if (p.rank !== 1 || (typeof c === 'number' && p.shape[0] !== c)) {
        throw new Error(`layerNorm: ${p} must be a vector of size ${c}, the last dimension of ${x}.`);
      }
    }
    const stats: Dim[] = [...x.shape.slice(0, -1), 1];
    // Outputs: the result, then the mean and 1/std that the gradient rule reuses.
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: 'float32', shape: stats },
      { dtype: 'float32', shape: [...stats] },
    ];
  },
  emit: (e, n) =>
    e.node('LayerNormalization', names(n.inputs), names(n.outputs), {
      axis: attr.int(-1),
      epsilon: attr.float(n.attrs.epsilon as number),
      stash_type: attr.int(1),
    }),
  grad: ({ graph, node, gradOutputs, needsGradient }) => {
    const [x, weight] = node.inputs;
    const [, mean, invStd] = node.outputs;
    const g = gradOutputs[0]!;
    const xHat = graph.mul(graph.sub(x, mean), invStd);
    const batchAxes = [...Array(x.rank - 1).keys()];
    let gx: Tensor | undefined;
    if (needsGradient[0]) {
      const gw = graph.mul(g, weight);
      const meanGw = graph.reduceMean(gw, [-1], true);
      const meanGwXhat = graph.reduceMean(graph.mul(gw, xHat), [-1], true);
      gx = graph.mul(invStd, graph.sub(graph.sub(gw, meanGw), graph.mul(xHat, meanGwXhat)));
    }
    return [
      gx,
      needsGradient[1] ? graph.reduceSum(graph.mul(g, xHat), batchAxes) : undefined,
      needsGradient[2] ? graph.reduceSum(g, batchAxes) : undefined,
    ];
  },
});

function dropoutMask(graph: Graph, noise: Tensor, p: number, dtype: DType): Tensor {
  return graph.mul(graph.cast(graph.not(graph.less(noise, p)), dtype), 1 / (1 - p));
}

defineOp({
  name: 'dropout',
  infer: ([x, noise]) => {
    requireFloat('dropout', x);
    broadcastShapes(x.shape, noise.shape, 'dropout');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: (e, n) => {
    const [x, noise] = n.inputs;
    const p = n.attrs.p as number;
    const keep = e.temp('dropout_keep');
    const mask = e.temp('dropout_mask');
    const scaled = e.temp('dropout_scaled');
    e.node('GreaterOrEqual', [noise.name, e.float(p, noise.dtype as 'float32' | 'float16')], [keep]);
    e.node('Cast', [keep], [mask], { to: attr.int(ONNX_TYPE_CODES[x.dtype]) });
    e.node('Mul', [mask, e.float(1 / (1 - p), x.dtype as 'float32' | 'float16')], [scaled]);
    e.node('Mul', [x.name, scaled], names(n.outputs));
  },
  grad: ({ graph, node, gradOutputs }) => {
    const [x, noise] = node.inputs;
    return [
      graph.mul(gradOutputs[0]!, dropoutMask(graph, noise, node.attrs.p as number, x.dtype)),
      undefined,
    ];
  },
});

defineOp({
  name: 'crossEntropy',
  infer: ([logits, targets]) => {
    requireFloat('crossEntropy', logits);
    if (targets.dtype !== 'int64' && targets.dtype !== 'int32') {
      throw new Error(`crossEntropy: targets must be int64 or int32, got ${targets}.`);
    }
    if (targets.rank !== logits.rank - 1) {
      throw new Error(
        `crossEntropy: targets ${targets} must have one dimension fewer than logits ${logits}.`,
      );
    }
    // Outputs: the loss, then the log-probabilities and the kept-target mask that the gradient rule reuses.
    return [
      { dtype: logits.dtype, shape: [] },
      { dtype: logits.dtype, shape: [...logits.shape] },
      { dtype: logits.dtype, shape: [...targets.shape] },
    ];
  },
  emit: (e, n) => {
    const [logits, targets] = n.inputs;
    const [loss, logProbs, keptMask] = names(n.outputs);
    const ignore = n.attrs.ignoreIndex as number;
    const targets64 = e.temp('targets');
    const ignored = e.temp('ignored');
    const kept = e.temp('kept');
    const safeTargets = e.temp('safe_targets');
    const index = e.temp('target_index');
    const picked = e.temp('picked');
    const pickedFlat = e.temp('picked_flat');
    const masked = e.temp('masked_nll');
    const total = e.temp('nll_sum');
    const count = e.temp('kept_count');
    e.node('LogSoftmax', [logits.name], [logProbs], { axis: attr.int(-1) });
    e.node('Cast', [targets.name], [targets64], { to: attr.int(7) });
    e.node('Equal', [targets64, e.int64([ignore], [])], [ignored]);
    e.node('Not', [ignored], [kept]);
    e.node('Cast', [kept], [keptMask], { to: attr.int(1) });
    e.node('Where', [kept, targets64, e.int64([0], [])], [safeTargets]);
    e.node('Unsqueeze', [safeTargets, e.int64([-1])], [index]);
    e.node('GatherElements', [logProbs, index], [picked], { axis: attr.int(-1) });
    e.node('Squeeze', [picked, e.int64([-1])], [pickedFlat]);
    e.node('Mul', [pickedFlat, keptMask], [masked]);
    e.node('ReduceSum', [masked], [total], { keepdims: attr.int(0) });
    e.node('ReduceSum', [keptMask], [count], { keepdims: attr.int(0) });
    const negTotal = e.temp('neg_total');
    e.node('Neg', [total], [negTotal]);
    e.node('Div', [negTotal, count], [loss]);
  },
  grad: ({ graph, node, gradOutputs }) => {
    const [logits, targets] = node.inputs;
    const [, logProbs, keptMask] = node.outputs;
    const g = gradOutputs[0]!;
    const oneHot = graph.apply('oneHot', [targets, logits], { ignoreIndex: node.attrs.ignoreIndex })[0];
    const count = graph.reduceSum(keptMask);
    const weight = graph.unsqueeze(graph.mul(keptMask, graph.div(g, count)), [-1]);
    return [graph.mul(graph.sub(graph.exp(logProbs), oneHot), weight), undefined];
  },
});

defineOp({
  name: 'oneHot',
  infer: ([indices, like]) => [{ dtype: like.dtype, shape: [...indices.shape, like.shape[like.rank - 1]] }],
  emit: (e, n) => {
    const [indices, like] = n.inputs;
    const indices64 = e.temp('indices');
    const ignored = e.temp('ignored');
    const safe = e.temp('safe_indices');
    const shape = e.temp('shape');
    const depth = e.temp('depth');
    e.node('Cast', [indices.name], [indices64], { to: attr.int(7) });
    e.node('Equal', [indices64, e.int64([n.attrs.ignoreIndex as number], [])], [ignored]);
    e.node('Where', [ignored, e.int64([0], []), indices64], [safe]);
    e.node('Shape', [like.name], [shape]);
    e.node('Gather', [shape, e.int64([like.rank - 1], [])], [depth], { axis: attr.int(0) });
    const values = e.temp('onehot_values');
    e.initializer(values, 'float32', [2], Float32Array.of(0, 1));
    e.node('OneHot', [safe, depth, values], names(n.outputs), { axis: attr.int(-1) });
  },
  noGradient: 'its output does not depend on differentiable inputs',
});

defineOp({
  name: 'causalMask',
  infer: ([scores]) => {
    requireFloat('causalMask', scores);
    if (scores.rank < 2) throw new Error(`causalMask: scores need rank >= 2, got ${scores}.`);
    const q = scores.shape[scores.rank - 2];
    const k = scores.shape[scores.rank - 1];
    return [
      { dtype: scores.dtype, shape: [...scores.shape] },
      { dtype: 'bool', shape: [q, k] },
    ];
  },
  emit: (e, n) => {
    const scores = n.inputs[0];
    const [out, mask] = names(n.outputs);
    const shape = e.temp('shape');
    const qk = e.temp('qk');
    const q = e.temp('q_len');
    const k = e.temp('k_len');
    const offset = e.temp('offset');
    const ones = e.temp('ones');
    const lower = e.temp('lower');
    e.node('Shape', [scores.name], [shape]);
    e.node('Slice', [shape, e.int64([-2]), e.int64([scores.rank])], [qk]);
    e.node('Gather', [qk, e.int64([0], [])], [q], { axis: attr.int(0) });
    e.node('Gather', [qk, e.int64([1], [])], [k], { axis: attr.int(0) });
    e.node('Sub', [k, q], [offset]);
    e.node('ConstantOfShape', [qk], [ones], { value: attr.scalarTensor('float32', 1) });
    e.node('Trilu', [ones, offset], [lower], { upper: attr.int(0) });
    e.node('Cast', [lower], [mask], { to: attr.int(9) });
    // Adding a [q, k] matrix of 0 and -inf broadcasts faster in ONNX Runtime than a Where over all scores.
    const dtype = scores.dtype as 'float32' | 'float16';
    const bias = e.temp('causal_bias');
    e.node('Where', [mask, e.float(0, dtype), e.float(Number.NEGATIVE_INFINITY, dtype)], [bias]);
    e.node('Add', [scores.name, bias], [out]);
  },
  grad: ({ graph, node, gradOutputs }) => {
    const g = gradOutputs[0]!;
    // A softmax over the key axis gives the masked positions probability 0 and so gradient exactly 0
    // (y (g - sum(g y)) with y = 0). When softmax is the only reader, masking the gradient again would be
    // a wasted pass over every score.
    const masked = node.outputs[0];
    const readers = graph.nodes.filter((n) => n.inputs.includes(masked));
    const keyAxis = masked.rank - 1;
    const onlySoftmax = readers.every(
      (n) =>
        n.op.name === 'softmax' && normalizeAxis(n.attrs.axis as number, masked.rank, 'softmax') === keyAxis,
    );
    return [onlySoftmax ? g : graph.where(node.outputs[1], g, 0)];
  },
});
