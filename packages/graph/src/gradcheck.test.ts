import { describe, expect, it } from 'vitest';
import { grad } from './autodiff.js';
import { toOnnx } from './emit.js';
import { Graph, type Tensor } from './graph.js';
import { OPS } from './ops.js';
import { GraphSession } from './runtime.js';

/** Deterministic test values in [lo, hi) from a linear congruential generator. */
function values(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: size }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return lo + ((state >>> 8) / 2 ** 24) * (hi - lo);
  });
}

interface InputSpec {
  shape: number[];
  lo?: number;
  hi?: number;
}

interface GradCase {
  /** The ops (registry names) whose gradient rules this case exercises. */
  ops: string[];
  name: string;
  inputs: InputSpec[];
  build: (g: Graph, xs: Tensor[]) => Tensor;
  tolerance?: number;
}

const CASES: GradCase[] = [
  {
    ops: ['add'],
    name: 'add with broadcast',
    inputs: [{ shape: [2, 3] }, { shape: [3] }],
    build: (g, [a, b]) => g.add(a, b),
  },
  {
    ops: ['sub'],
    name: 'sub with broadcast',
    inputs: [{ shape: [2, 1] }, { shape: [2, 3] }],
    build: (g, [a, b]) => g.sub(a, b),
  },
  {
    ops: ['mul'],
    name: 'mul with broadcast',
    inputs: [{ shape: [2, 3] }, { shape: [1, 3] }],
    build: (g, [a, b]) => g.mul(a, b),
  },
  {
    ops: ['div'],
    name: 'div',
    inputs: [{ shape: [2, 3] }, { shape: [3], lo: 0.5, hi: 2 }],
    build: (g, [a, b]) => g.div(a, b),
  },
  {
    ops: ['pow'],
    name: 'pow with tensor exponent',
    inputs: [
      { shape: [2, 3], lo: 0.5, hi: 2 },
      { shape: [2, 3], lo: -1, hi: 2 },
    ],
    build: (g, [a, b]) => g.pow(a, b),
  },
  {
    ops: ['maximum'],
    name: 'maximum',
    inputs: [{ shape: [2, 3] }, { shape: [2, 3] }],
    build: (g, [a, b]) => g.maximum(a, b),
  },
  {
    ops: ['minimum'],
    name: 'minimum',
    inputs: [{ shape: [2, 3] }, { shape: [3] }],
    build: (g, [a, b]) => g.minimum(a, b),
  },
  { ops: ['neg'], name: 'neg', inputs: [{ shape: [4] }], build: (g, [x]) => g.neg(x) },
  { ops: ['sqrt'], name: 'sqrt', inputs: [{ shape: [4], lo: 0.5, hi: 2 }], build: (g, [x]) => g.sqrt(x) },
  { ops: ['exp'], name: 'exp', inputs: [{ shape: [4] }], build: (g, [x]) => g.exp(x) },
  { ops: ['log'], name: 'log', inputs: [{ shape: [4], lo: 0.5, hi: 2 }], build: (g, [x]) => g.log(x) },
  { ops: ['tanh'], name: 'tanh', inputs: [{ shape: [4] }], build: (g, [x]) => g.tanh(x) },
  { ops: ['erf'], name: 'erf', inputs: [{ shape: [4] }], build: (g, [x]) => g.erf(x) },
  { ops: ['relu'], name: 'relu', inputs: [{ shape: [6] }], build: (g, [x]) => g.relu(x) },
  { ops: ['sigmoid'], name: 'sigmoid', inputs: [{ shape: [4] }], build: (g, [x]) => g.sigmoid(x) },
  { ops: ['abs', 'sign'], name: 'abs', inputs: [{ shape: [6] }], build: (g, [x]) => g.abs(x) },
  { ops: ['identity'], name: 'identity', inputs: [{ shape: [3] }], build: (g, [x]) => g.identity(x) },
  {
    ops: ['gelu'],
    name: 'gelu exact',
    inputs: [{ shape: [2, 4], lo: -3, hi: 3 }],
    build: (g, [x]) => g.gelu(x),
  },
  {
    ops: ['gelu'],
    name: 'gelu tanh',
    inputs: [{ shape: [2, 4], lo: -3, hi: 3 }],
    build: (g, [x]) => g.gelu(x, 'tanh'),
  },
  {
    ops: ['cast'],
    name: 'cast float to float',
    inputs: [{ shape: [3] }],
    build: (g, [x]) => g.cast(x, 'float32'),
  },
  {
    ops: ['matmul'],
    name: 'matmul 2d',
    inputs: [{ shape: [2, 3] }, { shape: [3, 4] }],
    build: (g, [a, b]) => g.matmul(a, b),
  },
  {
    ops: ['matmul'],
    name: 'matmul batched with shared weight',
    inputs: [{ shape: [2, 3, 4] }, { shape: [4, 2] }],
    build: (g, [a, b]) => g.matmul(a, b),
  },
  {
    ops: ['matmul'],
    name: 'matmul broadcast batch',
    inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }],
    build: (g, [a, b]) => g.matmul(a, b),
  },
  {
    ops: ['transpose'],
    name: 'transpose',
    inputs: [{ shape: [2, 3, 4] }],
    build: (g, [x]) => g.transpose(x, [1, 2, 0]),
  },
  {
    ops: ['reshape', 'reshapeAs'],
    name: 'reshape',
    inputs: [{ shape: [2, 6] }],
    build: (g, [x]) => g.mul(g.reshape(x, [3, -1]), g.reshape(x, [3, 4])),
  },
  {
    ops: ['unsqueeze'],
    name: 'unsqueeze',
    inputs: [{ shape: [2, 3] }],
    build: (g, [x]) => g.unsqueeze(x, [1]),
  },
  { ops: ['squeeze'], name: 'squeeze', inputs: [{ shape: [2, 1, 3] }], build: (g, [x]) => g.squeeze(x, [1]) },
  {
    ops: ['expandAs'],
    name: 'expandAs',
    inputs: [{ shape: [1, 3] }, { shape: [4, 3] }],
    build: (g, [a, b]) => g.mul(g.expandAs(a, b), b),
  },
  {
    ops: ['slice', 'padAxis'],
    name: 'slice',
    inputs: [{ shape: [3, 5] }],
    build: (g, [x]) => g.slice(x, 1, 1, 4),
  },
  {
    ops: ['slice', 'padAxis'],
    name: 'slice negative start',
    inputs: [{ shape: [4, 2] }],
    build: (g, [x]) => g.slice(x, 0, -2),
  },
  {
    ops: ['concat'],
    name: 'concat',
    inputs: [{ shape: [2, 3] }, { shape: [2, 2] }],
    build: (g, [a, b]) => g.concat([a, b], 1),
  },
  {
    ops: ['split', 'zerosLike'],
    name: 'split with an unused piece',
    inputs: [{ shape: [2, 6] }],
    build: (g, [x]) => {
      const [a, , c] = g.split(x, 1, [2, 1, 3]);
      return g.add(g.reduceSum(a), g.reduceSum(g.mul(c, c)));
    },
  },
  {
    ops: ['gather', 'scatterAddRows'],
    name: 'gather with repeated indices',
    inputs: [{ shape: [5, 3] }],
    build: (g, [x]) => g.gather(x, g.constant([0, 3, 3, 1, 0, 3], [2, 3], 'int64')),
  },
  {
    ops: ['where'],
    name: 'where',
    inputs: [{ shape: [2, 3] }, { shape: [3] }],
    build: (g, [a, b]) => g.where(g.greater(a, 0), a, b),
  },
  {
    ops: ['reduceSum'],
    name: 'reduceSum axis',
    inputs: [{ shape: [2, 3, 4] }],
    build: (g, [x]) => g.reduceSum(x, [1]),
  },
  {
    ops: ['reduceSum'],
    name: 'reduceSum keepDims',
    inputs: [{ shape: [2, 3] }],
    build: (g, [x]) => g.mul(g.reduceSum(x, [0], true), x),
  },
  {
    ops: ['reduceMean'],
    name: 'reduceMean',
    inputs: [{ shape: [2, 3, 4] }],
    build: (g, [x]) => g.reduceMean(x, [0, 2]),
  },
  { ops: ['max'], name: 'max', inputs: [{ shape: [3, 4] }], build: (g, [x]) => g.max(x, [1]) },
  {
    ops: ['softmax'],
    name: 'softmax',
    inputs: [{ shape: [2, 5], lo: -3, hi: 3 }],
    build: (g, [x]) => g.softmax(x),
  },
  {
    ops: ['logSoftmax'],
    name: 'logSoftmax',
    inputs: [{ shape: [2, 5], lo: -3, hi: 3 }],
    build: (g, [x]) => g.logSoftmax(x),
  },
  {
    ops: ['layerNorm'],
    name: 'layerNorm',
    inputs: [{ shape: [2, 3, 6], lo: -2, hi: 2 }, { shape: [6], lo: 0.5, hi: 1.5 }, { shape: [6] }],
    build: (g, [x, w, b]) => g.layerNorm(x, w, b),
  },
  {
    ops: ['dropout'],
    name: 'dropout',
    inputs: [{ shape: [3, 4] }],
    build: (g, [x]) => g.dropout(x, g.constant(values(12, 99, 0, 1), [3, 4]), 0.3),
  },
  {
    ops: ['crossEntropy', 'oneHot'],
    name: 'crossEntropy with ignored targets',
    inputs: [{ shape: [2, 3, 5], lo: -2, hi: 2 }],
    build: (g, [x]) => g.crossEntropy(x, g.constant([1, 4, -100, 0, 2, 2], [2, 3], 'int64')),
  },
  {
    ops: ['causalMask'],
    name: 'causalMask then softmax',
    inputs: [{ shape: [2, 3, 4] }],
    build: (g, [x]) => g.softmax(g.causalMask(x)),
  },
  {
    ops: ['causalMask'],
    name: 'causalMask read by softmax and exp',
    inputs: [{ shape: [2, 3, 4] }],
    build: (g, [x]) => {
      const masked = g.causalMask(x);
      return g.add(g.softmax(masked), g.exp(g.mul(masked, 0.5)));
    },
  },
];

/** Checks d sum(op(x) * r) / dx against central differences in float32. */
async function checkGradient(testCase: GradCase): Promise<void> {
  const g = new Graph(testCase.name);
  const params = testCase.inputs.map((spec, i) => g.parameter(`x${i}`, spec.shape));
  const out = testCase.build(g, params);
  const shape = out.shape as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  const loss = out.rank === 0 ? out : g.reduceSum(g.mul(out, g.constant(values(size, 7, -1, 1), shape)));
  g.output('loss', loss);
  grad(loss, params).forEach((t, i) => {
    g.output(`grad${i}`, t);
  });
  const session = await GraphSession.create(toOnnx(g));
  const data = testCase.inputs.map((spec, i) =>
    values(
      spec.shape.reduce((a, b) => a * b, 1),
      11 + i * 31,
      spec.lo,
      spec.hi,
    ),
  );
  const feeds = () =>
    Object.fromEntries(data.map((d, i) => [`x${i}`, session.tensor('float32', d, testCase.inputs[i].shape)]));
  const analytic = await session.run(feeds());
  const lossOnly = await GraphSession.create(toOnnx(g, { outputs: ['loss'] }));
  const evalLoss = async () => (await lossOnly.run(feeds())).loss.data[0] as number;
  const eps = 1e-2;
  for (let i = 0; i < data.length; i++) {
    const expected = analytic[`grad${i}`].data as Float32Array;
    for (let j = 0; j < data[i].length; j++) {
      const saved = data[i][j];
      data[i][j] = saved + eps;
      const up = await evalLoss();
      data[i][j] = saved - eps;
      const down = await evalLoss();
      data[i][j] = saved;
      const numeric = (up - down) / (2 * eps);
      const tolerance = (testCase.tolerance ?? 2e-2) * Math.max(1, Math.abs(numeric));
      expect(
        Math.abs(expected[j] - numeric),
        `input ${i} element ${j}: analytic ${expected[j]}, numeric ${numeric}`,
      ).toBeLessThan(tolerance);
    }
  }
  await session.release();
  await lossOnly.release();
}

describe('gradient rules against finite differences', () => {
  for (const testCase of CASES) {
    it(testCase.name, () => checkGradient(testCase));
  }

  it('cover every op that has a gradient rule', () => {
    const covered = new Set(CASES.flatMap((c) => c.ops));
    const withRule = [...OPS.values()].filter((op) => op.grad).map((op) => op.name);
    expect(withRule.filter((name) => !covered.has(name))).toEqual([]);
  });
});

describe('autodiff', () => {
  it('stops at boolean ops instead of failing', () => {
    const g = new Graph();
    const x = g.parameter('x', [3]);
    const positive = g.cast(g.greater(x, 0), 'float32');
    expect(() => grad(g.reduceSum(g.mul(positive, x)), [x])).not.toThrow();
  });

  it('names the op on the path that has no gradient rule', () => {
    const g = new Graph();
    const table = g.parameter('table', [4, 2]);
    const rows = g.parameter('rows', [3, 2]);
    const indices = g.constant([0, 2, 2], [3], 'int64');
    const scattered = g.apply('scatterAddRows', [rows, indices, table])[0];
    const loss = g.reduceSum(g.mul(scattered, scattered));
    expect(() => grad(loss, [rows])).toThrow(/op "scatterAddRows" .* has no gradient rule/);
  });

  it('prunes nodes that the gradient does not need', () => {
    const g = new Graph();
    const x = g.parameter('x', [3]);
    const frozen = g.parameter('frozen', [3]);
    const loss = g.reduceSum(g.mul(g.exp(frozen), x));
    const before = g.nodes.length;
    grad(loss, [x]);
    const added = g.nodes.slice(before).map((n) => n.op.name);
    expect(added).not.toContain('exp');
    expect(added.filter((name) => name === 'mul')).toHaveLength(1);
  });

  it('gives zeros for a tensor the output does not depend on', async () => {
    const g = new Graph();
    const x = g.parameter('x', [2]);
    const unused = g.parameter('unused', [3]);
    const loss = g.reduceSum(g.mul(x, x));
    const [, gu] = grad(loss, [x, unused]);
    g.output('gu', gu);
    const session = await GraphSession.create(toOnnx(g));
    const result = await session.run({ unused: session.tensor('float32', Float32Array.of(1, 2, 3), [3]) });
    expect(Array.from(result.gu.data as Float32Array)).toEqual([0, 0, 0]);
  });

  it('causal mask gradient before softmax', () => {
    const maskPasses = (readers: (g: Graph, masked: Tensor) => Tensor) => {
      const g = new Graph();
      const scores = g.parameter('scores', [2, 4, 4]);
      const masked = g.causalMask(scores);
      const loss = g.reduceSum(readers(g, masked));
      const before = g.nodes.length;
      grad(loss, [scores]);
      return g.nodes.slice(before).filter((n) => n.op.name === 'where').length;
    };
    expect(maskPasses((g, m) => g.softmax(m, -1))).toBe(0);
    expect(maskPasses((g, m) => g.mul(g.softmax(m, -1), g.exp(m)))).toBe(1);
  });
});
