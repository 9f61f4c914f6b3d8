/**
 * The merges of a byte-level BPE model in lookup form, and the encoding of one pre-tokenizer chunk
 * by applying them.
 *
 * Two kinds of model use it. A merge list (GPT-2's `vocab.bpe`, Hugging Face `merges`) gives each
 * pair the index of its merge as rank. A tiktoken rank file has no merge list: any two adjacent
 * tokens whose bytes join into a token may merge, with the rank of the joined token, so several
 * pairs can share a rank. `fromTokenRanks` builds that form.
 */
export class MergeTable {
  /** Multiplier of the left id in a pair key, larger than any id. */
  readonly stride: number;
  private readonly ranks: PairMap;
  private readonly results: ArrayLike<number>;
  /**
   * Whether every merge uses only bytes and tokens that all earlier merges have finished creating,
   * as in any BPE trained without duplicate tokens. Only then does `applyWithHeap` give the same
   * result as `applyByScanning`.
   */
  readonly ordered: boolean;
  /**
   * Whether each step merges only the leftmost pair of lowest rank, as tiktoken does, instead of
   * every occurrence of that pair, as GPT-2's `encoder.py` does.
   */
  readonly leftmostOnly: boolean;

  /**
   * `merges[rank]` is the pair of ids merged at that rank and `results[rank]` the id it becomes.
   * A pair listed twice keeps its first (lowest) rank.
   */
  constructor(merges: ReadonlyArray<readonly [number, number]>, results: readonly number[], stride: number) {
    this.stride = stride;
    this.ranks = new PairMap(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const [left, right] = merges[rank];
      this.ranks.setIfAbsent(left, right, rank);
    }
    this.results = results.slice();
    this.leftmostOnly = false;

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

  /**
   * Builds the merge table of a tiktoken vocabulary, where the id of a token is its rank.
   * `idsByKey` maps the `bytesToKey` form of each token to its id. The rank of a pair is the id of
   * the token its bytes join into. It is looked up the first time the pair occurs and then kept,
   * which is faster than listing every split of every token up front.
   */
  static fromTokenRanks(
    tokenBytes: ReadonlyArray<Uint8Array | undefined>,
    idsByKey: ReadonlyMap<string, number>,
    stride: number,
  ): MergeTable {
    const table: MergeTable = Object.create(MergeTable.prototype);
    const keys = tokenBytes.map((bytes) => {
      let key = '';
      if (bytes !== undefined) for (const byte of bytes) key += String.fromCharCode(byte);
      return key;
    });
    const identity = new Int32Array(stride);
    for (let id = 0; id < stride; id++) identity[id] = id;
    Object.assign(table, {
      stride,
      ranks: new PairMap(
        1 << 16,
        (left: number, right: number) => idsByKey.get(keys[left] + keys[right]) ?? NO_MERGE,
      ),
      results: identity,
      ordered: true,
      leftmostOnly: true,
    });
    return table;
  }

  /** Returns the rank of the merge of `left` followed by `right`, or `undefined` if there is none. */
  rank(left: number, right: number): number | undefined {
    const rank = this.ranks.get(left, right);
    return rank === NO_MERGE ? undefined : rank;
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

  /** Returns the id that the merge of rank `rank` creates. */
  result(rank: number): number {
    return this.results[rank];
  }

  /** Scans for the lowest-rank pair on every step: quadratic, but fastest for short chunks. */
  applyByScanning(ids: number[]): number[] {
    let length = ids.length;
    while (length > 1) {
      let bestRank = Number.POSITIVE_INFINITY;
      let bestPosition = -1;
      for (let i = 0; i < length - 1; i++) {
        const rank = this.ranks.get(ids[i], ids[i + 1]);
        if (rank !== NO_MERGE && rank < bestRank) {
          bestRank = rank;
          bestPosition = i;
        }
      }
      if (bestPosition < 0) break;

      const left = ids[bestPosition];
      const right = ids[bestPosition + 1];
      const merged = this.results[bestRank];
      if (this.leftmostOnly) {
        ids[bestPosition] = merged;
        ids.copyWithin(bestPosition + 1, bestPosition + 2, length);
        length--;
        continue;
      }
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

/** The value of a pair with no merge. */
const NO_MERGE = -1;

/**
 * Hash map from a pair of non-negative int32 ids to an int32 value, with open addressing and
 * linear probing in typed arrays. It is faster and smaller than a `Map` with numeric keys above
 * 2^31, which V8 stores as boxed doubles. With a `compute` function, a missing pair gets its value
 * from it on first lookup and the map grows as needed. Without one, a missing pair is `NO_MERGE`.
 */
class PairMap {
  private lefts: Int32Array;
  private rights: Int32Array;
  private values: Int32Array;
  private mask: number;
  private size = 0;

  constructor(
    expectedSize: number,
    private readonly compute?: (left: number, right: number) => number,
  ) {
    let capacity = 16;
    while (capacity < expectedSize * 2) capacity *= 2;
    this.lefts = new Int32Array(capacity).fill(-1);
    this.rights = new Int32Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  private slot(left: number, right: number): number {
    let hash = Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca6b);
    hash ^= hash >>> 15;
    hash = Math.imul(hash, 0x2c1b3c6d);
    hash ^= hash >>> 13;
    let index = hash & this.mask;
    while (this.lefts[index] !== -1 && (this.lefts[index] !== left || this.rights[index] !== right)) {
      index = (index + 1) & this.mask;
    }
    return index;
  }

  /** Returns the value of the pair, or `NO_MERGE` when it has none. */
  get(left: number, right: number): number {
    const index = this.slot(left, right);
    if (this.lefts[index] !== -1) return this.values[index];
    if (this.compute === undefined) return NO_MERGE;
    const value = this.compute(left, right);
    this.setIfAbsent(left, right, value);
    return value;
  }

  /** Sets the value of the pair unless it already has one. */
  setIfAbsent(left: number, right: number, value: number) {
    if (2 * (this.size + 1) > this.lefts.length) this.grow();
    const index = this.slot(left, right);
    if (this.lefts[index] !== -1) return;
    this.lefts[index] = left;
    this.rights[index] = right;
    this.values[index] = value;
    this.size++;
  }

  private grow() {
    const { lefts, rights, values } = this;
    this.lefts = new Int32Array(lefts.length * 2).fill(-1);
    this.rights = new Int32Array(lefts.length * 2);
    this.values = new Int32Array(lefts.length * 2);
    this.mask = this.lefts.length - 1;
    this.size = 0;
    for (let i = 0; i < lefts.length; i++) {
      if (lefts[i] !== -1) this.setIfAbsent(lefts[i], rights[i], values[i]);
    }
  }
}
