import { describe, expect, it } from 'vitest';
import { mergePair, mostFrequentPair, trainSymbolBpe } from './symbol-bpe.js';

const TOY = 'like liker love lovely hug hugs hugging hearts';

describe('trainSymbolBpe', () => {
  it('merges the toy text to 25 tokens', () => {
    const result = trainSymbolBpe(TOY, { vocabSize: 25 });
    expect(result.initialVocabulary).toEqual([
      ' ',
      'a',
      'e',
      'g',
      'h',
      'i',
      'k',
      'l',
      'n',
      'o',
      'r',
      's',
      't',
      'u',
      'v',
      'y',
    ]);
    expect(result.vocabulary).toHaveLength(25);
    // ' h' starts " hug", " hugs", " hugging" and " hearts": 4 times, more than any other pair.
    expect(result.merges.map((merge) => merge.token)).toEqual([
      ' h',
      ' l',
      ' hu',
      ' hug',
      'ik',
      'ike',
      ' lo',
      ' lov',
      ' love',
    ]);
    expect(result.merges.map((merge) => merge.count)).toEqual([4, 3, 3, 3, 2, 2, 2, 2, 2]);
    expect(result.merges.map((merge) => merge.tokensAfter)).toEqual([42, 39, 36, 33, 31, 29, 27, 25, 23]);
    expect(result.merges.map((merge) => merge.id)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24]);
    expect(result.tokens.join('')).toBe(TOY);
    expect(result.tokens).toHaveLength(23);
  });

  it('stops when one token is left', () => {
    const result = trainSymbolBpe('abab', { vocabSize: 100 });
    expect(result.merges.map((merge) => merge.token)).toEqual(['ab', 'abab']);
    expect(result.tokens).toEqual(['abab']);
  });

  it('counts overlapping pairs', () => {
    // "aaaa" contains the pair ("a", "a") three times, but merging from the left makes only two "aa".
    const result = trainSymbolBpe('aaaa', { vocabSize: 10 });
    expect(result.merges.map((merge) => [merge.token, merge.count])).toEqual([
      ['aa', 3],
      ['aaaa', 1],
    ]);
  });

  it('rejects an invalid vocabSize', () => {
    expect(() => trainSymbolBpe(TOY, { vocabSize: 0 })).toThrow(/Invalid vocabSize 0/);
  });
});

describe('mostFrequentPair', () => {
  it('breaks ties by first occurrence', () => {
    expect(mostFrequentPair(['x', 'y', 'a', 'b', 'x', 'y', 'a', 'b'])).toEqual({
      left: 'x',
      right: 'y',
      count: 2,
    });
  });

  it('keeps pairs with equal concatenation apart', () => {
    expect(mostFrequentPair(['a', 'bc', 'ab', 'c', 'ab', 'c'])).toEqual({ left: 'ab', right: 'c', count: 2 });
  });
});

describe('mergePair', () => {
  it('merges left to right', () => {
    expect(mergePair(['a', 'a', 'a'], 'a', 'a')).toEqual(['aa', 'a']);
  });
});
