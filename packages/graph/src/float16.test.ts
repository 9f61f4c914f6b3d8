import { describe, expect, it } from 'vitest';
import { float16Bits, float16Value } from './float16.js';

describe('float16Bits', () => {
  it('encodes exact values', () => {
    expect(float16Bits(0)).toBe(0x0000);
    expect(float16Bits(-0)).toBe(0x8000);
    expect(float16Bits(1)).toBe(0x3c00);
    expect(float16Bits(-2)).toBe(0xc000);
    expect(float16Bits(65504)).toBe(0x7bff);
    expect(float16Bits(2 ** -14)).toBe(0x0400);
    expect(float16Bits(2 ** -24)).toBe(0x0001);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 lies halfway between 1 and the next value 1 + 2^-10: ties go to the even mantissa 1.
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // 1/3 = 0x3555 in numpy.
    expect(float16Bits(1 / 3)).toBe(0x3555);
    expect(float16Bits(0.1)).toBe(0x2e66);
  });

  it('overflows, underflows and keeps NaN', () => {
    expect(float16Bits(65520)).toBe(0x7c00);
    expect(float16Bits(1e6)).toBe(0x7c00);
    expect(float16Bits(-Infinity)).toBe(0xfc00);
    expect(float16Bits(2 ** -26)).toBe(0x0000);
    // 1.5 * 2^-24 is halfway between the two smallest subnormals: ties to even gives 2 * 2^-24.
    expect(float16Bits(1.5 * 2 ** -24)).toBe(0x0002);
    expect(Number.isNaN(float16Value(float16Bits(Number.NaN)))).toBe(true);
  });

  it('round-trips every finite pattern', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponent = (bits >>> 10) & 0x1f;
      if (exponent === 0x1f) continue;
      expect(float16Bits(float16Value(bits))).toBe(bits);
    }
  });
});
