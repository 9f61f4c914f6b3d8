import { Tokenizer as HuggingFaceTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer } from './bpe.js';
import { loadEncoding } from './encodings.js';
import { AWKWARD_STRINGS, readCorpus, readSharedText } from './test-support/shared-data.js';
import { trainBpe } from './train-bpe.js';

describe('tokenizer.json interop', () => {
  const training = readCorpus('gullivers-travels.txt').slice(0, 200_000);
  const sample = [readCorpus('the-time-machine.txt').slice(0, 50_000), ...AWKWARD_STRINGS].join('\n');

  for (const preTokenizer of ['gpt2', 'cl100k', 'o200k', 'none'] as const) {
    it(`encodes like @huggingface/tokenizers with ${preTokenizer}`, () => {
      const tokenizer = trainBpe(training, {
        vocabSize: 600,
        preTokenizer,
        specialTokens: ['<|endoftext|>'],
      });
      const reference = new HuggingFaceTokenizer(tokenizer.toJSON(), {});
      const texts = [sample, ...AWKWARD_STRINGS];
      for (const text of texts) {
        const expected = reference.encode(text, { add_special_tokens: false }).ids;
        expect(tokenizer.encode(text, { allowedSpecial: 'all' }), JSON.stringify(text.slice(0, 40))).toEqual(
          expected,
        );
        if (expected.length === 0) continue;
        const decoded = reference.decode(expected, { clean_up_tokenization_spaces: false });
        expect(tokenizer.decode(expected)).toBe(decoded);
      }
    });
  }

  it('saves GPT-2 so that @huggingface/tokenizers encodes like it', () => {
    const gpt2 = ByteLevelBpeTokenizer.fromGpt2Files(
      readSharedText('tokenizers/gpt2/encoder.json'),
      readSharedText('tokenizers/gpt2/vocab.bpe'),
    );
    const reference = new HuggingFaceTokenizer(JSON.parse(JSON.stringify(gpt2.toJSON())), {});
    for (const text of [readCorpus('the-time-machine.txt').slice(0, 60_000), ...AWKWARD_STRINGS]) {
      const expected = reference.encode(text, { add_special_tokens: false }).ids;
      expect(gpt2.encode(text, { allowedSpecial: 'all' }), JSON.stringify(text.slice(0, 40))).toEqual(
        expected,
      );
    }
  });

  it('saves cl100k_base so that @huggingface/tokenizers encodes like it', async () => {
    // Hugging Face has no rank-based BPE, so toJSON lists one merge per split of each token into
    // two tokens of lower rank.
    const cl100k = await loadEncoding('cl100k_base');
    const reference = new HuggingFaceTokenizer(JSON.parse(JSON.stringify(cl100k.toJSON())), {});
    for (const text of [readCorpus('alice-in-wonderland.txt').slice(0, 50_000), ...AWKWARD_STRINGS]) {
      const expected = reference.encode(text, { add_special_tokens: false }).ids;
      expect(cl100k.encode(text, { allowedSpecial: 'all' }), JSON.stringify(text.slice(0, 40))).toEqual(
        expected,
      );
    }
  });
});
