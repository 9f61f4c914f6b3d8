import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toOnnx } from './emit.js';
import { Graph } from './graph.js';
import { ModelProto } from './onnx-proto.js';
import { GraphSession } from './runtime.js';

interface DecodedNode {
  opType: string;
  input: string[];
  output: string[];
}

function nodesOf(model: Uint8Array): DecodedNode[] {
  const decoded = ModelProto.toObject(ModelProto.decode(model), { arrays: true }) as {
    graph: { node: DecodedNode[] };
  };
  return decoded.graph.node;
}

describe('toOnnx output names', () => {
  it('output read by other nodes', async () => {
    const g = new Graph('aliases');
    const x = g.input('x', 'float32', [3]);
    const doubled = g.mul(x, 2);
    g.output('doubled', doubled);
    g.output('shifted', g.add(doubled, 1));
    const model = toOnnx(g);

    const nodes = nodesOf(model);
    expect(nodes.map((n) => n.opType)).not.toContain('Identity');
    expect(nodes.find((n) => n.opType === 'Mul')?.output).toEqual(['doubled']);
    expect(nodes.find((n) => n.opType === 'Add')?.input[0]).toBe('doubled');

    const session = await GraphSession.create(model, { intraOpThreads: 1 });
    const result = await session.run({ x: session.tensor('float32', Float32Array.of(1, -2, 0.5), [3]) });
    expect(Array.from(result.doubled.data as Float32Array)).toEqual([2, -4, 1]);
    expect(Array.from(result.shifted.data as Float32Array)).toEqual([3, -3, 2]);
    await session.release();
  });

  it('inputs, constants and repeated outputs', async () => {
    const g = new Graph('copies');
    const x = g.input('x', 'float32', [2]);
    const sum = g.add(x, x);
    g.output('x_again', x);
    g.output('first', sum);
    g.output('second', sum);
    g.output('three', g.constant(3));
    const model = toOnnx(g);

    const identities = nodesOf(model).filter((n) => n.opType === 'Identity');
    expect(identities.map((n) => n.output[0]).sort()).toEqual(['second', 'three', 'x_again']);

    const session = await GraphSession.create(model, { intraOpThreads: 1 });
    const result = await session.run({ x: session.tensor('float32', Float32Array.of(1, 2), [2]) });
    expect(Array.from(result.x_again.data as Float32Array)).toEqual([1, 2]);
    expect(Array.from(result.first.data as Float32Array)).toEqual([2, 4]);
    expect(Array.from(result.second.data as Float32Array)).toEqual([2, 4]);
    expect(Array.from(result.three.data as Float32Array)).toEqual([3]);
    await session.release();
  });

  it('subset of outputs', async () => {
    const g = new Graph('subset');
    const x = g.input('x', 'float32', [2]);
    const squared = g.mul(x, x);
    g.output('squared', squared);
    g.output('cubed', g.mul(squared, x));
    const model = toOnnx(g, { outputs: ['cubed'] });

    const nodes = nodesOf(model);
    expect(nodes.map((n) => n.opType)).toEqual(['Mul', 'Mul']);
    expect(nodes.flatMap((n) => n.output)).toContain('cubed');
    const session = await GraphSession.create(model, { intraOpThreads: 1 });
    const result = await session.run({ x: session.tensor('float32', Float32Array.of(2, -1), [2]) });
    expect(session.outputNames).toEqual(['cubed']);
    expect(Array.from(result.cubed.data as Float32Array)).toEqual([8, -1]);
    await session.release();
  });
});

describe('GELU emission', () => {
  it('exact GELU fused for inference', async () => {
    const g = new Graph('inference-gelu');
    const x = g.input('x', 'float32', [4, 8]);
    g.output('y', g.gelu(g.matmul(x, g.parameter('w', [8, 8]))));
    const directory = mkdtempSync(join(tmpdir(), 'glassbox-gelu-'));
    try {
      const optimized = join(directory, 'optimized.onnx');
      const session = await GraphSession.create(toOnnx(g), { optimizedModelFilePath: optimized });
      await session.release();
      const opTypes = nodesOf(readFileSync(optimized)).map((n) => n.opType);
      expect(opTypes).toContain('Gelu');
      expect(opTypes).not.toContain('Erf');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
