import { describe, expect, it } from 'vitest';
import { portableLog, Rng, type RngState, splitMix64 } from './rng.js';

function stateOf(words: [number, number, number, number]): RngState {
  return { algorithm: 'xoshiro128**', state: words, spareNormal: null };
}

function draw<T>(rng: Rng, count: number, sample: (rng: Rng) => T): T[] {
  return Array.from({ length: count }, () => sample(rng));
}

function meanAndVariance(values: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, variance: squares / (values.length - 1) };
}

function chiSquare(counts: readonly number[], expected: readonly number[]): number {
  return counts.reduce((sum, count, i) => sum + (count - expected[i]) ** 2 / expected[i], 0);
}

describe('reference vectors', () => {
  // Published with rand_xoshiro's Xoshiro128StarStar test ("produced with the reference implementation
  // v1.1") and reproduced by compiling xoshiro128starstar.c 1.1 with gcc.
  it('xoshiro128** matches the reference from state 1,2,3,4', () => {
    const rng = Rng.fromState(stateOf([1, 2, 3, 4]));
    const expected = [
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ];
    expect(draw(rng, expected.length, (r) => r.nextUint32())).toEqual(expected);
  });

  // Computed with jump() of xoshiro128starstar.c 1.1, compiled with gcc.
  it('jump matches the reference from state 1,2,3,4', () => {
    const rng = Rng.fromState(stateOf([1, 2, 3, 4]));
    rng.jump();
    expect(rng.getState().state).toEqual([2843103750, 2038079848, 1533207345, 44816753]);
    expect(draw(rng, 5, (r) => r.nextUint32())).toEqual([
      1194304935, 745561276, 25819468, 3320478005, 3046317961,
    ]);
  });

  // Published with rand_xoshiro's SplitMix64 test and reproduced with splitmix64.c compiled with gcc.
  it('splitMix64 matches the reference', () => {
    expect(splitMix64(1477776061723855037n, 5)).toEqual([
      1985237415132408290n,
      2979275885539914483n,
      13511426838097143398n,
      8488337342461049707n,
      15141737807933549159n,
    ]);
  });

  it('seeding uses the first two SplitMix64 outputs', () => {
    // SplitMix64 from 0 starts with 0xe220a8397b1dcdaf and 0x6e789e6aa1b965f4.
    expect(new Rng(0).getState().state).toEqual([0x7b1dcdaf, 0xe220a839, 0xa1b965f4, 0x6e789e6a]);
  });

  // The same sequence computed by a C program with the reference generator, SplitMix64 seeding,
  // genrand_res53 and the polar method with glibc's log and sqrt (gcc -ffp-contract=off).
  it('seed 42 matches an independent C implementation', () => {
    const rng = new Rng(42);
    expect(rng.getState().state).toEqual([803958421, 3184996902, 2993090819, 686809907]);
    expect(draw(rng, 4, (r) => r.nextUint32())).toEqual([1776835114, 4165204688, 17111135, 2317295270]);
    expect(draw(rng, 3, (r) => r.random())).toEqual([
      0.65008370276388672, 0.68460201861414161, 0.83064748854815251,
    ]);
    expect(draw(rng, 6, (r) => r.normal())).toEqual([
      0.62064548382407314, 0.80340033148101697, -1.2702293384078625, 0.04703141914017045, 0.66963445670415256,
      -1.4464419819159082,
    ]);
  });
});

describe('portableLog', () => {
  it('agrees bit for bit with V8 Math.log', () => {
    // V8 implements Math.log with the fdlibm algorithm (src/base/ieee754.cc), so any difference
    // points to a porting error.
    const rng = new Rng(7);
    const inputs = [
      1,
      2,
      0.5,
      Math.E,
      1 + 2 ** -30,
      1 - 2 ** -30,
      5e-324,
      2.2250738585072014e-308,
      1e308,
      Math.SQRT1_2,
    ];
    for (let i = 0; i < 100_000; i++) inputs.push(rng.random());
    for (let i = 0; i < 20_000; i++) inputs.push(rng.random() * 2 ** rng.randint(-1074, 1024));
    for (let i = 0; i < 20_000; i++) inputs.push(1 + (rng.random() - 0.5) * 2 ** -18);
    const mismatches = inputs.filter((x) => !Object.is(portableLog(x), Math.log(x)));
    expect(mismatches).toEqual([]);
  });

  it('handles special values', () => {
    expect(portableLog(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(portableLog(-0)).toBe(Number.NEGATIVE_INFINITY);
    expect(portableLog(-1)).toBeNaN();
    expect(portableLog(Number.NaN)).toBeNaN();
    expect(portableLog(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is(portableLog(1), 0)).toBe(true);
  });
});

describe('Rng', () => {
  it('reproduces a sequence from the same seed', () => {
    const first = new Rng(123);
    const second = new Rng(123);
    const sample = (r: Rng) => [r.nextUint32(), r.random(), r.normal(), r.randint(0, 1000), r.uniform(-2, 3)];
    expect(draw(first, 50, sample)).toEqual(draw(second, 50, sample));
  });

  it('gives different sequences for different seeds', () => {
    expect(draw(new Rng(1), 8, (r) => r.nextUint32())).not.toEqual(
      draw(new Rng(2), 8, (r) => r.nextUint32()),
    );
    expect(draw(new Rng(-1), 8, (r) => r.nextUint32())).not.toEqual(
      draw(new Rng(1), 8, (r) => r.nextUint32()),
    );
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => new Rng(1.5)).toThrow(/safe integer/);
    expect(() => new Rng(Number.NaN)).toThrow(/safe integer/);
    expect(() => new Rng(2 ** 60)).toThrow(/safe integer/);
  });

  it('continues identically after a JSON state round trip', () => {
    const rng = new Rng(99);
    rng.normal();
    const state = rng.getState();
    expect(state.spareNormal).not.toBeNull();

    const restored = new Rng(0);
    restored.setState(JSON.parse(JSON.stringify(state)));
    const sample = (r: Rng) => [r.normal(), r.nextUint32(), r.random(), r.randint(-5, 5)];
    expect(draw(restored, 100, sample)).toEqual(draw(rng, 100, sample));
  });

  it('rejects invalid states', () => {
    const rng = new Rng(1);
    expect(() => rng.setState(stateOf([0, 0, 0, 0]))).toThrow(/all be zero/);
    expect(() => rng.setState(stateOf([1, 2, 3, 2 ** 32]))).toThrow(/word 3/);
    expect(() =>
      rng.setState({ ...stateOf([1, 2, 3, 4]), algorithm: 'pcg32' } as unknown as RngState),
    ).toThrow(/algorithm/);
    expect(() => rng.setState({ ...stateOf([1, 2, 3, 4]), spareNormal: Number.NaN })).toThrow(/spareNormal/);
  });

  it('clone continues the same sequence', () => {
    const rng = new Rng(5);
    rng.normal();
    const copy = rng.clone();
    expect(draw(copy, 20, (r) => r.normal())).toEqual(draw(rng, 20, (r) => r.normal()));
  });

  it('random returns 53-bit values in [0, 1)', () => {
    const values = draw(new Rng(3), 10_000, (r) => r.random());
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    // With 53 bits, nearly every value has bits below 2^-32.
    const finerThan32Bits = values.filter((v) => v * 2 ** 32 !== Math.floor(v * 2 ** 32)).length;
    expect(finerThan32Bits).toBeGreaterThan(9_990);
  });

  it('uniform covers [lo, hi) with the right mean', () => {
    const values = draw(new Rng(4), 100_000, (r) => r.uniform(-3, 5));
    expect(values.every((v) => v >= -3 && v < 5)).toBe(true);
    const { mean, variance } = meanAndVariance(values);
    expect(mean).toBeCloseTo(1, 1);
    expect(variance).toBeCloseTo(64 / 12, 1);
  });
});

describe('normal', () => {
  it('has mean and variance of the requested distribution', () => {
    const values = draw(new Rng(11), 100_000, (r) => r.normal(2, 3));
    const { mean, variance } = meanAndVariance(values);
    // Standard errors: 3 / sqrt(1e5) = 0.0095 for the mean, 9 * sqrt(2 / 1e5) = 0.04 for the variance.
    expect(Math.abs(mean - 2)).toBeLessThan(0.05);
    expect(Math.abs(variance - 9)).toBeLessThan(0.2);
  });

  it('has standard normal tail frequencies', () => {
    const values = draw(new Rng(12), 100_000, (r) => r.normal());
    const beyondTwo = values.filter((v) => Math.abs(v) > 2).length / values.length;
    const beyondThree = values.filter((v) => Math.abs(v) > 3).length / values.length;
    expect(Math.abs(beyondTwo - 0.0455)).toBeLessThan(0.004);
    expect(Math.abs(beyondThree - 0.0027)).toBeLessThan(0.001);
  });

  it('fillNormal matches repeated normal calls', () => {
    const filler = new Rng(13);
    filler.normal();
    const caller = filler.clone();
    const out = filler.fillNormal(new Float32Array(101), 0.5, 0.02);
    const expected = Float32Array.from(draw(caller, 101, (r) => r.normal(0.5, 0.02)));
    expect(out).toEqual(expected);
    expect(filler.getState()).toEqual(caller.getState());
  });

  it('rejects a negative std', () => {
    expect(() => new Rng(1).normal(0, -1)).toThrow(/std/);
  });
});

describe('truncatedNormal', () => {
  it('stays within absolute bounds', () => {
    const rng = new Rng(21);
    const values = draw(rng, 20_000, (r) => r.truncatedNormal(0, 1, -0.5, 2));
    expect(values.every((v) => v >= -0.5 && v <= 2)).toBe(true);
    expect(Math.min(...values)).toBeLessThan(-0.45);
    expect(Math.max(...values)).toBeGreaterThan(1.9);
  });

  it('treats bounds as absolute values like trunc_normal_', () => {
    // With std 0.02 and bounds of +-2 (absolute), truncation almost never applies.
    const values = draw(new Rng(22), 50_000, (r) => r.truncatedNormal(0, 0.02, -2, 2));
    const { variance } = meanAndVariance(values);
    expect(Math.sqrt(variance)).toBeCloseTo(0.02, 3);
  });

  it('has the half-normal mean on [0, 10]', () => {
    const values = draw(new Rng(23), 100_000, (r) => r.truncatedNormal(0, 1, 0, 10));
    const { mean } = meanAndVariance(values);
    expect(Math.abs(mean - Math.sqrt(2 / Math.PI))).toBeLessThan(0.01);
  });

  it('fillTruncatedNormal matches repeated calls', () => {
    const filler = new Rng(24);
    const caller = filler.clone();
    const out = filler.fillTruncatedNormal(new Float64Array(64), 1, 2, 0, 3);
    expect(Array.from(out)).toEqual(draw(caller, 64, (r) => r.truncatedNormal(1, 2, 0, 3)));
    expect(out.every((v) => v >= 0 && v <= 3)).toBe(true);
  });

  it('rejects bounds that hold almost no mass', () => {
    expect(() => new Rng(1).truncatedNormal(0, 1, 5, 6)).toThrow(/mass/);
    expect(() => new Rng(1).truncatedNormal(0, 1, 2, 1)).toThrow(/a < b/);
    expect(() => new Rng(1).truncatedNormal(0, 1, 3, 4)).not.toThrow();
  });
});

describe('randint', () => {
  it('is uniform over a small range', () => {
    const rng = new Rng(31);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[rng.randint(0, 10)]++;
    // The 99.9th percentile of chi-square with 9 degrees of freedom is 27.9.
    expect(chiSquare(counts, new Array(10).fill(10_000))).toBeLessThan(27.9);
  });

  it('has no modulo bias for a range of 3 * 2^30', () => {
    // Plain x % range would make the lowest third twice as likely as the others.
    const rng = new Rng(32);
    const counts = [0, 0, 0];
    for (let i = 0; i < 60_000; i++) counts[Math.floor(rng.randint(0, 3 * 2 ** 30) / 2 ** 30)]++;
    expect(chiSquare(counts, [20_000, 20_000, 20_000])).toBeLessThan(13.8);
  });

  it('covers ranges above 2^32 without bias', () => {
    const rng = new Rng(33);
    const range = 3 * 2 ** 50;
    const counts = [0, 0, 0];
    let outOfRange = 0;
    for (let i = 0; i < 60_000; i++) {
      const value = rng.randint(-5, range - 5);
      if (!Number.isSafeInteger(value) || value < -5 || value >= range - 5) outOfRange++;
      counts[Math.floor((value + 5) / 2 ** 50)]++;
    }
    expect(outOfRange).toBe(0);
    expect(chiSquare(counts, [20_000, 20_000, 20_000])).toBeLessThan(13.8);
  });

  it('stays within bounds including negative ones', () => {
    const values = draw(new Rng(34), 10_000, (r) => r.randint(-3, 2));
    expect(new Set(values)).toEqual(new Set([-3, -2, -1, 0, 1]));
  });

  it('rejects empty or non-integer ranges', () => {
    const rng = new Rng(1);
    expect(() => rng.randint(5, 5)).toThrow(/lo < hiExclusive/);
    expect(() => rng.randint(0, 1.5)).toThrow(/safe integers/);
    expect(() => rng.randint(-(2 ** 53) + 1, 2 ** 53 - 1)).toThrow(/2\^53/);
  });
});

describe('shuffle', () => {
  it('returns a permutation in place', () => {
    const array = Array.from({ length: 100 }, (_, i) => i);
    const result = new Rng(41).shuffle(array);
    expect(result).toBe(array);
    expect([...array].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(array).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('gives all permutations of three items equally often', () => {
    const rng = new Rng(42);
    const counts = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const key = rng.shuffle(['a', 'b', 'c']).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // The 99.9th percentile of chi-square with 5 degrees of freedom is 20.5.
    expect(chiSquare([...counts.values()], new Array(6).fill(10_000))).toBeLessThan(20.5);
  });

  it('shuffles typed arrays', () => {
    const array = Int32Array.from({ length: 50 }, (_, i) => i);
    new Rng(43).shuffle(array);
    expect(Array.from(array).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('categorical', () => {
  it('draws indices with the given probabilities', () => {
    const rng = new Rng(51);
    const probs = [0.1, 0, 0.6, 0.3];
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 100_000; i++) counts[rng.categorical(probs)]++;
    expect(counts[1]).toBe(0);
    expect(chiSquare([counts[0], counts[2], counts[3]], [10_000, 60_000, 30_000])).toBeLessThan(13.8);
  });

  it('accepts unnormalized weights and typed arrays', () => {
    const rng = new Rng(52);
    const counts = [0, 0];
    for (let i = 0; i < 30_000; i++) counts[rng.categorical(new Float32Array([1, 2]))]++;
    expect(chiSquare(counts, [10_000, 20_000])).toBeLessThan(10.8);
  });

  it('rejects invalid weights', () => {
    const rng = new Rng(1);
    expect(() => rng.categorical([0.5, -0.1])).toThrow(/index 1/);
    expect(() => rng.categorical([0, 0])).toThrow(/positive/);
    expect(() => rng.categorical([])).toThrow(/positive/);
    expect(() => rng.categorical([1, Number.NaN])).toThrow(/finite/);
  });
});

describe('fillUniform', () => {
  it('fills float32 arrays within bounds', () => {
    const out = new Rng(61).fillUniform(new Float32Array(100_000), -0.1, 0.1);
    expect(out.every((v) => v >= Math.fround(-0.1) && v <= Math.fround(0.1))).toBe(true);
    const { mean, variance } = meanAndVariance(out);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(variance).toBeCloseTo(0.04 / 12, 4);
  });

  it('fills float64 arrays like repeated uniform calls', () => {
    const filler = new Rng(62);
    const caller = filler.clone();
    const out = filler.fillUniform(new Float64Array(20), 2, 4);
    expect(Array.from(out)).toEqual(draw(caller, 20, (r) => r.uniform(2, 4)));
  });
});

describe('fork', () => {
  it('is deterministic and leaves the parent unchanged', () => {
    const parent = new Rng(71);
    const before = parent.getState();
    const first = draw(parent.fork(3), 10, (r) => r.nextUint32());
    expect(parent.getState()).toEqual(before);
    expect(draw(parent.fork(3), 10, (r) => r.nextUint32())).toEqual(first);
  });

  it('gives different sequences per stream and parent', () => {
    const parent = new Rng(72);
    const sequences = [0, 1, 2, 1000].map((stream) =>
      draw(parent.fork(stream), 4, (r) => r.nextUint32()).join(),
    );
    sequences.push(draw(parent.clone(), 4, (r) => r.nextUint32()).join());
    sequences.push(draw(new Rng(73).fork(0), 4, (r) => r.nextUint32()).join());
    expect(new Set(sequences).size).toBe(sequences.length);
  });

  it('gives uncorrelated streams', () => {
    const parent = new Rng(74);
    const a = draw(parent.fork(0), 50_000, (r) => r.random());
    const b = draw(parent.fork(1), 50_000, (r) => r.random());
    let covariance = 0;
    for (let i = 0; i < a.length; i++) covariance += (a[i] - 0.5) * (b[i] - 0.5);
    const correlation = covariance / a.length / (1 / 12);
    // The standard error of the correlation is 1 / sqrt(5e4) = 0.0045.
    expect(Math.abs(correlation)).toBeLessThan(0.025);
  });

  it('rejects negative or fractional streams', () => {
    expect(() => new Rng(1).fork(-1)).toThrow(/stream/);
    expect(() => new Rng(1).fork(0.5)).toThrow(/stream/);
  });
});
