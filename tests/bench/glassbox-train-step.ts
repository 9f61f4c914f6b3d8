/**
 * Measures training throughput of one configuration in this process and prints one JSON line, so that the
 * benchmark driver can read peak memory per process. Arguments mirror torch_train_throughput.py.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveGptConfig } from '@glassbox/gpt-core';
import { GptTrainer } from '@glassbox/trainer';

const { values } = parseArgs({
  options: {
    'n-layer': { type: 'string', default: '4' },
    'n-head': { type: 'string', default: '4' },
    'n-embd': { type: 'string', default: '128' },
    'block-size': { type: 'string', default: '64' },
    'batch-size': { type: 'string', default: '12' },
    'vocab-size': { type: 'string', default: '65' },
    steps: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false },
  },
});
const int = (name: keyof typeof values) => Number.parseInt(values[name] as string, 10);
const profilePrefix = join(tmpdir(), `glassbox-profile-${process.pid}`);

const model = resolveGptConfig({
  vocabSize: int('vocab-size'),
  blockSize: int('block-size'),
  nLayer: int('n-layer'),
  nHead: int('n-head'),
  nEmbd: int('n-embd'),
});
// Random tokens: throughput does not depend on the text.
const tokens = Int32Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) % model.vocabSize);
const trainer = await GptTrainer.create(
  {
    model,
    batchSize: int('batch-size'),
    learningRate: 1e-3,
    minLearningRate: 1e-3,
    warmupSteps: 0,
    maxSteps: 1_000_000,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    gradClip: 1,
    evalIters: 1,
    seed: 0,
    session: {
      intraOpThreads: int('threads'),
      profileFilePrefix: values.profile ? profilePrefix : undefined,
    },
  },
  { train: tokens.subarray(0, 180_000), validation: tokens.subarray(180_000) },
);
for (let i = 0; i < int('warmup'); i++) await trainer.trainStep();
const steps = int('steps');
const start = performance.now();
let tokensSeen = 0;
for (let i = 0; i < steps; i++) tokensSeen += (await trainer.trainStep()).tokens;
const seconds = (performance.now() - start) / 1000;
const profile = values.profile ? summarizeProfile(trainer) : undefined;
await trainer.release();
console.log(
  JSON.stringify({
    tokensPerSecond: tokensSeen / seconds,
    secondsPerStep: seconds / steps,
    stepsTimed: steps,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    threads: int('threads'),
    ...(profile ? { profile } : {}),
  }),
);

/**
 * Milliseconds per training step spent in each ONNX op type, from ONNX Runtime's profile of the training
 * session (its kernel-time events), largest first.
 */
function summarizeProfile(trainer: GptTrainer): Record<string, number> {
  trainer.endProfiling();
  const file = readdirProfile();
  const events = JSON.parse(readFileSync(file, 'utf8')) as {
    cat?: string;
    name: string;
    dur: number;
    args?: { op_name?: string };
  }[];
  rmSync(file);
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length;
  const totals = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? 'unknown';
    totals.set(op, (totals.get(op) ?? 0) + e.dur);
  }
  return Object.fromEntries(
    [...totals]
      .sort((a, b) => b[1] - a[1])
      .map(([op, micros]) => [op, Number((micros / 1000 / runs).toFixed(2))]),
  );
}

function readdirProfile(): string {
  const directory = tmpdir();
  const prefix = `glassbox-profile-${process.pid}`;
  const match = readdirSync(directory).find((name) => name.startsWith(prefix) && name.endsWith('.json'));
  if (!match) throw new Error(`no ONNX Runtime profile starting with ${prefix} in ${directory}`);
  return join(directory, match);
}
