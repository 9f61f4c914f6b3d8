import type { Rng, RngState } from '@glassbox/graph';
import { describeValue } from './option-rules.js';

/** Token ids of a corpus; 32-bit so that any vocabulary fits. */
export type TokenArray = Int32Array | Uint16Array | Uint32Array;

/** Largest token id that an Int32Array stores unchanged. */
const MAX_TOKEN_ID = 2 ** 31 - 1;

/**
 * Relative tolerance under which a product of a count and a fraction counts as an integer. Products such as
 * 100 * 0.57 = 56.99999999999999 carry floating-point error, and a plain floor would lose a whole element.
 */
const COUNT_TOLERANCE = 1e-9;

function checkPositiveInteger(where: string, name: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw new Error(`${where}: ${name} must be a positive integer, got ${describeValue(value)}.`);
  }
}

/** Returns floor(count * fraction), but a product within COUNT_TOLERANCE of an integer rounds to it. */
function scaleCount(count: number, fraction: number): number {
  const product = count * fraction;
  const nearest = Math.round(product);
  if (Math.abs(product - nearest) <= COUNT_TOLERANCE * Math.max(1, nearest)) return nearest;
  return Math.floor(product);
}

/** Checks validation and test fractions: each in [0, 1), no other keys, and a sum below 1. */
function checkSplitFractions(where: string, fractions: { validation: number; test?: number }): void {
  if (typeof fractions !== 'object' || fractions === null) {
    throw new Error(
      `${where}: fractions must be an object such as { validation: 0.1 }, got ${describeValue(fractions)}.`,
    );
  }
  for (const key of Object.keys(fractions)) {
    if (key !== 'validation' && key !== 'test') {
      throw new Error(
        `${where}: unknown fraction ${JSON.stringify(key)}, expected only validation and test.`,
      );
    }
  }
  const entries: [string, unknown][] = [
    ['validation', fractions.validation],
    ['test', fractions.test ?? 0],
  ];
  for (const [name, value] of entries) {
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
      throw new Error(
        `${where}: the ${name} fraction must be a number in [0, 1), got ${describeValue(value)}.`,
      );
    }
  }
  const test = fractions.test ?? 0;
  if (!(fractions.validation + test < 1)) {
    throw new Error(
      `${where}: split fractions must add up to less than 1 so that training keeps some data, got validation ${fractions.validation} and test ${test}.`,
    );
  }
}

/**
 * Splits a token stream into a training head and a validation tail, as nanoGPT's data preparation does:
 * the last `valFraction` of the tokens is held out.
 */
export function splitTrainValidation(
  tokens: TokenArray,
  valFraction: number,
): { train: TokenArray; validation: TokenArray } {
  if (typeof valFraction !== 'number' || !(valFraction > 0 && valFraction < 1)) {
    throw new Error(
      `splitTrainValidation: valFraction must be a number in (0, 1), got ${describeValue(valFraction)}.`,
    );
  }
  const cut = scaleCount(tokens.length, 1 - valFraction);
  return { train: tokens.subarray(0, cut), validation: tokens.subarray(cut) };
}

/**
 * Samples batches of random windows from a token stream, as nanoGPT's `get_batch`: each row starts at a
 * uniformly random offset i, inputs are tokens[i, i + blockSize) and targets are tokens[i + 1, i + blockSize + 1).
 * Batches are written into caller-owned buffers, so sampling allocates nothing.
 */
export class RandomWindowSampler {
  constructor(
    readonly tokens: TokenArray,
    readonly blockSize: number,
    readonly batchSize: number,
  ) {
    checkPositiveInteger('RandomWindowSampler', 'blockSize', blockSize);
    checkPositiveInteger('RandomWindowSampler', 'batchSize', batchSize);
    if (tokens.length < blockSize + 1) {
      throw new Error(
        `RandomWindowSampler: the token stream has ${tokens.length} tokens, fewer than blockSize + 1 = ${blockSize + 1}, so use a longer text or a smaller block size.`,
      );
    }
  }

  /** Fills `inputs` and `targets` ([batchSize * blockSize] each, row-major) with one batch. */
  sample(rng: Rng, inputs: BigInt64Array | Int32Array, targets: BigInt64Array | Int32Array): void {
    const { tokens, blockSize, batchSize } = this;
    const size = batchSize * blockSize;
    if (inputs.length !== size || targets.length !== size) {
      throw new Error(
        `RandomWindowSampler: batch buffers need batchSize * blockSize = ${size} elements each, got ${inputs.length} and ${targets.length}.`,
      );
    }
    const wide = inputs instanceof BigInt64Array;
    for (let row = 0; row < batchSize; row++) {
      const start = rng.randint(0, tokens.length - blockSize);
      const offset = row * blockSize;
      for (let j = 0; j < blockSize; j++) {
        if (wide) {
          (inputs as BigInt64Array)[offset + j] = BigInt(tokens[start + j]);
          (targets as BigInt64Array)[offset + j] = BigInt(tokens[start + j + 1]);
        } else {
          (inputs as Int32Array)[offset + j] = tokens[start + j];
          (targets as Int32Array)[offset + j] = tokens[start + j + 1];
        }
      }
    }
  }
}

/**
 * Encodes documents into one token stream with `separatorId` (an end-of-text token such as GPT-2's
 * `<|endoftext|>`) after each document, as GPT-2's training data is laid out.
 */
export function encodeDocuments(
  encode: (text: string) => number[],
  documents: Iterable<string>,
  separatorId: number,
): Int32Array {
  if (!Number.isSafeInteger(separatorId) || separatorId < 0 || separatorId > MAX_TOKEN_ID) {
    throw new Error(
      `encodeDocuments: separatorId must be an integer in [0, 2^31), got ${describeValue(separatorId)}.`,
    );
  }
  const parts: number[][] = [];
  let total = 0;
  for (const document of documents) {
    const ids = encode(document);
    // Int32Array.set would store NaN or a fraction silently as another id, so each id is checked here.
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || id < 0 || id > MAX_TOKEN_ID) {
        throw new Error(
          `encodeDocuments: document ${parts.length} encodes to token id ${describeValue(id)}, expected integers in [0, 2^31).`,
        );
      }
    }
    parts.push(ids);
    total += ids.length + 1;
  }
  const out = new Int32Array(total);
  let offset = 0;
  for (const ids of parts) {
    out.set(ids, offset);
    offset += ids.length;
    out[offset++] = separatorId;
  }
  return out;
}

/**
 * Splits a token stream into consecutive train, validation and test parts (in that order) by fractions of
 * its length. The validation and test parts get floor(fraction * length) tokens each, counting a product
 * within a relative 1e-9 of an integer as that integer, and the train part gets the rest. The parts are
 * views of `tokens`, not copies.
 */
export function splitSequential(
  tokens: TokenArray,
  fractions: { validation: number; test?: number },
): { train: TokenArray; validation: TokenArray; test: TokenArray } {
  checkSplitFractions('splitSequential', fractions);
  const n = tokens.length;
  const validationCount = scaleCount(n, fractions.validation);
  const testCount = scaleCount(n, fractions.test ?? 0);
  const trainEnd = n - validationCount - testCount;
  const validationEnd = trainEnd + validationCount;
  return {
    train: tokens.subarray(0, trainEnd),
    validation: tokens.subarray(trainEnd, validationEnd),
    test: tokens.subarray(validationEnd),
  };
}

/**
 * Fixed windows over a token stream: window i covers inputs tokens[i * stride, i * stride + blockSize) and
 * targets shifted by one. A stride equal to blockSize gives non-overlapping windows, as a DataLoader over
 * chunked text does; a smaller stride makes them overlap.
 */
export class WindowDataset {
  readonly length: number;

  constructor(
    readonly tokens: TokenArray,
    readonly blockSize: number,
    readonly stride: number = blockSize,
  ) {
    checkPositiveInteger('WindowDataset', 'blockSize', blockSize);
    checkPositiveInteger('WindowDataset', 'stride', stride);
    if (tokens.length < blockSize + 1) {
      throw new Error(
        `WindowDataset: the token stream has ${tokens.length} tokens, fewer than blockSize + 1 = ${blockSize + 1}, so use a longer text or a smaller block size.`,
      );
    }
    this.length = Math.floor((tokens.length - blockSize - 1) / stride) + 1;
  }

  /** Writes window `index` into row `row` of `inputs` and `targets` ([rows * blockSize], row-major). */
  write(
    index: number,
    row: number,
    inputs: BigInt64Array | Int32Array,
    targets: BigInt64Array | Int32Array,
  ): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`WindowDataset.write: window index ${index} is outside [0, ${this.length}).`);
    }
    if (!Number.isSafeInteger(row) || row < 0) {
      throw new Error(`WindowDataset.write: row must be a non-negative integer, got ${describeValue(row)}.`);
    }
    // A typed array ignores writes past its end, so a short buffer would lose the row without an error.
    const needed = (row + 1) * this.blockSize;
    if (inputs.length < needed || targets.length < needed) {
      throw new Error(
        `WindowDataset.write: row ${row} needs buffers of at least ${needed} elements, got ${inputs.length} and ${targets.length}.`,
      );
    }
    const start = index * this.stride;
    const offset = row * this.blockSize;
    const wide = inputs instanceof BigInt64Array;
    for (let j = 0; j < this.blockSize; j++) {
      if (wide) {
        (inputs as BigInt64Array)[offset + j] = BigInt(this.tokens[start + j]);
        (targets as BigInt64Array)[offset + j] = BigInt(this.tokens[start + j + 1]);
      } else {
        (inputs as Int32Array)[offset + j] = this.tokens[start + j];
        (targets as Int32Array)[offset + j] = this.tokens[start + j + 1];
      }
    }
  }

  /**
   * Splits the windows into train, validation and test sets of window indices: `sequential` keeps the order
   * (the tail is held out), `random` shuffles with `rng` first, as `torch.utils.data.random_split` does.
   * The held-out sets get floor(fraction * length) windows, as in `splitSequential`, and train gets the rest.
   */
  split(
    fractions: { validation: number; test?: number },
    mode: 'sequential' | 'random',
    rng?: { shuffle<A extends { length: number; [index: number]: unknown }>(array: A): A },
  ): { train: Int32Array; validation: Int32Array; test: Int32Array } {
    if (mode !== 'sequential' && mode !== 'random') {
      throw new Error(
        `WindowDataset.split: mode must be "sequential" or "random", got ${describeValue(mode)}.`,
      );
    }
    checkSplitFractions('WindowDataset.split', fractions);
    const order = Int32Array.from({ length: this.length }, (_, i) => i);
    if (mode === 'random') {
      if (typeof rng?.shuffle !== 'function') {
        throw new Error('WindowDataset.split: a random split needs a seeded rng, such as new Rng(seed).');
      }
      rng.shuffle(order);
    }
    const validationCount = scaleCount(this.length, fractions.validation);
    const testCount = scaleCount(this.length, fractions.test ?? 0);
    const trainCount = this.length - validationCount - testCount;
    return {
      train: order.subarray(0, trainCount),
      validation: order.subarray(trainCount, trainCount + validationCount),
      test: order.subarray(trainCount + validationCount),
    };
  }
}

/** Position of an `EpochBatcher`, enough to continue the same sequence of batches after a restart. */
export interface EpochBatcherState {
  epoch: number;
  /** Index into this epoch's order of the next window. */
  position: number;
  /** Generator state at the start of the epoch, from which the epoch's order is drawn again. */
  epochRng: RngState;
}

/**
 * Batches over a set of windows in epochs, as a `DataLoader` with `shuffle` and `drop_last`. Each epoch visits
 * every window once, in a new random order when `shuffle` is set. With `dropLast` a final partial batch is
 * skipped, and otherwise it is returned with fewer rows.
 */
export class EpochBatcher {
  private order: Int32Array;
  private epochStart: RngState;
  epoch = 0;
  position = 0;

  constructor(
    readonly dataset: WindowDataset,
    readonly indices: Int32Array,
    readonly batchSize: number,
    readonly options: { shuffle: boolean; dropLast: boolean; rng: Rng },
  ) {
    checkPositiveInteger('EpochBatcher', 'batchSize', batchSize);
    if (indices.length === 0) throw new Error('EpochBatcher: the window set is empty.');
    for (let i = 0; i < indices.length; i++) {
      if (!(indices[i] >= 0 && indices[i] < dataset.length)) {
        throw new Error(
          `EpochBatcher: indices[${i}] = ${indices[i]} is outside the dataset's windows [0, ${dataset.length}).`,
        );
      }
    }
    if (options.dropLast && indices.length < batchSize) {
      throw new Error(
        `EpochBatcher: ${indices.length} windows make no full batch of ${batchSize} with dropLast; use a smaller batch size.`,
      );
    }
    this.epochStart = options.rng.getState();
    this.order = this.drawOrder();
  }

  private drawOrder(): Int32Array {
    const order = Int32Array.from(this.indices);
    if (this.options.shuffle) this.options.rng.shuffle(order);
    return order;
  }

  /**
   * Fills the next batch into `inputs` and `targets` ([batchSize * blockSize]) and returns its number of rows,
   * starting a new epoch when the current one is used up.
   */
  next(inputs: BigInt64Array | Int32Array, targets: BigInt64Array | Int32Array): number {
    const size = this.batchSize * this.dataset.blockSize;
    if (inputs.length !== size || targets.length !== size) {
      throw new Error(
        `EpochBatcher: batch buffers need batchSize * blockSize = ${size} elements each, got ${inputs.length} and ${targets.length}.`,
      );
    }
    const remaining = this.order.length - this.position;
    if (remaining === 0 || (this.options.dropLast && remaining < this.batchSize)) {
      this.epoch += 1;
      this.position = 0;
      this.epochStart = this.options.rng.getState();
      this.order = this.drawOrder();
    }
    const rows = Math.min(this.batchSize, this.order.length - this.position);
    for (let row = 0; row < rows; row++)
      this.dataset.write(this.order[this.position + row], row, inputs, targets);
    this.position += rows;
    return rows;
  }

  state(): EpochBatcherState {
    return { epoch: this.epoch, position: this.position, epochRng: this.epochStart };
  }

  /** Continues from a state returned by `state()`; the epoch's order is drawn again from its saved generator. */
  restore(state: EpochBatcherState): void {
    if (!Number.isSafeInteger(state.epoch) || state.epoch < 0) {
      throw new Error(
        `EpochBatcher.restore: epoch must be a non-negative integer, got ${describeValue(state.epoch)}.`,
      );
    }
    const n = this.indices.length;
    if (!Number.isSafeInteger(state.position) || state.position < 0 || state.position > n) {
      throw new Error(
        `EpochBatcher.restore: position must be an integer in [0, ${n}], got ${describeValue(state.position)}, so restore a state saved by a batcher over the same ${n} windows.`,
      );
    }
    this.options.rng.setState(state.epochRng);
    this.epochStart = state.epochRng;
    this.order = this.drawOrder();
    this.epoch = state.epoch;
    this.position = state.position;
  }
}
