/**
 * The merges of a byte-level BPE model in lookup form, and the encoding of one pre-tokenizer chunk
 * by applying them.
 */
export class MergeTable {
  /** Multiplier of the left id in a pair key, larger than any id. */
  readonly stride: number;
  private readonly ranks = new Map<number, number>();
  private readonly results: number[] = [];
  /**
   * Whether every merge uses only bytes and tokens that all earlier merges have finished creating,
   * as in any BPE trained without duplicate tokens. Only then does `applyWithHeap` give the same result as `applyByScanning`.
   */
  readonly ordered: boolean;

  /**
   * `merges[rank]` is the pair of ids merged at that rank and `results[rank]` the id it becomes.
   * A pair listed twice keeps its first (lowest) rank.
   */
  constructor(merges: ReadonlyArray<readonly [number, number]>, results: readonly number[], stride: number) {
    this.stride = stride;
    for (let rank = 0; rank < merges.length; rank++) {
      const [left, right] = merges[rank];
      const key = left * stride + right;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    }
    this.results = results.slice();

    // The last rank at which each token is created, for tokens that more than one merge creates.
    const createdAtRank = new Map<number, number>();
    for (let rank = 0; rank < merges.length; rank++) createdAtRank.set(results[rank], rank);
    let ordered = true;
    for (let rank = 0; rank < merges.length && ordered; rank++) {
      for (const id of merges[rank]) {
        const created = createdAtRank.get(id);
        if (created !== undefined && created >= rank) ordered = false;
      }
    }
    this.ordered = ordered;
  }

  /** Returns the rank of the merge of `left` followed by `right`, or `undefined` if there is none. */
  rank(left: number, right: number): number | undefined {
    return this.ranks.get(left * this.stride + right);
  }

  /**
   * Merges `ids` in place: repeatedly merges the adjacent pair of lowest rank, all its occurrences
   * from left to right, until no adjacent pair has a merge. This is the loop of GPT-2's
   * `encoder.py`. Returns `ids`, shortened.
   */
  apply(ids: number[]): number[] {
    const useHeap = this.ordered && ids.length > HEAP_MIN_LENGTH;
    return useHeap ? this.applyWithHeap(ids) : this.applyByScanning(ids);
  }

  /** Scans for the lowest-rank pair on every step: quadratic, but fastest for short chunks. */
  applyByScanning(ids: number[]): number[] {
    let length = ids.length;
    while (length > 1) {
      let bestRank = Number.POSITIVE_INFINITY;
      let bestPosition = -1;
      for (let i = 0; i < length - 1; i++) {
        const rank = this.ranks.get(ids[i] * this.stride + ids[i + 1]);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestPosition = i;
        }
      }
      if (bestPosition < 0) break;

      const left = ids[bestPosition];
      const right = ids[bestPosition + 1];
      const merged = this.results[bestRank];
      let write = bestPosition;
      let read = bestPosition;
      while (read < length) {
        if (read + 1 < length && ids[read] === left && ids[read + 1] === right) {
          ids[write++] = merged;
          read += 2;
        } else {
          ids[write++] = ids[read++];
        }
      }
      length = write;
    }
    ids.length = length;
    return ids;
  }

  /**
   * Gives the same result as `applyByScanning` when `ordered` is true, in O(n log n). The tokens
   * form a linked list and a min-heap contains the candidate merges ordered by (rank, position).
   * Entries are checked when popped, because a merge changes the pairs around it.
   */
  applyWithHeap(ids: number[]): number[] {
    const length = ids.length;
    if (length < 2) return ids;
    const next = new Int32Array(length);
    const previous = new Int32Array(length);
    for (let i = 0; i < length; i++) {
      next[i] = i + 1 < length ? i + 1 : -1;
      previous[i] = i - 1;
    }
    const heap = new PairHeap();
    for (let i = 0; i + 1 < length; i++) {
      const rank = this.rank(ids[i], ids[i + 1]);
      if (rank !== undefined) heap.push(rank, i);
    }

    const alive = new Uint8Array(length).fill(1);
    while (heap.size > 0) {
      const rank = heap.topRank();
      const position = heap.topPosition();
      heap.pop();
      const right = next[position];
      if (!alive[position] || right < 0 || this.rank(ids[position], ids[right]) !== rank) continue;

      ids[position] = this.results[rank];
      alive[right] = 0;
      const afterRight = next[right];
      next[position] = afterRight;
      if (afterRight >= 0) previous[afterRight] = position;

      const before = previous[position];
      if (before >= 0) {
        const beforeRank = this.rank(ids[before], ids[position]);
        if (beforeRank !== undefined) heap.push(beforeRank, before);
      }
      if (afterRight >= 0) {
        const afterRank = this.rank(ids[position], ids[afterRight]);
        if (afterRank !== undefined) heap.push(afterRank, position);
      }
    }

    let write = 0;
    for (let i = 0; i >= 0; i = next[i]) ids[write++] = ids[i];
    ids.length = write;
    return ids;
  }
}

/** Chunks longer than this many bytes are merged with the heap-based algorithm. */
const HEAP_MIN_LENGTH = 64;

/**
 * Binary min-heap of (rank, position) pairs, ordered by rank and then position. Each pair is
 * packed into one number, `rank * 2^32 + position`, which is exact while ranks stay below 2^21.
 */
class PairHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  topRank(): number {
    return Math.floor(this.items[0] / POSITION_RANGE);
  }

  topPosition(): number {
    return this.items[0] % POSITION_RANGE;
  }

  push(rank: number, position: number) {
    const { items } = this;
    const item = rank * POSITION_RANGE + position;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= item) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  pop() {
    const { items } = this;
    const last = items.pop()!;
    const size = items.length;
    if (size === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && items[right] < items[left] ? right : left;
      if (items[child] >= last) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = last;
  }
}

const POSITION_RANGE = 2 ** 32;
