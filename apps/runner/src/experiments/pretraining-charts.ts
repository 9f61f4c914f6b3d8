import { CHART_AXIS_CONFIG, CHART_FONT, type ChartSpec, logAxisTicks } from '../plot.js';

/** One point of a line chart; points of the same `series` are joined in x order. */
export interface LinePoint {
  x: number;
  y: number;
  series: string;
}

export interface LineChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly LinePoint[];
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  /** Dash the series whose names are listed, such as the validation curves next to training curves. */
  dashed?: readonly string[];
  /**
   * Gives series the same color when this returns the same key for them, such as the training and validation
   * curves of one run. Without it each series has its own color.
   */
  colorKey?: (series: string) => string;
  width?: number;
  height?: number;
}

/** Vega's default categorical scheme, `tableau10`. */
const TABLEAU10 = [
  '#4c78a8',
  '#f58518',
  '#e45756',
  '#72b7b2',
  '#54a24b',
  '#eeca3b',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
];

/** Colors for `series` in order, one per distinct key, repeating after ten keys. */
function pairedColors(series: readonly string[], colorKey: (series: string) => string): string[] {
  const keys: string[] = [];
  return series.map((name) => {
    const key = colorKey(name);
    if (!keys.includes(key)) keys.push(key);
    return TABLEAU10[keys.indexOf(key) % TABLEAU10.length];
  });
}

/**
 * Builds a line chart without point markers, for curves with many points such as a loss per step or a
 * learning rate per step. Non-finite points, and non-positive ones on a log axis, are left out.
 */
export function lineChartSpec(options: LineChartOptions): ChartSpec {
  const xLog = options.xScale === 'log';
  const yLog = options.yScale === 'log';
  const values = options.points
    .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y))
    .filter((point) => (!xLog || point.x > 0) && (!yLog || point.y > 0))
    .map((point) => ({ x: point.x, y: point.y, series: point.series }));
  const series = [...new Set(values.map((value) => value.series))];
  const dashed = new Set(options.dashed ?? []);
  const xs = values.map((value) => value.x);
  const ys = values.map((value) => value.y);
  const encoding: Record<string, unknown> = {
    x: {
      field: 'x',
      type: 'quantitative',
      title: options.xTitle,
      // Vega-Lite rejects `zero` on a log scale.
      scale: xLog ? { type: 'log', nice: false } : { type: 'linear', zero: false },
      ...(xLog ? logAxisTicks(xs) : {}),
    },
    y: {
      field: 'y',
      type: 'quantitative',
      title: options.yTitle,
      scale: yLog ? { type: 'log', nice: false } : { type: 'linear', zero: false },
      ...(yLog ? logAxisTicks(ys) : {}),
    },
    color: {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: series,
      scale: {
        domain: series,
        ...(options.colorKey ? { range: pairedColors(series, options.colorKey) } : {}),
      },
    },
    // Same field, title and order as the color, so Vega-Lite merges both into one legend.
    strokeDash: {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: series,
      scale: { domain: series, range: series.map((name) => (dashed.has(name) ? [6, 4] : [1, 0])) },
    },
    tooltip: [{ field: 'series' }, { field: 'x' }, { field: 'y' }],
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: options.width ?? 480,
    height: options.height ?? 300,
    background: 'white',
    config: { font: CHART_FONT, axis: CHART_AXIS_CONFIG, legend: { labelLimit: 400 } },
    data: { values },
    mark: { type: 'line', strokeWidth: 1.8 },
    encoding,
  } as ChartSpec;
}
