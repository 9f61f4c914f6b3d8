import { beforeAll, describe, expect, it } from 'vitest';
import { compressionRatios, gpt4Tokenizer, rapperName, strawberry, tokenEfficiency, zipf } from './openai.js';
import { populatedTestCache, runForTest, TEST_CORPORA } from './testing.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('gpt4-tokenizer', () => {
  it('reports the facts of cl100k_base', async () => {
    const { results, output } = await runForTest(gpt4Tokenizer, cache, { count: '5' });
    expect(results.vocabularySize).toBe(100277);
    expect(results.endOfTextId).toBe(100257);
    expect(results.invalidIdError).toContain('100261');
    // 100,256 ordinary tokens and 5 special tokens leave 16 ids without a token.
    expect(results.idsWithoutToken).toBe(16);
    const lengthCounts = results.tokenLengthCounts as number[];
    expect(lengthCounts.reduce((a, b) => a + b, 0)).toBe(100277 - 16);
    const variants = results.variantIds as Record<string, number[]>;
    expect(variants[' Michael']).toHaveLength(1);
    expect(variants[' Michael']).not.toEqual(variants.Michael);
    expect(variants.bOok.length).toBeGreaterThan(variants.book.length);
    expect(results.sentenceTokens as number).toBeLessThan(results.sentenceTokensWordByWord as number);
    expect(results.bookTokens as number).toBeGreaterThan(results.bookWords as number);
    expect(Object.keys(results.vocabularyStretch as object)).toEqual([
      '1000',
      '1001',
      '1002',
      '1003',
      '1004',
    ]);
    expect(output.figures).toEqual(['token-length-histogram', 'token-length-by-id']);
  });
});

describe('token-efficiency', () => {
  it('relates word length to tokens', async () => {
    const { results, report } = await runForTest(tokenEfficiency, cache, { 'show-length': '12' });
    const byLength = results.meanTokensByLength as Record<string, number>;
    expect(byLength['1']).toBe(1);
    expect(byLength['12']).toBeGreaterThan(byLength['3']);
    expect(results.meanTokensTopWords).toBe(1);
    expect(results.meanTokensWordsSeenOnce as number).toBeGreaterThan(1.5);
    expect(results.fakeWords).toHaveLength(5);
    expect(report).toContain('### Words of 12 characters');
  });
});

describe('strawberry', () => {
  it('counts three r letters in three tokens', async () => {
    const { results } = await runForTest(strawberry, cache);
    expect(results.pieces).toEqual(['str', 'aw', 'berry']);
    expect(results.letterTokenInIds).toBe(false);
    expect(results.letterCountInDecodedText).toBe(3);
    expect(results.lettersPerToken).toEqual([1, 0, 2]);
  });
});

describe('rapper-name', () => {
  it('builds names of letter tokens', async () => {
    const { results } = await runForTest(rapperName, cache);
    const sorted = results.inputIdsSorted as number[];
    const starts = results.startIds as number[];
    expect(starts[0]).toBe(sorted[0] - 1);
    expect(starts[1]).toBe(sorted[sorted.length - 1] + 1);
    const names = [results.arithmeticName as string, results.randomName as string];
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9 ]+$/);
    const again = await runForTest(rapperName, cache, {}, { seed: 42 });
    expect(again.results.randomName).toBe(results.randomName);
  });
});

describe('compression-ratios', () => {
  it('compresses books and Python strings', async () => {
    const { results, report } = await runForTest(
      compressionRatios,
      cache,
      {},
      { corpusPaths: [TEST_CORPORA.alice, TEST_CORPORA.timeMachine] },
    );
    const books = results.books as Record<
      string,
      { characters: number; tokens: number; compression: number }
    >;
    for (const book of Object.values(books)) {
      expect(book.compression).toBeCloseTo((100 * book.tokens) / book.characters, 10);
      expect(book.compression).toBeGreaterThan(18);
      expect(book.compression).toBeLessThan(32);
    }
    const strings = results.pythonStrings as Record<string, { tokens: number; compression: number }>;
    // cl100k_base splits digit runs into groups of at most three: 012 345 678 9.
    expect(strings.digits).toEqual({ tokens: 4, compression: 40 });
    expect(strings.ascii_lowercase.tokens).toBe(1);
    expect(report).toContain("### Python's string module");
  });
});

describe('zipf', () => {
  it('fits power laws to token counts', async () => {
    const { results, output } = await runForTest(
      zipf,
      cache,
      { 'fit-ranks': '500' },
      { corpusPaths: [TEST_CORPORA.alice, TEST_CORPORA.timeMachine] },
    );
    const fits = results.fits as Record<string, { tokenExponent: number; tokenRSquared: number }>;
    expect(Object.keys(fits)).toEqual(['alice-in-wonderland.txt', 'the-time-machine.txt']);
    for (const fit of Object.values(fits)) {
      expect(fit.tokenExponent).toBeGreaterThan(0.7);
      expect(fit.tokenExponent).toBeLessThan(1.3);
      expect(fit.tokenRSquared).toBeGreaterThan(0.9);
    }
    expect(output.figures).toEqual(['zipf-characters', 'zipf-tokens']);
  });
});
