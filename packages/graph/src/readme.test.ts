import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Graph, GraphSession, grad, toOnnx } from './index.js';

describe('README example', () => {
  it('runs and gives the gradient of the loss', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('const loss = g.reduceMean(g.mul(g.gelu(g.matmul(x, w)), 2));');

    const g = new Graph('example');
    const x = g.input('x', 'float32', ['batch', 3]);
    const w = g.parameter('w', [3, 2]);
    const loss = g.reduceMean(g.mul(g.gelu(g.matmul(x, w)), 2));
    g.output('loss', loss);
    g.output('grad_w', grad(loss, [w])[0]);
    const session = await GraphSession.create(toOnnx(g));
    const xs = [1, 2, 3, 4, 5, 6];
    const ws = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6];
    const result = await session.run({
      x: session.tensor('float32', Float32Array.from(xs), [2, 3]),
      w: session.tensor('float32', Float32Array.from(ws), [3, 2]),
    });

    // The same computation in plain JavaScript, in float64.
    const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
    let expected = 0;
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        let h = 0;
        for (let k = 0; k < 3; k++) h += xs[r * 3 + k] * ws[k * 2 + c];
        expected += (2 * gelu(h)) / 4;
      }
    }
    expect(result.loss.data[0] as number).toBeCloseTo(expected, 5);
    expect(result.grad_w.data).toHaveLength(6);
  });
});

/** erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.sign(x) * (1 - poly * Math.exp(-x * x));
}
