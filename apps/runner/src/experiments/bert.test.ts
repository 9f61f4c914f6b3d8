import { beforeAll, describe, expect, it } from 'vitest';
import { bertCharacters, bertTokenizer, languages, tokenTranslation } from './bert.js';
import { claudeVariations } from './claude.js';
import { logSoftmaxExperiment, multinomial, softmax } from './softmax.js';
import { populatedTestCache, runForTest } from './testing.js';

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('bert-tokenizer', () => {
  it('adds [CLS] and [SEP] on every round', async () => {
    const { results, report } = await runForTest(bertTokenizer, cache, { repeats: '2' });
    expect(results.vocabularySize).toBe(30522);
    expect(results.specialTokens).toEqual({
      '[PAD]': 0,
      '[UNK]': 100,
      '[CLS]': 101,
      '[SEP]': 102,
      '[MASK]': 103,
    });
    expect(results.pieces).toEqual(['ai', 'is', 'both', 'exciting', 'and', 'terrifying', '.']);
    expect(results.modelIds).toEqual([101, 9932, 2003, 2119, 10990, 1998, 17082, 1012, 102]);
    expect(results.decodedWithoutSpecial).toBe('ai is both exciting and terrifying.');
    expect(report).toContain('After 2 rounds: "[CLS] [CLS] ai is both exciting and terrifying. [SEP] [SEP]"');
  });
});

describe('bert-characters', () => {
  it('counts vocabulary entries per character', async () => {
    const { results } = await runForTest(bertCharacters, cache, { characters: 'eqz0' });
    // 30,522 entries less the 994 [unusedN] placeholders.
    expect(results.entriesCounted).toBe(29528);
    expect(results.counts).toEqual({ e: 14634, q: 275, z: 501, '0': 306 });
  });
});

describe('token-translation', () => {
  it('translates through text and loses case', async () => {
    const { results } = await runForTest(tokenTranslation, cache);
    expect(results.bertIdsDecodedByGpt4).not.toContain('ipsum');
    expect(results.bertToGpt4Text).toBe('lorem ipsum dolor sit amet, consectetur adipiscing elit.');
    expect(results.roundTripEqual).toBe(false);
    expect(results.gpt4ToBertIds).toEqual(results.bertIds);
  });
});

describe('languages', () => {
  it('spends more tokens outside English', async () => {
    const { results } = await runForTest(languages, cache);
    const rows = results.languages as Record<
      string,
      { characters: number; bert: number; gpt4: number; gpt4o: number; bertUnknown: number }
    >;
    expect(rows.English).toEqual({ characters: 47, bert: 9, bertUnknown: 0, gpt4: 9, gpt4o: 9 });
    for (const language of ['Arabic', 'Persian', 'Tamil']) {
      expect(rows[language].gpt4).toBeGreaterThan(2 * rows.English.gpt4);
      expect(rows[language].gpt4o).toBeLessThan(rows[language].gpt4);
    }
    expect(rows.Chinese.bertUnknown).toBeGreaterThan(0);
  });
});

describe('claude-variations', () => {
  it('matches the model card and separates variants', async () => {
    const { results } = await runForTest(claudeVariations, cache, { extra: 'Hello | Hello ' });
    expect(results.vocabularySize).toBe(65000);
    expect(results.helloWorldIds).toEqual([9381, 2253]);
    const counts = results.tokenCounts as Record<string, number>;
    expect(counts[' hypothetical']).toBe(1);
    expect(counts.hypothetical).toBe(2);
    expect(counts.Hello).toBeDefined();
    expect(counts['Hello ']).toBeDefined();
  });
});

describe('log-softmax', () => {
  it('matches the reference values', async () => {
    const { results } = await runForTest(logSoftmaxExperiment, cache);
    const expected = [-3.4377, -0.1377, -2.3377];
    const values = results.logSoftmax as number[];
    for (const [i, value] of values.entries()) expect(value).toBeCloseTo(expected[i], 4);
    expect(results.meanBatchLoss as number).toBeCloseTo(2.3377, 4);
  });
});

describe('softmax', () => {
  it('matches the reference values and flattens with temperature', async () => {
    const { results, output } = await runForTest(softmax, cache);
    const expected = [0.09, 0.2447, 0.6652];
    const values = results.softmaxByLibrary as number[];
    for (const [i, value] of values.entries()) expect(value).toBeCloseTo(expected[i], 4);
    expect(results.maxDifference as number).toBeLessThan(1e-12);
    const largest = results.largestProbabilityByTemperature as Record<string, number>;
    expect(largest['1']).toBeGreaterThan(largest['2']);
    expect(largest['2']).toBeGreaterThan(largest['10']);
    expect(output.figures).toEqual(['random-scores', 'temperature', 'temperature-log']);
  });
});

describe('multinomial', () => {
  it('approaches the expected frequencies', async () => {
    const { results } = await runForTest(multinomial, cache, { samples: '20000' });
    expect(results.expectedPercent).toEqual([12.5, 25, 62.5]);
    const observed = results.observedPercent as number[];
    for (const [i, value] of [12.5, 25, 62.5].entries())
      expect(Math.abs(observed[i] - value)).toBeLessThan(1.5);
    const softmaxExpected = results.softmaxExpectedPercent as number[];
    for (const [i, value] of [1.71, 4.66, 93.62].entries()) expect(softmaxExpected[i]).toBeCloseTo(value, 2);
  });
});
