import { beforeAll, describe, expect, it } from 'vitest';
import { bpeSteps, bpeVocabSize, charsSubwordsWords } from './bpe.js';
import { populatedTestCache, runForTest, TEST_CORPORA } from './testing.js';
import { cleanBook, oneHot, textToTokens, timeMachineTokens, wordContext } from './words.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('text-to-tokens', () => {
  it('numbers the words of the quotes', async () => {
    const { results, output } = await runForTest(textToTokens, cache);
    // 29 words, 21 of them distinct: "we", "that", "is", "the", "to" and "be" repeat.
    expect(results.words).toBe(29);
    expect(results.vocabularySize).toBe(21);
    // Sorted vocabulary: ... are 2 ... have 6 ... thought 16 ... we 18, what 19.
    expect(results.sentenceIds).toEqual([18, 2, 19, 18, 6, 16]);
    expect(results.decoded).toBe('we are what we have thought');
    expect(results.roundTrip).toBe(true);
    expect(output.figures).toEqual(['token-ids']);
  });

  it('draws the fake quote from the seed', async () => {
    const first = await runForTest(textToTokens, cache, { 'fake-words': '8' }, { seed: 7 });
    const second = await runForTest(textToTokens, cache, { 'fake-words': '8' }, { seed: 7 });
    const other = await runForTest(textToTokens, cache, { 'fake-words': '8' }, { seed: 8 });
    expect(first.results.fakeQuoteIds).toHaveLength(8);
    expect(second.results.fakeQuote).toBe(first.results.fakeQuote);
    expect(other.results.fakeQuote).not.toBe(first.results.fakeQuote);
  });
});

describe('word-context', () => {
  it('finds both contexts of "to"', async () => {
    const { results, report } = await runForTest(wordContext, cache);
    expect(results.targetId).toBe(17);
    expect(results.contexts).toEqual([
      { position: 12, before: ['thought'], after: ['be'] },
      { position: 16, before: ['not'], after: ['be'] },
    ]);
    expect(report).toContain('thought [to] be');
  });

  it('shortens the context at the text edges', async () => {
    const { results } = await runForTest(wordContext, cache, { target: 'all', window: '2' });
    expect(results.contexts).toEqual([{ position: 0, before: [], after: ['that', 'we'] }]);
  });
});

describe('one-hot', () => {
  it('has one 1 per word', async () => {
    const { results, output } = await runForTest(oneHot, cache);
    expect(results.rows).toBe(29);
    expect(results.columns).toBe(21);
    expect(results.totalOnes).toBe(29);
    expect(results.onesPerRowAllEqualOne).toBe(true);
    expect((results.wordCounts as Record<string, number>).be).toBe(3);
    expect(output.figures).toEqual(['one-hot']);
  });
});

describe('clean-book', () => {
  it('cleans The Time Machine from the cache', async () => {
    const { results } = await runForTest(cleanBook, cache);
    expect(results.source).toBe('The Time Machine');
    expect(results.words).toBe(30690);
    expect(results.vocabularySize).toBe(4585);
    expect((results.firstWords as string[]).slice(0, 3)).toEqual(['the', 'time', 'machine']);
    expect(results.sampleRoundTrip).toBe(true);
  });

  it('keeps the licence and one-letter words on request', async () => {
    const { results } = await runForTest(cleanBook, cache, { 'keep-license': 'true', 'min-length': '1' });
    expect(results.words as number).toBeGreaterThan(30690 + 2000);
    expect((results.firstWords as string[])[0]).toBe('the');
  });
});

describe('time-machine-tokens', () => {
  it('counts words and encodes unknown ones', async () => {
    const { results, output } = await runForTest(timeMachineTokens, cache, { 'walk-length': '50' });
    expect(results.vocabularySize).toBe(4585);
    expect(results.unknownTokenId).toBe(4585);
    expect((results.topWords as Record<string, number>).the).toBe(2287);
    const lengths = results.wordLengthCounts as number[];
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(4585);
    expect(results.unknownWords).toEqual(['spaceship']);
    const walk = results.randomWalk as number[];
    expect(walk).toHaveLength(50);
    for (let i = 1; i < walk.length; i++) expect(Math.abs(walk[i] - walk[i - 1])).toBe(1);
    expect(output.figures).toEqual(['top-words', 'word-lengths']);
  });
});

describe('chars-subwords-words', () => {
  it('orders sequence lengths and vocabularies', async () => {
    const { results } = await runForTest(
      charsSubwordsWords,
      cache,
      { 'max-characters': '20000' },
      { corpusPaths: [TEST_CORPORA.alice] },
    );
    expect(results.source).toBe('alice-in-wonderland.txt');
    expect(results.characterTokens).toBe(results.characters);
    expect(results.subwordTokens as number).toBeLessThan(results.characterTokens as number);
    expect(results.wordTokens as number).toBeLessThan(results.subwordTokens as number);
    expect(results.characterVocabulary as number).toBeLessThan(results.wordVocabulary as number);
    expect(results.subwordVocabulary).toBe(100277);
    expect(results.exampleSubwords).toEqual(['Hello', ',', ' token', 'izers', '!']);
  });
});

describe('bpe-steps', () => {
  it('merges the toy text to 25 tokens', async () => {
    const { results, report } = await runForTest(bpeSteps, cache);
    expect(results.initialVocabularySize).toBe(16);
    expect(results.finalVocabularySize).toBe(25);
    // " h" occurs 4 times (" hug", " hugs", " hugging", " hearts"), more than any other pair.
    expect(results.merges).toEqual([' h', ' l', ' hu', ' hug', 'ik', 'ike', ' lo', ' lov', ' love']);
    expect(results.mergeCounts).toEqual([4, 3, 3, 3, 2, 2, 2, 2, 2]);
    expect(results.initialTokens).toBe(46);
    expect(results.finalTokens).toBe(23);
    expect(report).toContain(
      'merge 9 " love": l|ike|·l|ike|r|·love|·love|l|y|·hug|·hug|s|·hug|g|i|n|g|·h|e|a|r|t|s',
    );
  });

  it('takes another text and size', async () => {
    const { results } = await runForTest(bpeSteps, cache, { text: 'aaabdaaabac', 'vocab-size': '7' });
    // "aa" occurs 4 times. Merging from the left turns "aaa" into "aa" + "a", so ("aa", "a") and
    // ("a", "b") both occur twice, and ("aa", "a") wins the tie by coming first. Then "aaa" + "b".
    expect(results.merges).toEqual(['aa', 'aaa', 'aaab']);
  });
});

describe('bpe-vocab-size', () => {
  it('shrinks the book as the vocabulary grows', async () => {
    const { results } = await runForTest(
      bpeVocabSize,
      cache,
      { 'vocab-size': '300', checkpoints: '4', 'max-characters': '20000' },
      { corpusPaths: [TEST_CORPORA.alice] },
    );
    expect(results.vocabularySize).toBe(300);
    const curve = results.tokensByVocabularySize as Record<string, number>;
    expect(Object.keys(curve)).toEqual(['256', '267', '278', '289', '300']);
    expect(curve['256']).toBe(results.bytes);
    const counts = Object.values(curve);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThan(counts[i - 1]);
    expect(results.finalTokens).toBe(curve['300']);
  });
});
