import { GraphSession, Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { resolveGptConfig } from './config.js';
import { exportForTransformersJs } from './export.js';
import { CachedGenerator } from './kv-cache.js';
import { initGptParameters } from './model.js';

const config = resolveGptConfig({ vocabSize: 12, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 });
const parameters = initGptParameters(config, new Rng(3));
const tokenizerJson = {
  added_tokens: [{ id: 11, content: '<|endoftext|>' }],
  model: { type: 'BPE', vocab: { a: 0, b: 1 } },
};

describe('exportForTransformersJs', () => {
  it('writes the transformers.js file layout', () => {
    const files = exportForTransformersJs(config, parameters, { tokenizerJson, eosToken: '<|endoftext|>' });
    expect([...files.keys()].sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const hfConfig = JSON.parse(files.get('config.json') as string);
    expect(hfConfig.model_type).toBe('gpt2');
    expect(hfConfig.use_cache).toBe(true);
    expect(hfConfig.eos_token_id).toBe(11);
    expect(hfConfig.bos_token_id).toBe(11);
    expect(JSON.parse(files.get('tokenizer.json') as string)).toEqual(tokenizerJson);
    expect(JSON.parse(files.get('tokenizer_config.json') as string).eos_token).toBe('<|endoftext|>');
  });

  it('ONNX model has the cache inputs and outputs', async () => {
    const files = exportForTransformersJs(config, parameters, { tokenizerJson });
    const session = await GraphSession.create(files.get('onnx/model.onnx') as Uint8Array, {
      intraOpThreads: 1,
    });
    expect([...session.inputNames].sort()).toEqual(
      [
        'input_ids',
        'attention_mask',
        'position_ids',
        'past_key_values.0.key',
        'past_key_values.0.value',
        'past_key_values.1.key',
        'past_key_values.1.value',
      ].sort(),
    );
    expect([...session.outputNames].sort()).toEqual(
      ['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value'].sort(),
    );

    // The exported model returns every position's logits; the last one equals the generator's.
    const generator = await CachedGenerator.create(config, parameters, { intraOpThreads: 1 });
    const ids = [3, 1, 4, 1, 5];
    const expected = (await generator.prefill([ids])).logits[0];
    const result = await session.run({
      ...generator.emptyCache(1),
      input_ids: session.tensor('int64', BigInt64Array.from(ids, BigInt), [1, 5]),
      attention_mask: session.tensor('int64', new BigInt64Array(5).fill(1n), [1, 5]),
      position_ids: session.tensor('int64', BigInt64Array.from([0, 1, 2, 3, 4], BigInt), [1, 5]),
    });
    expect(result.logits.dims).toEqual([1, 5, 12]);
    expect(result['present.1.key'].dims).toEqual([1, 2, 5, 4]);
    const last = (result.logits.data as Float32Array).slice(4 * 12);
    for (let i = 0; i < 12; i++) expect(last[i]).toBeCloseTo(expected[i], 5);
    await generator.release();
    await session.release();
  });

  it('rejects an unknown eos token', () => {
    expect(() => exportForTransformersJs(config, parameters, { tokenizerJson, eosToken: '</s>' })).toThrow(
      'token "</s>" was not found in tokenizer.json',
    );
  });
});
