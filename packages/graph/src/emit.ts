import { float16Bits } from './float16.js';
import type { Graph, GraphNode, Tensor } from './graph.js';
import { AttributeType, ModelProto, OnnxDataType } from './onnx-proto.js';
import type { DType, Shape } from './tensor.js';

/** An ONNX node attribute value. */
export type OnnxAttribute =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; dtype: DType; dims: readonly number[]; data: ArrayLike<number> };

export const attr = {
  int: (value: number): OnnxAttribute => ({ kind: 'int', value }),
  float: (value: number): OnnxAttribute => ({ kind: 'float', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttribute => ({ kind: 'string', value }),
  scalarTensor: (dtype: DType, value: number): OnnxAttribute => ({
    kind: 'tensor',
    dtype,
    dims: [1],
    data: [value],
  }),
};

/** The interface through which an op's emission rule writes into the ONNX graph. */
export interface Emitter {
  /** Appends an ONNX node. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs?: Record<string, OnnxAttribute>,
    domain?: string,
  ): void;
  /** Whether a node or output of the serialized model reads the value `name`; unread values need no node. */
  isRead(name: string): boolean;
  /** A fresh value name for an intermediate of a multi-node emission. */
  temp(hint: string): string;
  /** The name of an int64 constant (an initializer, shared between identical uses). */
  int64(values: readonly number[], dims?: readonly number[]): string;
  /** The name of a scalar float constant of `dtype` (default float32). */
  float(value: number, dtype?: 'float32' | 'float16'): string;
  /** Adds an initializer with raw data. */
  initializer(name: string, dtype: DType, dims: readonly number[], data: ArrayBufferView): void;
}

export const OPSET_VERSION = 18;
const IR_VERSION = 8;

interface InitializerProto {
  name: string;
  dataType: number;
  dims: number[];
  rawData: Uint8Array;
}

function rawBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function valueInfo(name: string, dtype: DType, shape: Shape) {
  return {
    name,
    type: {
      tensorType: {
        elemType: OnnxDataType[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function encodeAttribute(name: string, value: OnnxAttribute) {
  switch (value.kind) {
    case 'int':
      return { name, type: AttributeType.INT, i: value.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: value.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: [...value.value] };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: [...value.value] };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.value) };
    case 'tensor':
      return {
        name,
        type: AttributeType.TENSOR,
        t: {
          dims: [...value.dims],
          dataType: OnnxDataType[value.dtype],
          rawData: rawBytes(typedArrayOf(value.dtype, value.data)),
        },
      };
  }
}

function typedArrayOf(dtype: DType, data: ArrayLike<number>): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'int64':
      return BigInt64Array.from(Array.from(data), (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(data);
    case 'bool':
      return Uint8Array.from(data);
    default:
      throw new Error(`constants of dtype ${dtype} are not supported.`);
  }
}

export interface SerializeOptions {
  /** Outputs to compute; defaults to every output declared with `graph.output`. */
  outputs?: readonly string[];
  /**
   * Parameter values to store in the model as initializers, as an exported inference model does. Parameters
   * not listed stay graph inputs.
   */
  initializers?: ReadonlyMap<string, Float32Array>;
  /**
   * Parameters that are slices of a packed 1-D input instead of inputs of their own: each is emitted as
   * Slice + Reshape of `source` from `offset`. Training graphs pack parameters this way so that the
   * optimizer updates a few long vectors instead of many small tensors.
   */
  packedParameters?: ReadonlyMap<string, { source: string; offset: number }>;
  producerName?: string;
  metadata?: Record<string, string>;
}

interface NodeProto {
  opType: string;
  input: string[];
  output: string[];
}

/**
 * `graph.output` names an output through an Identity node. ONNX Runtime keeps such a node when its input also
 * feeds other nodes, and then copies the whole tensor on every run: for the packed parameters and optimizer
 * moments of a training step, that is three copies of every weight. Where the input is computed by a node of
 * this graph and aliased by no other output, the producing node writes the output name directly instead.
 */
function renameAliasedOutputs(nodeProtos: NodeProto[], outputs: readonly Tensor[]): void {
  const computed = new Set(nodeProtos.flatMap((proto) => proto.output));
  const renames = new Map<string, string>();
  for (const output of outputs) {
    const alias = output.producer;
    if (alias?.op.name !== 'identity') continue;
    const source = alias.inputs[0];
    // Inputs, parameters and constants stored as initializers have no producing node to rename.
    if (!computed.has(source.name) || renames.has(source.name)) continue;
    if (outputs.some((other) => other.name === source.name)) continue;
    renames.set(source.name, output.name);
  }
  if (renames.size === 0) return;
  const rename = (name: string) => renames.get(name) ?? name;
  for (let i = nodeProtos.length - 1; i >= 0; i--) {
    const proto = nodeProtos[i];
    proto.input = proto.input.map(rename);
    proto.output = proto.output.map(rename);
    if (proto.opType === 'Identity' && proto.input[0] === proto.output[0]) nodeProtos.splice(i, 1);
  }
}

/** Returns the nodes needed to compute `outputs`, in creation order (which is a topological order). */
export function liveNodes(graph: Graph, outputs: readonly Tensor[]): GraphNode[] {
  const live = new Set<number>();
  const stack = outputs.map((t) => t.producer).filter((n): n is GraphNode => n !== undefined);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (live.has(node.id)) continue;
    live.add(node.id);
    for (const input of node.inputs) if (input.producer) stack.push(input.producer);
  }
  return graph.nodes.filter((n) => live.has(n.id));
}

/** Serializes a graph to ONNX model bytes, keeping only the nodes that the requested outputs need. */
export function toOnnx(graph: Graph, options: SerializeOptions = {}): Uint8Array {
  const outputNames = options.outputs ?? [...graph.outputs.keys()];
  const outputs = outputNames.map((name) => {
    const tensor = graph.outputs.get(name);
    if (!tensor)
      throw new Error(
        `toOnnx: graph ${graph.name} has no output "${name}"; outputs: ${[...graph.outputs.keys()].join(', ')}.`,
      );
    return tensor;
  });
  const nodes = liveNodes(graph, outputs);

  const used = new Set<string>();
  for (const node of nodes) for (const input of node.inputs) used.add(input.name);
  for (const tensor of outputs) used.add(tensor.name);

  const nodeProtos: unknown[] = [];
  const initializers: InitializerProto[] = [];
  const constantNames = new Map<string, string>();
  let tempCounter = 0;
  const emitter: Emitter = {
    node(opType, inputs, outs, attrs = {}, domain = '') {
      nodeProtos.push({
        opType,
        input: [...inputs],
        output: [...outs],
        name: `${opType}_${nodeProtos.length}`,
        domain,
        attribute: Object.entries(attrs).map(([name, value]) => encodeAttribute(name, value)),
      });
    },
    isRead(name) {
      return used.has(name);
    },
    temp(hint) {
      return `_${hint}_${tempCounter++}`;
    },
    int64(values, dims = [values.length]) {
      const key = `i64:${dims.join('x')}:${values.join(',')}`;
      let name = constantNames.get(key);
      if (!name) {
        name = `_const_i64_${constantNames.size}`;
        constantNames.set(key, name);
        emitter.initializer(
          name,
          'int64',
          dims,
          BigInt64Array.from(values, (v) => BigInt(v)),
        );
      }
      return name;
    },
    float(value, dtype = 'float32') {
      const prefix = dtype === 'float16' ? 'f16' : 'f32';
      const key = `${prefix}:${Object.is(value, -0) ? '-0' : value}`;
      let name = constantNames.get(key);
      if (!name) {
        name = `_const_${prefix}_${constantNames.size}`;
        constantNames.set(key, name);
        const data = dtype === 'float16' ? Uint16Array.of(float16Bits(value)) : Float32Array.of(value);
        emitter.initializer(name, dtype, [], data);
      }
      return name;
    },
    initializer(name, dtype, dims, data) {
      initializers.push({ name, dataType: OnnxDataType[dtype], dims: [...dims], rawData: rawBytes(data) });
    },
  };

  const packed = options.packedParameters ?? new Map<string, { source: string; offset: number }>();
  for (const parameter of graph.parameters) {
    const location = packed.get(parameter.name);
    if (!location || !used.has(parameter.name)) continue;
    const dims = parameter.shape as number[];
    const size = dims.reduce((a, b) => a * b, 1);
    const flat = emitter.temp('packed_slice');
    emitter.node(
      'Slice',
      [
        location.source,
        emitter.int64([location.offset]),
        emitter.int64([location.offset + size]),
        emitter.int64([0]),
      ],
      [flat],
    );
    emitter.node('Reshape', [flat, emitter.int64(dims)], [parameter.name]);
    used.add(location.source);
  }

  for (const node of nodes) node.op.emit(emitter, node);
  renameAliasedOutputs(nodeProtos as NodeProto[], outputs);

  const inputs: unknown[] = [];
  for (const tensor of [...graph.inputs, ...graph.parameters]) {
    const stored = tensor.role === 'parameter' ? options.initializers?.get(tensor.name) : undefined;
    if (tensor.role === 'parameter' && packed.has(tensor.name)) continue;
    if (stored) {
      const expected = tensor.shape.reduce<number>((a, d) => a * (d as number), 1);
      if (stored.length !== expected) {
        throw new Error(
          `toOnnx: initializer for parameter ${tensor.name} has ${stored.length} values, expected ${expected}.`,
        );
      }
      emitter.initializer(tensor.name, 'float32', tensor.shape as number[], stored);
    } else if (used.has(tensor.name)) {
      inputs.push(valueInfo(tensor.name, tensor.dtype, tensor.shape));
    }
  }

  const model = {
    irVersion: IR_VERSION,
    producerName: options.producerName ?? 'glassbox',
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: nodeProtos,
      initializer: initializers,
      input: inputs,
      output: outputNames.map((name, i) => valueInfo(name, outputs[i].dtype, outputs[i].shape)),
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
