import { describe, expect, it } from 'vitest';
import { grad } from './autodiff.js';
import { toOnnx } from './emit.js';
import { Graph } from './graph.js';
import { GraphSession } from './runtime.js';

/** Builds a small graph with a matmul, layer norm, GELU, softmax, a causal mask and a gradient. */
function buildGraph(): Uint8Array {
  const g = new Graph('backend-check');
  const x = g.input('x', 'float32', ['batch', 4, 6]);
  const w = g.parameter('w', [6, 6]);
  const gamma = g.parameter('gamma', [6]);
  const beta = g.parameter('beta', [6]);
  const h = g.gelu(g.matmul(g.layerNorm(x, gamma, beta), w), 'tanh');
  const scores = g.matmul(h, g.transpose(h, [0, 2, 1]));
  const attention = g.softmax(g.causalMask(scores));
  const y = g.matmul(attention, h);
  const loss = g.reduceMean(g.mul(y, y));
  g.output('y', y);
  g.output('loss', loss);
  g.output('grad_w', grad(loss, [w])[0]);
  return toOnnx(g);
}

function ramp(size: number, scale: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * scale));
}

async function runOn(backend: 'node' | 'web') {
  const session = await GraphSession.create(buildGraph(), { backend, intraOpThreads: 1 });
  const result = await session.run({
    x: session.tensor('float32', ramp(2 * 4 * 6, 0.37), [2, 4, 6]),
    w: session.tensor('float32', ramp(36, 0.11), [6, 6]),
    gamma: session.tensor(
      'float32',
      Float32Array.from({ length: 6 }, (_, i) => 1 + i / 10),
      [6],
    ),
    beta: session.tensor('float32', ramp(6, 0.5), [6]),
  });
  const out = Object.fromEntries(
    Object.entries(result).map(([k, v]) => [k, Array.from(v.data as Float32Array)]),
  );
  await session.release();
  return out;
}

describe('ONNX Runtime backends', () => {
  it('give the same outputs on onnxruntime-node and onnxruntime-web (WASM)', async () => {
    const native = await runOn('node');
    const wasm = await runOn('web');
    for (const name of ['y', 'loss', 'grad_w']) {
      expect(wasm[name]).toHaveLength(native[name].length);
      wasm[name].forEach((value, i) => {
        expect(Math.abs(value - native[name][i]), `${name}[${i}]`).toBeLessThan(
          1e-5 * Math.max(1, Math.abs(native[name][i])),
        );
      });
    }
  });

  it('reports a model that ONNX Runtime rejects', async () => {
    await expect(GraphSession.create(new Uint8Array([1, 2, 3]))).rejects.toThrow(
      /ONNX Runtime \(node\) rejected the model/,
    );
  });
});
