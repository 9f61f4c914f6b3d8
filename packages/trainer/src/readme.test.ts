import { readFileSync } from 'node:fs';
import { resolveGptConfig } from '@glassbox/gpt-core';
import { describe, expect, it } from 'vitest';
import { GptTrainer, splitTrainValidation } from './index.js';

describe('README example', () => {
  it('trains to the validation loss its comment shows', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const text = 'to be or not to be, that is the question. '.repeat(50);
    expect(readme).toContain("const text = 'to be or not to be, that is the question. '.repeat(50);");
    const vocabulary = [...new Set(text)].sort();
    const tokens = Int32Array.from(text, (c) => vocabulary.indexOf(c));
    const trainer = await GptTrainer.create(
      {
        model: resolveGptConfig({
          vocabSize: vocabulary.length,
          blockSize: 16,
          nLayer: 2,
          nHead: 2,
          nEmbd: 32,
        }),
        batchSize: 8,
        learningRate: 1e-2,
        minLearningRate: 1e-3,
        warmupSteps: 10,
        maxSteps: 100,
        weightDecay: 0.1,
        beta1: 0.9,
        beta2: 0.95,
        gradClip: 1,
        evalIters: 5,
        seed: 1337,
      },
      splitTrainValidation(tokens, 0.1),
    );
    for (let i = 0; i < 100; i++) await trainer.trainStep();
    expect((await trainer.evaluate()).validation < 0.5).toBe(true);
    expect(readme).toContain('console.log((await trainer.evaluate()).validation < 0.5); // true');
    await trainer.release();
  });
});
