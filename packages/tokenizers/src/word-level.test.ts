import { describe, expect, it } from 'vitest';
import { cleanWords, splitWords, WordVocabulary } from './word-level.js';

describe('splitWords', () => {
  it('splits at whitespace and lower-cases', () => {
    expect(splitWords(' To be\tor  NOT\n')).toEqual(['to', 'be', 'or', 'not']);
    expect(splitWords('To be', { lowercase: false })).toEqual(['To', 'be']);
  });
});

describe('cleanWords', () => {
  it('drops digits, non-ASCII, punctuation and short words', () => {
    expect(cleanWords('“Hello,” said I—in 1895; it’s a café_time!')).toEqual([
      'hello',
      'said',
      'in',
      'it',
      'caf',
      'time',
    ]);
  });

  it('keeps one-letter words when asked', () => {
    expect(cleanWords('a b cd', { minLength: 1 })).toEqual(['a', 'b', 'cd']);
  });
});

describe('WordVocabulary', () => {
  const vocabulary = new WordVocabulary(['to', 'be', 'or', 'not', 'to', 'be']);

  it('sorts distinct words', () => {
    expect(vocabulary.words).toEqual(['be', 'not', 'or', 'to']);
    expect(vocabulary.size).toBe(4);
  });

  it('round-trips words', () => {
    const ids = vocabulary.encode(['to', 'be', 'or']);
    expect(ids).toEqual([3, 0, 2]);
    expect(vocabulary.decode(ids)).toBe('to be or');
  });

  it('rejects unknown words without an unknown token', () => {
    expect(() => vocabulary.encode(['to', 'sing'])).toThrow(/"sing" at index 1 is not in the vocabulary/);
    expect(() => vocabulary.decode([4])).toThrow(/Invalid word id 4/);
  });

  it('maps unknown words to the unknown token', () => {
    const withUnknown = new WordVocabulary(['to', 'be'], { unknownToken: '<|unk|>' });
    expect(withUnknown.words).toEqual(['be', 'to', '<|unk|>']);
    expect(withUnknown.encode(['to', 'sing'])).toEqual([1, 2]);
  });

  it('builds one-hot rows', () => {
    expect(vocabulary.oneHot(['or', 'be']).map((row) => [...row])).toEqual([
      [0, 0, 1, 0],
      [1, 0, 0, 0],
    ]);
  });
});
