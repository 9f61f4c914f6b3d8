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
  yScale?: 'linear' | 'log';
  /** Plot area size in CSS pixels, without axes and legend. */
  width?: number;
  height?: number;
}

/** Font families for chart text, in CSS order: the usual browser fonts, then DejaVu Sans for Linux. */
export const CHART_FONT = 'Helvetica, Arial, DejaVu Sans, sans-serif';

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
    x: { field: 'x', type: 'quantitative', title: options.xTitle },
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
      scale: { domain: [...seriesOrder] },
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
    config: { font: CHART_FONT },
    data: { values },
    encoding,
    layer: layers,
  } as ChartSpec;
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
