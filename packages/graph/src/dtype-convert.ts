// Conversions between float32 and the 16-bit float formats IEEE 754 binary16 (float16) and bfloat16.
// Both 16-bit formats are handled as raw bit patterns in Uint16Array, because JavaScript has no
// 16-bit float type that works in every supported runtime.

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

function float32Bits(value: number): number {
  scratchFloat[0] = value;
  return scratchBits[0];
}

function float32FromBits(bits: number): number {
  scratchBits[0] = bits;
  return scratchFloat[0];
}

/**
 * Converts float32 bits to float16 bits with round-to-nearest-even. Values beyond the float16 range
 * become infinities, tiny values become float16 subnormals or signed zeros, and NaNs stay quiet NaNs
 * that keep the top payload bits.
 */
function float16BitsFromFloat32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00;
    return sign | 0x7e00 | (mantissa >>> 13);
  }

  // Exponents 113..142 are the float16 normal range (unbiased -14..15). Rounding can carry into the
  // exponent field, which correctly turns the largest values into the next power of two or infinity.
  if (exponent >= 113) {
    if (exponent > 142) return sign | 0x7c00;
    let half = sign | ((exponent - 112) << 10) | (mantissa >>> 13);
    const remainder = mantissa & 0x1fff;
    if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1;
    return half;
  }

  // Float16 subnormals are multiples of 2^-24. The float32 value is significand * 2^(exponent - 150),
  // so shifting the 24-bit significand right by (126 - exponent) gives the count of 2^-24 units.
  const shift = 126 - exponent;
  if (shift > 24) return sign;
  const significand = mantissa | 0x800000;
  let units = significand >>> shift;
  const remainder = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (remainder > halfway || (remainder === halfway && (units & 1) === 1)) units += 1;
  return sign | units;
}

function float32BitsFromFloat16Bits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;

  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;

  // A float16 subnormal is mantissa * 2^-24, which float32 represents exactly as a normal number.
  return float32Bits((sign !== 0 ? -mantissa : mantissa) * 2 ** -24);
}

function bfloat16BitsFromFloat32Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return ((bits >>> 16) | 0x40) & 0xffff;
  }
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

/** Converts a number, first rounded to float32, to float16 bits with round-to-nearest-even. */
export function float32ToFloat16Bits(value: number): number {
  return float16BitsFromFloat32Bits(float32Bits(value));
}

/** Converts float16 bits to the float32 value they encode, returned as a number. */
export function float16BitsToFloat32(bits: number): number {
  return float32FromBits(float32BitsFromFloat16Bits(bits & 0xffff));
}

/**
 * Converts a number, first rounded to float32, to bfloat16 bits with round-to-nearest-even, as
 * PyTorch's `tensor.to(torch.bfloat16)` does. NaNs stay quiet NaNs.
 */
export function float32ToBfloat16Bits(value: number): number {
  return bfloat16BitsFromFloat32Bits(float32Bits(value));
}

/** Converts bfloat16 bits to the float32 value they encode, returned as a number. */
export function bfloat16BitsToFloat32(bits: number): number {
  return float32FromBits((bits & 0xffff) << 16);
}

/** Converts every element of a float32 array to float16 bits. */
export function float32ArrayToFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const input = values instanceof Float32Array ? values : Float32Array.from(values);
  const inputBits = new Uint32Array(input.buffer, input.byteOffset, input.length);
  const output = new Uint16Array(input.length);
  for (let i = 0; i < input.length; i++) output[i] = float16BitsFromFloat32Bits(inputBits[i]);
  return output;
}

/** Converts an array of float16 bits to float32 values. */
export function float16BitsArrayToFloat32(bits: Uint16Array): Float32Array {
  const output = new Float32Array(bits.length);
  const outputBits = new Uint32Array(output.buffer);
  for (let i = 0; i < bits.length; i++) outputBits[i] = float32BitsFromFloat16Bits(bits[i]);
  return output;
}

/** Converts every element of a float32 array to bfloat16 bits. */
export function float32ArrayToBfloat16Bits(values: ArrayLike<number>): Uint16Array {
  const input = values instanceof Float32Array ? values : Float32Array.from(values);
  const inputBits = new Uint32Array(input.buffer, input.byteOffset, input.length);
  const output = new Uint16Array(input.length);
  for (let i = 0; i < input.length; i++) output[i] = bfloat16BitsFromFloat32Bits(inputBits[i]);
  return output;
}

/** Converts an array of bfloat16 bits to float32 values. */
export function bfloat16BitsArrayToFloat32(bits: Uint16Array): Float32Array {
  const output = new Float32Array(bits.length);
  const outputBits = new Uint32Array(output.buffer);
  for (let i = 0; i < bits.length; i++) outputBits[i] = bits[i] << 16;
  return output;
}
