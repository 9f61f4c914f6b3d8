import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from './atomic-write.js';

/** A Vega-Lite specification: plain JSON that renders the same in Node and in a browser. */
export type ChartSpec = TopLevelSpec;

/** One sample of a named line. */
export interface SeriesPoint {
  x: number;
  y: number;
  series: string;
}

export interface LineChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly SeriesPoint[];
  /** Legend order, which also fixes each series' color. Defaults to the order of first appearance. */
  seriesOrder?: readonly string[];
  /** Series that also get a dot at every point, for sparse samples. */
  markedSeries?: readonly string[];
  /** Label the x axis at whole numbers only, for counts such as layers. */
  integerX?: boolean;
  yScale?: 'linear' | 'log';
  /**
   * Color the series along the viridis scheme in legend order, for ordered series such as layers,
   * instead of with the 10 categorical colors, which repeat from the 11th series on.
   */
  sequentialColors?: boolean;
  /** Plot area size in CSS pixels, without axes and legend. */
  width?: number;
  height?: number;
}

/** Font families for chart text, in CSS order: the usual browser fonts, then DejaVu Sans for Linux. */
export const CHART_FONT = 'Helvetica, Arial, DejaVu Sans, sans-serif';

/**
 * Axis settings of every chart. Where an axis drops overlapping tick labels (quantitative axes), the
 * labels it keeps are at least 4 pixels apart.
 */
export const CHART_AXIS_CONFIG = { labelSeparation: 4 } as const;

/**
 * Advance widths in em of the printable ASCII characters U+0020 to U+007E in DejaVu Sans 2.37, read
 * from the hmtx tables of DejaVuSans.ttf and DejaVuSans-Bold.ttf. resvg draws the PNG text in DejaVu
 * Sans where Helvetica and Arial are missing. Those two set most text narrower, so the SVG text in a
 * browser also fits the space measured with these widths.
 */
const DEJAVU_SANS_WIDTHS = {
  regular: [
    0.318, 0.401, 0.46, 0.838, 0.636, 0.95, 0.78, 0.275, 0.39, 0.39, 0.5, 0.838, 0.318, 0.361, 0.318, 0.337,
    0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.337, 0.337, 0.838, 0.838, 0.838,
    0.531, 1, 0.684, 0.686, 0.698, 0.77, 0.632, 0.575, 0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863, 0.748,
    0.787, 0.603, 0.787, 0.695, 0.635, 0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685, 0.39, 0.337, 0.39,
    0.838, 0.5, 0.5, 0.613, 0.635, 0.55, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974,
    0.634, 0.612, 0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525, 0.636, 0.337,
    0.636, 0.838,
  ],
  bold: [
    0.348, 0.456, 0.521, 0.838, 0.696, 1.002, 0.872, 0.306, 0.457, 0.457, 0.523, 0.838, 0.38, 0.415, 0.38,
    0.365, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.4, 0.4, 0.838, 0.838,
    0.838, 0.58, 1, 0.774, 0.762, 0.734, 0.83, 0.683, 0.683, 0.821, 0.837, 0.372, 0.372, 0.775, 0.637, 0.995,
    0.837, 0.85, 0.733, 0.85, 0.77, 0.72, 0.682, 0.812, 0.774, 1.103, 0.771, 0.724, 0.725, 0.457, 0.365,
    0.457, 0.838, 0.5, 0.5, 0.675, 0.716, 0.593, 0.716, 0.678, 0.435, 0.716, 0.712, 0.343, 0.343, 0.665,
    0.343, 1.042, 0.712, 0.687, 0.716, 0.716, 0.493, 0.595, 0.478, 0.712, 0.652, 0.924, 0.645, 0.652, 0.582,
    0.712, 0.365, 0.712, 0.838,
  ],
} as const;

/** Returns whether a code point is drawn one em wide: CJK, Hangul, Hiragana, Katakana and fullwidth forms. */
function isWideCodePoint(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    code >= 0x1f300
  );
}

/**
 * Returns the width in pixels of one line of chart text in DejaVu Sans. Characters outside printable
 * ASCII count 0.8 em, Vega's own estimate for every character, or 1 em where they are wide, so that
 * such text is laid out too wide rather than cut off.
 */
export function chartTextWidth(text: string, fontSize: number, bold = false): number {
  const widths = bold ? DEJAVU_SANS_WIDTHS.bold : DEJAVU_SANS_WIDTHS.regular;
  let ems = 0;
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    if (code >= 0x20 && code <= 0x7e) ems += widths[code - 0x20];
    else ems += isWideCodePoint(code) ? 1 : 0.8;
  }
  return ems * fontSize;
}

/** The subset of a Vega text item that text measurement reads. */
interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
  limit?: number;
}

/**
 * Measures text for Vega's layout: axis and legend extents, title offsets and the truncation of labels
 * longer than their `limit`. Without a canvas package Vega estimates every character as 0.8 em, which
 * leaves wide margins beside rotated labels and cuts labels short. A width above `limit` is returned as
 * `limit`, because Vega then draws the label truncated to fit it.
 */
function measureChartText(item: TextItem, text: unknown): number {
  const line = text == null ? '' : String(text).trim();
  const fontSize = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
  const weight = item.fontWeight;
  const bold = weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
  const width = chartTextWidth(line, fontSize, bold);
  return item.limit !== undefined && item.limit > 0 ? Math.min(width, item.limit) : width;
}

/**
 * Vega's text measurement hook. vega 6.4 exports it at run time, but its type declarations omit it.
 * vega-scenegraph 5.3 supports replacing `width`, as vl-convert does. Without the hook, charts keep
 * Vega's estimate.
 */
const vegaTextMetrics = (vega as unknown as { textMetrics?: { width: typeof measureChartText } }).textMetrics;
if (vegaTextMetrics !== undefined) vegaTextMetrics.width = measureChartText;

/**
 * Builds a Vega-Lite line chart with one colored line per series. Points with a non-finite `x` or `y`
 * (NaN, Infinity) are left out because JSON cannot carry them.
 */
export function lineChartSpec(options: LineChartOptions): ChartSpec {
  const values = options.points
    .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y))
    .map((point) => ({ x: point.x, y: point.y, series: point.series }));
  const seriesOrder = options.seriesOrder ?? [...new Set(values.map((value) => value.series))];

  const encoding = {
    x: {
      field: 'x',
      type: 'quantitative',
      title: options.xTitle,
      ...(options.integerX ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
    },
    y: {
      field: 'y',
      type: 'quantitative',
      title: options.yTitle,
      scale: { type: options.yScale ?? 'linear', zero: false },
    },
    color: {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: [...seriesOrder],
      scale: {
        domain: [...seriesOrder],
        // The extent leaves out viridis' light yellow end, which is hard to see on white.
        ...(options.sequentialColors ? { scheme: { name: 'viridis', extent: [0, 0.85] } } : {}),
      },
    },
  } as const;

  const lineLayer = { mark: { type: 'line', strokeWidth: 2 } } as const;
  const layers: object[] = [lineLayer];
  if (options.markedSeries !== undefined && options.markedSeries.length > 0) {
    layers.push({
      transform: [{ filter: { field: 'series', oneOf: [...options.markedSeries] } }],
      mark: { type: 'point', filled: true, size: 30 },
    });
  }

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: options.width ?? 640,
    height: options.height ?? 320,
    background: 'white',
    config: { font: CHART_FONT, axis: CHART_AXIS_CONFIG },
    data: { values },
    encoding,
    layer: layers,
  } as ChartSpec;
}

/**
 * Returns the tick values of a log axis over [min, max], as multiples of the powers of ten. The
 * multiples are 1 to 9 under one decade, 1, 2, 3 and 5 under two decades, 1, 2 and 5 up to four
 * decades and 1 alone above. Vega's own log ticks put a label on every multiple and then drop labels
 * that overlap, which can leave out a power of ten. Returns undefined, for Vega's default ticks, when
 * the range is not positive or fewer than two values fall in it.
 */
export function logTickValues(min: number, max: number): number[] | undefined {
  if (!(min > 0 && max >= min && Number.isFinite(max))) return undefined;
  const decades = Math.log10(max / min);
  let mantissas = [1, 2, 5];
  if (decades > 4) mantissas = [1];
  if (decades < 2) mantissas = [1, 2, 3, 5];
  if (decades < 1) mantissas = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const values: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const mantissa of mantissas) {
      // toPrecision drops the binary rounding error of, e.g., 3 * 10 ** -1.
      const value = Number((mantissa * 10 ** exponent).toPrecision(12));
      if (value >= min && value <= max) values.push(value);
    }
  }
  return values.length >= 2 ? values : undefined;
}

/**
 * Returns the `axis` property of a Vega-Lite log axis whose domain is the extent of `values`, with the
 * ticks of logTickValues, or nothing to keep Vega's ticks.
 */
export function logAxisTicks(values: readonly number[]): { axis?: { values: number[] } } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) {
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  const ticks = logTickValues(min, max);
  return ticks === undefined ? {} : { axis: { values: ticks } };
}

/** Losses recorded at one optimizer step. Either loss may be absent, e.g. between evaluations. */
export interface LossPoint {
  step: number;
  trainLoss?: number;
  valLoss?: number;
}

/** Builds a chart of training and validation loss against the step, validation samples marked with dots. */
export function lossCurveSpec(points: readonly LossPoint[], title: string): ChartSpec {
  const seriesPoints: SeriesPoint[] = [];
  for (const point of points) {
    if (point.trainLoss !== undefined) {
      seriesPoints.push({ x: point.step, y: point.trainLoss, series: 'train' });
    }
    if (point.valLoss !== undefined) {
      seriesPoints.push({ x: point.step, y: point.valLoss, series: 'validation' });
    }
  }
  return lineChartSpec({
    title,
    xTitle: 'step',
    yTitle: 'loss (cross-entropy per token)',
    points: seriesPoints,
    seriesOrder: ['train', 'validation'],
    markedSeries: ['validation'],
    integerX: true,
  });
}

/**
 * Creates a Vega loader that rejects every URL, so that rendering reads nothing but the inline data of the spec
 * and never touches the network or the file system. Vega only logs a failed load and renders the chart
 * without that data, so the loader records the URLs for chartToSvg to raise.
 */
function inlineDataOnlyLoader(): { loader: vega.Loader; rejectedUrls: string[] } {
  const rejectedUrls: string[] = [];
  const reject = async (uri: string): Promise<never> => {
    rejectedUrls.push(uri);
    throw new Error(`charts may only use inline data, got a reference to ${JSON.stringify(uri)}`);
  };
  return { loader: { load: reject, sanitize: reject, http: reject, file: reject }, rejectedUrls };
}

/**
 * Renders a Vega-Lite spec to an SVG document, headless. Raises an error when the spec refers to data or
 * images by URL, because only inline data (`data.values`) is loaded. Vega warnings are not printed.
 */
export async function chartToSvg(spec: ChartSpec): Promise<string> {
  const vegaSpec = compile(spec).spec;
  const { loader, rejectedUrls } = inlineDataOnlyLoader();
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none', loader, logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    if (rejectedUrls.length > 0) {
      throw new Error(
        `charts may only use inline data (data.values), but the spec refers to ${rejectedUrls.map((url) => JSON.stringify(url)).join(', ')}.`,
      );
    }
    return svg;
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Output pixels per SVG pixel. */
  scale?: number;
  /** Extra font files to load besides the system fonts, e.g. where no system font is installed. */
  fontFiles?: string[];
}

/**
 * Rasterizes an SVG document to PNG with resvg. Text needs a font: resvg loads the system fonts and uses
 * DejaVu Sans for the generic `sans-serif` family where it is installed. With no font at all, the
 * PNG has no text.
 */
export function svgToPng(svg: string, options: PngOptions = {}): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    background: 'white',
    font: {
      loadSystemFonts: true,
      fontFiles: options.fontFiles ?? [],
      sansSerifFamily: 'DejaVu Sans',
    },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** Paths of the files written by renderChart. */
export interface RenderedChart {
  svgPath: string;
  pngPath: string;
}

/**
 * Renders `spec` to `<outPathWithoutExt>.svg` and `<outPathWithoutExt>.png`. Each file is written to a
 * temporary name and renamed, so a reader never sees a partial chart.
 */
export async function renderChart(
  spec: ChartSpec,
  outPathWithoutExt: string,
  options: PngOptions = {},
): Promise<RenderedChart> {
  const svg = await chartToSvg(spec);
  const png = svgToPng(svg, options);
  const svgPath = `${outPathWithoutExt}.svg`;
  const pngPath = `${outPathWithoutExt}.png`;
  await writeFileAtomic(svgPath, svg);
  await writeFileAtomic(pngPath, png);
  return { svgPath, pngPath };
}
