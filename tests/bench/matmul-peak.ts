/**
 * The float32 matmul rate of ONNX Runtime (MLAS) and of PyTorch (OpenBLAS) on this machine, for square
 * matrices. Training steps are mostly matrix products, so this rate bounds the training throughput of both.
 *
 *   pnpm --filter @glassbox/tests bench:matmul [--threads N] [--sizes 1024,2048] [--repeats N]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Graph, GraphSession, toOnnx } from '@glassbox/graph';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    threads: { type: 'string', default: '1' },
    sizes: { type: 'string', default: '1024,2048' },
    repeats: { type: 'string', default: '20' },
  },
});
const threads = Number.parseInt(values.threads, 10);
const repeats = Number.parseInt(values.repeats, 10);
const sizes = values.sizes.split(',').map((size) => Number.parseInt(size, 10));
if (!(threads > 0) || !(repeats > 0) || sizes.some((size) => !(size > 0))) {
  throw new Error('--threads, --repeats and every --sizes entry must be positive integers.');
}

async function onnxRuntimeRate(n: number): Promise<number> {
  const g = new Graph('matmul');
  g.output('c', g.matmul(g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])));
  const session = await GraphSession.create(toOnnx(g), { intraOpThreads: threads });
  const data = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const feeds = {
    a: session.tensor('float32', data, [n, n]),
    b: session.tensor('float32', data, [n, n]),
  };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const start = performance.now();
  for (let i = 0; i < repeats; i++) await session.run(feeds);
  const seconds = (performance.now() - start) / 1000 / repeats;
  await session.release();
  return (2 * n ** 3) / seconds / 1e9;
}

const PYTORCH_RATE = `
import sys, time, torch
n, threads, repeats = (int(v) for v in sys.argv[1:4])
torch.set_num_threads(threads)
a, b = torch.randn(n, n), torch.randn(n, n)
for _ in range(3): a @ b
start = time.perf_counter()
for _ in range(repeats): a @ b
print(2 * n**3 / ((time.perf_counter() - start) / repeats) / 1e9)
`;

function pytorchRate(n: number): number | string {
  const python = process.env.GLASSBOX_PYTHON ?? '/usr/bin/python3';
  const result = spawnSync(python, ['-c', PYTORCH_RATE, String(n), String(threads), String(repeats)], {
    encoding: 'utf8',
    // Without these variables OpenBLAS starts its own thread pool with one thread per core.
    env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
  });
  if (result.status !== 0) return `not measured (${python} with torch failed: ${result.stderr.trim()})`;
  return Number.parseFloat(result.stdout);
}

console.log(`float32 matmul, ${threads} thread(s), GFLOP/s`);
for (const n of sizes) {
  const pytorch = pytorchRate(n);
  const pytorchText = typeof pytorch === 'number' ? pytorch.toFixed(1) : pytorch;
  console.log(`  ${n} x ${n}: onnxruntime ${(await onnxRuntimeRate(n)).toFixed(1)}, pytorch ${pytorchText}`);
}
