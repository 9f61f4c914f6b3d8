import type { Rng, RngState } from '@glassbox/graph';

/** Token ids of a corpus; 32-bit so that any vocabulary fits. */
export type TokenArray = Int32Array | Uint16Array | Uint32Array;

/**
 * Splits a token stream into a training head and a validation tail, as nanoGPT's data preparation does:
 * the last `valFraction` of the tokens is held out.
 */
export function splitTrainValidation(
  tokens: TokenArray,
  valFraction: number,
): { train: TokenArray; validation: TokenArray } {
  if (!(valFraction > 0 && valFraction < 1))
    throw new Error(`valFraction must be in (0, 1), got ${valFraction}.`);
  const cut = Math.floor(tokens.length * (1 - valFraction));
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
    if (tokens.length < blockSize + 1) {
      throw new Error(
        `the token stream has ${tokens.length} tokens, fewer than blockSize + 1 = ${blockSize + 1}; use a longer text or a smaller block size.`,
      );
    }
  }

  /** Fills `inputs` and `targets` ([batchSize * blockSize] each, row-major) with one batch. */
  sample(rng: Rng, inputs: BigInt64Array | Int32Array, targets: BigInt64Array | Int32Array): void {
    const { tokens, blockSize, batchSize } = this;
    const size = batchSize * blockSize;
    if (inputs.length !== size || targets.length !== size) {
      throw new Error(
        `RandomWindowSampler: batch buffers need ${size} elements, got ${inputs.length} and ${targets.length}.`,
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
  const parts: number[][] = [];
  let total = 0;
  for (const document of documents) {
    const ids = encode(document);
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
 * its length. The parts are views of `tokens`, not copies.
 */
export function splitSequential(
  tokens: TokenArray,
  fractions: { validation: number; test?: number },
): { train: TokenArray; validation: TokenArray; test: TokenArray } {
  const test = fractions.test ?? 0;
  if (!(fractions.validation >= 0 && test >= 0 && fractions.validation + test < 1)) {
    throw new Error(
      `split fractions must be non-negative and add up to less than 1, got validation ${fractions.validation} and test ${test}.`,
    );
  }
  const n = tokens.length;
  const trainEnd = Math.floor(n * (1 - fractions.validation - test));
  const validationEnd = trainEnd + Math.floor(n * fractions.validation);
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
    if (!Number.isInteger(stride) || stride <= 0)
      throw new Error(`stride must be a positive integer, got ${stride}.`);
    if (tokens.length < blockSize + 1) {
      throw new Error(
        `the token stream has ${tokens.length} tokens, fewer than blockSize + 1 = ${blockSize + 1}; use a longer text or a smaller block size.`,
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
      throw new Error(`window index ${index} is outside [0, ${this.length}).`);
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
   */
  split(
    fractions: { validation: number; test?: number },
    mode: 'sequential' | 'random',
    rng?: { shuffle<A extends { length: number; [index: number]: unknown }>(array: A): A },
  ): { train: Int32Array; validation: Int32Array; test: Int32Array } {
    const test = fractions.test ?? 0;
    if (!(fractions.validation >= 0 && test >= 0 && fractions.validation + test < 1)) {
      throw new Error('split fractions must be non-negative and add up to less than 1.');
    }
    const order = Int32Array.from({ length: this.length }, (_, i) => i);
    if (mode === 'random') {
      if (!rng) throw new Error('a random split needs a seeded rng.');
      rng.shuffle(order);
    }
    const validationCount = Math.floor(this.length * fractions.validation);
    const testCount = Math.floor(this.length * test);
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
    if (indices.length === 0) throw new Error('EpochBatcher: the window set is empty.');
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
    this.options.rng.setState(state.epochRng);
    this.epochStart = state.epochRng;
    this.order = this.drawOrder();
    this.epoch = state.epoch;
    this.position = state.position;
  }
}
