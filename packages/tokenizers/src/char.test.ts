import { describe, expect, it } from 'vitest';
import { CharTokenizer } from './char.js';
import { tokenizerFromJSON } from './json.js';
import { AWKWARD_STRINGS, readCorpus } from './test-support/shared-data.js';

describe('CharTokenizer', () => {
  const shakespeare = readCorpus('tiny-shakespeare.txt');

  it('has 65 characters on tiny shakespeare', () => {
    const tokenizer = CharTokenizer.fromText(shakespeare);
    expect(tokenizer.vocabSize).toBe(65);
    expect(tokenizer.kind).toBe('char');
    expect(tokenizer.idToToken(0)).toBe('\n');
    expect(tokenizer.idToToken(1)).toBe(' ');
    expect(tokenizer.idToToken(64)).toBe('z');
  });

  it('encodes like char-level nanoGPT', () => {
    // nanoGPT's data/shakespeare_char/prepare.py prints the same ids for "hii there".
    const tokenizer = CharTokenizer.fromText(shakespeare);
    expect(tokenizer.encode('hii there')).toEqual([46, 47, 47, 1, 58, 46, 43, 56, 43]);
  });

  it('round-trips tiny shakespeare', () => {
    const tokenizer = CharTokenizer.fromText(shakespeare);
    const ids = tokenizer.encode(shakespeare);
    expect(ids.length).toBe(shakespeare.length);
    expect(tokenizer.decode(ids)).toBe(shakespeare);
  });

  it('round-trips awkward strings', () => {
    const text = AWKWARD_STRINGS.join('');
    const tokenizer = CharTokenizer.fromText(text);
    for (const sample of AWKWARD_STRINGS) {
      expect(tokenizer.decode(tokenizer.encode(sample))).toBe(sample);
    }
  });

  it('counts code points, not UTF-16 units', () => {
    const tokenizer = CharTokenizer.fromText('a😀b😀');
    expect(tokenizer.vocabSize).toBe(3);
    expect(tokenizer.encode('😀a')).toEqual([2, 0]);
  });

  it('sorts the vocabulary by code point', () => {
    // UTF-16 order would put U+1F600 (surrogates D83D DE00) before U+FFFD.
    const tokenizer = CharTokenizer.fromText('\ufffd😀\ue000a');
    expect(tokenizer.toJSON().vocab).toEqual(['a', '\ue000', '\ufffd', '😀']);
  });

  it('rejects unknown characters', () => {
    const tokenizer = CharTokenizer.fromText('abcdef ');
    expect(() => tokenizer.encode('bad café')).toThrowError(/"é" \(U\+00E9\) at index 7/);
    expect(() => tokenizer.encode('bad café')).toThrowError(/built from a different text/);
    expect(() => tokenizer.encode('a😀')).toThrowError(/"😀" \(U\+1F600\) at index 1/);
  });

  it('rejects ids outside the vocabulary', () => {
    const tokenizer = CharTokenizer.fromText('ab');
    expect(() => tokenizer.decode([0, 2])).toThrowError(RangeError);
    expect(() => tokenizer.decode([0, 2])).toThrowError(/Token id 2 at index 1/);
    expect(tokenizer.idToToken(-1)).toBeUndefined();
    expect(tokenizer.idToToken(0.5)).toBeUndefined();
  });

  it('adds special tokens after the characters', () => {
    const tokenizer = CharTokenizer.fromText('ab', { specialTokens: ['<|endoftext|>', '<pad>'] });
    expect(tokenizer.vocabSize).toBe(4);
    expect([...tokenizer.specialTokens]).toEqual([
      ['<|endoftext|>', 2],
      ['<pad>', 3],
    ]);
    expect(tokenizer.tokenToId('<pad>')).toBe(3);
    expect(tokenizer.idToToken(2)).toBe('<|endoftext|>');
    expect(tokenizer.encode('ab<pad>a', { allowedSpecial: 'all' })).toEqual([0, 1, 3, 0]);
    expect(tokenizer.encode('b<pad>', { allowedSpecial: new Set(['<pad>']) })).toEqual([1, 3]);
    expect(tokenizer.decode([0, 2, 1])).toBe('a<|endoftext|>b');
  });

  it('treats special-token text as characters unless allowed', () => {
    const tokenizer = CharTokenizer.fromText('ab', { specialTokens: ['<pad>'] });
    expect(() => tokenizer.encode('a<pad>')).toThrowError(/"<" \(U\+003C\) at index 1/);
    expect(() => tokenizer.encode('a', { allowedSpecial: new Set(['<eos>']) })).toThrowError(/"<eos>"/);
  });

  it('round-trips through JSON', () => {
    const tokenizer = CharTokenizer.fromText('hello wörld 😀', { specialTokens: ['<|endoftext|>'] });
    const json = JSON.parse(JSON.stringify(tokenizer.toJSON()));
    expect(json).toEqual({
      type: 'char',
      vocab: [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö', '😀'],
      specialTokens: { '<|endoftext|>': 10 },
    });
    const restored = tokenizerFromJSON(json);
    expect(restored).toBeInstanceOf(CharTokenizer);
    const sample = 'hello<|endoftext|> 😀';
    const options = { allowedSpecial: 'all' as const };
    expect((restored as CharTokenizer).encode(sample, options)).toEqual(tokenizer.encode(sample, options));
    expect(restored.vocabSize).toBe(tokenizer.vocabSize);
  });

  it('rejects invalid vocabularies', () => {
    expect(() => new CharTokenizer(['a', 'a'])).toThrowError(/listed twice/);
    expect(() => new CharTokenizer(['ab'])).toThrowError(/single code point/);
    expect(() => new CharTokenizer(['a', 'b'], { '<pad>': 1 })).toThrowError(/id 1, which is the id of "b"/);
    expect(() => CharTokenizer.fromText('a', { specialTokens: ['<s>', '<s>'] })).toThrowError(/listed twice/);
  });
});
