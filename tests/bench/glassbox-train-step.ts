/**
 * Measures training throughput of one configuration in this process and prints one JSON line, so that the
 * benchmark driver can read peak memory per process. Arguments mirror torch_train_throughput.py.
 */
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
  },
});
const int = (name: keyof typeof values) => Number.parseInt(values[name] as string, 10);

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
    session: { intraOpThreads: int('threads') },
  },
  { train: tokens.subarray(0, 180_000), validation: tokens.subarray(180_000) },
);
for (let i = 0; i < int('warmup'); i++) await trainer.trainStep();
const steps = int('steps');
const start = performance.now();
let tokensSeen = 0;
for (let i = 0; i < steps; i++) tokensSeen += (await trainer.trainStep()).tokens;
const seconds = (performance.now() - start) / 1000;
await trainer.release();
console.log(
  JSON.stringify({
    tokensPerSecond: tokensSeen / seconds,
    secondsPerStep: seconds / steps,
    stepsTimed: steps,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    threads: int('threads'),
  }),
);
