import { describe, expect, it } from 'vitest';
import {
  alignSpans,
  cleanGutenbergText,
  compareCompression,
  compressionStats,
  fitZipf,
  rankFrequency,
  tokenLengthHistogram,
  tokenSpans,
  translateTokens,
  unusedTokens,
  vocabularyCharacterCounts,
} from './analysis.js';
import { ByteLevelBpeTokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import { loadEncoding } from './encodings.js';
import { tokenizerFromJSON } from './json.js';
import { readCorpus, readSharedText } from './test-support/shared-data.js';
import type { WordPieceTokenizer } from './wordpiece.js';

const gpt2 = ByteLevelBpeTokenizer.fromGpt2Files(
  readSharedText('tokenizers/gpt2/encoder.json'),
  readSharedText('tokenizers/gpt2/vocab.bpe'),
);

describe('token spans and translation', () => {
  it('give character spans of byte-level tokens', () => {
    // "é" is two bytes; GPT-2 encodes " é" as " \xc3" and "\xa9", two tokens over one character.
    const ids = gpt2.encode('Hi 😀 é!');
    const { text, spans } = tokenSpans(gpt2, ids);
    expect(text).toBe('Hi 😀 é!');
    expect(spans[0]).toEqual({ start: 0, end: 2 });
    expect(spans.at(-1)).toEqual({ start: 7, end: 8 });
    for (const span of spans) expect(span.end).toBeGreaterThanOrEqual(span.start);
    // Each character is covered by the spans of the tokens over its bytes.
    expect(spans.some((span) => span.start === 3 && span.end === 5)).toBe(true);
  });

  it('translate GPT-2 tokens into cl100k tokens', async () => {
    const cl100k = await loadEncoding('cl100k_base');
    const text = 'The quick brown fox jumped over 12345 lazy dogs. 東京';
    const translation = translateTokens(gpt2.encode(text), gpt2, cl100k);
    expect(translation.text).toBe(text);
    expect(translation.ids).toEqual(cl100k.encode(text));
    const covered = translation.alignment.flatMap((group) => group.source);
    expect(covered).toEqual(gpt2.encode(text).map((_, i) => i));
    expect(translation.alignment.flatMap((group) => group.target)).toEqual(translation.ids.map((_, i) => i));
    // GPT-2 encodes " 12345" as " 123" + "45", and cl100k as " " + "123" + "45".
    const numberGroup = translation.alignment.find(
      (group) => text.slice(group.span.start, group.span.end) === ' 123',
    );
    expect(numberGroup?.source.length).toBe(1);
    expect(numberGroup?.target.map((index) => cl100k.decode([translation.ids[index]]))).toEqual([' ', '123']);
    for (const group of translation.alignment) expect(group.span.end).toBeGreaterThan(group.span.start);
  });

  it('align spans at shared boundaries', () => {
    const source = [
      { start: 0, end: 2 },
      { start: 2, end: 5 },
      { start: 5, end: 6 },
    ];
    const target = [
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 6 },
    ];
    expect(alignSpans(source, target)).toEqual([
      { source: [0], target: [0, 1], span: { start: 0, end: 2 } },
      { source: [1, 2], target: [2], span: { start: 2, end: 6 } },
    ]);
  });

  it('reject tokenizers whose tokens do not concatenate', () => {
    const bert = tokenizerFromJSON(
      JSON.parse(readSharedText('tokenizers/bert-base-uncased/tokenizer.json')),
    ) as WordPieceTokenizer;
    expect(() => tokenSpans(bert, bert.encode('hello world'))).toThrowError(/wordpiece tokenizer/);
    const chars = CharTokenizer.fromText('abc');
    expect(tokenSpans(chars, chars.encode('cab')).spans).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 3 },
    ]);
  });
});

describe('compression', () => {
  it('counts characters, bytes, words and tokens', () => {
    const stats = compressionStats(gpt2, 'Hello world, héllo!');
    expect(stats).toEqual({
      characters: 19,
      bytes: 20,
      words: 3,
      tokens: gpt2.encode('Hello world, héllo!').length,
      charactersPerToken: 19 / stats.tokens,
      bytesPerToken: 20 / stats.tokens,
      tokensPerWord: stats.tokens / 3,
    });
  });

  it('compares tokenizers across texts', async () => {
    const cl100k = await loadEncoding('cl100k_base');
    const texts = {
      english: readCorpus('alice-in-wonderland.txt').slice(0, 20_000),
      code: 'for (let i = 0; i < n; i++) {\n    total += i;\n}\n'.repeat(50),
    };
    const rows = compareCompression({ gpt2, cl100k }, texts);
    expect(rows.map((row) => `${row.tokenizer}/${row.text}`)).toEqual([
      'gpt2/english',
      'gpt2/code',
      'cl100k/english',
      'cl100k/code',
    ]);
    // cl100k has tokens for runs of spaces, so it compresses indented code better.
    expect(rows[3].tokens).toBeLessThan(rows[1].tokens);
    expect(rows[0].charactersPerToken).toBeGreaterThan(3);
  });
});

describe('vocabulary statistics', () => {
  it('histogram token lengths', () => {
    const counts = tokenLengthHistogram(gpt2);
    expect(counts[1]).toBe(256 + 0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(50257);
    const chars = CharTokenizer.fromText('abc', { specialTokens: ['<eos>'] });
    expect(tokenLengthHistogram(chars, 'characters')).toEqual([0, 3, 0, 0, 0, 1]);
    const bert = tokenizerFromJSON(
      JSON.parse(readSharedText('tokenizers/bert-base-uncased/tokenizer.json')),
    ) as WordPieceTokenizer;
    const bertCounts = tokenLengthHistogram(bert, 'characters');
    expect(bertCounts.reduce((a, b) => a + b, 0)).toBe(30522);
    // "##s" counts as one character, like "s".
    const oneCharacter = [...Array(bert.vocabSize).keys()].filter((id) =>
      /^(##)?.$/u.test(bert.idToToken(id)!),
    );
    expect(bertCounts[1]).toBe(oneCharacter.length);
  });

  it('rank ids by frequency and fit Zipf', () => {
    expect(rankFrequency([5, 3, 5, 7, 3, 5])).toEqual([
      { rank: 1, id: 5, count: 3 },
      { rank: 2, id: 3, count: 2 },
      { rank: 3, id: 7, count: 1 },
    ]);
    const exact = Array.from({ length: 100 }, (_, i) => 1000 / (i + 1) ** 1.2);
    const fit = fitZipf(exact);
    expect(fit.exponent).toBeCloseTo(1.2, 10);
    expect(fit.intercept).toBeCloseTo(Math.log(1000), 10);
    expect(fit.rSquared).toBeCloseTo(1, 10);
    const book = rankFrequency(gpt2.encode(readCorpus('the-time-machine.txt')));
    const bookFit = fitZipf(book.map((entry) => entry.count));
    expect(bookFit.exponent).toBeGreaterThan(0.8);
    expect(bookFit.exponent).toBeLessThan(1.6);
    expect(bookFit.rSquared).toBeGreaterThan(0.8);
    expect(() => fitZipf([3])).toThrowError(/at least 2 counts/);
    expect(() => fitZipf([3, 0])).toThrowError(/Invalid count 0 at index 1/);
  });

  it('count characters in vocabulary entries', () => {
    const chars = CharTokenizer.fromText('aab');
    expect(vocabularyCharacterCounts(chars)).toEqual(
      new Map([
        ['a', 1],
        ['b', 1],
      ]),
    );
    const counts = vocabularyCharacterCounts(gpt2);
    expect(counts.get('e')).toBeGreaterThan(counts.get('z')!);
    expect(counts.get(' ')).toBeGreaterThan(10_000);
  });

  it('find tokens a corpus never uses', () => {
    const chars = CharTokenizer.fromText('abcd', { specialTokens: ['<eos>'] });
    expect(unusedTokens(chars, 'abba')).toEqual([2, 3, 4]);
    const unused = unusedTokens(gpt2, readCorpus('alice-in-wonderland.txt'));
    expect(unused.length).toBeGreaterThan(40_000);
    expect(unused).not.toContain(gpt2.tokenToId('ĠAlice'));
    expect(unused).toContain(50256);
  });
});

describe('cleanGutenbergText', () => {
  it('keeps the text between the markers and normalizes it', () => {
    const raw = [
      'The Project Gutenberg eBook of Something\r',
      'licence text\r',
      '*** START OF THE PROJECT GUTENBERG EBOOK 1 ***\r',
      '\r',
      '“Well,” she said — it’s ‘fine’ – really.\r',
      'Second line\rThird line\r',
      '*** END OF THE PROJECT GUTENBERG EBOOK 1 ***\r',
      'more licence\r',
    ].join('\n');
    expect(cleanGutenbergText(raw)).toBe(
      `"Well," she said -- it's 'fine' - really.\nSecond line\nThird line\n`,
    );
    expect(cleanGutenbergText(raw, { quotes: false, dashes: false })).toContain('“Well,” she said — it’s');
    expect(cleanGutenbergText('no markers\r\nhere')).toBe('no markers\nhere');
  });

  it('cleans the shared books', () => {
    const machine = cleanGutenbergText(readCorpus('the-time-machine.txt'));
    expect(machine).not.toMatch(/\r|\*\*\* (START|END) OF|Project Gutenberg License/);
    expect(machine).toContain('The Time Traveller');
    const gulliver = cleanGutenbergText(readCorpus('gullivers-travels.txt'));
    expect(gulliver.startsWith('*')).toBe(false);
    expect(gulliver).not.toMatch(/[‘’“”—]/);
  });
});
