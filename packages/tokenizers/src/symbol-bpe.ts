/**
 * Byte pair encoding on the characters of a text, as it is taught. The initial vocabulary is the
 * sorted set of the text's characters (spaces included). Each step merges the most frequent
 * adjacent pair of tokens anywhere in the text, across spaces too. Unlike `trainBpe`, there are no
 * byte tokens and no pre-tokenizer, so every step can be followed by hand on a short text.
 */

/** One merge step of `trainSymbolBpe`. */
export interface SymbolBpeMerge {
  /** 1 for the first merge. */
  step: number;
  left: string;
  right: string;
  /** The merged token, `left + right`. */
  token: string;
  /** Id of the merged token: the largest id so far plus one, or the id of an equal existing token. */
  id: number;
  /** Occurrences of the pair before the merge, overlapping ones included (`aaa` contains `aa` twice). */
  count: number;
  /** Length of the token sequence after the merge. */
  tokensAfter: number;
}

export interface SymbolBpeResult {
  /** The distinct characters of the text, sorted by code point; character `i` has id `i`. */
  initialVocabulary: string[];
  /** Every token in id order: the characters, then the merged tokens. */
  vocabulary: string[];
  merges: SymbolBpeMerge[];
  /** The text as tokens after the last merge. */
  tokens: string[];
}

export interface SymbolBpeOptions {
  /** Vocabulary size at which training stops. It stops earlier when fewer than two tokens remain. */
  vocabSize: number;
  /** Called after each merge. */
  onMerge?: (merge: SymbolBpeMerge) => void;
}

/**
 * Trains character-level BPE on `text` until the vocabulary has `vocabSize` tokens. Ties between
 * pairs of equal count go to the pair seen first when scanning the text from the start, and a merge
 * replaces the pair greedily from left to right.
 */
export function trainSymbolBpe(text: string, options: SymbolBpeOptions): SymbolBpeResult {
  const { vocabSize } = options;
  if (!Number.isSafeInteger(vocabSize) || vocabSize < 1) {
    throw new RangeError(`Invalid vocabSize ${vocabSize}: expected a positive integer`);
  }
  let tokens = Array.from(text);
  const initialVocabulary = [...new Set(tokens)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const vocabulary = [...initialVocabulary];
  const ids = new Map(vocabulary.map((token, id) => [token, id]));
  const merges: SymbolBpeMerge[] = [];

  while (vocabulary.length < vocabSize && tokens.length >= 2) {
    const best = mostFrequentPair(tokens);
    const token = best.left + best.right;
    let id = ids.get(token);
    if (id === undefined) {
      id = vocabulary.length;
      vocabulary.push(token);
      ids.set(token, id);
    }
    tokens = mergePair(tokens, best.left, best.right);
    const merge: SymbolBpeMerge = {
      step: merges.length + 1,
      left: best.left,
      right: best.right,
      token,
      id,
      count: best.count,
      tokensAfter: tokens.length,
    };
    merges.push(merge);
    options.onMerge?.(merge);
  }
  return { initialVocabulary, vocabulary, merges, tokens };
}

/** Counts adjacent pairs and returns the most frequent one, the first seen on ties. */
export function mostFrequentPair(tokens: readonly string[]): { left: string; right: string; count: number } {
  if (tokens.length < 2) throw new Error(`mostFrequentPair needs at least 2 tokens, got ${tokens.length}`);
  // Map keeps insertion order, so iterating it visits pairs in the order they first occur.
  const counts = new Map<string, { left: string; right: string; count: number }>();
  for (let i = 0; i + 1 < tokens.length; i++) {
    const key = `${tokens[i].length}:${tokens[i]}${tokens[i + 1]}`;
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { left: tokens[i], right: tokens[i + 1], count: 1 });
    else entry.count++;
  }
  let best: { left: string; right: string; count: number } | undefined;
  for (const entry of counts.values()) {
    if (best === undefined || entry.count > best.count) best = entry;
  }
  return best!;
}

/** Replaces each occurrence of the pair (`left`, `right`) with one token, scanning left to right. */
export function mergePair(tokens: readonly string[], left: string, right: string): string[] {
  const merged: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (i + 1 < tokens.length && tokens[i] === left && tokens[i + 1] === right) {
      merged.push(left + right);
      i++;
    } else {
      merged.push(tokens[i]);
    }
  }
  return merged;
}
