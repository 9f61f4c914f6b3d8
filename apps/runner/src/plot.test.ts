import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChartSpec,
  chartTextWidth,
  chartToSvg,
  type LossPoint,
  lineChartSpec,
  logTickValues,
  lossCurveSpec,
  renderChart,
  svgToPng,
} from './plot.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-plot-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** Builds a loss curve of 101 logged steps, with a validation loss every 250 steps. */
function lossPoints(): LossPoint[] {
  const points: LossPoint[] = [];
  for (let step = 0; step <= 1000; step += 10) {
    const point: LossPoint = { step, trainLoss: 1.2 + 3 * Math.exp(-step / 300) };
    if (step % 250 === 0) {
      point.valLoss = 1.4 + 3 * Math.exp(-step / 300);
    }
    points.push(point);
  }
  return points;
}

/** Returns the `<g class="...">` group whose class starts with `classPrefix`, up to its first `</g>`. */
function markGroups(svg: string, classPrefix: string): string[] {
  const pattern = new RegExp(`<g class="${classPrefix}[^"]*"[^>]*>(.*?)</g>`, 'g');
  return [...svg.matchAll(pattern)].map((match) => match[1]);
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

describe('lossCurveSpec', () => {
  it('turns losses into train and validation series', () => {
    const spec = lossCurveSpec(
      [
        { step: 0, trainLoss: 4, valLoss: 4.2 },
        { step: 10, trainLoss: 3 },
        { step: 20, valLoss: 2.9 },
      ],
      'loss',
    ) as { data: { values: unknown[] } };
    expect(spec.data.values).toEqual([
      { x: 0, y: 4, series: 'train' },
      { x: 0, y: 4.2, series: 'validation' },
      { x: 10, y: 3, series: 'train' },
      { x: 20, y: 2.9, series: 'validation' },
    ]);
  });

  it('labels steps with whole numbers', () => {
    const spec = lossCurveSpec([{ step: 1, trainLoss: 4, valLoss: 4.2 }], 'loss') as {
      encoding: { x: { axis: { tickMinStep: number; format: string } } };
    };
    expect(spec.encoding.x.axis).toEqual({ tickMinStep: 1, format: 'd' });
  });

  it('is plain JSON', () => {
    const spec = lossCurveSpec(lossPoints(), 'loss');
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });
});

describe('lineChartSpec', () => {
  it('drops non-finite points', () => {
    const spec = lineChartSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'y',
      points: [
        { x: 1, y: 1, series: 'a' },
        { x: 2, y: Number.NaN, series: 'a' },
        { x: 3, y: Number.POSITIVE_INFINITY, series: 'a' },
      ],
    }) as { data: { values: unknown[] } };
    expect(spec.data.values).toEqual([{ x: 1, y: 1, series: 'a' }]);
  });
});

describe('chartToSvg', () => {
  it('draws one line per series and marks validation points', async () => {
    const svg = await chartToSvg(lossCurveSpec(lossPoints(), 'Loss of a test run'));
    const lines = markGroups(svg, 'mark-line role-mark');
    expect(lines).toHaveLength(2);
    expect(count(lines[0], /<path /g)).toBe(1);
    expect(count(lines[1], /<path /g)).toBe(1);
    expect(lines.join('')).toContain('series: train');
    expect(lines.join('')).toContain('series: validation');

    const symbols = markGroups(svg, 'mark-symbol role-mark');
    expect(symbols).toHaveLength(1);
    expect(count(symbols[0], /<path /g)).toBe(5);
  });

  it('draws the title, axis titles and legend', async () => {
    const svg = await chartToSvg(lossCurveSpec(lossPoints(), 'Loss of a test run'));
    expect(svg).toContain('>Loss of a test run</text>');
    expect(svg).toContain('>step</text>');
    expect(svg).toContain('>loss (cross-entropy per token)</text>');
    expect(svg).toContain('>train</text>');
    expect(svg).toContain('>validation</text>');
  });

  it('draws a line through every train point', async () => {
    const svg = await chartToSvg(lossCurveSpec(lossPoints(), 'loss'));
    const trainLine = markGroups(svg, 'mark-line role-mark').find((group) => group.includes('series: train'));
    const path = trainLine?.match(/ d="([^"]+)"/)?.[1] ?? '';
    // One move-to and 100 line-to commands for 101 points.
    expect(count(path, /M/g)).toBe(1);
    expect(count(path, /L/g)).toBe(100);
  });

  it('rejects data by URL', async () => {
    const spec = {
      data: { url: 'data/losses.json' },
      mark: 'line',
      encoding: { x: { field: 'step', type: 'quantitative' } },
    } as ChartSpec;
    await expect(chartToSvg(spec)).rejects.toThrow(
      'charts may only use inline data (data.values), but the spec refers to "data/losses.json".',
    );
  });
});

describe('chartTextWidth', () => {
  it('uses DejaVu Sans advance widths', () => {
    // DejaVu Sans: "i" is 0.278 em and "m" 0.974 em wide.
    expect(chartTextWidth('i', 10)).toBeCloseTo(2.78, 6);
    expect(chartTextWidth('mm', 10)).toBeCloseTo(19.48, 6);
    expect(chartTextWidth('m', 10, true)).toBeGreaterThan(chartTextWidth('m', 10));
  });

  it('counts other characters as 0.8 em and CJK as 1 em', () => {
    expect(chartTextWidth('é', 10)).toBeCloseTo(8, 6);
    expect(chartTextWidth('中文', 10)).toBeCloseTo(20, 6);
  });
});

describe('chart text layout', () => {
  /** Builds a one-bar chart whose x label is `label`, at most 240 pixels wide. */
  function labelledBar(label: string): ChartSpec {
    return {
      data: { values: [{ label, value: 1 }] },
      mark: 'bar',
      encoding: {
        x: { field: 'label', type: 'nominal', axis: { labelLimit: 240 } },
        y: { field: 'value', type: 'quantitative' },
      },
    } as ChartSpec;
  }

  it('keeps a label that fits its limit whole', async () => {
    // 40 characters: about 230 pixels at 10 px, over the limit for Vega's estimate of 0.8 em each.
    const label = 'the quick brown fox jumps over a lazy do';
    const svg = await chartToSvg(labelledBar(label));
    expect(svg).toContain(`>${label}</text>`);
  });

  it('shortens a label wider than its limit with an ellipsis', async () => {
    const label = 'x'.repeat(60);
    const svg = await chartToSvg(labelledBar(label));
    expect(svg).not.toContain(`>${label}</text>`);
    expect(svg).toMatch(/>x+…<\/text>/);
  });
});

describe('logTickValues', () => {
  it('uses 1, 2 and 5 up to four decades', () => {
    expect(logTickValues(1, 9000)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
  });

  it('adds 3 under two decades', () => {
    expect(logTickValues(1.3, 32)).toEqual([2, 3, 5, 10, 20, 30]);
  });

  it('uses powers of ten above four decades', () => {
    expect(logTickValues(0.01, 2000)).toEqual([0.01, 0.1, 1, 10, 100, 1000]);
  });

  it('uses 1 to 9 under one decade', () => {
    expect(logTickValues(0.24, 0.9)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
  });

  it('leaves ranges without two ticks to Vega', () => {
    expect(logTickValues(2.1, 2.9)).toBeUndefined();
    expect(logTickValues(0, 10)).toBeUndefined();
    expect(logTickValues(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)).toBeUndefined();
  });
});

describe('svgToPng', () => {
  it('renders text with a system font', async () => {
    const svg = await chartToSvg(lossCurveSpec(lossPoints(), 'loss'));
    const withoutText = svg.replace(/<text[^>]*>[^<]*<\/text>/g, '');
    expect(withoutText).not.toBe(svg);
    // resvg draws no glyphs without a font, which makes both images identical.
    const identical = svgToPng(svg).equals(svgToPng(withoutText));
    expect(
      identical,
      'chart text is missing from the PNG. Install a font, e.g. apt-get install fonts-dejavu-core',
    ).toBe(false);
  });
});

describe('renderChart', () => {
  it('writes an SVG and a PNG', async () => {
    const spec = lossCurveSpec(lossPoints(), 'loss');
    const result = await renderChart(spec, join(directory, 'loss'));
    expect(result).toEqual({ svgPath: join(directory, 'loss.svg'), pngPath: join(directory, 'loss.png') });

    const svg = await readFile(result.svgPath, 'utf8');
    expect(svg).toBe(await chartToSvg(spec));
    const svgWidth = Number(svg.match(/^<svg [^>]*width="(\d+)"/)?.[1]);
    const svgHeight = Number(svg.match(/^<svg [^>]*height="(\d+)"/)?.[1]);
    expect(svgWidth).toBeGreaterThan(640);
    expect(svgHeight).toBeGreaterThan(320);

    const png = await readFile(result.pngPath);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBe(svgWidth * 2);
    expect(png.readUInt32BE(20)).toBe(svgHeight * 2);
    expect(png.length).toBeGreaterThan(20_000);
    expect(png.length).toBeLessThan(2_000_000);
  });

  it('renders at the requested scale', async () => {
    const result = await renderChart(lossCurveSpec(lossPoints(), 'loss'), join(directory, 'small'), {
      scale: 1,
    });
    const svg = await readFile(result.svgPath, 'utf8');
    const png = await readFile(result.pngPath);
    expect(png.readUInt32BE(16)).toBe(Number(svg.match(/^<svg [^>]*width="(\d+)"/)?.[1]));
  });

  it('creates the directory and leaves no temporary files', async () => {
    const nested = join(directory, 'run', 'charts');
    await renderChart(lossCurveSpec(lossPoints(), 'loss'), join(nested, 'loss'));
    await renderChart(lossCurveSpec(lossPoints().slice(0, 10), 'loss'), join(nested, 'loss'));
    expect((await readdir(nested)).sort()).toEqual(['loss.png', 'loss.svg']);
  });
});
