import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { EpochBatcher, encodeDocuments, splitSequential, WindowDataset } from './data.js';

const tokens = Int32Array.from({ length: 41 }, (_, i) => i);

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
