/** Summary statistics of one tensor, for logging weight and update distributions. */
export interface TensorStatistics {
  count: number;
  mean: number;
  /** Population standard deviation (divides by n), as `torch.std(unbiased=False)`. */
  std: number;
  min: number;
  max: number;
  absMean: number;
  /** Fraction of elements exactly equal to 0. */
  zeroFraction: number;
  /** Number of NaN or infinite elements; the other statistics skip them. */
  nonFinite: number;
}

/** Statistics of `data`, accumulated in float64. */
export function tensorStatistics(data: ArrayLike<number>): TensorStatistics {
  let count = 0;
  let sum = 0;
  let sumSquares = 0;
  let absSum = 0;
  let zeros = 0;
  let nonFinite = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    count++;
    sum += v;
    sumSquares += v * v;
    absSum += Math.abs(v);
    if (v === 0) zeros++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = count > 0 ? sum / count : Number.NaN;
  return {
    count,
    mean,
    std: count > 0 ? Math.sqrt(Math.max(0, sumSquares / count - mean * mean)) : Number.NaN,
    min: count > 0 ? min : Number.NaN,
    max: count > 0 ? max : Number.NaN,
    absMean: count > 0 ? absSum / count : Number.NaN,
    zeroFraction: data.length > 0 ? zeros / data.length : Number.NaN,
    nonFinite,
  };
}

/** A histogram of the finite values of `data` with `bins` equal-width bins between its min and max. */
export function histogram(data: ArrayLike<number>, bins: number): { edges: number[]; counts: number[] } {
  if (!Number.isInteger(bins) || bins <= 0)
    throw new Error(`histogram: bins must be a positive integer, got ${bins}.`);
  const { min, max } = tensorStatistics(data);
  const lo = Number.isFinite(min) ? min : 0;
  const hi = Number.isFinite(max) && max > lo ? max : lo + 1;
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts };
}

/** The first tensor (in map order) with a NaN or infinite element, with that element's index and value. */
export function firstNonFinite(
  tensors: ReadonlyMap<string, ArrayLike<number>>,
): { name: string; index: number; value: number } | undefined {
  for (const [name, data] of tensors) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) return { name, index: i, value: data[i] };
    }
  }
  return undefined;
}
