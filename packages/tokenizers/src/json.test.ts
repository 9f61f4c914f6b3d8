import { describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import { tokenizerFromJSON } from './json.js';
import { CL100K_SPLIT_PATTERN } from './pre-tokenize.js';
import { AWKWARD_STRINGS, readCorpus, readSharedText } from './test-support/shared-data.js';
import { trainBpe } from './train-bpe.js';

/** Serializes to a JSON string and back, as saving to a file does. */
function throughJsonText(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('tokenizerFromJSON', () => {
  const text = readCorpus('the-time-machine.txt');

  it('round-trips trained BPE tokenizers', () => {
    for (const preTokenizer of ['gpt2', 'cl100k', 'none'] as const) {
      const tokenizer = trainBpe(text.slice(0, 60_000), {
        vocabSize: 400,
        preTokenizer,
        specialTokens: ['<|endoftext|>', '<|pad|>'],
      });
      const restored = tokenizerFromJSON(throughJsonText(tokenizer.toJSON()));
      expect(restored).toBeInstanceOf(ByteLevelBpeTokenizer);
      const bpe = restored as ByteLevelBpeTokenizer;
      expect(bpe.preTokenizer).toBe(preTokenizer);
      expect(bpe.vocabSize).toBe(tokenizer.vocabSize);
      expect(bpe.merges).toEqual(tokenizer.merges);
      expect([...bpe.specialTokens]).toEqual([...tokenizer.specialTokens]);
      for (let id = 0; id < tokenizer.vocabSize; id++)
        expect(bpe.idToToken(id)).toBe(tokenizer.idToToken(id));

      const sample = `${text.slice(60_000, 80_000)}<|endoftext|>${AWKWARD_STRINGS.join('')}`;
      expect(bpe.encode(sample, { allowedSpecial: 'all' })).toEqual(
        tokenizer.encode(sample, { allowedSpecial: 'all' }),
      );
      expect(bpe.toJSON()).toEqual(tokenizer.toJSON());
    }
  });

  it('writes the tokenizer.json layout', () => {
    const tokenizer = trainBpe('low lower lowest', {
      vocabSize: 260,
      preTokenizer: 'cl100k',
      specialTokens: ['<s>'],
    });
    const json = tokenizer.toJSON();
    expect(json.model.type).toBe('BPE');
    expect(json.model.merges).toEqual(['l o', 'lo w', 'Ġ low']);
    expect(json.model.vocab.Ġlow).toBe(258);
    expect(json.model.vocab['<s>']).toBe(259);
    expect(json.added_tokens).toEqual([
      {
        id: 259,
        content: '<s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ]);
    expect(json.pre_tokenizer).toEqual({
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CL100K_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    });
    expect(json.decoder.type).toBe('ByteLevel');
  });

  it('round-trips char tokenizers', () => {
    const tokenizer = CharTokenizer.fromText(text, { specialTokens: ['<eos>'] });
    const restored = tokenizerFromJSON(throughJsonText(tokenizer.toJSON()));
    expect(restored).toBeInstanceOf(CharTokenizer);
    expect(restored.encode(text)).toEqual(tokenizer.encode(text));
    expect(restored.specialTokens.get('<eos>')).toBe(tokenizer.vocabSize - 1);
  });

  it('rejects unknown types', () => {
    expect(() => tokenizerFromJSON({ type: 'sentencepiece' })).toThrowError(
      /Unknown tokenizer type "sentencepiece"/,
    );
    const bert = JSON.parse(readSharedText('tokenizers/bert-base-uncased/tokenizer.json'));
    const unigram = { ...bert, model: { type: 'Unigram', vocab: [] } };
    expect(() => tokenizerFromJSON(unigram)).toThrowError(/Unknown tokenizer type "Unigram"/);
    expect(() => tokenizerFromJSON([])).toThrowError(/expected an object, got an array/);
    expect(() => tokenizerFromJSON({ vocab: [] })).toThrowError(/"model" object/);
  });

  it('rejects settings it cannot honor', () => {
    const base = trainBpe('abc abc', { vocabSize: 258, preTokenizer: 'gpt2' }).toJSON();
    const variants: [Record<string, unknown>, RegExp][] = [
      [{ ...base, normalizer: { type: 'Lowercase' } }, /normalizer.*Lowercase/],
      [{ ...base, model: { ...base.model, dropout: 0.1 } }, /dropout 0.1/],
      [
        { ...base, model: { ...base.model, continuing_subword_prefix: '##' } },
        /continuing_subword_prefix "##"/,
      ],
      [{ ...base, decoder: { type: 'WordPiece' } }, /decoder/],
      [{ ...base, pre_tokenizer: { type: 'Whitespace' } }, /pre_tokenizer \{"type":"Whitespace"\}/],
      [{ ...base, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } }, /add_prefix_space/],
    ];
    for (const [json, message] of variants) expect(() => tokenizerFromJSON(json)).toThrowError(message);
  });

  it('reads merges written as pairs', () => {
    const json = trainBpe('abab abab', { vocabSize: 259, preTokenizer: 'gpt2' }).toJSON();
    const pairs = json.model.merges.map((merge) => merge.split(' '));
    const tokenizer = tokenizerFromJSON({ ...json, model: { ...json.model, merges: pairs } });
    // (a, b) -> 256, then (256, 256) -> 257, then (Ġ, 257) -> 258.
    expect(json.model.merges).toEqual(['a b', 'ab ab', 'Ġ abab']);
    expect(tokenizer.encode('abab')).toEqual([257]);
    expect(tokenizer.encode(' abab')).toEqual([258]);
  });

  it('honors ignore_merges', () => {
    // With ignore_merges, a chunk that is a whole vocabulary entry skips the merges.
    const base = trainBpe('abcd', { vocabSize: 259, preTokenizer: 'none' }).toJSON();
    // Merges make "abcd" into "ab" + "cd" only; "abcd" itself is an extra vocabulary entry.
    const vocab: Record<string, number> = { ...base.model.vocab, ab: 256, cd: 257, abcd: 259 };
    delete vocab.abc;
    const model = { ...base.model, vocab, merges: ['a b', 'c d'] };
    const withoutIgnore = tokenizerFromJSON({ ...base, model });
    const withIgnore = tokenizerFromJSON({ ...base, model: { ...model, ignore_merges: true } });
    expect(withoutIgnore.encode('abcd')).toEqual([256, 257]);
    expect(withIgnore.encode('abcd')).toEqual([259]);
    expect(withIgnore.encode('abcdab')).toEqual([256, 257, 256]);
  });
});
