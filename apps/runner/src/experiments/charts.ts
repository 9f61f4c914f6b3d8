import { CHART_AXIS_CONFIG, CHART_FONT, type ChartSpec, chartTextWidth, logAxisTicks } from '../plot.js';

/**
 * Vega-Lite chart builders for experiment figures. Each returns plain JSON with inline data, so the
 * same spec renders headless through `renderChart` and in a browser through vega-embed.
 */

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Vega-Lite's default font size of axis labels, in pixels. */
const AXIS_LABEL_FONT_SIZE = 10;

/**
 * Returns the angle for category labels centered `bandWidth` pixels apart on an x axis: horizontal
 * when every two neighbors keep at least 2 pixels between them, else `rotated` degrees.
 */
function categoryLabelAngle(labels: readonly string[], bandWidth: number, rotated = -45): number {
  const widths = labels.map((label) => chartTextWidth(label, AXIS_LABEL_FONT_SIZE));
  const fits = widths.every((width, i) => i === 0 || (widths[i - 1] + width) / 2 + 2 <= bandWidth);
  return fits ? 0 : rotated;
}

function frame(title: string, width: number, height: number): Record<string, unknown> {
  return {
    $schema: SCHEMA,
    title,
    width,
    height,
    background: 'white',
    config: { font: CHART_FONT, axis: CHART_AXIS_CONFIG, legend: { labelLimit: 400 } },
  };
}

/** One bar; bars of the same `group` share a color, and a chart with groups shows a legend. */
export interface Bar {
  label: string;
  value: number;
  group?: string;
}

export interface BarChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  bars: readonly Bar[];
  /** Keep the given order (default), or sort bars by value, largest first. */
  order?: 'given' | 'descending';
  /** Draw the groups of each label side by side instead of one bar per label. */
  grouped?: boolean;
  yScale?: 'linear' | 'log';
  /** Write each value above its bar, for bars too short to read against the tallest one. */
  valueLabels?: boolean;
  width?: number;
  height?: number;
}

/** Builds a vertical bar chart with category labels on the x axis. Non-finite values are left out. */
export function barChartSpec(options: BarChartOptions): ChartSpec {
  const values = options.bars
    .filter((bar) => Number.isFinite(bar.value))
    .map((bar) => ({ label: bar.label, value: bar.value, group: bar.group ?? '' }));
  const labels = [...new Set(values.map((value) => value.label))];
  const hasGroups = values.some((value) => value.group !== '');
  const width = options.width ?? Math.max(240, Math.min(900, labels.length * 22));
  const encoding: Record<string, unknown> = {
    x: {
      field: 'label',
      type: 'nominal',
      title: options.xTitle,
      sort: options.order === 'descending' ? '-y' : labels,
      axis: { labelAngle: categoryLabelAngle(labels, width / Math.max(1, labels.length)), labelLimit: 240 },
    },
    y: {
      field: 'value',
      type: 'quantitative',
      title: options.yTitle,
      scale: { type: options.yScale ?? 'linear' },
      // Bars of a log scale cannot stack from zero, and grouped bars stand side by side.
      stack: options.yScale === 'log' || options.grouped ? null : 'zero',
      ...(options.yScale === 'log' ? niceLogAxisTicks(values.map((value) => value.value)) : {}),
    },
  };
  if (hasGroups) {
    const groups = [...new Set(values.map((value) => value.group))];
    encoding.color = {
      field: 'group',
      type: 'nominal',
      title: null,
      sort: groups,
      scale: { domain: groups },
    };
    if (options.grouped) encoding.xOffset = { field: 'group', sort: groups };
  } else {
    encoding.color = { value: '#4c78a8' };
  }
  const base = { ...frame(options.title, width, options.height ?? 300), data: { values }, encoding };
  if (!options.valueLabels) return { ...base, mark: { type: 'bar' } } as ChartSpec;
  const valueText = {
    mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 11 },
    // Three significant digits, with thousands separators and without trailing zeros.
    encoding: { text: { field: 'value', type: 'quantitative', format: ',.3~r' }, color: { value: 'black' } },
  };
  return { ...base, layer: [{ mark: { type: 'bar' } }, valueText] } as ChartSpec;
}

/** Binned data of one histogram series: `heights[i]` covers the bin from `edges[i]` to `edges[i + 1]`. */
export interface BinnedSeries {
  name: string;
  edges: readonly number[];
  heights: readonly number[];
}

export interface HistogramChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  /** Series drawn over each other, in legend order. A single series gets no legend. */
  series: readonly BinnedSeries[];
  /** `symlog` spreads counts over orders of magnitude like a log axis and still draws empty bins at 0. */
  yScale?: 'linear' | 'symlog';
  width?: number;
  height?: number;
}

/**
 * Builds a histogram on a quantitative x axis. Each series is drawn as the outline of its bars, a step
 * line from the first bin edge down to the axis at the last, so that series on the same bins stay
 * readable where they overlap. Bins with a non-finite height are left out.
 */
export function histogramChartSpec(options: HistogramChartOptions): ChartSpec {
  const values: { x: number; y: number; series: string; order: number }[] = [];
  for (const series of options.series) {
    const bins = series.heights.length;
    if (series.edges.length !== bins + 1) {
      throw new Error(
        `histogram series ${JSON.stringify(series.name)} needs ${bins + 1} edges, got ${series.edges.length}`,
      );
    }
    // With step-after interpolation each point's height runs to the next point's x.
    const outline = [
      { x: series.edges[0], y: 0 },
      ...series.heights.map((height, i) => ({ x: series.edges[i], y: height })),
      { x: series.edges[bins], y: series.heights[bins - 1] },
      { x: series.edges[bins], y: 0 },
    ];
    outline
      .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y))
      .forEach((point, order) => {
        values.push({ ...point, series: series.name, order });
      });
  }
  const names = options.series.map((series) => series.name);
  return {
    ...frame(options.title, options.width ?? 480, options.height ?? 300),
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.8 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xTitle, scale: { zero: false } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: options.yTitle,
        ...(options.yScale === 'symlog'
          ? { scale: { type: 'symlog' }, axis: { values: symlogTicks(values.map((value) => value.y)) } }
          : {}),
      },
      order: { field: 'order', type: 'quantitative' },
      color:
        names.length > 1
          ? { field: 'series', type: 'nominal', title: null, sort: names, scale: { domain: names } }
          : { value: '#4c78a8' },
    },
  } as ChartSpec;
}

/** Tick values 0, 1, 2, 5, 10, 20, 50, ... up to the largest of `values`, for a symlog axis. */
function symlogTicks(values: readonly number[]): number[] {
  const top = Math.max(0, ...values.filter(Number.isFinite));
  const ticks = [0];
  for (let power = 1; power <= Math.max(1, top); power *= 10) {
    for (const step of [1, 2, 5]) if (step * power <= Math.max(1, top)) ticks.push(step * power);
  }
  return ticks;
}

/**
 * Returns logAxisTicks for a log axis with Vega's nice domain, which extends the extent of the
 * positive values to powers of ten.
 */
function niceLogAxisTicks(values: readonly number[]): ReturnType<typeof logAxisTicks> {
  const positive = values.filter((value) => value > 0);
  if (positive.length === 0) return {};
  const low = 10 ** Math.floor(Math.log10(Math.min(...positive)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...positive)));
  return logAxisTicks([low, high]);
}

export interface HeatmapOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  /** Column labels, left to right. */
  xLabels: readonly string[];
  /** Row labels, top to bottom. */
  yLabels: readonly string[];
  /** `values[row][column]`. */
  values: readonly (ArrayLike<number> | readonly number[])[];
  colorTitle: string;
  /** Vega color scheme name, default `viridis`. */
  scheme?: string;
  /**
   * Values at the two ends of the color scale, default the smallest and largest value. Set it where
   * several heatmaps are compared, or where every value may be equal.
   */
  domain?: readonly [number, number];
  /** Size of one cell in CSS pixels, default 14. */
  cellSize?: number;
}

/**
 * Builds a heatmap of a matrix, such as a one-hot matrix or attention weights. Row and column labels
 * are made unique with their index where they repeat, because Vega merges equal labels.
 */
export function heatmapSpec(options: HeatmapOptions): ChartSpec {
  const xLabels = uniqueLabels(options.xLabels);
  const yLabels = uniqueLabels(options.yLabels);
  const values: { x: string; y: string; value: number }[] = [];
  options.values.forEach((row, rowIndex) => {
    for (let column = 0; column < row.length; column++) {
      values.push({ x: xLabels[column], y: yLabels[rowIndex], value: row[column] });
    }
  });
  const cell = options.cellSize ?? 14;
  return {
    ...frame(options.title, xLabels.length * cell, yLabels.length * cell),
    data: { values },
    mark: { type: 'rect' },
    encoding: {
      x: {
        field: 'x',
        type: 'ordinal',
        title: options.xTitle,
        sort: xLabels,
        axis: { labelAngle: categoryLabelAngle(xLabels, cell, -60) },
      },
      y: { field: 'y', type: 'ordinal', title: options.yTitle, sort: yLabels },
      color: {
        field: 'value',
        type: 'quantitative',
        title: options.colorTitle,
        scale: {
          scheme: options.scheme ?? 'viridis',
          ...(options.domain === undefined ? {} : { domain: [...options.domain] }),
        },
      },
    },
  } as ChartSpec;
}

function uniqueLabels(labels: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const label of labels) seen.set(label, (seen.get(label) ?? 0) + 1);
  return labels.map((label, index) => ((seen.get(label) ?? 0) > 1 ? `${label} (${index})` : label));
}

/** One point of a scatter chart; `series` colors it and `label` shows in the tooltip. */
export interface ScatterPoint {
  x: number;
  y: number;
  series?: string;
  label?: string;
}

export interface ScatterChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly ScatterPoint[];
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  /** Join the points of each series with a line, in x order. */
  lines?: boolean;
  /** Write each point's `label` next to it, for a few labelled points. */
  pointLabels?: boolean;
  /** Put ticks of the x axis on integers only, such as positions in a sequence. */
  integerX?: boolean;
  width?: number;
  height?: number;
}

/** Builds a scatter chart, optionally on log axes. Non-finite points, and non-positive ones on a log axis, are left out. */
export function scatterChartSpec(options: ScatterChartOptions): ChartSpec {
  const xLog = options.xScale === 'log';
  const yLog = options.yScale === 'log';
  const values = options.points
    .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y))
    .filter((point) => (!xLog || point.x > 0) && (!yLog || point.y > 0))
    .map((point) => ({ x: point.x, y: point.y, series: point.series ?? '', label: point.label ?? '' }));
  const series = [...new Set(values.map((value) => value.series))];
  const hasSeries = series.some((name) => name !== '');
  const encoding: Record<string, unknown> = {
    x: {
      field: 'x',
      type: 'quantitative',
      title: options.xTitle,
      // Vega-Lite drops `zero` on a log scale with a warning on stderr.
      scale: xLog ? { type: 'log', nice: false } : { type: 'linear', zero: false },
      ...(xLog ? logAxisTicks(values.map((value) => value.x)) : {}),
    },
    y: {
      field: 'y',
      type: 'quantitative',
      title: options.yTitle,
      scale: yLog ? { type: 'log', nice: false } : { type: 'linear', zero: false },
      ...(yLog ? logAxisTicks(values.map((value) => value.y)) : {}),
    },
    tooltip: [{ field: 'label' }, { field: 'x' }, { field: 'y' }],
    color: hasSeries
      ? {
          field: 'series',
          type: 'nominal',
          title: null,
          sort: series,
          scale: { domain: series },
          legend: { labelLimit: 400 },
        }
      : { value: '#4c78a8' },
  };
  const mark = options.lines
    ? { type: 'line', point: { filled: true, size: 20 }, strokeWidth: 1.5 }
    : { type: 'point', filled: true, size: 24, opacity: 0.7 };
  if (options.integerX) {
    (encoding.x as Record<string, unknown>).axis = { tickMinStep: 1, format: 'd' };
  }
  const base = {
    ...frame(options.title, options.width ?? 480, options.height ?? 320),
    data: { values },
    encoding,
  };
  if (!options.pointLabels) return { ...base, mark } as ChartSpec;
  const labels = {
    mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 12 },
    encoding: { text: { field: 'label' }, color: { value: 'black' } },
  };
  return { ...base, layer: [{ mark }, labels] } as ChartSpec;
}
