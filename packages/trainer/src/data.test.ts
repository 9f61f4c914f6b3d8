import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import {
  EpochBatcher,
  encodeDocuments,
  RandomWindowSampler,
  splitSequential,
  splitTrainValidation,
  WindowDataset,
} from './data.js';

const tokens = Int32Array.from({ length: 41 }, (_, i) => i);

type Parts = Record<'train' | 'validation' | 'test', { length: number }>;
const sizes = (parts: Parts) => [parts.train.length, parts.validation.length, parts.test.length];

describe('WindowDataset', () => {
  it('counts windows for a stride', () => {
    expect(new WindowDataset(tokens, 8).length).toBe(5);
    expect(new WindowDataset(tokens, 8, 4).length).toBe(9);
    expect(new WindowDataset(tokens, 8, 1).length).toBe(33);
  });

  it('writes inputs and targets shifted by one', () => {
    const dataset = new WindowDataset(tokens, 4, 3);
    const x = new Int32Array(8);
    const y = new Int32Array(8);
    dataset.write(2, 1, x, y);
    expect(Array.from(x.subarray(4))).toEqual([6, 7, 8, 9]);
    expect(Array.from(y.subarray(4))).toEqual([7, 8, 9, 10]);
    expect(() => dataset.write(13, 0, x, y)).toThrow(/window index 13 is outside \[0, 13\)/);
  });

  it('splits windows sequentially or at random without overlap', () => {
    const dataset = new WindowDataset(tokens, 2, 1);
    const sequential = dataset.split({ validation: 0.2, test: 0.1 }, 'sequential');
    expect(Array.from(sequential.validation)).toEqual([29, 30, 31, 32, 33, 34, 35]);
    const random = dataset.split({ validation: 0.2, test: 0.1 }, 'random', new Rng(3));
    const all = [...random.train, ...random.validation, ...random.test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: dataset.length }, (_, i) => i));
    expect(Array.from(random.validation)).not.toEqual(Array.from(sequential.validation));
  });
});

describe('EpochBatcher', () => {
  const dataset = new WindowDataset(tokens, 4);
  const indices = Int32Array.from({ length: dataset.length }, (_, i) => i);
  const firstTokens = (x: Int32Array, rows: number) => Array.from({ length: rows }, (_, r) => x[r * 4]);

  it('visits every window once per epoch, in a new order each epoch', () => {
    const batcher = new EpochBatcher(dataset, indices, 3, {
      shuffle: true,
      dropLast: false,
      rng: new Rng(1),
    });
    const x = new Int32Array(12);
    const y = new Int32Array(12);
    const epochs: number[][] = [[], []];
    for (let i = 0; i < 8; i++) {
      const rows = batcher.next(x, y);
      epochs[batcher.epoch].push(...firstTokens(x, rows));
    }
    expect([...epochs[0]].sort((a, b) => a - b)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    expect([...epochs[1]].sort((a, b) => a - b)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    expect(epochs[0]).not.toEqual(epochs[1]);
  });

  it('drops the last partial batch on request', () => {
    const batcher = new EpochBatcher(dataset, indices, 3, {
      shuffle: false,
      dropLast: true,
      rng: new Rng(1),
    });
    const x = new Int32Array(12);
    const y = new Int32Array(12);
    const sizes = Array.from({ length: 4 }, () => batcher.next(x, y));
    expect(sizes).toEqual([3, 3, 3, 3]);
    expect(batcher.epoch).toBe(1);
    expect(firstTokens(x, 3)).toEqual([0, 4, 8]);
  });

  it('continues identically after restoring its state', () => {
    const x = new Int32Array(12);
    const y = new Int32Array(12);
    const original = new EpochBatcher(dataset, indices, 3, {
      shuffle: true,
      dropLast: false,
      rng: new Rng(9),
    });
    for (let i = 0; i < 5; i++) original.next(x, y);
    const saved = original.state();
    const expected = Array.from({ length: 6 }, () => {
      const rows = original.next(x, y);
      return firstTokens(x, rows);
    });
    const restored = new EpochBatcher(dataset, indices, 3, {
      shuffle: true,
      dropLast: false,
      rng: new Rng(123),
    });
    restored.restore(saved);
    const actual = Array.from({ length: 6 }, () => {
      const rows = restored.next(x, y);
      return firstTokens(x, rows);
    });
    expect(actual).toEqual(expected);
  });
});

describe('token streams', () => {
  it('separates documents with an end-of-text id', () => {
    const encode = (text: string) => Array.from(text, (c) => c.charCodeAt(0) - 96);
    expect(Array.from(encodeDocuments(encode, ['ab', 'c'], 0))).toEqual([1, 2, 0, 3, 0]);
  });

  it('splits train, validation and test in order', () => {
    const { train, validation, test } = splitSequential(
      Int32Array.from({ length: 100 }, (_, i) => i),
      {
        validation: 0.1,
        test: 0.2,
      },
    );
    expect([train.length, validation.length, test.length]).toEqual([70, 10, 20]);
    expect(validation[0]).toBe(70);
    expect(() => splitSequential(tokens, { validation: 0.6, test: 0.5 })).toThrow(/add up to less than 1/);
  });
});

describe('WindowDataset validation', () => {
  it.each([0, -1, 4.5, Number.NaN])('rejects block size %s', (blockSize) => {
    expect(() => new WindowDataset(tokens, blockSize, 1)).toThrow(
      `WindowDataset: blockSize must be a positive integer, got ${blockSize}.`,
    );
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects stride %s', (stride) => {
    expect(() => new WindowDataset(tokens, 4, stride)).toThrow(
      `WindowDataset: stride must be a positive integer, got ${stride}.`,
    );
  });

  it('rejects a too short stream', () => {
    expect(() => new WindowDataset(tokens, 41)).toThrow(/WindowDataset: the token stream has 41 tokens/);
  });

  it('write rejects short buffers', () => {
    const dataset = new WindowDataset(tokens, 4);
    expect(() => dataset.write(0, 1, new Int32Array(4), new Int32Array(8))).toThrow(
      'WindowDataset.write: row 1 needs buffers of at least 8 elements, got 4 and 8.',
    );
  });

  it.each([-1, 0.5])('write rejects row %s', (row) => {
    const dataset = new WindowDataset(tokens, 4);
    expect(() => dataset.write(0, row, new Int32Array(8), new Int32Array(8))).toThrow(
      `WindowDataset.write: row must be a non-negative integer, got ${row}.`,
    );
  });
});

describe('WindowDataset.split validation', () => {
  const dataset = new WindowDataset(tokens, 2, 1);

  it('rejects an unknown mode', () => {
    const mode = 'shuffled' as unknown as 'random';
    expect(() => dataset.split({ validation: 0.2 }, mode, new Rng(1))).toThrow(
      'WindowDataset.split: mode must be "sequential" or "random", got "shuffled".',
    );
  });

  it('rejects random without rng', () => {
    expect(() => dataset.split({ validation: 0.2 }, 'random')).toThrow(
      /WindowDataset.split: a random split needs a seeded rng/,
    );
  });

  it.each([
    { name: 'validation', fractions: { validation: -0.1 }, got: '-0.1' },
    { name: 'validation', fractions: { validation: Number.NaN }, got: 'NaN' },
    { name: 'validation', fractions: { validation: 1 }, got: '1' },
    { name: 'test', fractions: { validation: 0.1, test: 1.5 }, got: '1.5' },
    { name: 'test', fractions: { validation: 0.1, test: Number.NaN }, got: 'NaN' },
  ])('rejects $name fraction $got', ({ name, fractions, got }) => {
    expect(() => dataset.split(fractions, 'sequential')).toThrow(
      `WindowDataset.split: the ${name} fraction must be a number in [0, 1), got ${got}.`,
    );
  });

  it('rejects fractions summing to 1', () => {
    expect(() => dataset.split({ validation: 0.7, test: 0.3 }, 'sequential')).toThrow(
      'WindowDataset.split: split fractions must add up to less than 1 so that training keeps some data, got validation 0.7 and test 0.3.',
    );
  });

  it('rejects an unknown fraction', () => {
    const fractions = { validation: 0.1, tset: 0.1 } as { validation: number };
    expect(() => dataset.split(fractions, 'sequential')).toThrow(
      'WindowDataset.split: unknown fraction "tset", expected only validation and test.',
    );
  });

  it('counts held-out windows without rounding loss', () => {
    const hundred = new WindowDataset(
      Int32Array.from({ length: 102 }, (_, i) => i),
      2,
      1,
    );
    expect(hundred.length).toBe(100);
    expect(sizes(hundred.split({ validation: 0.29, test: 0.57 }, 'sequential'))).toEqual([14, 29, 57]);
  });
});

describe('splitSequential validation', () => {
  const ten = Int32Array.from({ length: 10 }, (_, i) => i);

  it('gives train the rounding remainder', () => {
    expect(sizes(splitSequential(ten, { validation: 0.3, test: 0.3 }))).toEqual([4, 3, 3]);
  });

  it('counts products below an integer', () => {
    const hundred = Int32Array.from({ length: 100 }, (_, i) => i);
    expect(sizes(splitSequential(hundred, { validation: 0.57 }))).toEqual([43, 57, 0]);
  });

  it('floors fractional held-out sizes', () => {
    expect(sizes(splitSequential(ten, { validation: 0.25, test: 0.25 }))).toEqual([6, 2, 2]);
  });

  it.each([
    { name: 'validation', fractions: { validation: -0.1 }, got: '-0.1' },
    { name: 'validation', fractions: { validation: Number.NaN }, got: 'NaN' },
    { name: 'validation', fractions: {} as { validation: number }, got: 'undefined' },
    { name: 'test', fractions: { validation: 0.1, test: -0.2 }, got: '-0.2' },
  ])('rejects $name fraction $got', ({ name, fractions, got }) => {
    expect(() => splitSequential(ten, fractions)).toThrow(
      `splitSequential: the ${name} fraction must be a number in [0, 1), got ${got}.`,
    );
  });

  it('rejects fractions summing to 1', () => {
    expect(() => splitSequential(ten, { validation: 0.5, test: 0.5 })).toThrow(
      /splitSequential: split fractions must add up to less than 1/,
    );
  });
});

describe('splitTrainValidation validation', () => {
  it.each([0, 1, -0.5, Number.NaN])('rejects fraction %s', (fraction) => {
    expect(() => splitTrainValidation(tokens, fraction)).toThrow(
      `splitTrainValidation: valFraction must be a number in (0, 1), got ${fraction}.`,
    );
  });

  it('counts a train share below an integer', () => {
    const ninety = Int32Array.from({ length: 90 }, (_, i) => i);
    expect(splitTrainValidation(ninety, 0.3).train.length).toBe(63);
  });

  it('floors a fractional train share', () => {
    const hundred = Int32Array.from({ length: 100 }, (_, i) => i);
    expect(splitTrainValidation(hundred, 0.125).train.length).toBe(87);
  });
});

describe('RandomWindowSampler validation', () => {
  it.each([0, 2.5, Number.NaN])('rejects block size %s', (blockSize) => {
    expect(() => new RandomWindowSampler(tokens, blockSize, 2)).toThrow(
      `RandomWindowSampler: blockSize must be a positive integer, got ${blockSize}.`,
    );
  });

  it.each([0, -2, 1.5])('rejects batch size %s', (batchSize) => {
    expect(() => new RandomWindowSampler(tokens, 4, batchSize)).toThrow(
      `RandomWindowSampler: batchSize must be a positive integer, got ${batchSize}.`,
    );
  });
});

describe('EpochBatcher validation', () => {
  const dataset = new WindowDataset(tokens, 4);
  const indices = Int32Array.from({ length: dataset.length }, (_, i) => i);
  const options = () => ({ shuffle: false, dropLast: false, rng: new Rng(1) });

  it.each([0, -2, 1.5, Number.NaN])('rejects batch size %s', (batchSize) => {
    expect(() => new EpochBatcher(dataset, indices, batchSize, options())).toThrow(
      `EpochBatcher: batchSize must be a positive integer, got ${batchSize}.`,
    );
  });

  it('rejects an index outside the dataset', () => {
    expect(() => new EpochBatcher(dataset, Int32Array.of(0, 10), 1, options())).toThrow(
      "EpochBatcher: indices[1] = 10 is outside the dataset's windows [0, 10).",
    );
  });

  it('next rejects short buffers', () => {
    const batcher = new EpochBatcher(dataset, indices, 3, options());
    expect(() => batcher.next(new Int32Array(8), new Int32Array(8))).toThrow(
      'EpochBatcher: batch buffers need batchSize * blockSize = 12 elements each, got 8 and 8.',
    );
    expect(batcher.position).toBe(0);
  });

  it('next rejects mismatched buffers', () => {
    const batcher = new EpochBatcher(dataset, indices, 3, options());
    expect(() => batcher.next(new Int32Array(12), new Int32Array(16))).toThrow(
      'EpochBatcher: batch buffers need batchSize * blockSize = 12 elements each, got 12 and 16.',
    );
  });

  it.each([-1, 11, 2.5])('restore rejects position %s', (position) => {
    const batcher = new EpochBatcher(dataset, indices, 3, options());
    const state = { ...batcher.state(), position };
    expect(() => batcher.restore(state)).toThrow(
      `EpochBatcher.restore: position must be an integer in [0, 10], got ${position}`,
    );
  });

  it.each([-1, Number.NaN])('restore rejects epoch %s', (epoch) => {
    const batcher = new EpochBatcher(dataset, indices, 3, options());
    expect(() => batcher.restore({ ...batcher.state(), epoch })).toThrow(
      `EpochBatcher.restore: epoch must be a non-negative integer, got ${epoch}.`,
    );
  });
});

describe('encodeDocuments validation', () => {
  const encode = (text: string) => Array.from(text, (c) => c.charCodeAt(0) - 96);

  it.each([-1, 1.5, 2 ** 31])('rejects separator id %s', (separatorId) => {
    expect(() => encodeDocuments(encode, ['ab'], separatorId)).toThrow(
      `encodeDocuments: separatorId must be an integer in [0, 2^31), got ${separatorId}.`,
    );
  });

  it('rejects an invalid token id', () => {
    const broken = (text: string) => (text === 'bad' ? [1, Number.NaN] : [1]);
    expect(() => encodeDocuments(broken, ['ok', 'bad'], 0)).toThrow(
      'encodeDocuments: document 1 encodes to token id NaN, expected integers in [0, 2^31).',
    );
  });
});
