import { parseSafetensors, Rng, serializeSafetensors, type TensorEntry } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { gptFromSafetensors, gptToSafetensors } from './checkpoint.js';
import { countGptParameters, type GptConfig, resolveGptConfig } from './config.js';
import { GptInference } from './inference.js';
import { initGptParameters } from './model.js';
import { argmax, sampleToken, samplingProbabilities } from './sampling.js';

const tiny: GptConfig = resolveGptConfig({ vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 });

describe('GPT config', () => {
  it('counts GPT-2 small parameters with the tied head once', () => {
    const gpt2 = resolveGptConfig({ vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768 });
    expect(countGptParameters(gpt2)).toBe(124_439_808);
  });

  it('counts GPT-2 medium parameters', () => {
    const medium = resolveGptConfig({
      vocabSize: 50257,
      blockSize: 1024,
      nLayer: 24,
      nHead: 16,
      nEmbd: 1024,
    });
    expect(countGptParameters(medium)).toBe(354_823_168);
  });

  it('rejects nEmbd not divisible by nHead', () => {
    expect(() => resolveGptConfig({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 3, nEmbd: 16 })).toThrow(
      /nEmbd \(16\) must be divisible by nHead \(3\)/,
    );
  });

  it('rejects a non-integer layer count', () => {
    expect(() => resolveGptConfig({ vocabSize: 5, blockSize: 4, nLayer: 1.5, nHead: 1, nEmbd: 4 })).toThrow(
      /nLayer/,
    );
  });
});

describe('sampling', () => {
  it('greedy picks the first maximum', () => {
    expect(argmax([1, 5, 5, 2])).toBe(1);
    expect(sampleToken([0, 3, 1], new Rng(1), { temperature: 0 })).toBe(1);
  });

  it('stays finite for extreme logits', () => {
    const probs = samplingProbabilities([1e30, -1e30, 0, 1e30]);
    expect(Array.from(probs)).toEqual([0.5, 0, 0, 0.5]);
  });

  it('top-k keeps only the k largest', () => {
    const probs = samplingProbabilities([1, 4, 3, 2], { topK: 2 });
    expect(probs[0]).toBe(0);
    expect(probs[3]).toBe(0);
    expect(probs[1] + probs[2]).toBeCloseTo(1, 12);
    expect(probs[1] / probs[2]).toBeCloseTo(Math.E, 10);
  });

  it('top-p keeps the smallest set reaching p', () => {
    const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)];
    const probs = samplingProbabilities(logits, { topP: 0.75 });
    expect(probs[0]).toBeCloseTo(0.5 / 0.8, 12);
    expect(probs[1]).toBeCloseTo(0.3 / 0.8, 12);
    expect(probs[2]).toBe(0);
    expect(probs[3]).toBe(0);
  });

  it('temperature sharpens the distribution', () => {
    const cold = samplingProbabilities([1, 2], { temperature: 0.5 });
    const warm = samplingProbabilities([1, 2], { temperature: 2 });
    expect(cold[1]).toBeGreaterThan(warm[1]);
    expect(cold[1]).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
  });

  it('sampling frequencies follow the probabilities', () => {
    const rng = new Rng(7);
    const counts = [0, 0, 0];
    const logits = [0, Math.log(2), Math.log(7)];
    for (let i = 0; i < 20_000; i++) counts[sampleToken(logits, rng)] += 1;
    expect(counts[0] / 20_000).toBeCloseTo(0.1, 1);
    expect(counts[2] / 20_000).toBeCloseTo(0.7, 1);
  });

  it('rejects a negative temperature', () => {
    expect(() => samplingProbabilities([1, 2], { temperature: -1 })).toThrow(/temperature must be positive/);
  });
});

describe('GptInference', () => {
  it('generates reproducibly from a seed and crops the context', async () => {
    const parameters = initGptParameters(tiny, new Rng(3));
    const model = await GptInference.create(tiny, parameters);
    const prompt = Array.from({ length: 12 }, (_, i) => i % tiny.vocabSize);
    const streamed: number[] = [];
    const a = await model.generate(prompt, {
      maxNewTokens: 10,
      rng: new Rng(5),
      onToken: (id) => streamed.push(id),
    });
    const b = await model.generate(prompt, { maxNewTokens: 10, rng: new Rng(5) });
    expect(a).toHaveLength(10);
    expect(a).toEqual(b);
    expect(streamed).toEqual(a);
    expect(a.every((id) => id >= 0 && id < tiny.vocabSize)).toBe(true);
    await model.release();
  });

  it('stops at a stop token', async () => {
    const parameters = initGptParameters(tiny, new Rng(3));
    const model = await GptInference.create(tiny, parameters);
    const first = (await model.generate([1, 2], { maxNewTokens: 1, rng: new Rng(1), temperature: 0 }))[0];
    const out = await model.generate([1, 2], {
      maxNewTokens: 5,
      rng: new Rng(1),
      temperature: 0,
      stopTokens: [first],
    });
    expect(out).toEqual([first]);
    await model.release();
  });

  it('logits depend only on the past (causality)', async () => {
    const parameters = initGptParameters(tiny, new Rng(4));
    const model = await GptInference.create(tiny, parameters);
    const a = await model.nextTokenLogits([3, 1, 4]);
    const b = await model.nextTokenLogits([3, 1, 4, 1, 5]);
    const c = await model.nextTokenLogits([3, 1, 4, 1, 5]);
    expect(Array.from(b)).toEqual(Array.from(c));
    expect(Array.from(a)).not.toEqual(Array.from(b));
    await model.release();
  });

  it('rejects token ids outside the vocabulary', async () => {
    const model = await GptInference.create(tiny, initGptParameters(tiny, new Rng(1)));
    await expect(model.nextTokenLogits([1, 11])).rejects.toThrow(
      /token id 11 is outside the vocabulary \[0, 11\)/,
    );
    await model.release();
  });
});

describe('GPT checkpoints', () => {
  it('round-trips through safetensors with the config in metadata', () => {
    const parameters = initGptParameters(tiny, new Rng(9));
    const bytes = gptToSafetensors(tiny, parameters);
    const loaded = gptFromSafetensors(parseSafetensors(bytes, 'model.safetensors'), 'model.safetensors');
    expect(loaded.config).toEqual(tiny);
    expect(Array.from(loaded.parameters.get('h.1.mlp.c_fc.weight')!)).toEqual(
      Array.from(parameters.get('h.1.mlp.c_fc.weight')!),
    );
  });

  it('accepts the transformer. prefix of Hugging Face files', () => {
    const parameters = initGptParameters(tiny, new Rng(9));
    const file = parseSafetensors(gptToSafetensors(tiny, parameters));
    const prefixed = new Map<string, TensorEntry>([...file.tensors].map(([k, v]) => [`transformer.${k}`, v]));
    const reparsed = parseSafetensors(serializeSafetensors(prefixed, file.metadata));
    expect(gptFromSafetensors(reparsed, 'hf.safetensors').parameters.size).toBe(parameters.size);
  });

  it('names the tensor and both shapes on a mismatch', () => {
    const parameters = initGptParameters(tiny, new Rng(9));
    const file = parseSafetensors(gptToSafetensors(tiny, parameters));
    const wrong = { ...tiny, nEmbd: 8, nHead: 2 };
    expect(() => gptFromSafetensors(file, 'model.safetensors', wrong)).toThrow(
      /model\.safetensors: tensor "wte\.weight" has shape \[11,16\], expected \[11,8\]/,
    );
  });

  it('initializes residual projections with the scaled standard deviation', () => {
    const config = resolveGptConfig({ vocabSize: 50, blockSize: 16, nLayer: 8, nHead: 4, nEmbd: 64 });
    const parameters = initGptParameters(config, new Rng(2));
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(std(parameters.get('h.0.mlp.c_fc.weight')!)).toBeCloseTo(0.02, 3);
    expect(std(parameters.get('h.0.mlp.c_proj.weight')!)).toBeCloseTo(0.02 / 4, 3);
    expect(Array.from(parameters.get('h.3.ln_1.weight')!).every((v) => v === 1)).toBe(true);
    expect(Array.from(parameters.get('h.3.attn.c_attn.bias')!).every((v) => v === 0)).toBe(true);
  });
});
