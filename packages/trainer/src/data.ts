import type { Rng } from '@glassbox/graph';

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
