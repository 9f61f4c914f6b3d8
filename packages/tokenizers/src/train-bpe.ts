import { ByteLevelBpeTokenizer } from './bpe.js';
import { bytesToKey, concatBytes } from './byte-level.js';
import {
  buildSpecialTokenRegex,
  checkPreTokenizerName,
  forEachChunk,
  type PreTokenizerName,
  splitOnSpecial,
} from './pre-tokenize.js';
import { checkSpecialTokenList } from './special-tokens.js';

export interface TrainBpeOptions {
  /**
   * Target vocabulary size: 256 byte tokens, one token per merge, then the special tokens.
   * Training stops early, with a smaller vocabulary, when no adjacent pair is left to merge.
   */
  vocabSize: number;
  preTokenizer: PreTokenizerName;
  /** Special tokens, given the ids after the merged tokens. Their text is left out of training. */
  specialTokens?: readonly string[];
  /** Called after each merge with the number of merged tokens so far and the number requested. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Trains a byte-level BPE tokenizer on `text`, as minbpe does: ids 0-255 are the bytes, and each
 * step merges the most frequent adjacent pair of tokens within pre-tokenizer chunks into a new token.
 *
 * Ties between pairs of equal count go to the pair that occurs first in the text as tokenized so
 * far, which is the pair Python's `max` picks from minbpe's statistics dict, so the merges equal
 * minbpe's. One difference: a merge whose bytes already form a token reuses that token's id, as
 * Hugging Face's trainer does, where minbpe would add a second token with the same bytes.
 *
 * Pair counts are kept up to date incrementally: a merge only rescans the distinct chunks that
 * contain the merged pair, found through an index from each pair to its chunks.
 */
export function trainBpe(text: string, options: TrainBpeOptions): ByteLevelBpeTokenizer {
  const preTokenizer = checkPreTokenizerName(options.preTokenizer);
  const specialTokens = checkSpecialTokenList(options.specialTokens ?? []);
  const { vocabSize } = options;
  const minVocabSize = 256 + specialTokens.length;
  if (!Number.isSafeInteger(vocabSize) || vocabSize < minVocabSize) {
    throw new RangeError(
      `Invalid vocabSize ${vocabSize}: it must be an integer of at least ${minVocabSize} (256 bytes + ${specialTokens.length} special tokens)`,
    );
  }

  const tokenBytes: Uint8Array[] = [];
  const idsByBytes = new Map<string, number>();
  for (let byte = 0; byte < 256; byte++) {
    tokenBytes.push(Uint8Array.of(byte));
    idsByBytes.set(bytesToKey(tokenBytes[byte]), byte);
  }

  const corpus = ChunkCorpus.fromText(text, preTokenizer, specialTokens);
  const statistics = new PairStatistics(corpus, vocabSize);
  const merges: [number, number][] = [];
  const total = vocabSize - minVocabSize;
  while (tokenBytes.length < 256 + total) {
    const pair = statistics.takeBestPair();
    if (pair === undefined) break;

    const [left, right] = pair;
    const bytes = concatBytes(tokenBytes[left], tokenBytes[right]);
    const key = bytesToKey(bytes);
    let merged = idsByBytes.get(key);
    if (merged === undefined) {
      merged = tokenBytes.length;
      tokenBytes.push(bytes);
      idsByBytes.set(key, merged);
    }
    merges.push([left, right]);
    statistics.merge(left, right, merged);
    options.onProgress?.(tokenBytes.length - 256, total);
  }

  const specialIds = new Map(specialTokens.map((token, i) => [token, tokenBytes.length + i]));
  return new ByteLevelBpeTokenizer({ vocab: tokenBytes, merges, preTokenizer, specialTokens: specialIds });
}

/**
 * The distinct pre-tokenizer chunks of a text with at least two bytes, in order of first
 * appearance, with their frequencies. Each chunk's current token ids sit in one flat array.
 */
class ChunkCorpus {
  constructor(
    readonly ids: Int32Array,
    readonly starts: Int32Array,
    readonly lengths: Int32Array,
    readonly frequencies: Float64Array,
  ) {}

  get size(): number {
    return this.starts.length;
  }

  static fromText(
    text: string,
    preTokenizer: PreTokenizerName,
    specialTokens: readonly string[],
  ): ChunkCorpus {
    const counts = new Map<string, number>();
    const countChunk = (chunk: string) => counts.set(chunk, (counts.get(chunk) ?? 0) + 1);
    splitOnSpecial(
      text,
      buildSpecialTokenRegex(specialTokens),
      (segment) => forEachChunk(segment, preTokenizer, countChunk),
      () => {},
    );

    const encoder = new TextEncoder();
    const encoded: Uint8Array[] = [];
    const frequencies: number[] = [];
    let totalBytes = 0;
    for (const [chunk, count] of counts) {
      const bytes = encoder.encode(chunk);
      if (bytes.length < 2) continue;
      encoded.push(bytes);
      frequencies.push(count);
      totalBytes += bytes.length;
    }

    const ids = new Int32Array(totalBytes);
    const starts = new Int32Array(encoded.length);
    const lengths = new Int32Array(encoded.length);
    let offset = 0;
    encoded.forEach((bytes, chunk) => {
      ids.set(bytes, offset);
      starts[chunk] = offset;
      lengths[chunk] = bytes.length;
      offset += bytes.length;
    });
    return new ChunkCorpus(ids, starts, lengths, Float64Array.from(frequencies));
  }
}

interface PairEntry {
  /** Occurrences in the text: occurrences in each chunk times the chunk's frequency. */
  count: number;
  /** Indices of the chunks that contain the pair. */
  chunks: Set<number>;
  /** Lowest index in `chunks`, or a lower bound of it while `firstChunkStale` is true. */
  firstChunk: number;
  firstChunkStale: boolean;
}

/**
 * Counts of adjacent token pairs over a `ChunkCorpus`, updated merge by merge, and a max-heap to
 * find the most frequent pair. A pair is identified by the key `left * stride + right`.
 */
class PairStatistics {
  private readonly pairs = new Map<number, PairEntry>();
  private readonly heap = new CandidateHeap();
  private readonly deltas = new Map<number, number>();

  constructor(
    private readonly corpus: ChunkCorpus,
    private readonly stride: number,
  ) {
    const { ids, starts, lengths, frequencies } = corpus;
    for (let chunk = 0; chunk < corpus.size; chunk++) {
      const end = starts[chunk] + lengths[chunk];
      for (let i = starts[chunk]; i + 1 < end; i++) {
        const key = ids[i] * stride + ids[i + 1];
        let entry = this.pairs.get(key);
        if (entry === undefined) {
          entry = { count: 0, chunks: new Set(), firstChunk: chunk, firstChunkStale: false };
          this.pairs.set(key, entry);
        }
        entry.count += frequencies[chunk];
        entry.chunks.add(chunk);
      }
    }
    this.rebuildHeap();
  }

  private rebuildHeap() {
    this.heap.clear();
    for (const [key, entry] of this.pairs) this.heap.push(entry.count, entry.firstChunk, key);
  }

  private refreshFirstChunk(entry: PairEntry) {
    let first = Number.POSITIVE_INFINITY;
    for (const chunk of entry.chunks) if (chunk < first) first = chunk;
    entry.firstChunk = first;
    entry.firstChunkStale = false;
  }

  /**
   * Checks the heap entry (count, firstChunk, key) against the current statistics. Returns true if
   * it is current; otherwise drops it, after queuing a corrected entry if the pair's first chunk
   * moved later.
   */
  private isCurrent(count: number, firstChunk: number, key: number): boolean {
    const entry = this.pairs.get(key);
    if (entry === undefined || entry.count !== count) return false;
    if (entry.firstChunkStale) this.refreshFirstChunk(entry);
    if (entry.firstChunk === firstChunk) return true;
    if (firstChunk < entry.firstChunk) this.heap.push(entry.count, entry.firstChunk, key);
    return false;
  }

  /**
   * Returns the most frequent pair, ties going to the pair that occurs first in the text, or
   * `undefined` when no pair is left. Its heap entry is consumed, so `merge` must follow.
   *
   * Every change of a pair's count or first chunk pushes a heap entry, so each pair has an entry
   * with its current count and a first chunk no later than its current one. The first current
   * entry popped is therefore the best pair, and pairs that tie with it come next.
   */
  takeBestPair(): [number, number] | undefined {
    const { heap } = this;
    if (heap.size > 4 * this.pairs.size + 65_536) this.rebuildHeap();

    let count = 0;
    let firstChunk = 0;
    const tied: number[] = [];
    while (heap.size > 0) {
      const [topCount, topFirst, topKey] = [heap.topCount(), heap.topFirstChunk(), heap.topKey()];
      if (tied.length > 0 && (topCount !== count || topFirst !== firstChunk)) break;
      heap.pop();
      if (!this.isCurrent(topCount, topFirst, topKey) || tied.includes(topKey)) continue;
      count = topCount;
      firstChunk = topFirst;
      tied.push(topKey);
    }
    if (tied.length === 0) return undefined;

    const best = tied.length === 1 ? tied[0] : this.firstOccurring(tied, firstChunk);
    for (const key of tied) if (key !== best) heap.push(count, firstChunk, key);
    return [Math.floor(best / this.stride), best % this.stride];
  }

  /** Returns whichever of the pairs `keys`, all present in `chunk`, occurs first in it. */
  private firstOccurring(keys: readonly number[], chunk: number): number {
    const { ids, starts, lengths } = this.corpus;
    const end = starts[chunk] + lengths[chunk];
    let best = -1;
    let bestPosition = end;
    for (const key of keys) {
      const searchEnd = Math.min(bestPosition + 1, end);
      const position = findPair(
        ids,
        Math.floor(key / this.stride),
        key % this.stride,
        starts[chunk],
        searchEnd,
      );
      if (position >= 0 && position < bestPosition) {
        best = key;
        bestPosition = position;
      }
    }
    if (best < 0)
      throw new Error(`BPE training statistics are inconsistent: no tied pair found in chunk ${chunk}`);
    return best;
  }

  /** Replaces every occurrence of the pair (`left`, `right`) by `merged` and updates the counts. */
  merge(left: number, right: number, merged: number) {
    const mergedKey = left * this.stride + right;
    const entry = this.pairs.get(mergedKey);
    if (entry === undefined) return;
    this.pairs.delete(mergedKey);

    const touched = new Set<number>();
    for (const chunk of entry.chunks) this.mergeInChunk(chunk, left, right, merged, touched);

    for (const key of touched) {
      const changed = this.pairs.get(key)!;
      if (changed.count === 0) {
        this.pairs.delete(key);
      } else {
        this.heap.push(changed.count, changed.firstChunk, key);
      }
    }
  }

  /**
   * Merges the pair in one chunk, left to right, and applies the changed pair counts: each
   * occurrence `x a b y` loses the pairs (x, a) and (b, y) and gains (x, ab) and (ab, y).
   * Consecutive occurrences cancel out correctly because `x` is read from the merged output.
   */
  private mergeInChunk(chunk: number, left: number, right: number, merged: number, touched: Set<number>) {
    const { ids, starts, lengths, frequencies } = this.corpus;
    const { stride, deltas } = this;
    const addDelta = (key: number, delta: number) => deltas.set(key, (deltas.get(key) ?? 0) + delta);
    deltas.clear();

    const start = starts[chunk];
    const end = start + lengths[chunk];
    let write = start;
    let read = start;
    while (read < end) {
      const next = findNext(ids, left, read, start, end);
      if (next > read) {
        if (write !== read) ids.copyWithin(write, read, next);
        write += next - read;
        read = next;
      }
      if (read >= end) break;

      if (read + 1 < end && ids[read + 1] === right) {
        if (write > start) {
          const before = ids[write - 1];
          addDelta(before * stride + left, -1);
          addDelta(before * stride + merged, 1);
        }
        if (read + 2 < end) {
          const after = ids[read + 2];
          addDelta(right * stride + after, -1);
          addDelta(merged * stride + after, 1);
        }
        ids[write++] = merged;
        read += 2;
      } else {
        ids[write++] = ids[read++];
      }
    }
    lengths[chunk] = write - start;

    const mergedKey = left * stride + right;
    const frequency = frequencies[chunk];
    const maybeGone: number[] = [];
    for (const [key, delta] of deltas) {
      if (delta === 0 || key === mergedKey) continue;
      let entry = this.pairs.get(key);
      if (entry === undefined) {
        entry = { count: 0, chunks: new Set(), firstChunk: chunk, firstChunkStale: false };
        this.pairs.set(key, entry);
      }
      entry.count += delta * frequency;
      touched.add(key);
      if (delta > 0) {
        if (entry.chunks.size === 0 || chunk < entry.firstChunk) {
          entry.firstChunk = chunk;
          entry.firstChunkStale = false;
        }
        entry.chunks.add(chunk);
      } else {
        maybeGone.push(key);
      }
    }
    if (maybeGone.length > 0) this.dropAbsentPairs(chunk, write, maybeGone);
  }

  /** Removes `chunk` from the chunk sets of those pairs in `keys` that no longer occur in it. */
  private dropAbsentPairs(chunk: number, end: number, keys: readonly number[]) {
    const { ids, starts } = this.corpus;
    for (const key of keys) {
      const entry = this.pairs.get(key)!;
      // A pair found in this chunk alone is absent exactly when its count is zero, which spares
      // a scan of long chunks (with the 'none' pre-tokenizer, the whole text is one chunk).
      const onlyHere = entry.chunks.size === 1 && entry.chunks.has(chunk);
      const present = onlyHere
        ? entry.count > 0
        : findPair(ids, Math.floor(key / this.stride), key % this.stride, starts[chunk], end) >= 0;
      if (!present) {
        entry.chunks.delete(chunk);
        if (entry.firstChunk === chunk) entry.firstChunkStale = true;
      }
    }
  }
}

/** Chunks longer than this are searched with `TypedArray.indexOf`, which is faster than a loop. */
const NATIVE_SEARCH_MIN_LENGTH = 64;

/** Returns the index of the first `value` in `ids[from..end)`, or `end` if there is none. */
function findNext(ids: Int32Array, value: number, from: number, start: number, end: number): number {
  if (end - start > NATIVE_SEARCH_MIN_LENGTH) {
    const found = ids.subarray(from, end).indexOf(value);
    return found < 0 ? end : from + found;
  }
  let i = from;
  while (i < end && ids[i] !== value) i++;
  return i;
}

/** Returns the index of the first pair (`left`, `right`) in `ids[start..end)`, or -1 if there is none. */
function findPair(ids: Int32Array, left: number, right: number, start: number, end: number): number {
  for (
    let i = findNext(ids, left, start, start, end);
    i + 1 < end;
    i = findNext(ids, left, i + 1, start, end)
  ) {
    if (ids[i + 1] === right) return i;
  }
  return -1;
}

/**
 * Binary heap of (count, firstChunk, key) entries: highest count first, then lowest first chunk.
 * It may hold outdated entries, which `PairStatistics` skips when it pops them.
 */
class CandidateHeap {
  private counts: number[] = [];
  private firstChunks: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  clear() {
    this.counts = [];
    this.firstChunks = [];
    this.keys = [];
  }

  topCount(): number {
    return this.counts[0];
  }

  topFirstChunk(): number {
    return this.firstChunks[0];
  }

  topKey(): number {
    return this.keys[0];
  }

  private before(i: number, j: number): boolean {
    const { counts, firstChunks } = this;
    return counts[i] > counts[j] || (counts[i] === counts[j] && firstChunks[i] < firstChunks[j]);
  }

  private swap(i: number, j: number) {
    const { counts, firstChunks, keys } = this;
    [counts[i], counts[j]] = [counts[j], counts[i]];
    [firstChunks[i], firstChunks[j]] = [firstChunks[j], firstChunks[i]];
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }

  push(count: number, firstChunk: number, key: number) {
    this.counts.push(count);
    this.firstChunks.push(firstChunk);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop() {
    this.swap(0, this.counts.length - 1);
    this.counts.pop();
    this.firstChunks.pop();
    this.keys.pop();
    const size = this.counts.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let top = i;
      if (left < size && this.before(left, top)) top = left;
      if (right < size && this.before(right, top)) top = right;
      if (top === i) break;
      this.swap(i, top);
      i = top;
    }
  }
}
