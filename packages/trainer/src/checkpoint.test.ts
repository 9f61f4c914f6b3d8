import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveGptConfig } from '@glassbox/gpt-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILES } from './checkpoint.js';
import { splitTrainValidation } from './data.js';
import { loadCheckpoint, saveCheckpoint } from './node.js';
import { GptTrainer, type TrainerOptions, validateTrainerOptions } from './trainer.js';

const TEXT = 'a stitch in time saves nine. '.repeat(40);
const VOCAB = [...new Set(TEXT)].sort();
const DATA = splitTrainValidation(
  Int32Array.from(TEXT, (c) => VOCAB.indexOf(c)),
  0.2,
);

function options(overrides: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    model: resolveGptConfig({ vocabSize: VOCAB.length, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16 }),
    batchSize: 2,
    learningRate: 1e-2,
    minLearningRate: 1e-3,
    warmupSteps: 0,
    maxSteps: 20,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.99,
    gradClip: 1,
    evalIters: 2,
    seed: 7,
    session: { intraOpThreads: 1 },
    ...overrides,
  };
}

describe('trainer options', () => {
  const cases: [Partial<TrainerOptions>, RegExp][] = [
    [{ batchSize: 0 }, /batchSize must be a positive integer, got 0/],
    [{ batchSize: 1.5 }, /batchSize must be a positive integer, got 1.5/],
    [{ learningRate: -1 }, /learningRate must be a finite number >= 0, got -1/],
    [{ learningRate: 'fast' as unknown as number }, /learningRate must be a finite number >= 0, got "fast"/],
    [{ warmupSteps: -3 }, /warmupSteps must be an integer >= 0, got -3/],
    [{ beta1: 1 }, /beta1 must be in \[0, 1\), got 1/],
    [{ gradClip: -1 }, /gradClip must be a finite number >= 0/],
    [{ evalIters: 0 }, /evalIters must be a positive integer, got 0/],
    [{ gradientAccumulationSteps: 0 }, /gradientAccumulationSteps must be a positive integer/],
  ];
  for (const [override, message] of cases) {
    it(`rejects ${JSON.stringify(override)}`, async () => {
      expect(() => validateTrainerOptions(options(override))).toThrow(message);
      await expect(GptTrainer.create(options(override), DATA)).rejects.toThrow(message);
    });
  }

  it('unknown optimizer type', async () => {
    const bad = options({ optimizer: { type: 'rmsprop' } as unknown as TrainerOptions['optimizer'] });
    await expect(GptTrainer.create(bad, DATA)).rejects.toThrow(/type must be "sgd", "adam" or "adamw"/);
  });

  it('misspelled optimizer option', async () => {
    const bad = options({
      optimizer: { type: 'sgd', momentun: 0.9 } as unknown as TrainerOptions['optimizer'],
    });
    await expect(GptTrainer.create(bad, DATA)).rejects.toThrow(/unknown option "momentun"/);
  });
});

describe('trainer state', () => {
  it('missing optimizer moments', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    await trainer.trainStep();
    const state = trainer.state();
    await trainer.release();
    state.optimizerState.delete('optimizer.wte.weight.exp_avg');
    await expect(GptTrainer.create(options(), DATA, state)).rejects.toThrow(
      /optimizerState do not match .*missing optimizer\.wte\.weight\.exp_avg/,
    );
  });

  it('missing parameter', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    const state = trainer.state();
    await trainer.release();
    state.parameters.delete('wte.weight');
    await expect(GptTrainer.create(options(), DATA, state)).rejects.toThrow(
      /parameters do not match .*missing wte\.weight/,
    );
  });

  it('wrong tensor size', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    const state = trainer.state();
    await trainer.release();
    state.parameters.set('ln_f.weight', new Float32Array(3));
    await expect(GptTrainer.create(options(), DATA, state)).rejects.toThrow(
      /ln_f\.weight must be a Float32Array of 16 values, got 3 values/,
    );
  });

  it('damaged random generator state', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    const state = trainer.state();
    await trainer.release();
    const damaged = { ...state, dropoutRng: 'abc' as unknown as typeof state.dropoutRng };
    await expect(GptTrainer.create(options(), DATA, damaged)).rejects.toThrow(
      /dropoutRng is not a random generator state/,
    );
  });
});

describe('saveCheckpoint', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'glassbox-checkpoint-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps the previous checkpoint on NaN', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    await trainer.trainStep();
    await saveCheckpoint(directory, trainer.state(), trainer.options);
    const before = await readFile(join(directory, CHECKPOINT_FILES.model));

    await trainer.trainStep();
    const diverged = trainer.state();
    await trainer.release();
    diverged.parameters.get('h.0.mlp.c_fc.weight')![5] = Number.NaN;
    await expect(saveCheckpoint(directory, diverged, options())).rejects.toThrow(
      /saveCheckpoint rejected step 2 .*h\.0\.mlp\.c_fc\.weight is NaN at index 5/,
    );
    expect(await readFile(join(directory, CHECKPOINT_FILES.model))).toEqual(before);
    expect((await loadCheckpoint(directory)).state.step).toBe(1);
    expect((await readdir(directory)).sort()).toEqual(Object.values(CHECKPOINT_FILES).sort());
  });

  it('detects files from two steps', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    await trainer.trainStep();
    await saveCheckpoint(directory, trainer.state(), trainer.options);
    const olderState = await readFile(join(directory, CHECKPOINT_FILES.state));
    await trainer.trainStep();
    await saveCheckpoint(directory, trainer.state(), trainer.options);
    await trainer.release();
    // As if the save of step 2 stopped before renaming the state file.
    await writeFile(join(directory, CHECKPOINT_FILES.state), olderState);
    await expect(loadCheckpoint(directory)).rejects.toThrow(
      /model\.safetensors is from step 2 but trainer-state\.json from step 1, so a save was interrupted/,
    );
  });

  it('state file containing null', async () => {
    const trainer = await GptTrainer.create(options(), DATA);
    await saveCheckpoint(directory, trainer.state(), trainer.options);
    await trainer.release();
    await writeFile(join(directory, CHECKPOINT_FILES.state), 'null\n');
    await expect(loadCheckpoint(directory)).rejects.toThrow(
      /trainer-state\.json: expected a JSON object written by saveCheckpoint, got null/,
    );
  });
});
