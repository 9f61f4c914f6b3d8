// Seeded random numbers that are bit-identical in Node.js and in browsers.
//
// The core generator is xoshiro128** 1.1 by David Blackman and Sebastiano Vigna
// (https://prng.di.unimi.it/xoshiro128starstar.c): 128 bits of state, period 2^128 - 1, and only 32-bit
// integer operations (xor, shifts, rotations, Math.imul), which every JavaScript engine computes exactly.
// A number seed is expanded into the state with SplitMix64 (https://prng.di.unimi.it/splitmix64.c), as
// the xoshiro authors recommend, computed with BigInt because it needs 64-bit products.
//
// Floating-point results use only IEEE 754 arithmetic, which JavaScript defines exactly, plus a port of
// the fdlibm logarithm below. Math.log, Math.sin and Math.cos are not used for sampling, because
// ECMAScript lets each engine approximate them differently.

const UINT32_RANGE = 2 ** 32;
const TWO_POW_MINUS_24 = 2 ** -24;
const TWO_POW_MINUS_53 = 2 ** -53;
const MAX_RANDINT_RANGE = 2 ** 53;
const MASK_64 = (1n << 64n) - 1n;

/**
 * Minimum probability that one normal draw lands inside the bounds of `truncatedNormal`. Below it,
 * rejection sampling needs more than 10^4 draws per accepted value, so the bounds are rejected.
 */
const MIN_TRUNCATED_ACCEPTANCE = 1e-4;

/** JSON-serializable snapshot of an `Rng`, produced by `getState` and accepted by `setState`. */
export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four 32-bit state words, s[0] to s[3] of the reference implementation. */
  state: [number, number, number, number];
  /** Second value of the last polar Box-Muller pair, returned by the next `normal` call. */
  spareNormal: number | null;
}

function splitMix64Next(state: { x: bigint }): bigint {
  state.x = (state.x + 0x9e3779b97f4a7c15n) & MASK_64;
  let z = state.x;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return z ^ (z >> 31n);
}

/** Returns `count` outputs of SplitMix64 started from `seed`, as unsigned 64-bit BigInts. */
export function splitMix64(seed: bigint, count: number): bigint[] {
  const state = { x: BigInt.asUintN(64, seed) };
  const outputs: bigint[] = [];
  for (let i = 0; i < count; i++) outputs.push(splitMix64Next(state));
  return outputs;
}

function stateFromSeed64(seed: bigint): [number, number, number, number] {
  const [a, b] = splitMix64(seed, 2);
  const words: [number, number, number, number] = [
    Number(a & 0xffffffffn),
    Number(a >> 32n),
    Number(b & 0xffffffffn),
    Number(b >> 32n),
  ];
  // SplitMix64 outputs are a bijection of its counter, so two consecutive zero outputs cannot occur.
  // The check keeps the all-zero state, from which xoshiro never leaves, impossible by construction.
  if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = 1;
  return words;
}

const logScratch = new Float64Array(1);
const logWords = new Uint32Array(logScratch.buffer);
// Index of the high 32-bit word of a float64 in `logWords`, which depends on the platform byte order.
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW_WORD = 1 - HIGH_WORD;

function float64FromWords(high: number, low: number): number {
  logWords[HIGH_WORD] = high;
  logWords[LOW_WORD] = low;
  return logScratch[0];
}

// Constants of fdlibm's e_log.c, given by their IEEE 754 bit patterns as in its source comments.
const FDLIBM_LN2_HI = float64FromWords(0x3fe62e42, 0xfee00000);
const FDLIBM_LN2_LO = float64FromWords(0x3dea39ef, 0x35793c76);
const FDLIBM_TWO54 = float64FromWords(0x43500000, 0x00000000);
const FDLIBM_LG1 = float64FromWords(0x3fe55555, 0x55555593);
const FDLIBM_LG2 = float64FromWords(0x3fd99999, 0x9997fa04);
const FDLIBM_LG3 = float64FromWords(0x3fd24924, 0x94229359);
const FDLIBM_LG4 = float64FromWords(0x3fcc71c5, 0x1d8e78af);
const FDLIBM_LG5 = float64FromWords(0x3fc74664, 0x96cb03de);
const FDLIBM_LG6 = float64FromWords(0x3fc39a09, 0xd078c69f);
const FDLIBM_LG7 = float64FromWords(0x3fc2f112, 0xdf3e5244);

/**
 * Computes the natural logarithm with the algorithm of fdlibm 5.3 `__ieee754_log` (error below 1 ulp),
 * using only IEEE 754 arithmetic and bit manipulation, so the result is the same in every engine.
 * V8 implements Math.log with the same algorithm, so in Node.js the two agree bit for bit.
 */
export function portableLog(value: number): number {
  logScratch[0] = value;
  let hx = logWords[HIGH_WORD] | 0;
  const lx = logWords[LOW_WORD];
  let x = value;
  let k = 0;

  if (hx < 0x00100000) {
    if (((hx & 0x7fffffff) | lx) === 0) return Number.NEGATIVE_INFINITY;
    if (hx < 0) return Number.NaN;
    // Subnormal input: scale into the normal range and correct the exponent afterwards.
    k -= 54;
    x *= FDLIBM_TWO54;
    logScratch[0] = x;
    hx = logWords[HIGH_WORD] | 0;
  }
  if (hx >= 0x7ff00000) return x + x;

  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  let i = (hx + 0x95f64) & 0x100000;
  // Normalize x to [sqrt(2)/2, sqrt(2)) by setting its exponent, so log(x) = k * ln2 + log(1 + f).
  logScratch[0] = x;
  logWords[HIGH_WORD] = hx | (i ^ 0x3ff00000);
  x = logScratch[0];
  k += i >> 20;
  const f = x - 1.0;

  if ((0x000fffff & (2 + hx)) < 3) {
    // |f| < 2^-20, where a short series is accurate enough.
    if (f === 0) {
      if (k === 0) return 0;
      return k * FDLIBM_LN2_HI + k * FDLIBM_LN2_LO;
    }
    const r = f * f * (0.5 - 0.3333333333333333 * f);
    if (k === 0) return f - r;
    return k * FDLIBM_LN2_HI - (r - k * FDLIBM_LN2_LO - f);
  }

  const s = f / (2.0 + f);
  const dk = k;
  const z = s * s;
  i = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (FDLIBM_LG2 + w * (FDLIBM_LG4 + w * FDLIBM_LG6));
  const t2 = z * (FDLIBM_LG1 + w * (FDLIBM_LG3 + w * (FDLIBM_LG5 + w * FDLIBM_LG7)));
  i |= j;
  const r = t2 + t1;
  if (i > 0) {
    const hfsq = 0.5 * f * f;
    if (k === 0) return f - (hfsq - s * (hfsq + r));
    return dk * FDLIBM_LN2_HI - (hfsq - (s * (hfsq + r) + dk * FDLIBM_LN2_LO) - f);
  }
  if (k === 0) return f - s * (f - r);
  return dk * FDLIBM_LN2_HI - (s * (f - r) - dk * FDLIBM_LN2_LO - f);
}

/**
 * Computes the complementary error function with the Chebyshev fit `erfcc` of Numerical Recipes
 * (fractional error below 1.2e-7). It only decides whether truncation bounds are usable, so its
 * engine-dependent Math.exp never affects sampled values.
 */
function approximateErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const polynomial =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const result = t * Math.exp(polynomial);
  return x >= 0 ? result : 2 - result;
}

/** Probability that a standard normal value lies in [a, b], accurate in both tails. */
function standardNormalMass(a: number, b: number): number {
  if (a >= 0) return 0.5 * (approximateErfc(a / Math.SQRT2) - approximateErfc(b / Math.SQRT2));
  if (b <= 0) return 0.5 * (approximateErfc(-b / Math.SQRT2) - approximateErfc(-a / Math.SQRT2));
  return 1 - 0.5 * (approximateErfc(-a / Math.SQRT2) + approximateErfc(b / Math.SQRT2));
}

function checkFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${value}`);
}

function checkStd(std: number): void {
  if (!Number.isFinite(std) || std < 0) {
    throw new RangeError(`std must be a finite non-negative number, got ${std}`);
  }
}

function checkUint32(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= UINT32_RANGE) {
    throw new RangeError(`${name} must be an integer in [0, 2^32), got ${String(value)}`);
  }
  return value;
}

/**
 * Seeded pseudo-random number generator (xoshiro128** 1.1 seeded with SplitMix64) whose outputs are
 * bit-identical across JavaScript engines, for reproducible initialization, shuffling and sampling.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  /**
   * Creates a generator from a seed, a safe integer. Negative seeds are taken modulo 2^64, so each
   * seed selects a distinct SplitMix64 starting point.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
    }
    this.setWords(stateFromSeed64(BigInt(seed)));
  }

  /** Creates a generator that continues from a state returned by `getState`. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  private setWords(words: readonly number[]): void {
    this.s0 = words[0] | 0;
    this.s1 = words[1] | 0;
    this.s2 = words[2] | 0;
    this.s3 = words[3] | 0;
  }

  /** Returns the next output of xoshiro128**, an integer in [0, 2^32). */
  nextUint32(): number {
    const s1 = this.s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    const t = s1 << 9;

    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /**
   * Advances the state by 2^64 outputs with the reference jump polynomial, so up to 2^64
   * non-overlapping subsequences can be taken from one seed.
   */
  jump(): void {
    const polynomial = [0x8764000b, 0xf542d2d3, 0x6fa035c3, 0x77f2db5b];
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    for (const word of polynomial) {
      for (let bit = 0; bit < 32; bit++) {
        if ((word >>> bit) & 1) {
          t0 ^= this.s0;
          t1 ^= this.s1;
          t2 ^= this.s2;
          t3 ^= this.s3;
        }
        this.nextUint32();
      }
    }
    this.setWords([t0, t1, t2, t3]);
  }

  /**
   * Returns a uniform number in [0, 1) with 53 random bits, built from two outputs as
   * (a >>> 5) * 2^26 + (b >>> 6), the construction of MT19937's genrand_res53.
   */
  random(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) * TWO_POW_MINUS_53;
  }

  /**
   * Returns lo + (hi - lo) * u for a uniform u in [0, 1). The result lies in [lo, hi) except that
   * floating-point rounding can produce exactly hi.
   */
  uniform(lo: number, hi: number): number {
    checkFinite('lo', lo);
    checkFinite('hi', hi);
    return lo + (hi - lo) * this.random();
  }

  private standardNormal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    // Marsaglia's polar form of the Box-Muller transform: it avoids sin and cos, whose results
    // differ between engines, and needs only the portable logarithm and a square root.
    // NOTE: ECMAScript allows Math.sqrt to be approximate. Bit-identical normals across engines assume
    // the correctly rounded IEEE 754 square root that x86-64 and ARM64 hardware provides.
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.random() - 1;
      v = 2 * this.random() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const scale = Math.sqrt((-2 * portableLog(s)) / s);
    this.spareNormal = v * scale;
    return u * scale;
  }

  /**
   * Returns a normal sample. Values come in pairs from the polar Box-Muller transform, and the second
   * value of each pair is cached (and saved by `getState`) for the next call.
   */
  normal(mean = 0, std = 1): number {
    checkFinite('mean', mean);
    checkStd(std);
    return mean + std * this.standardNormal();
  }

  /**
   * Returns a normal sample conditioned on lying in [a, b], by rejection. As in
   * torch.nn.init.trunc_normal_, the bounds a and b are absolute values, not multiples of std.
   * Throws a RangeError when less than 1e-4 of the normal mass lies in [a, b], because rejection
   * would then need more than 10^4 draws per value.
   */
  truncatedNormal(mean: number, std: number, a: number, b: number): number {
    this.checkTruncation(mean, std, a, b);
    if (std === 0) return mean;
    for (;;) {
      const value = mean + std * this.standardNormal();
      if (value >= a && value <= b) return value;
    }
  }

  private checkTruncation(mean: number, std: number, a: number, b: number): void {
    checkFinite('mean', mean);
    checkStd(std);
    checkFinite('a', a);
    checkFinite('b', b);
    if (!(a < b)) throw new RangeError(`truncation bounds must satisfy a < b, got a=${a}, b=${b}`);
    if (std === 0) {
      if (mean < a || mean > b) {
        throw new RangeError(`mean ${mean} lies outside [${a}, ${b}] and std is 0`);
      }
      return;
    }
    const mass = standardNormalMass((a - mean) / std, (b - mean) / std);
    if (mass < MIN_TRUNCATED_ACCEPTANCE) {
      throw new RangeError(
        `[${a}, ${b}] contains only ${mass.toExponential(2)} of the normal(${mean}, ${std}) mass, below the ` +
          `minimum ${MIN_TRUNCATED_ACCEPTANCE} that rejection sampling supports; move the bounds closer to the mean`,
      );
    }
  }

  /**
   * Returns a uniform integer in [lo, hiExclusive), without modulo bias: outputs below 2^32 mod range
   * (or 2^53 mod range for ranges above 2^32) are rejected before taking the remainder.
   */
  randint(lo: number, hiExclusive: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hiExclusive)) {
      throw new RangeError(`randint bounds must be safe integers, got [${lo}, ${hiExclusive})`);
    }
    const range = hiExclusive - lo;
    if (!(range > 0) || range > MAX_RANDINT_RANGE) {
      throw new RangeError(
        `randint needs lo < hiExclusive and a range of at most 2^53, got [${lo}, ${hiExclusive})`,
      );
    }
    if (range <= UINT32_RANGE) {
      const threshold = (UINT32_RANGE - range) % range;
      for (;;) {
        const x = this.nextUint32();
        if (x >= threshold) return lo + (x % range);
      }
    }
    const threshold = MAX_RANDINT_RANGE % range;
    for (;;) {
      const x = (this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6);
      if (x >= threshold) return lo + (x % range);
    }
  }

  /** Shuffles an array or typed array in place with the Fisher-Yates algorithm and returns it. */
  shuffle<A extends { length: number; [index: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.randint(0, i + 1);
      const item = array[i];
      array[i] = array[j];
      array[j] = item;
    }
    return array;
  }

  /**
   * Returns an index drawn with probability proportional to `probs[index]`. The weights must be
   * finite and non-negative with a positive sum, and need not sum to 1.
   */
  categorical(probs: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i];
      if (!Number.isFinite(p) || p < 0) {
        throw new RangeError(
          `categorical probabilities must be finite and non-negative, got ${p} at index ${i}`,
        );
      }
      total += p;
    }
    if (!(total > 0) || !Number.isFinite(total)) {
      throw new RangeError(`categorical probabilities must have a positive finite sum, got ${total}`);
    }

    const target = this.random() * total;
    let cumulative = 0;
    let lastPositive = -1;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] === 0) continue;
      cumulative += probs[i];
      lastPositive = i;
      if (target < cumulative) return i;
    }
    // Rounding can leave the running sum just below the target, which belongs to the last category.
    return lastPositive;
  }

  /** Fills `out` with normal samples, the same values that repeated `normal(mean, std)` calls return. */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): typeof out {
    checkFinite('mean', mean);
    checkStd(std);
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.standardNormal();
    return out;
  }

  /**
   * Fills `out` with normal samples conditioned on [a, b], the same values that repeated
   * `truncatedNormal(mean, std, a, b)` calls return. In a Float32Array, rounding can move a value
   * past a bound that float32 cannot represent exactly.
   */
  fillTruncatedNormal(
    out: Float32Array | Float64Array,
    mean: number,
    std: number,
    a: number,
    b: number,
  ): typeof out {
    this.checkTruncation(mean, std, a, b);
    for (let i = 0; i < out.length; i++) {
      if (std === 0) {
        out[i] = mean;
        continue;
      }
      let value: number;
      do {
        value = mean + std * this.standardNormal();
      } while (value < a || value > b);
      out[i] = value;
    }
    return out;
  }

  /**
   * Fills `out` with lo + (hi - lo) * u. For a Float32Array, u has 24 random bits from one output,
   * as many as float32 holds. For a Float64Array, u comes from `random()` with 53 bits. Results lie in
   * [lo, hi] because rounding to the element type can produce exactly hi.
   */
  fillUniform(out: Float32Array | Float64Array, lo = 0, hi = 1): typeof out {
    checkFinite('lo', lo);
    checkFinite('hi', hi);
    const width = hi - lo;
    if (out instanceof Float32Array) {
      for (let i = 0; i < out.length; i++)
        out[i] = lo + width * ((this.nextUint32() >>> 8) * TWO_POW_MINUS_24);
    } else {
      for (let i = 0; i < out.length; i++) out[i] = lo + width * this.random();
    }
    return out;
  }

  /** Returns a JSON-serializable copy of the state, including the cached normal value. */
  getState(): RngState {
    return {
      algorithm: 'xoshiro128**',
      state: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
      spareNormal: this.spareNormal,
    };
  }

  /** Restores a state returned by `getState`, after which the outputs continue identically. */
  setState(state: RngState): void {
    if (state === null || typeof state !== 'object') {
      throw new TypeError('Rng state must be an object returned by getState()');
    }
    if (state.algorithm !== 'xoshiro128**') {
      throw new RangeError(
        `Rng state algorithm must be 'xoshiro128**', got ${JSON.stringify(state.algorithm)}`,
      );
    }
    if (!Array.isArray(state.state) || state.state.length !== 4) {
      throw new RangeError('Rng state must contain 4 state words');
    }
    const words = state.state.map((word, index) => checkUint32(`Rng state word ${index}`, word));
    if ((words[0] | words[1] | words[2] | words[3]) === 0) {
      throw new RangeError(
        'Rng state words must not all be zero, because xoshiro128** never leaves that state',
      );
    }
    const spare = state.spareNormal;
    if (spare !== null && (typeof spare !== 'number' || !Number.isFinite(spare))) {
      throw new RangeError(`Rng state spareNormal must be null or a finite number, got ${String(spare)}`);
    }
    this.setWords(words);
    this.spareNormal = spare;
  }

  /** Returns an independent generator with the same state, including the cached normal value. */
  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  /**
   * Returns a generator for stream number `stream` derived from the current state, without advancing
   * this generator. The same state and stream give the same child. The child state is SplitMix64
   * seeded with a 64-bit hash of the parent state and the stream number.
   * NOTE: independence is statistical. Two children are disjoint only with overwhelming probability
   * (they start at unrelated points of a 2^128 - 1 period), unlike `jump`, which guarantees it.
   */
  fork(stream: number): Rng {
    if (!Number.isSafeInteger(stream) || stream < 0) {
      throw new RangeError(`fork stream must be a non-negative safe integer, got ${stream}`);
    }
    const low = (BigInt(this.s1 >>> 0) << 32n) | BigInt(this.s0 >>> 0);
    const high = (BigInt(this.s3 >>> 0) << 32n) | BigInt(this.s2 >>> 0);
    const [lowHash] = splitMix64(low, 1);
    const [stateHash] = splitMix64(lowHash ^ high, 1);
    const [streamKey] = splitMix64(stateHash ^ BigInt(stream), 1);
    const child = new Rng(0);
    child.setWords(stateFromSeed64(streamKey));
    return child;
  }
}
