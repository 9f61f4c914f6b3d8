import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gptToSafetensors, initGptParameters, resolveGptConfig } from '@glassbox/gpt-core';
import {
  type OptimizerConfig,
  parseSafetensors,
  Rng,
  serializeSafetensors,
  toFloat32,
} from '@glassbox/graph';
import { GptTrainer, RandomWindowSampler, type ScheduleConfig, type TrainerOptions } from '@glassbox/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  maxAbsDifference,
  pythonScript,
  runPython,
  TORCH_SKIP_REASON,
  torchAvailable,
} from './src/python.js';

const STEPS = 20;
const BATCH = 4;
const SEED = 11;
const config = resolveGptConfig({ vocabSize: 29, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 });
const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * i + 7 * i) % 29);

const ADAMW: OptimizerConfig = { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

interface Case {
  name: string;
  lr: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
}

const CASES: Case[] = [
  {
    name: 'SGD, constant',
    lr: 0.05,
    optimizer: { type: 'sgd', weightDecay: 0.01 },
    schedule: { type: 'constant' },
  },
  {
    name: 'SGD with Nesterov momentum, step decay',
    lr: 0.05,
    optimizer: { type: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    schedule: { type: 'step', stepSize: 5, gamma: 0.5 },
  },
  {
    name: 'Adam, constant with warmup',
    lr: 3e-3,
    optimizer: { type: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
    schedule: { type: 'constant-with-warmup', warmupSteps: 5 },
  },
  {
    name: 'AdamW, linear with warmup',
    lr: 3e-3,
    optimizer: ADAMW,
    schedule: { type: 'linear-with-warmup', warmupSteps: 5, totalSteps: STEPS },
  },
  {
    name: 'AdamW, cosine with warmup',
    lr: 3e-3,
    optimizer: ADAMW,
    schedule: { type: 'cosine-with-warmup', warmupSteps: 4, totalSteps: STEPS },
  },
  {
    name: 'AdamW, cosine with two cycles',
    lr: 3e-3,
    optimizer: ADAMW,
    schedule: { type: 'cosine-with-warmup', warmupSteps: 2, totalSteps: STEPS, numCycles: 2 },
  },
];

function trainerOptions(c: Case): TrainerOptions {
  return {
    model: config,
    batchSize: BATCH,
    learningRate: c.lr,
    minLearningRate: 0,
    warmupSteps: 0,
    maxSteps: STEPS,
    weightDecay: c.optimizer.weightDecay ?? 0,
    beta1: 0.9,
    beta2: 0.95,
    gradClip: 1,
    evalIters: 1,
    seed: SEED,
    optimizer: c.optimizer,
    schedule: c.schedule,
    session: { intraOpThreads: 1 },
  };
}

describe.skipIf(!torchAvailable())(
  `optimizers and schedules match PyTorch on a GPT (${TORCH_SKIP_REASON})`,
  () => {
    let directory: string;
    const initial = initGptParameters(config, new Rng(5));
    const references = new Map<string, Map<string, Float32Array>>();

    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), 'glassbox-trainer-parity-'));
      const weights = join(directory, 'weights.safetensors');
      await writeFile(weights, gptToSafetensors(config, initial));

      // The batches GptTrainer draws with this seed, written out for PyTorch.
      const sampler = new RandomWindowSampler(tokens.subarray(0, 3600), config.blockSize, BATCH);
      const rng = new Rng(SEED);
      const size = BATCH * config.blockSize;
      const x = new BigInt64Array(STEPS * size);
      const y = new BigInt64Array(STEPS * size);
      for (let k = 0; k < STEPS; k++)
        sampler.sample(rng, x.subarray(k * size, (k + 1) * size), y.subarray(k * size, (k + 1) * size));
      const batches = join(directory, 'batches.safetensors');
      const shape = [STEPS, BATCH, config.blockSize];
      await writeFile(
        batches,
        serializeSafetensors({ x: { dtype: 'I64', shape, data: x }, y: { dtype: 'I64', shape, data: y } }),
      );

      const cases = CASES.map((c, i) => ({
        ...c,
        steps: STEPS,
        clip: 1,
        out: join(directory, `case${i}.safetensors`),
      }));
      runPython([pythonScript('train_reference.py')], JSON.stringify({ weights, batches, cases }));
      for (const c of cases) {
        const file = parseSafetensors(await readFile(c.out), c.out);
        references.set(c.name, new Map([...file.tensors].map(([name, entry]) => [name, toFloat32(entry)])));
      }
    });

    afterAll(async () => {
      if (directory) await rm(directory, { recursive: true });
    });

    for (const c of CASES) {
      it(`${c.name}: ${STEPS} steps`, async () => {
        const trainer = await GptTrainer.create(
          trainerOptions(c),
          { train: tokens.subarray(0, 3600), validation: tokens.subarray(3600) },
          {
            step: 0,
            parameters: initial,
            optimizerState: new Map(),
            batchRng: new Rng(SEED).getState(),
            dropoutRng: new Rng(SEED + 1).getState(),
            evalRng: new Rng(SEED + 2).getState(),
          },
        );
        for (let k = 0; k < STEPS; k++) await trainer.trainStep();
        const reference = references.get(c.name)!;
        for (const [name, value] of trainer.parameters()) {
          expect(maxAbsDifference(value, reference.get(name)!), `parameter ${name}`).toBeLessThan(1e-5);
        }
        await trainer.release();
      });
    }
  },
);
