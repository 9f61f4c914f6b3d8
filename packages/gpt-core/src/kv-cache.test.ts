import { Rng } from '@glassbox/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GptConfig, resolveGptConfig } from './config.js';
import { GptInference } from './inference.js';
import { CachedGenerator, positionIdsFromMask } from './kv-cache.js';
import { initGptParameters } from './model.js';

const config: GptConfig = resolveGptConfig({ vocabSize: 23, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 16 });

/** Weights five times GPT-2's initialization, so that logits are far apart and greedy choices are clear. */
function largeParameters(seed: number): Map<string, Float32Array> {
  const parameters = initGptParameters(config, new Rng(seed));
  const rng = new Rng(seed + 1);
  for (const [name, data] of parameters) {
    if (name.endsWith('.weight') && !name.includes('ln_')) for (let i = 0; i < data.length; i++) data[i] *= 5;
    else {
      const noise = new Float32Array(data.length);
      rng.fillNormal(noise, 0, 0.1);
      for (let i = 0; i < data.length; i++) data[i] += noise[i];
    }
  }
  return parameters;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const greedy = (maxNewTokens: number) => ({ maxNewTokens, rng: new Rng(0), temperature: 0 });

describe('CachedGenerator', () => {
  let parameters: Map<string, Float32Array>;
  let reference: GptInference;
  let cached: CachedGenerator;

  beforeAll(async () => {
    parameters = largeParameters(7);
    reference = await GptInference.create(config, parameters, { intraOpThreads: 1 });
    cached = await CachedGenerator.create(config, parameters, { intraOpThreads: 1 });
  });

  afterAll(async () => {
    await reference.release();
    await cached.release();
  });

  it('step logits match uncached inference', async () => {
    const prompt = [3, 17, 4, 9];
    let state = await cached.prefill([prompt]);
    const context = [...prompt];
    expect(maxAbsDifference(state.logits[0], await reference.nextTokenLogits(context))).toBeLessThan(1e-4);
    for (const id of [5, 22, 0, 11]) {
      context.push(id);
      const mask = [Array(context.length).fill(1)];
      state = { ...(await cached.step([[id]], mask, [[context.length - 1]], state.cache)), mask };
      const expected = await reference.nextTokenLogits(context);
      expect(maxAbsDifference(state.logits[0], expected)).toBeLessThan(1e-4);
    }
  });

  it('cache grows by one position per step', async () => {
    const state = await cached.prefill([[1, 2, 3]]);
    expect(state.cache['past_key_values.0.key'].dims).toEqual([1, 2, 3, 8]);
    const next = await cached.step([[4]], [[1, 1, 1, 1]], [[3]], state.cache);
    expect(next.cache['past_key_values.1.value'].dims).toEqual([1, 2, 4, 8]);
  });

  it('greedy tokens equal uncached generation past blockSize', async () => {
    // 5 prompt tokens + 20 new tokens exceed blockSize 12, so the context is cropped.
    const prompt = [2, 8, 15, 1, 19];
    const expected = await reference.generate(prompt, greedy(20));
    const streamed: number[] = [];
    const actual = await cached.generate(prompt, { ...greedy(20), onToken: (id) => streamed.push(id) });
    expect(actual).toEqual(expected);
    expect(streamed).toEqual(actual);
  });

  it('prompt longer than blockSize is cropped', async () => {
    const prompt = Array.from({ length: 15 }, (_, i) => (i * 7) % config.vocabSize);
    expect(await cached.generate(prompt, greedy(4))).toEqual(await reference.generate(prompt, greedy(4)));
  });

  it('stops after a stop token', async () => {
    const prompt = [4, 4, 9];
    const free = await reference.generate(prompt, greedy(8));
    const stopAt = free[3];
    const expectedLength = free.indexOf(stopAt) + 1;
    const actual = await cached.generate(prompt, { ...greedy(8), stopTokens: [stopAt] });
    expect(actual).toEqual(free.slice(0, expectedLength));
  });

  it('sampled tokens equal uncached sampling with the same seed', async () => {
    const options = (seed: number) => ({ maxNewTokens: 10, rng: new Rng(seed), temperature: 0.9, topK: 10 });
    const prompt = [6, 3];
    expect(await cached.generate(prompt, options(42))).toEqual(await reference.generate(prompt, options(42)));
  });

  it('left-padded batch gives each prompt its own tokens', async () => {
    const prompts = [[5], [7, 1, 20, 3, 3, 9], [14, 2, 2]];
    const alone = await Promise.all(prompts.map((p) => reference.generate(p, greedy(9))));
    const streamed: number[][] = prompts.map(() => []);
    const batched = await cached.generateBatch(prompts, {
      ...greedy(9),
      padTokenId: 22,
      onToken: (id, row) => streamed[row].push(id),
    });
    expect(batched).toEqual(alone);
    expect(streamed).toEqual(alone);
  });

  it('left-padded batch logits match each prompt alone', async () => {
    const prompts = [
      [5, 12],
      [7, 1, 20, 3, 3],
    ];
    const state = await cached.prefill(prompts, 0);
    for (let row = 0; row < prompts.length; row++) {
      const expected = await reference.nextTokenLogits(prompts[row]);
      expect(maxAbsDifference(state.logits[row], expected)).toBeLessThan(1e-4);
    }
  });

  it('batch rows stop independently', async () => {
    const prompts = [
      [3, 1],
      [10, 11, 12],
    ];
    const free = await Promise.all(prompts.map((p) => reference.generate(p, greedy(6))));
    const stopToken = free[0][1];
    const batched = await cached.generateBatch(prompts, { ...greedy(6), stopTokens: [stopToken] });
    const truncate = (tokens: number[]) => {
      const index = tokens.indexOf(stopToken);
      return index < 0 ? tokens : tokens.slice(0, index + 1);
    };
    expect(batched).toEqual(free.map(truncate));
  });

  it('weights as initializers give the same logits', async () => {
    const embedded = await CachedGenerator.create(config, parameters, {
      intraOpThreads: 1,
      weightsAsInitializers: true,
    });
    const prompt = [[9, 9, 1]];
    const a = await embedded.prefill(prompt);
    const b = await cached.prefill(prompt);
    expect(maxAbsDifference(a.logits[0], b.logits[0])).toBeLessThan(1e-5);
    await embedded.release();
  });

  it('rejects a mask of the wrong length', async () => {
    const state = await cached.prefill([[1, 2]]);
    await expect(cached.step([[3]], [[1, 1]], [[2]], state.cache)).rejects.toThrow(
      'attention_mask has 2 positions, expected past 2 + sequence 1.',
    );
  });

  it('returns nothing for zero new tokens', async () => {
    expect(await cached.generateBatch([[1], [2, 3]], greedy(0))).toEqual([[], []]);
  });

  it('rejects a token outside the vocabulary', async () => {
    await expect(cached.generate([3, 23], greedy(1))).rejects.toThrow(
      /token id 23 is outside the vocabulary/,
    );
  });
});

describe('positionIdsFromMask', () => {
  it('counts unmasked positions and puts 1 at padding', () => {
    expect(positionIdsFromMask([0, 0, 1, 1, 1])).toEqual([1, 1, 0, 1, 2]);
    expect(positionIdsFromMask([1, 1])).toEqual([0, 1]);
  });
});
