import { describe, expect, it } from 'vitest';
import { chartToSvg } from '../plot.js';
import { barChartSpec, heatmapSpec, histogramChartSpec, scatterChartSpec } from './charts.js';

/** The parts of a single-view or layered Vega-Lite spec that these tests read. */
interface SpecView {
  data: { values: Record<string, unknown>[] };
  encoding: Record<
    string,
    { axis?: { labelAngle?: number; values?: number[] }; scale?: { domain?: unknown } }
  >;
  layer?: { mark: { type: string } }[];
}

function view(spec: unknown): SpecView {
  return spec as SpecView;
}

describe('barChartSpec', () => {
  it('keeps labels horizontal where they fit', () => {
    const spec = barChartSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'y',
      bars: ['0 (1)', '1 (2)', '2 (5)'].map((label, i) => ({ label, value: i })),
    });
    expect(view(spec).encoding.x.axis?.labelAngle).toBe(0);
  });

  it('rotates labels wider than their band', () => {
    const spec = barChartSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'y',
      bars: ['alice-in-wonderland.txt', 'the-time-machine.txt'].map((label, i) => ({ label, value: i })),
      width: 120,
    });
    expect(view(spec).encoding.x.axis?.labelAngle).toBe(-45);
  });

  it('writes values above the bars on request', async () => {
    const spec = barChartSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'y',
      bars: [
        { label: 'a', value: 0.1523 },
        { label: 'b', value: 82.75 },
      ],
      valueLabels: true,
    });
    expect(view(spec).layer?.map((layer) => layer.mark.type)).toEqual(['bar', 'text']);
    const svg = await chartToSvg(spec);
    expect(svg).toContain('>0.152</text>');
    expect(svg).toContain('>82.8</text>');
  });
});

describe('heatmapSpec', () => {
  it('fixes the color domain on request', () => {
    const spec = heatmapSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'y',
      xLabels: ['0', '1'],
      yLabels: ['0', '1'],
      values: [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
      colorTitle: 'weight',
      domain: [0, 1],
    });
    expect(view(spec).encoding.color.scale?.domain).toEqual([0, 1]);
  });
});

describe('histogramChartSpec', () => {
  it('outlines the bars from the first edge to the last', () => {
    const spec = histogramChartSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'density',
      series: [{ name: 'a', edges: [0, 1, 2], heights: [0.25, 0.75] }],
    });
    expect(view(spec).data.values.map(({ x, y }) => [x, y])).toEqual([
      [0, 0],
      [0, 0.25],
      [1, 0.75],
      [2, 0.75],
      [2, 0],
    ]);
  });

  it('rejects edges that do not match the bins', () => {
    expect(() =>
      histogramChartSpec({
        title: 't',
        xTitle: 'x',
        yTitle: 'y',
        series: [{ name: 'a', edges: [0, 1], heights: [1, 2] }],
      }),
    ).toThrow('histogram series "a" needs 3 edges, got 2');
  });

  it('draws one step line per series', async () => {
    const svg = await chartToSvg(
      histogramChartSpec({
        title: 't',
        xTitle: 'x',
        yTitle: 'y',
        series: [
          { name: 'a', edges: [0, 1, 2], heights: [1, 2] },
          { name: 'b', edges: [0, 1, 2], heights: [2, 1] },
        ],
      }),
    );
    expect(svg.match(/<g class="mark-line role-mark/g)).toHaveLength(2);
    expect(svg).toContain('>a</text>');
    expect(svg).toContain('>b</text>');
  });
});

describe('scatterChartSpec', () => {
  it('puts log-axis ticks on 1, 2 and 5 times powers of ten', () => {
    const spec = scatterChartSpec({
      title: 't',
      xTitle: 'x',
      yTitle: 'y',
      points: [
        { x: 1, y: 9000 },
        { x: 100, y: 3 },
      ],
      xScale: 'log',
      yScale: 'log',
    });
    expect(view(spec).encoding.x.axis?.values).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(view(spec).encoding.y.axis?.values).toEqual([5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
  });
});
