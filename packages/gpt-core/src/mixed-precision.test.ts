import { Graph, GraphSession, grad, Rng, toOnnx } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { gptParameterShapes, resolveGptConfig } from './config.js';
import { buildGpt, initGptParameters } from './model.js';

const config = resolveGptConfig({ vocabSize: 50, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 });
const BATCH = 2;
const SEQ = 12;

/** Runs the logits, the loss and every parameter gradient of one batch with the given compute dtype. */
async function forwardBackward(computeDtype: 'float32' | 'float16') {
  const g = new Graph(`gpt-${computeDtype}`);
  const inputIds = g.input('input_ids', 'int64', [BATCH, SEQ]);
  const targets = g.input('targets', 'int64', [BATCH, SEQ]);
  const { logits, parameters } = buildGpt(g, config, { inputIds, computeDtype });
  const loss = g.crossEntropy(logits, targets);

  const names = [...parameters.keys()];
  const grads = grad(loss, [...parameters.values()]);
  g.output('logits', logits);
  g.output('loss', loss);
  grads.forEach((gradient, i) => {
    g.output(`grad.${names[i]}`, gradient);
  });

  const session = await GraphSession.create(toOnnx(g));
  try {
    const rng = new Rng(5);
    const values = initGptParameters(config, new Rng(3));
    // Larger weights than GPT-2's init, so that attention is far from uniform.
    for (const data of values.values()) {
      for (let i = 0; i < data.length; i++) data[i] *= 3;
    }

    const ids = BigInt64Array.from({ length: BATCH * SEQ }, () => BigInt(rng.randint(0, 49)));
    const next = BigInt64Array.from({ length: BATCH * SEQ }, () => BigInt(rng.randint(0, 49)));
    const feeds: Record<string, ReturnType<typeof session.tensor>> = {
      input_ids: session.tensor('int64', ids, [BATCH, SEQ]),
      targets: session.tensor('int64', next, [BATCH, SEQ]),
    };
    for (const [name, shape] of gptParameterShapes(config)) {
      feeds[name] = session.tensor('float32', values.get(name)!, shape);
    }

    const result = await session.run(feeds);
    return {
      logits: result.logits.data as Float32Array,
      loss: (result.loss.data as Float32Array)[0],
      grads: new Map(names.map((name) => [name, result[`grad.${name}`].data as Float32Array])),
    };
  } finally {
    await session.release();
  }
}

/** Max absolute difference divided by the max absolute reference value. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

describe('buildGpt computeDtype float16', () => {
  it('matches float32 to float16 precision', async () => {
    const full = await forwardBackward('float32');
    const half = await forwardBackward('float16');
    expect(half.logits.every(Number.isFinite)).toBe(true);
    // Float16 keeps 11 significant bits (relative step 2^-10 = 1e-3); errors of a few steps add up over layers.
    expect(relativeError(half.logits, full.logits)).toBeLessThan(1e-2);
    expect(relativeError(half.logits, full.logits)).toBeGreaterThan(1e-5);
    expect(Math.abs(half.loss - full.loss)).toBeLessThan(1e-2);
    for (const [name, expected] of full.grads) {
      const actual = half.grads.get(name)!;
      expect(actual.length, name).toBe(expected.length);
      expect(relativeError(actual, expected), name).toBeLessThan(3e-2);
    }
  });

  it('runs every matrix product in float16', () => {
    const matmulDtypes = (computeDtype: 'float32' | 'float16') => {
      const g = new Graph('gpt');
      const inputIds = g.input('input_ids', 'int64', [BATCH, SEQ]);
      const { logits } = buildGpt(g, config, { inputIds, computeDtype });
      expect(logits.dtype).toBe('float32');
      return g.nodes.filter((node) => node.op.name === 'matmul').map((node) => node.outputs[0].dtype);
    };
    // Per layer: QKV, scores, weighted values, projection, two MLP layers; then the logits.
    const count = config.nLayer * 6 + 1;
    expect(matmulDtypes('float16')).toEqual(Array(count).fill('float16'));
    expect(matmulDtypes('float32')).toEqual(Array(count).fill('float32'));
  });
});
