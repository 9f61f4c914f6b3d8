import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { applyInitRules, type InitScheme, initialize, validateInitScheme } from './init.js';

/** Casts an invalid scheme past the type checker, as a scheme read from JSON would arrive. */
const unchecked = (scheme: unknown) => scheme as InitScheme;

/** Returns parameters of shape [2, 2] filled with 7, keyed by `names`. */
function parametersNamed(names: string[]) {
  return new Map(names.map((name) => [name, { shape: [2, 2], data: new Float32Array(4).fill(7) }]));
}

describe('applyInitRules', () => {
  const attentionNames = ['attn.0.c_attn.weight', 'attn.1.c_attn.weight', 'attn.2.c_attn.weight'];

  it.each([/attn/g, /attn/y, /attn/gy, /attn/])('matches every name with %s', (pattern) => {
    const parameters = parametersNamed([...attentionNames, 'wte.weight']);
    const matched = applyInitRules(parameters, [{ pattern, scheme: { type: 'ones' } }], new Rng(1));
    expect(matched).toEqual([attentionNames]);
    for (const name of attentionNames) expect(parameters.get(name)!.data[0]).toBe(1);
    expect(parameters.get('wte.weight')!.data[0]).toBe(7);
  });

  it('leaves the caller regexp lastIndex', () => {
    const pattern = /attn/g;
    applyInitRules(parametersNamed(['attn.0.weight']), [{ pattern, scheme: { type: 'ones' } }], new Rng(1));
    expect(pattern.lastIndex).toBe(0);
  });

  it('validates every scheme before filling', () => {
    const parameters = parametersNamed(['a.weight', 'b.weight']);
    const rules = [
      { pattern: /^a/, scheme: { type: 'ones' } as const },
      { pattern: /^b/, scheme: unchecked({ type: 'normal', std: 0 }) },
    ];
    expect(() => applyInitRules(parameters, rules, new Rng(1))).toThrow(/init scheme normal: std must be/);
    expect(parameters.get('a.weight')!.data[0]).toBe(7);
  });

  it('rejects a pattern of another type', () => {
    const rules = [{ pattern: 5 as unknown as string, scheme: { type: 'ones' } as const }];
    expect(() => applyInitRules(parametersNamed(['a']), rules, new Rng(1))).toThrow(
      'applyInitRules: rule 0 pattern must be a RegExp or a glob string, got 5.',
    );
  });
});

describe('initialize', () => {
  const std = 'a finite positive number (use the constant scheme for a fixed value)';
  const valid: InitScheme[] = [
    { type: 'normal', std: 0.02 },
    { type: 'normal', mean: 1, std: 0.5 },
    { type: 'truncated-normal', std: 1 },
    { type: 'truncated-normal', mean: 0, std: 1, a: -0.5, b: 0.5 },
    { type: 'xavier-normal', gain: 2 },
    { type: 'xavier-uniform' },
    { type: 'kaiming-uniform', a: Math.sqrt(5), mode: 'fan_out' },
    { type: 'linear-default', fanIn: 3 },
    { type: 'embedding-default' },
    { type: 'gpt2-residual', nLayer: 12 },
    { type: 'zeros' },
    { type: 'ones' },
    { type: 'constant', value: -3 },
  ];

  it.each(valid)('fills finite values for $type', (scheme) => {
    const data = initialize(new Float32Array(12).fill(Number.NaN), [3, 4], scheme, new Rng(1));
    expect(data.every(Number.isFinite)).toBe(true);
  });

  it('rejects an unknown scheme', () => {
    const data = new Float32Array(4).fill(7);
    expect(() => initialize(data, [2, 2], unchecked({ type: 'he-normal' }), new Rng(1))).toThrow(
      'init scheme: type must be one of normal, truncated-normal, xavier-normal, xavier-uniform, kaiming-uniform, linear-default, embedding-default, gpt2-residual, zeros, ones, constant, got "he-normal".',
    );
    expect(data[0]).toBe(7);
  });

  it('rejects a non-object scheme', () => {
    expect(() => validateInitScheme(unchecked('normal'))).toThrow(
      'init scheme: expected an object with a type, got "normal".',
    );
  });

  it.each([
    { option: 'std', value: 0, scheme: { type: 'normal' }, expected: std },
    { option: 'std', value: -1, scheme: { type: 'normal' }, expected: std },
    { option: 'std', value: Number.NaN, scheme: { type: 'normal' }, expected: std },
    {
      option: 'mean',
      value: Number.POSITIVE_INFINITY,
      scheme: { type: 'normal', std: 1 },
      expected: 'a finite number',
    },
    { option: 'std', value: 0, scheme: { type: 'truncated-normal' }, expected: std },
    {
      option: 'a',
      value: Number.NaN,
      scheme: { type: 'truncated-normal', std: 1 },
      expected: 'a finite number',
    },
    {
      option: 'b',
      value: Number.POSITIVE_INFINITY,
      scheme: { type: 'truncated-normal', std: 1 },
      expected: 'a finite number',
    },
    { option: 'gain', value: 0, scheme: { type: 'xavier-normal' }, expected: 'a finite positive number' },
    {
      option: 'gain',
      value: Number.POSITIVE_INFINITY,
      scheme: { type: 'xavier-uniform' },
      expected: 'a finite positive number',
    },
    { option: 'a', value: Number.NaN, scheme: { type: 'kaiming-uniform' }, expected: 'a finite number' },
    {
      option: 'mode',
      value: 'fan-out',
      scheme: { type: 'kaiming-uniform' },
      expected: '"fan_in" or "fan_out"',
    },
    { option: 'fanIn', value: 0, scheme: { type: 'linear-default' }, expected: 'a positive integer' },
    { option: 'fanIn', value: 2.5, scheme: { type: 'linear-default' }, expected: 'a positive integer' },
    { option: 'nLayer', value: 0, scheme: { type: 'gpt2-residual' }, expected: 'a positive integer' },
    { option: 'value', value: Number.NaN, scheme: { type: 'constant' }, expected: 'a finite number' },
  ])('rejects $scheme.type $option $value', ({ option, value, scheme, expected }) => {
    const got = typeof value === 'string' ? JSON.stringify(value) : String(value);
    const data = new Float32Array(4).fill(7);
    expect(() => initialize(data, [2, 2], unchecked({ ...scheme, [option]: value }), new Rng(1))).toThrow(
      `init scheme ${scheme.type}: ${option} must be ${expected}, got ${got}.`,
    );
    expect(data[0]).toBe(7);
  });

  it.each([
    { option: 'std', scheme: { type: 'normal' } },
    { option: 'std', scheme: { type: 'truncated-normal' } },
    { option: 'nLayer', scheme: { type: 'gpt2-residual' } },
    { option: 'value', scheme: { type: 'constant' } },
  ])('rejects $scheme.type without $option', ({ option, scheme }) => {
    expect(() => validateInitScheme(unchecked(scheme))).toThrow(
      `init scheme ${scheme.type}: ${option} is missing`,
    );
  });

  it.each([
    { a: 1, b: 1 },
    { a: 2, b: -2 },
    { a: 3, b: undefined },
  ])('rejects truncation bounds a=$a b=$b', ({ a, b }) => {
    const scheme = { type: 'truncated-normal', std: 1, a, b } as const;
    expect(() => validateInitScheme(scheme)).toThrow(
      `init scheme truncated-normal: the lower bound a must be less than the upper bound b, got a = ${a} and b = ${b ?? 2}.`,
    );
  });

  it('rejects an unknown option', () => {
    expect(() => validateInitScheme(unchecked({ type: 'normal', std: 1, stdev: 2 }))).toThrow(
      'init scheme normal: unknown option "stdev", expected only type, mean, std.',
    );
  });

  it('rejects a shape of another size', () => {
    expect(() => initialize(new Float32Array(4), [2, 3], { type: 'ones' }, new Rng(1))).toThrow(
      "initialize: shape [2,3] has 6 elements but data has 4, so pass the tensor's own shape.",
    );
  });

  it('rejects a non-integer dimension', () => {
    expect(() => initialize(new Float32Array(4), [2, 2.5], { type: 'ones' }, new Rng(1))).toThrow(
      'initialize: shape must be a list of non-negative integers, got [2,2.5].',
    );
  });

  it('rejects an unknown layout', () => {
    const layout = 'row-major' as unknown as 'in-out';
    expect(() => initialize(new Float32Array(4), [2, 2], { type: 'ones' }, new Rng(1), layout)).toThrow(
      'initialize: layout must be "in-out" or "out-in", got "row-major".',
    );
  });

  it('leaves an empty tensor as is', () => {
    const data = new Float32Array(0);
    expect(initialize(data, [0, 4], { type: 'kaiming-uniform' }, new Rng(1))).toBe(data);
  });
});
