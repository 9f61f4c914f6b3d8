import type { Rng } from '@glassbox/graph';
import { checkTypedOptions, describeValue, type OptionRule } from './option-rules.js';

/**
 * Weight initialization schemes with the formulas of `torch.nn.init` (PyTorch 2.x):
 * - `normal`: N(mean, std).
 * - `truncated-normal`: N(mean, std) redrawn outside the absolute bounds [a, b], as `trunc_normal_`.
 * - `xavier-normal` / `xavier-uniform`: std = gain * sqrt(2 / (fanIn + fanOut)); the uniform bound is sqrt(3) std.
 * - `kaiming-uniform`: bound = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a^2)) for leaky ReLU, fan by `mode`.
 * - `linear-default`: what `nn.Linear` does, kaiming-uniform with a = sqrt(5), so U(-1/sqrt(fanIn), 1/sqrt(fanIn));
 *   for a bias give `fanIn`, the input size of its layer.
 * - `embedding-default`: what `nn.Embedding` does, N(0, 1).
 * - `gpt2-residual`: GPT-2's scaled residual projections, N(0, 0.02 / sqrt(2 nLayer)).
 * - `zeros`, `ones`, `constant`.
 */
export type InitScheme =
  | { type: 'normal'; mean?: number; std: number }
  | { type: 'truncated-normal'; mean?: number; std: number; a?: number; b?: number }
  | { type: 'xavier-normal'; gain?: number }
  | { type: 'xavier-uniform'; gain?: number }
  | { type: 'kaiming-uniform'; a?: number; mode?: 'fan_in' | 'fan_out' }
  | { type: 'linear-default'; fanIn?: number }
  | { type: 'embedding-default' }
  | { type: 'gpt2-residual'; nLayer: number }
  | { type: 'zeros' }
  | { type: 'ones' }
  | { type: 'constant'; value: number };

/**
 * The storage order of a 2-D weight's dimensions: `in-out` as GPT-2's Conv1D ([in, out], y = x W) and this project's
 * GPT, or `out-in` as PyTorch's `nn.Linear` ([out, in], y = x W^T).
 */
export type WeightLayout = 'in-out' | 'out-in';

/** Fan-in and fan-out of a weight, as `torch.nn.init._calculate_fan_in_and_fan_out` computes them. */
export function fans(
  shape: readonly number[],
  layout: WeightLayout = 'in-out',
): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new Error(
      `fan-in and fan-out need a tensor of rank >= 2, got shape [${shape}]; give fanIn for a bias.`,
    );
  }
  if (shape.length === 2) {
    return layout === 'in-out'
      ? { fanIn: shape[0], fanOut: shape[1] }
      : { fanIn: shape[1], fanOut: shape[0] };
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export const INIT_SCHEME_TYPES = [
  'normal',
  'truncated-normal',
  'xavier-normal',
  'xavier-uniform',
  'kaiming-uniform',
  'linear-default',
  'embedding-default',
  'gpt2-residual',
  'zeros',
  'ones',
  'constant',
] as const;

type InitSchemeType = (typeof INIT_SCHEME_TYPES)[number];

const finite: OptionRule = { test: (v) => Number.isFinite(v), expected: 'a finite number' };
const optionalFinite: OptionRule = { ...finite, optional: true };
const positiveStd: OptionRule = {
  test: (v) => Number.isFinite(v) && (v as number) > 0,
  // A zero std would draw the mean everywhere, which the `constant` scheme states directly.
  expected: 'a finite positive number (use the constant scheme for a fixed value)',
};
const optionalPositive: OptionRule = {
  test: (v) => Number.isFinite(v) && (v as number) > 0,
  expected: 'a finite positive number',
  optional: true,
};
const positiveInteger: OptionRule = {
  test: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  expected: 'a positive integer',
};
const optionalPositiveInteger: OptionRule = { ...positiveInteger, optional: true };

/** The options of each scheme besides `type`. */
const SCHEME_OPTIONS: Record<InitSchemeType, Record<string, OptionRule>> = {
  normal: { mean: optionalFinite, std: positiveStd },
  'truncated-normal': { mean: optionalFinite, std: positiveStd, a: optionalFinite, b: optionalFinite },
  'xavier-normal': { gain: optionalPositive },
  'xavier-uniform': { gain: optionalPositive },
  'kaiming-uniform': {
    a: optionalFinite,
    mode: {
      test: (v) => v === 'fan_in' || v === 'fan_out',
      expected: '"fan_in" or "fan_out"',
      optional: true,
    },
  },
  'linear-default': { fanIn: optionalPositiveInteger },
  'embedding-default': {},
  'gpt2-residual': { nLayer: positiveInteger },
  zeros: {},
  ones: {},
  constant: { value: finite },
};

/**
 * Checks an initialization scheme: a known type, every required option present, no unknown option, and
 * numbers in range. Throws an error that names the option and returns `scheme` unchanged.
 */
export function validateInitScheme(scheme: InitScheme): InitScheme {
  checkTypedOptions('init scheme', scheme, INIT_SCHEME_TYPES, SCHEME_OPTIONS);

  if (scheme.type === 'truncated-normal') {
    const a = scheme.a ?? -2;
    const b = scheme.b ?? 2;
    if (!(a < b)) {
      throw new Error(
        `init scheme truncated-normal: the lower bound a must be less than the upper bound b, got a = ${a} and b = ${b}.`,
      );
    }
  }
  return scheme;
}

function checkShape(data: Float32Array, shape: readonly number[]): void {
  if (shape == null || !Array.from(shape).every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(
      `initialize: shape must be a list of non-negative integers, got ${describeValue(shape)}.`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new Error(
      `initialize: shape [${shape}] has ${size} elements but data has ${data.length}, so pass the tensor's own shape.`,
    );
  }
}

/**
 * Fills `data` (of a tensor with `shape`) with values drawn by `scheme`. Throws for an invalid scheme or a
 * shape whose element count differs from `data.length`. A tensor with no elements is returned unchanged.
 */
export function initialize(
  data: Float32Array,
  shape: readonly number[],
  scheme: InitScheme,
  rng: Rng,
  layout: WeightLayout = 'in-out',
): Float32Array {
  validateInitScheme(scheme);
  checkShape(data, shape);
  if (layout !== 'in-out' && layout !== 'out-in') {
    throw new Error(`initialize: layout must be "in-out" or "out-in", got ${describeValue(layout)}.`);
  }
  if (data.length === 0) return data;

  switch (scheme.type) {
    case 'normal':
      return rng.fillNormal(data, scheme.mean ?? 0, scheme.std) as Float32Array;
    case 'truncated-normal': {
      const mean = scheme.mean ?? 0;
      const a = scheme.a ?? -2;
      const b = scheme.b ?? 2;
      for (let i = 0; i < data.length; i++) data[i] = rng.truncatedNormal(mean, scheme.std, a, b);
      return data;
    }
    case 'xavier-normal':
    case 'xavier-uniform': {
      const { fanIn, fanOut } = fans(shape, layout);
      const std = (scheme.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
      if (scheme.type === 'xavier-normal') return rng.fillNormal(data, 0, std) as Float32Array;
      const bound = Math.sqrt(3) * std;
      return rng.fillUniform(data, -bound, bound) as Float32Array;
    }
    case 'kaiming-uniform': {
      const { fanIn, fanOut } = fans(shape, layout);
      const fan = scheme.mode === 'fan_out' ? fanOut : fanIn;
      const a = scheme.a ?? 0;
      const gain = Math.sqrt(2 / (1 + a * a));
      const bound = gain * Math.sqrt(3 / fan);
      return rng.fillUniform(data, -bound, bound) as Float32Array;
    }
    case 'linear-default': {
      const fanIn = scheme.fanIn ?? fans(shape, layout).fanIn;
      const bound = 1 / Math.sqrt(fanIn);
      return rng.fillUniform(data, -bound, bound) as Float32Array;
    }
    case 'embedding-default':
      return rng.fillNormal(data, 0, 1) as Float32Array;
    case 'gpt2-residual':
      return rng.fillNormal(data, 0, 0.02 / Math.sqrt(2 * scheme.nLayer)) as Float32Array;
    case 'zeros':
      return data.fill(0);
    case 'ones':
      return data.fill(1);
    case 'constant':
      return data.fill(scheme.value);
  }
}

/** One rule of `applyInitRules`: parameters whose name matches `pattern` get `scheme`. */
export interface InitRule {
  /** A regular expression, or a glob where `*` matches any run of characters (`h.*.mlp.c_proj.weight`). */
  pattern: RegExp | string;
  scheme: InitScheme;
}

/**
 * Returns a test for `pattern`. A RegExp is copied, and its lastIndex is reset before each test, because
 * `RegExp.prototype.test` with the `g` or `y` flag starts at lastIndex and advances it after a match.
 */
function toMatcher(pattern: RegExp | string, index: number): (name: string) => boolean {
  if (pattern instanceof RegExp) {
    const copy = new RegExp(pattern);
    return (name) => {
      copy.lastIndex = 0;
      return copy.test(name);
    };
  }
  if (typeof pattern !== 'string') {
    throw new Error(
      `applyInitRules: rule ${index} pattern must be a RegExp or a glob string, got ${describeValue(pattern)}.`,
    );
  }
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  const re = new RegExp(`^${escaped}$`);
  return (name) => re.test(name);
}

/**
 * Initializes parameters by name: the first matching rule wins, and parameters that no rule matches are
 * left as they are. Returns the names each rule matched, so a caller can check that every pattern was used.
 */
export function applyInitRules(
  parameters: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  rules: readonly InitRule[],
  rng: Rng,
  layout: WeightLayout = 'in-out',
): string[][] {
  // Patterns and schemes are checked before any parameter changes. A shape error from `initialize` can still
  // stop the loop after earlier parameters were filled.
  const matchers = rules.map((rule, index) => toMatcher(rule.pattern, index));
  for (const rule of rules) validateInitScheme(rule.scheme);
  const matched: string[][] = rules.map(() => []);
  for (const [name, { shape, data }] of parameters) {
    const index = matchers.findIndex((matches) => matches(name));
    if (index < 0) continue;
    initialize(data, shape, rules[index].scheme, rng, layout);
    matched[index].push(name);
  }
  return matched;
}
