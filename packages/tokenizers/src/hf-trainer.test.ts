import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesToTokenString } from './byte-level.js';
import { preTokenize } from './pre-tokenize.js';
import { readCorpus } from './test-support/shared-data.js';
import { trainBpe } from './train-bpe.js';

type HuggingFaceTokenizers = typeof import('tokenizers');

/** Loads the `tokenizers` npm package (Hugging Face's Rust library through napi), or returns why it failed. */
function loadHuggingFaceTokenizers(): { tokenizers?: HuggingFaceTokenizers; error?: string } {
  try {
    return { tokenizers: createRequire(import.meta.url)('tokenizers') as HuggingFaceTokenizers };
  } catch (error) {
    return { error: (error instanceof Error ? error.message : String(error)).split('\n')[0] };
  }
}

/**
 * Trains a byte-level BPE model with Hugging Face's BpeTrainer and returns its merges as
 * "left right" token strings. The npm binding's `Tokenizer.train(files)` takes no trainer: it
 * uses `BpeTrainer::default()` (vocabulary 30,000, min_frequency 0, no special tokens), so the
 * caller compares a prefix of the merges. The trainer reads the file line by line and
 * pre-tokenizes each line on its own.
 */
function trainHuggingFace(tokenizers: HuggingFaceTokenizers, text: string): string[] {
  const directory = mkdtempSync(join(tmpdir(), 'hf-bpe-'));
  try {
    const textFile = join(directory, 'train.txt');
    writeFileSync(textFile, text);
    const tokenizer = new tokenizers.Tokenizer(tokenizers.BPE.empty());
    tokenizer.setPreTokenizer(tokenizers.byteLevelPreTokenizer(false, true));
    tokenizer.train([textFile]);
    const jsonFile = join(directory, 'tokenizer.json');
    tokenizer.save(jsonFile);
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as { model: { merges: string[] } };
    return json.model.merges;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** How a trainer picks among pairs of equal count. */
type TieRule = 'first-occurrence' | 'lowest-ids';

interface ReferenceStep {
  /** The merged pair as "left right" token strings. */
  pair: string;
  count: number;
  /** Every pair with the maximal count at this step, the chosen one included. */
  tied: string[];
}

/**
 * Trains byte-level BPE by recounting every pair at every step, with the GPT-2 pre-tokenizer.
 *
 * 'first-occurrence' takes the tied pair that occurs first in the text, as minbpe and `trainBpe`
 * do. 'lowest-ids' takes the tied pair with the lowest (left id, right id), as Hugging Face's
 * BpeTrainer does in tokenizers 0.13 (its heap orders equal counts by `other.pair.cmp(&self.pair)`).
 * Hugging Face's ids start with the characters of the byte-level text sorted by code point, and
 * each merge then adds the next id unless its token already exists.
 */
function trainReference(text: string, mergeCount: number, tieRule: TieRule): ReferenceStep[] {
  const encoder = new TextEncoder();
  const chunkCounts = new Map<string, number>();
  for (const chunk of preTokenize(text, 'gpt2')) chunkCounts.set(chunk, (chunkCounts.get(chunk) ?? 0) + 1);
  const words = [...chunkCounts].map(([chunk, count]) => ({
    symbols: [...bytesToTokenString(encoder.encode(chunk))],
    count,
  }));

  const ids = new Map<string, number>();
  const alphabet = [...new Set(words.flatMap((word) => word.symbols))];
  alphabet.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  for (const symbol of alphabet) ids.set(symbol, ids.size);

  const steps: ReferenceStep[] = [];
  while (steps.length < mergeCount) {
    // A Map keeps insertion order, so pairs come in the order of their first occurrence.
    const counts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + count);
      }
    }
    const maxCount = Math.max(0, ...counts.values());
    if (maxCount === 0) break;

    const tied = [...counts].filter(([, count]) => count === maxCount).map(([pair]) => pair);
    let chosen = tied[0];
    if (tieRule === 'lowest-ids') {
      const idsOf = (pair: string) => pair.split(' ').map((token) => ids.get(token)!);
      for (const pair of tied) {
        const [left, right] = idsOf(pair);
        const [bestLeft, bestRight] = idsOf(chosen);
        if (left < bestLeft || (left === bestLeft && right < bestRight)) chosen = pair;
      }
    }
    steps.push({ pair: chosen, count: maxCount, tied });

    const [left, right] = chosen.split(' ');
    const merged = left + right;
    if (!ids.has(merged)) ids.set(merged, ids.size);
    for (const word of words) {
      const output: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          output.push(merged);
          i++;
        } else {
          output.push(word.symbols[i]);
        }
      }
      word.symbols = output;
    }
  }
  return steps;
}

const { tokenizers, error: loadError } = loadHuggingFaceTokenizers();
const describeWithHuggingFace = tokenizers === undefined ? describe.skip : describe;
const suiteName =
  tokenizers === undefined
    ? `Hugging Face BpeTrainer (skipped: the tokenizers package failed to load: ${loadError})`
    : 'Hugging Face BpeTrainer';

describeWithHuggingFace(suiteName, () => {
  // Hugging Face's trainer pre-tokenizes each line of the file on its own, where `trainBpe`
  // splits the whole text. GPT-2's pattern splits "\n  x" into "\n ", " x" in one text but into
  // "\n", " ", " x" line by line. Folding each whitespace run that contains a line break into one
  // "\n" makes the chunks equal.
  const text = readCorpus('alice-in-wonderland.txt').replace(/\s*\n\s*/g, '\n');
  const mergeCount = 256;

  it('merges differ only where counts tie', () => {
    const huggingFace = trainHuggingFace(tokenizers!, text).slice(0, mergeCount);
    const ours = trainBpe(text, { vocabSize: 256 + mergeCount, preTokenizer: 'gpt2' });
    const ourMerges = ours.merges.map(([left, right]) => `${ours.idToToken(left)} ${ours.idToToken(right)}`);
    const lowestIds = trainReference(text, mergeCount, 'lowest-ids');
    const firstOccurrence = trainReference(text, mergeCount, 'first-occurrence');

    // Each trainer equals the recounting reference with its own tie rule, step for step.
    expect(huggingFace).toEqual(lowestIds.map((step) => step.pair));
    expect(ourMerges).toEqual(firstOccurrence.map((step) => step.pair));

    // The lists agree until the first step where the two rules pick different tied pairs.
    const firstDifference = ourMerges.findIndex((pair, step) => pair !== huggingFace[step]);
    expect(firstDifference).toBeGreaterThanOrEqual(0);
    expect(ourMerges.slice(0, firstDifference)).toEqual(huggingFace.slice(0, firstDifference));
    expect(firstOccurrence[firstDifference].tied).toContain(ourMerges[firstDifference]);
    expect(firstOccurrence[firstDifference].tied).toContain(huggingFace[firstDifference]);

    // Later differences reorder merges of equal count: both runs merge at the same counts, and
    // the pairs merged at each count are the same.
    expect(firstOccurrence.map((step) => step.count)).toEqual(lowestIds.map((step) => step.count));
    const pairsByCount = (steps: ReferenceStep[]) => {
      const groups = new Map<number, string[]>();
      for (const { count, pair } of steps) groups.set(count, [...(groups.get(count) ?? []), pair]);
      return [...groups].map(([count, pairs]) => [count, pairs.sort()]);
    };
    expect(pairsByCount(firstOccurrence)).toEqual(pairsByCount(lowestIds));
  });
});
