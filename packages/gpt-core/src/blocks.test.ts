import { Graph, GraphSession, Rng, type Tensor, toOnnx } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import {
  ActivationRecorder,
  activate,
  causalAttention,
  dropout,
  layerNorm,
  linear,
  mlp,
  multiHeadAttention,
} from './blocks.js';

type Feed = { data: Float32Array | BigInt64Array; shape: number[] };

/** Compiles the graph's outputs, feeds `feeds` by input or parameter name and returns every output. */
async function run(g: Graph, feeds: Record<string, Feed>): Promise<Record<string, Float32Array>> {
  const session = await GraphSession.create(toOnnx(g), { intraOpThreads: 1 });
  const tensors = Object.fromEntries(
    Object.entries(feeds).map(([name, { data, shape }]) => [
      name,
      session.tensor(data instanceof BigInt64Array ? 'int64' : 'float32', data, shape),
    ]),
  );
  const result = await session.run(tensors);
  await session.release();
  return Object.fromEntries(Object.entries(result).map(([name, t]) => [name, t.data as Float32Array]));
}

const random = (rng: Rng, size: number, std = 1) =>
  rng.fillNormal(new Float32Array(size), 0, std) as Float32Array;

describe('causalAttention', () => {
  it('matches a direct computation and masks the future', async () => {
    const [batch, seq, dim] = [2, 5, 4];
    const rng = new Rng(1);
    const values = {
      q: random(rng, batch * seq * dim),
      k: random(rng, batch * seq * dim),
      v: random(rng, batch * seq * dim),
    };
    const g = new Graph('attention');
    const [q, k, v] = (['q', 'k', 'v'] as const).map((name) => g.input(name, 'float32', [batch, seq, dim]));
    const attention = causalAttention(g, 'attn', q, k, v);
    g.output('out', attention.output);
    g.output('weights', attention.weights);
    const feeds = Object.fromEntries(
      Object.entries(values).map(([n, data]) => [n, { data, shape: [batch, seq, dim] }]),
    );
    const result = await run(g, feeds);

    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < seq; i++) {
        const at = (t: Float32Array, row: number, j: number) => t[(b * seq + row) * dim + j];
        const scores = Array.from({ length: i + 1 }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += at(values.q, i, d) * at(values.k, j, d);
          return dot / Math.sqrt(dim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, e) => a + e, 0);
        for (let j = 0; j < seq; j++) {
          const weight = result.weights[(b * seq + i) * seq + j];
          if (j > i) expect(weight, `weight ${b},${i},${j} above the diagonal`).toBe(0);
          else expect(weight).toBeCloseTo(exps[j] / total, 6);
        }
        for (let d = 0; d < dim; d++) {
          let expected = 0;
          for (let j = 0; j <= i; j++) expected += (exps[j] / total) * at(values.v, j, d);
          expect(result.out[(b * seq + i) * dim + d]).toBeCloseTo(expected, 5);
        }
      }
    }
  });

  it('lets a hook on the weights change the weighted sum', async () => {
    const g = new Graph('hooked');
    const x = g.input('x', 'float32', [1, 3, 2]);
    const uniform = g.constant([1, 0, 0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3], [1, 3, 3]);
    const recorder = new ActivationRecorder((site) => (site === 'attn.weights' ? uniform : undefined));
    g.output('out', causalAttention(g, 'attn', x, x, x, { recorder }).output);
    const result = await run(g, { x: { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [1, 3, 2] } });
    // Uniform weights over the past give running means of the values.
    expect(Array.from(result.out)).toEqual([1, 2, 2, 3, 3, 4]);
  });
});

describe('linear', () => {
  it('gives the same output in both layouts with transposed weights', async () => {
    const rng = new Rng(2);
    const x = random(rng, 2 * 3);
    const conv1d = random(rng, 3 * 4);
    const transposed = new Float32Array(12);
    for (let i = 0; i < 3; i++) for (let o = 0; o < 4; o++) transposed[o * 3 + i] = conv1d[i * 4 + o];
    const bias = Float32Array.of(0.5, -1, 2, 0);

    const g = new Graph('linear');
    const input = g.input('x', 'float32', [2, 3]);
    const a = linear(g, 'a', input, { inFeatures: 3, outFeatures: 4 });
    const b = linear(g, 'b', input, { inFeatures: 3, outFeatures: 4, layout: 'linear' });
    const c = linear(g, 'c', input, { inFeatures: 3, outFeatures: 4, bias: false });
    expect(a.weight.shape).toEqual([3, 4]);
    expect(b.weight.shape).toEqual([4, 3]);
    expect(c.bias).toBeUndefined();
    g.output('a', a.output);
    g.output('b', b.output);
    g.output('c', c.output);
    const result = await run(g, {
      x: { data: x, shape: [2, 3] },
      'a.weight': { data: conv1d, shape: [3, 4] },
      'a.bias': { data: bias, shape: [4] },
      'b.weight': { data: transposed, shape: [4, 3] },
      'b.bias': { data: bias, shape: [4] },
      'c.weight': { data: conv1d, shape: [3, 4] },
    });
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < 4; o++) {
        let expected = 0;
        for (let i = 0; i < 3; i++) expected += x[r * 3 + i] * conv1d[i * 4 + o];
        expect(result.c[r * 4 + o]).toBeCloseTo(expected, 5);
        expect(result.a[r * 4 + o]).toBeCloseTo(expected + bias[o], 5);
        expect(result.b[r * 4 + o]).toBeCloseTo(expected + bias[o], 5);
      }
    }
  });
});

describe('layerNorm, activations and dropout', () => {
  it('normalizes, activates and drops as documented', async () => {
    const g = new Graph('elementwise');
    const x = g.input('x', 'float32', [1, 4]);
    g.output('norm', layerNorm(g, 'ln', x, { dim: 4 }).output);
    g.output('relu', activate(g, x, 'relu'));
    g.output('gelu', activate(g, x, 'gelu'));
    g.output('geluTanh', activate(g, x, 'gelu-tanh'));
    const noise = g.input('noise', 'float32', [1, 4]);
    g.output('dropped', dropout(g, 'site', x, { p: 0.5, noise: () => noise }));
    expect(dropout(g, 'off', x)).toBe(x);
    const data = Float32Array.of(-2, -0.5, 1, 3);
    const result = await run(g, {
      x: { data, shape: [1, 4] },
      noise: { data: Float32Array.of(0.1, 0.9, 0.4, 0.6), shape: [1, 4] },
      'ln.weight': { data: Float32Array.of(1, 1, 2, 1), shape: [4] },
      'ln.bias': { data: Float32Array.of(0, 0, 0, 5), shape: [4] },
    });
    const mean = 0.375;
    const std = Math.sqrt([...data].reduce((s, v) => s + (v - mean) ** 2, 0) / 4 + 1e-5);
    expect(result.norm[2]).toBeCloseTo((2 * (1 - mean)) / std, 5);
    expect(result.norm[3]).toBeCloseTo((3 - mean) / std + 5, 5);
    expect(Array.from(result.relu)).toEqual([0, 0, 1, 3]);
    // gelu(1) = 0.5 (1 + erf(1 / sqrt(2))), the standard normal CDF at 1.
    expect(result.gelu[2]).toBeCloseTo(0.8413447460685429, 6);
    const u = Math.sqrt(2 / Math.PI) * (1 + 0.044715);
    expect(result.geluTanh[2]).toBeCloseTo(0.5 * (1 + Math.tanh(u)), 6);
    // Noise below p drops the element (a dropped negative value is -0); kept elements are doubled.
    expect(Array.from(result.dropped, (v) => v + 0)).toEqual([0, -1, 0, 6]);
  });
});

describe('multiHeadAttention and mlp', () => {
  it('records per-head weights and outputs that slice the whole', async () => {
    const [batch, seq, width, nHead] = [2, 4, 8, 2];
    const rng = new Rng(5);
    const g = new Graph('mha');
    const x = g.input('x', 'float32', [batch, seq, width]);
    const recorder = new ActivationRecorder();
    const attention = multiHeadAttention(g, 'attn', x, { embedDim: width, nHead, recorder });
    const block = mlp(g, 'mlp', attention.output, { embedDim: width, activation: 'relu', recorder });
    expect([...recorder.values.keys()]).toEqual([
      'attn.weights',
      'attn.heads',
      'attn.head.0.weights',
      'attn.head.0.output',
      'attn.head.1.weights',
      'attn.head.1.output',
      'attn.output',
      'mlp.pre_activation',
      'mlp.activation',
      'mlp.output',
    ]);
    for (const [name, tensor] of recorder.values) g.output(name, tensor as Tensor);
    const feeds: Record<string, Feed> = {
      x: { data: random(rng, batch * seq * width), shape: [batch, seq, width] },
    };
    for (const p of g.parameters) {
      const shape = p.shape as number[];
      feeds[p.name] = {
        data: random(
          rng,
          shape.reduce((a, d) => a * d, 1),
          0.5,
        ),
        shape,
      };
    }
    const result = await run(g, feeds);
    const headDim = width / nHead;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < nHead; h++) {
        for (let i = 0; i < seq * seq; i++) {
          expect(result[`attn.head.${h}.weights`][b * seq * seq + i]).toBe(
            result['attn.weights'][(b * nHead + h) * seq * seq + i],
          );
        }
        for (let i = 0; i < seq * headDim; i++) {
          expect(result[`attn.head.${h}.output`][b * seq * headDim + i]).toBe(
            result['attn.heads'][(b * nHead + h) * seq * headDim + i],
          );
        }
      }
    }
    expect(block.activation.shape).toEqual([batch, seq, 4 * width]);
    const pre = result['mlp.pre_activation'];
    const activated = result['mlp.activation'];
    expect(pre.some((v) => v < 0)).toBe(true);
    for (let i = 0; i < pre.length; i++) expect(activated[i]).toBe(Math.max(0, pre[i]));
  });

  it('rejects a width not divisible by the head count', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', [1, 2, 6]);
    expect(() => multiHeadAttention(g, 'attn', x, { embedDim: 6, nHead: 4 })).toThrow(
      /embedDim \(6\) must be divisible by nHead \(4\)/,
    );
  });
});
