import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { likeALetter } from './pretraining-liking.js';
import { populatedTestCache, runForTest, TEST_DATA } from './testing.js';

const SHAKESPEARE = join(TEST_DATA, 'corpora/tiny-shakespeare.txt');

let cache: string;
beforeAll(async () => {
  cache = await populatedTestCache();
});

describe('like-a-letter', () => {
  it('raises the share of the letter', async () => {
    const { results, output } = await runForTest(
      likeALetter,
      cache,
      {
        letter: 'e',
        'pretrain-steps': '150',
        'like-steps': '30',
        'max-chars': '20000',
        'sample-length': '300',
      },
      { corpusPaths: [SHAKESPEARE] },
    );
    expect(results.likedCharacters).toEqual(['e', 'E']);
    const corpusShare = results.corpusShare as number;
    // "e" and "E" are about a tenth of the characters of English text.
    expect(corpusShare).toBeGreaterThan(0.06);
    expect(corpusShare).toBeLessThan(0.12);
    expect(results.generatedShareBefore as number).toBeLessThan(0.25);
    expect(results.generatedShareAfter as number).toBeGreaterThan(0.5);
    expect(results.likedProbabilityLastStep as number).toBeGreaterThan(
      results.likedProbabilityFirstStep as number,
    );
    expect(output.figures).toEqual(['letter-share', 'liked-mass']);
  });

  it('rejects a letter missing from the text', async () => {
    await expect(
      runForTest(
        likeALetter,
        cache,
        { letter: '#', 'pretrain-steps': '0', 'max-chars': '2000' },
        { corpusPaths: [SHAKESPEARE] },
      ),
    ).rejects.toThrow(/the letter "#" does not occur/);
  });
});
