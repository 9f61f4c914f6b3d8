/**
 * Training throughput of Glassbox against PyTorch on the same machine, in the same run: the same GPT-2
 * architecture, AdamW with clipping, the same batch shape and thread count. Each side runs in its own
 * process so that peak memory (maximum resident set size) is measured per side.
 *
 *   pnpm bench [--threads N] [--steps N] [--config small|large|all]
 *
 * PyTorch runs under /usr/bin/python3 (apt's python3-torch). For a fair baseline install
 * libopenblas0-pthread too; without it Debian's PyTorch uses the reference BLAS.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const CONFIGS = {
  small: { 'n-layer': 4, 'n-head': 4, 'n-embd': 128, 'block-size': 64, 'batch-size': 12, 'vocab-size': 65 },
  large: { 'n-layer': 6, 'n-head': 6, 'n-embd': 384, 'block-size': 256, 'batch-size': 8, 'vocab-size': 65 },
} as const;

const { values } = parseArgs({
  // pnpm passes a literal `--` through when the command is run as `pnpm bench -- --threads 2`.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '40' },
    config: { type: 'string', default: 'small' },
  },
});
const python = process.env.GLASSBOX_PYTHON ?? '/usr/bin/python3';
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const selected =
  values.config === 'all' ? (['small', 'large'] as const) : [values.config as keyof typeof CONFIGS];

interface Measurement {
  tokensPerSecond: number;
  secondsPerStep: number;
  peakRssMiB: number;
}

function run(command: string, args: string[]): Measurement {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  const line = result.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as Measurement;
}

console.log(`threads ${values.threads}, ${values.steps} timed steps after 5 warm-up steps`);
for (const name of selected) {
  const config = CONFIGS[name];
  if (!config) throw new Error(`unknown --config ${name}; use small, large or all.`);
  const flags = Object.entries(config).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const common = [...flags, '--steps', values.steps, '--warmup', '5', '--threads', values.threads];
  const ours = run(process.execPath, [
    '--conditions=development',
    '--import',
    'tsx',
    here('./glassbox-train-step.ts'),
    ...common,
  ]);
  // With more than one thread, PyTorch's OpenMP pool and OpenBLAS's own threads compete. So PyTorch is measured
  // with OpenBLAS on the same thread count and with OpenBLAS single-threaded, and the faster run counts.
  const torchArgs = [here('./torch_train_throughput.py'), ...common, '--random-tokens', '200000'];
  const torchRuns = [run(python, torchArgs)];
  if (values.threads !== '1') torchRuns.push(run(python, [...torchArgs, '--blas-threads', '1']));
  const torch = torchRuns.reduce((best, m) => (m.tokensPerSecond > best.tokensPerSecond ? m : best));
  const row = (label: string, m: Measurement) =>
    `  ${label.padEnd(10)} ${m.tokensPerSecond.toFixed(0).padStart(8)} tokens/s  ${(m.secondsPerStep * 1000).toFixed(1).padStart(7)} ms/step  peak RSS ${m.peakRssMiB.toFixed(0).padStart(5)} MiB`;
  console.log(
    `${name}: ${Object.entries(config)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log(row('glassbox', ours));
  torchRuns.forEach((m, i) => {
    console.log(row(i === 0 ? 'pytorch' : 'pytorch*', m));
  });
  if (torchRuns.length > 1)
    console.log('  (pytorch* runs OpenBLAS single-threaded inside its OpenMP threads)');
  console.log(
    `  ratio      ${(ours.tokensPerSecond / torch.tokensPerSecond).toFixed(2)}x tokens/s, ${(ours.peakRssMiB / torch.peakRssMiB).toFixed(2)}x peak memory`,
  );
}
