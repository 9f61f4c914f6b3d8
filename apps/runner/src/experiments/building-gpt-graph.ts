import { histogram } from '@glassbox/gpt-core';
import { type Graph, GraphSession, type SessionOptions, toOnnx } from '@glassbox/graph';
import { histogramChartSpec } from './charts.js';

/** Helpers shared by the "Build a GPT" experiments: running a small graph once, statistics and histograms. */

/** A value fed to a graph input or parameter. */
export type Feed =
  | { dtype: 'float32'; data: Float32Array; shape: readonly number[] }
  | { dtype: 'int64'; data: BigInt64Array; shape: readonly number[] };

/** One graph output read back from ONNX Runtime. */
export interface GraphValue {
  data: Float32Array;
  shape: number[];
}

/** Compiles `graph` to ONNX, runs it once on ONNX Runtime and returns every graph output by name. */
export async function runGraph(
  graph: Graph,
  feeds: Record<string, Feed>,
  options: SessionOptions = {},
): Promise<Map<string, GraphValue>> {
  const session = await GraphSession.create(toOnnx(graph), options);
  try {
    const tensors = Object.fromEntries(
      Object.entries(feeds).map(([name, feed]) => [name, session.tensor(feed.dtype, feed.data, feed.shape)]),
    );
    const result = await session.run(tensors, [...graph.outputs.keys()]);
    return new Map(
      [...graph.outputs.keys()].map((name) => [
        name,
        { data: result[name].data as Float32Array, shape: result[name].dims.map(Number) },
      ]),
    );
  } finally {
    await session.release();
  }
}

/** Returns the output `name` of a `runGraph` result, raising an Error when it is missing. */
export function outputOf(outputs: ReadonlyMap<string, GraphValue>, name: string): GraphValue {
  const value = outputs.get(name);
  if (value === undefined) throw new Error(`the graph has no output "${name}"`);
  return value;
}

export function float32Feed(data: Float32Array, shape: readonly number[]): Feed {
  return { dtype: 'float32', data, shape };
}

export function int64Feed(ids: readonly number[], shape: readonly number[]): Feed {
  return { dtype: 'int64', data: BigInt64Array.from(ids, (id) => BigInt(id)), shape };
}

export function linspace(start: number, end: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + ((end - start) * i) / (count - 1));
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cannot compare ${a.length} values with ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Standard deviation with `ddof` degrees of freedom removed: 0 is the biased (population) value. */
export function standardDeviation(values: ArrayLike<number>, ddof = 0): number {
  const center = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - center) ** 2;
  return Math.sqrt(sum / (values.length - ddof));
}

/** Pearson correlation of two equally long sequences. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const meanA = mean(a);
  const meanB = mean(b);
  let covariance = 0;
  let varianceA = 0;
  let varianceB = 0;
  for (let i = 0; i < a.length; i++) {
    covariance += (a[i] - meanA) * (b[i] - meanB);
    varianceA += (a[i] - meanA) ** 2;
    varianceB += (b[i] - meanB) ** 2;
  }
  return covariance / Math.sqrt(varianceA * varianceB);
}

/** Rounds to `digits` significant digits, for readable labels and results. */
export function round(value: number, digits = 4): number {
  return Number(value.toPrecision(digits));
}

/** Splits a row-major matrix into its rows. */
export function matrixRows(data: ArrayLike<number>, rows: number, columns: number, offset = 0): number[][] {
  return Array.from({ length: rows }, (_, r) =>
    Array.from({ length: columns }, (_, c) => data[offset + r * columns + c]),
  );
}

/** One data set of a histogram chart. */
export interface HistogramSeries {
  name: string;
  values: ArrayLike<number>;
}

/**
 * Builds a histogram chart of the density of each series over the same bins, so that series of
 * different sizes are comparable.
 */
export function densityHistogramSpec(options: {
  title: string;
  xTitle: string;
  series: readonly HistogramSeries[];
  bins: number;
  range: readonly [number, number];
}) {
  return histogramChartSpec({
    title: options.title,
    xTitle: options.xTitle,
    yTitle: 'density',
    series: options.series.map((series) => {
      const { edges, counts } = histogram(series.values, options.bins, options.range);
      const width = edges[1] - edges[0];
      return {
        name: series.name,
        edges: Array.from(edges),
        heights: Array.from(counts, (count) => count / (series.values.length * width)),
      };
    }),
  });
}
