/** Element types of graph tensors. */
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';

/** A dimension: a fixed size, or a symbolic name such as `batch` or `seq` bound when the graph runs. */
export type Dim = number | string;

export type Shape = readonly Dim[];

/** Bytes per element, for the dtypes that have a fixed width. */
export const dtypeByteSize: Record<DType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
};

export function isFloatDType(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16';
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Number of elements of a fully static shape, or undefined when a dimension is symbolic. */
export function staticSize(shape: Shape): number | undefined {
  let size = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number') return undefined;
    size *= dim;
  }
  return size;
}

/**
 * Broadcasts two shapes with NumPy rules. Two different symbolic names are assumed to be equal at run
 * time, because nothing here can prove otherwise; ONNX Runtime checks them when the graph runs.
 */
export function broadcastShapes(a: Shape, b: Shape, context: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new Error(
        `${context}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast (dimension ${i}: ${da} vs ${db}).`,
      );
    } else out.push(typeof da === 'number' ? da : db);
  }
  return out;
}

/** Normalizes a possibly negative axis against a rank, with an error naming the op. */
export function normalizeAxis(axis: number, rank: number, context: string): number {
  const normalized = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || normalized < 0 || normalized >= rank) {
    throw new Error(`${context}: axis ${axis} is out of range for a tensor of rank ${rank}.`);
  }
  return normalized;
}
