import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from './rng.js';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  fromFloat32,
  parseSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsData,
  type SafetensorsDtype,
  SafetensorsError,
  serializeSafetensors,
  type TensorEntry,
  toFloat32,
} from './safetensors.js';

const PYTHON = '/usr/bin/python3';
const INTEROP_SCRIPT = fileURLToPath(new URL('./testdata/safetensors_interop.py', import.meta.url));
const torchCheck = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchCheck.status === 0;
const noTorchReason = `skipped: ${PYTHON} cannot import torch (${(torchCheck.stderr || String(torchCheck.error)).trim().split('\n').pop()})`;

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'glassbox-safetensors-'));
afterAll(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

function runInterop(args: string[], input?: string): unknown {
  const result = spawnSync(PYTHON, [INTEROP_SCRIPT, ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 << 20,
  });
  if (result.status !== 0) {
    throw new Error(
      `${INTEROP_SCRIPT} ${args.join(' ')} failed with status ${result.status}: ${result.stderr}`,
    );
  }
  return JSON.parse(result.stdout);
}

/** Builds a safetensors file from a header object (or raw JSON text) and a data buffer. */
function craft(header: unknown, buffer: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const bytes = new Uint8Array(8 + json.length + buffer.length);
  new DataView(bytes.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(buffer, 8 + json.length);
  return bytes;
}

function headerOf(bytes: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, text: new TextDecoder().decode(bytes.subarray(8, 8 + length)) };
}

/** Encodes elements as in the Python helper: float bit patterns and integers as decimal strings. */
function encodeBits(dtype: SafetensorsDtype, data: SafetensorsData): string[] {
  if (dtype === 'F64')
    return Array.from(new BigUint64Array(data.buffer, data.byteOffset, data.length), String);
  if (dtype === 'F32') return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length), String);
  return Array.from(data as ArrayLike<number | bigint>, String);
}

function float32Bits(values: Float32Array): string[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length), String);
}

function randomEntry(dtype: SafetensorsDtype, shape: number[], rng: Rng): TensorEntry {
  const count = shape.reduce((a, b) => a * b, 1);
  const byteSizes: Partial<Record<SafetensorsDtype, number>> = {
    I64: 8,
    U64: 8,
    I32: 4,
    U32: 4,
    F16: 2,
    BF16: 2,
    I16: 2,
    U16: 2,
  };
  const raw = new Uint8Array(count * (byteSizes[dtype] ?? 1));
  for (let i = 0; i < raw.length; i++) raw[i] = rng.randint(0, 256);
  const buffer = raw.buffer;
  const data: Record<SafetensorsDtype, () => SafetensorsData> = {
    F64: () => Float64Array.from({ length: count }, () => rng.normal(0, 1e3)),
    F32: () => Float32Array.from({ length: count }, () => rng.normal()),
    F16: () => new Uint16Array(buffer),
    BF16: () => new Uint16Array(buffer),
    I64: () => new BigInt64Array(buffer),
    I32: () => new Int32Array(buffer),
    I16: () => new Int16Array(buffer),
    I8: () => new Int8Array(buffer),
    U64: () => new BigUint64Array(buffer),
    U32: () => new Uint32Array(buffer),
    U16: () => new Uint16Array(buffer),
    U8: () => new Uint8Array(buffer),
    BOOL: () => Uint8Array.from({ length: count }, () => rng.randint(0, 2)),
  };
  return { dtype, shape, data: data[dtype]() };
}

describe('serialize and parse', () => {
  it('round-trips every dtype', () => {
    const rng = new Rng(1);
    const tensors = new Map<string, TensorEntry>();
    for (const [i, dtype] of SAFETENSORS_DTYPES.entries()) {
      tensors.set(`t.${dtype}`, randomEntry(dtype, [2, i + 1, 3], rng));
    }
    tensors.set('scalar', { dtype: 'F32', shape: [], data: new Float32Array([4.5]) });
    tensors.set('empty', { dtype: 'I64', shape: [0, 7], data: new BigInt64Array(0) });

    const parsed = parseSafetensors(serializeSafetensors(tensors, { format: 'pt', step: '12' }));
    expect(parsed.metadata).toEqual({ format: 'pt', step: '12' });
    expect([...parsed.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, entry] of tensors) {
      const read = parsed.tensors.get(name)!;
      expect(read.dtype, name).toBe(entry.dtype);
      expect(read.shape, name).toEqual(entry.shape);
      expect(read.data.constructor, name).toBe(entry.data.constructor);
      expect(encodeBits(read.dtype, read.data), name).toEqual(encodeBits(entry.dtype, entry.data));
    }
  });

  it('accepts a plain object of tensors', () => {
    const bytes = serializeSafetensors({ w: { dtype: 'I32', shape: [2], data: new Int32Array([-1, 2]) } });
    expect(Array.from(parseSafetensors(bytes).tensors.get('w')!.data as Int32Array)).toEqual([-1, 2]);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    for (const name of ['a', 'ab', 'abc', 'abcd', 'abcde', 'long.tensor.name.é']) {
      const bytes = serializeSafetensors({ [name]: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) } });
      const { length, text } = headerOf(bytes);
      expect(length % 8).toBe(0);
      expect(text).toMatch(/^\{.*\} *$/);
      expect(JSON.parse(text)[name].data_offsets).toEqual([0, 1]);
    }
  });

  it('omits empty metadata', () => {
    const tensors = { w: { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) } };
    expect(headerOf(serializeSafetensors(tensors)).text).not.toContain('__metadata__');
    expect(headerOf(serializeSafetensors(tensors, {})).text).not.toContain('__metadata__');
    expect(JSON.parse(headerOf(serializeSafetensors(tensors, { a: 'b' })).text).__metadata__).toEqual({
      a: 'b',
    });
  });

  it('orders by alignment, then name', () => {
    const rng = new Rng(2);
    const bytes = serializeSafetensors({
      'z.u8': randomEntry('U8', [3], rng),
      'b.f32': randomEntry('F32', [3], rng),
      'a.f32': randomEntry('F32', [1], rng),
      'c.f16': randomEntry('F16', [3], rng),
      'd.i64': randomEntry('I64', [2], rng),
      'e.f64': randomEntry('F64', [1], rng),
      'B.f32': randomEntry('F32', [1], rng),
    });
    const { length, text } = headerOf(bytes);
    const header = JSON.parse(text) as Record<
      string,
      { dtype: SafetensorsDtype; data_offsets: [number, number] }
    >;
    const order = Object.entries(header)
      .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])
      .map(([name]) => name);
    expect(order).toEqual(['d.i64', 'e.f64', 'B.f32', 'a.f32', 'b.f32', 'c.f16', 'z.u8']);
    const sizes: Partial<Record<SafetensorsDtype, number>> = { I64: 8, F64: 8, F32: 4, F16: 2, U8: 1 };
    for (const [name, info] of Object.entries(header)) {
      expect((8 + length + info.data_offsets[0]) % sizes[info.dtype]!, name).toBe(0);
    }
  });

  it('orders names by code point', () => {
    // UTF-16 order puts U+FF21 after U+1F600's surrogates; UTF-8 byte order puts it before.
    const bytes = serializeSafetensors({
      '\u{1F600}': { dtype: 'U8', shape: [1], data: new Uint8Array([1]) },
      '\uFF21': { dtype: 'U8', shape: [1], data: new Uint8Array([2]) },
    });
    const header = JSON.parse(headerOf(bytes).text);
    expect(header['\uFF21'].data_offsets).toEqual([0, 1]);
    expect(header['\u{1F600}'].data_offsets).toEqual([1, 2]);
  });

  it('parses unaligned tensor offsets', () => {
    const header = {
      a: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
      b: { dtype: 'F32', shape: [2], data_offsets: [3, 11] },
      c: { dtype: 'I64', shape: [1], data_offsets: [11, 19] },
    };
    const buffer = new Uint8Array(19);
    const view = new DataView(buffer.buffer);
    buffer.set([1, 2, 3]);
    view.setFloat32(3, 1.5, true);
    view.setFloat32(7, -2.25, true);
    view.setBigInt64(11, -(2n ** 40n), true);
    const file = craft(header, buffer);
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);

    const parsed = parseSafetensors(shifted.subarray(1));
    expect(Array.from(parsed.tensors.get('a')!.data as Uint8Array)).toEqual([1, 2, 3]);
    expect(Array.from(parsed.tensors.get('b')!.data as Float32Array)).toEqual([1.5, -2.25]);
    expect(Array.from(parsed.tensors.get('c')!.data as BigInt64Array)).toEqual([-(2n ** 40n)]);
    expect(parsed.tensors.get('b')!.data.buffer).not.toBe(shifted.buffer);
  });

  it('accepts null metadata', () => {
    const parsed = parseSafetensors(craft({ __metadata__: null }));
    expect(parsed.metadata).toEqual({});
    expect(parsed.tensors.size).toBe(0);
  });
});

describe('parse validation', () => {
  const source = '/checkpoints/model.safetensors';
  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({
    dtype: 'F32',
    shape,
    data_offsets: [begin, end],
  });

  function parseError(bytes: Uint8Array): SafetensorsError {
    try {
      parseSafetensors(bytes, source);
    } catch (error) {
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message).toContain(source);
      return error as SafetensorsError;
    }
    throw new Error('parseSafetensors accepted invalid data');
  }

  it('rejects files shorter than 8 bytes', () => {
    expect(parseError(new Uint8Array(5)).message).toMatch(
      /5 bytes long, shorter than the 8-byte header length/,
    );
  });

  it('rejects a header length beyond the file', () => {
    expect(parseError(craft({}, new Uint8Array(0), 100n)).message).toMatch(
      /header length 100 exceeds the 2 bytes/,
    );
  });

  it('rejects absurd header lengths', () => {
    expect(parseError(craft({}, new Uint8Array(0), 2n ** 40n)).message).toMatch(
      /exceeds the limit of 100000000 bytes/,
    );
  });

  it('rejects headers that are not UTF-8', () => {
    const bytes = craft('{"a":1}');
    bytes[10] = 0xff;
    expect(parseError(bytes).message).toMatch(/not valid UTF-8/);
  });

  it('rejects headers that are not JSON', () => {
    expect(parseError(craft('{"a": ')).message).toMatch(/not valid JSON/);
  });

  it('rejects headers that are not objects', () => {
    expect(parseError(craft('[1, 2]')).message).toMatch(/must be a JSON object, got an array/);
    expect(parseError(craft('null')).message).toMatch(/must be a JSON object, got object/);
    expect(parseError(craft('42')).message).toMatch(/must be a JSON object, got number/);
  });

  it('rejects tensor entries that are not objects', () => {
    const error = parseError(craft({ weight: [1, 2] }));
    expect(error.tensor).toBe('weight');
    expect(error.message).toMatch(/tensor "weight": entry must be an object/);
  });

  it('rejects unknown dtypes and lists the supported ones', () => {
    const error = parseError(
      craft({ 'h.0.mlp': { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
    );
    expect(error.message).toContain('tensor "h.0.mlp"');
    expect(error.message).toContain('"F8_E4M3" is not supported');
    expect(error.message).toContain(
      'supported: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL',
    );
  });

  it('rejects invalid shapes', () => {
    for (const shape of [[-1], [1.5], '2', [[2]], null, [2 ** 60]]) {
      const error = parseError(
        craft({ w: { dtype: 'F32', shape, data_offsets: [0, 4] } }, new Uint8Array(4)),
      );
      expect(error.message, JSON.stringify(shape)).toMatch(
        /tensor "w": shape must be an array of non-negative integers/,
      );
    }
  });

  it('rejects invalid data_offsets', () => {
    for (const offsets of [[0], [0, 4, 8], ['0', '4'], [0.5, 4], [-4, 0], null]) {
      const error = parseError(
        craft({ w: { dtype: 'F32', shape: [1], data_offsets: offsets } }, new Uint8Array(4)),
      );
      expect(error.message, JSON.stringify(offsets)).toMatch(
        /tensor "w": data_offsets must be \[begin, end\]/,
      );
    }
    const reversed = parseError(
      craft({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)),
    );
    expect(reversed.message).toMatch(/tensor "w": data_offsets \[4, 0\] end before they begin/);
  });

  it('rejects a byte length that does not match the shape', () => {
    const error = parseError(craft({ w: f32(0, 8, [3]) }, new Uint8Array(8)));
    expect(error.message).toMatch(
      /tensor "w": data_offsets \[0, 8\] span 8 bytes, but shape \[3\] of F32 needs 12/,
    );
  });

  it('rejects shapes with too many bytes', () => {
    const error = parseError(craft({ w: f32(0, 8, [2 ** 26, 2 ** 26, 2 ** 4]) }, new Uint8Array(8)));
    expect(error.message).toMatch(/tensor "w": shape .* has too many elements/);
  });

  it('rejects offsets beyond the buffer', () => {
    const error = parseError(craft({ a: f32(0, 4), b: f32(4, 12) }, new Uint8Array(8)));
    expect(error.message).toMatch(
      /tensor "b": data_offsets \[4, 12\] extend past the end of the 8-byte data buffer/,
    );
  });

  it('rejects overlapping tensors', () => {
    const error = parseError(craft({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)));
    expect(error.tensor).toBe('b');
    expect(error.message).toMatch(/tensor "b": data_offsets \[4, 12\] overlap tensor "a" at \[0, 8\]/);
  });

  it('rejects gaps between tensors', () => {
    const error = parseError(craft({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12)));
    expect(error.message).toMatch(
      /tensor "b": data_offsets \[8, 12\] leave bytes 4 to 8 of the data buffer unused/,
    );
    const leading = parseError(craft({ a: f32(4, 8) }, new Uint8Array(8)));
    expect(leading.message).toMatch(/tensor "a": .* leave bytes 0 to 4/);
  });

  it('rejects unused bytes after the last tensor', () => {
    const error = parseError(craft({ a: f32(0, 4) }, new Uint8Array(6)));
    expect(error.message).toMatch(/tensors cover 4 bytes but the data buffer has 6/);
  });

  it('rejects metadata that is not a string map', () => {
    const nonString = parseError(craft({ __metadata__: { epoch: 3 } }));
    expect(nonString.message).toMatch(/"__metadata__" value for key "epoch" must be a string, got 3/);
    const notObject = parseError(craft({ __metadata__: ['a'] }));
    expect(notObject.message).toMatch(/"__metadata__" must be an object of strings/);
  });

  it('uses a placeholder name for in-memory bytes', () => {
    expect(() => parseSafetensors(new Uint8Array(3))).toThrow(/in <in-memory bytes>/);
  });
});

describe('serialize validation', () => {
  it('rejects data of the wrong typed array', () => {
    expect(() =>
      serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float64Array(1) } }),
    ).toThrow(/tensor "w": F32 data must be a Float32Array, got Float64Array/);
  });

  it('rejects a shape that does not match the data length', () => {
    expect(() =>
      serializeSafetensors({ w: { dtype: 'I32', shape: [2, 2], data: new Int32Array(3) } }),
    ).toThrow(/tensor "w": shape \[2,2\] has 4 elements but data has 3/);
  });

  it('rejects unknown dtypes and invalid shapes', () => {
    const unknown = { dtype: 'F8' as SafetensorsDtype, shape: [1], data: new Uint8Array(1) };
    expect(() => serializeSafetensors({ w: unknown })).toThrow(/tensor "w": dtype "F8" is not supported/);
    expect(() => serializeSafetensors({ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(1) } })).toThrow(
      /tensor "w": shape must be/,
    );
  });

  it('rejects reserved names and non-string metadata', () => {
    const entry = { dtype: 'U8' as const, shape: [1], data: new Uint8Array(1) };
    expect(() => serializeSafetensors({ __metadata__: entry })).toThrow(/reserved for metadata/);
    expect(() =>
      serializeSafetensors({ w: entry }, { step: 3 } as unknown as Record<string, string>),
    ).toThrow(/metadata value for key "step" must be a string/);
  });
});

describe('float conversions', () => {
  it('converts known float16 values', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [-0, 0x8000],
      [1e-10, 0x0000],
    ];
    for (const [value, bits] of cases) expect(float32ToFloat16Bits(value), String(value)).toBe(bits);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN)))).toBe(true);
  });

  it('round-trips every float16 and bfloat16 bit pattern', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const half = float16BitsToFloat32(bits);
      const brain = bfloat16BitsToFloat32(bits);
      if (Number.isNaN(half)) {
        expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(half)))).toBe(true);
      } else if (float32ToFloat16Bits(half) !== bits) {
        expect.fail(
          `float16 bits 0x${bits.toString(16)} (${half}) round-trip to 0x${float32ToFloat16Bits(half).toString(16)}`,
        );
      }
      if (Number.isNaN(brain)) {
        expect(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(brain)))).toBe(true);
      } else if (float32ToBfloat16Bits(brain) !== bits) {
        expect.fail(
          `bfloat16 bits 0x${bits.toString(16)} (${brain}) round-trip to 0x${float32ToBfloat16Bits(brain).toString(16)}`,
        );
      }
    }
  });

  it('converts known bfloat16 values', () => {
    expect(float32ToBfloat16Bits(1)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16Bits(3.4e38)).toBe(0x7f80);
    expect(bfloat16BitsToFloat32(0xc040)).toBe(-3);
  });

  it('toFloat32 converts every dtype', () => {
    const cases: Array<[TensorEntry, number[]]> = [
      [{ dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc100]) }, [1, -2.5]],
      [{ dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc020]) }, [1, -2.5]],
      [{ dtype: 'I64', shape: [2], data: new BigInt64Array([-3n, 2n ** 40n]) }, [-3, 2 ** 40]],
      [{ dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 63n]) }, [2 ** 63]],
      [{ dtype: 'I32', shape: [2], data: new Int32Array([-7, 9]) }, [-7, 9]],
      [{ dtype: 'F64', shape: [1], data: new Float64Array([0.1]) }, [Math.fround(0.1)]],
      [{ dtype: 'U8', shape: [1], data: new Uint8Array([200]) }, [200]],
      [{ dtype: 'I8', shape: [1], data: new Int8Array([-100]) }, [-100]],
      [{ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }, [1, 0]],
    ];
    for (const [entry, expected] of cases) {
      expect(Array.from(toFloat32(entry)), entry.dtype).toEqual(expected);
    }
    const f32 = new Float32Array([1, 2]);
    expect(toFloat32({ dtype: 'F32', shape: [2], data: f32 })).toBe(f32);
  });

  it('fromFloat32 builds 16-bit entries', () => {
    const values = new Float32Array([1, -2.5, 65504]);
    expect(Array.from(fromFloat32(values, [3], 'F16').data as Uint16Array)).toEqual([0x3c00, 0xc100, 0x7bff]);
    expect(Array.from(toFloat32(fromFloat32(values, [3], 'BF16')))).toEqual([1, -2.5, 65536]);
    expect(fromFloat32(values, [1, 3]).data).toBe(values);
    expect(() => fromFloat32(values, [2])).toThrow(/shape \[2\] has 2 elements but values has 3/);
  });
});

describe('Python interoperability', () => {
  it.skipIf(!hasTorch)(`parses a file written by Python${hasTorch ? '' : ` (${noTorchReason})`}`, () => {
    const path = join(temporaryDirectory, 'python-written.safetensors');
    const expected = runInterop(['write', path]) as Record<
      string,
      { shape: number[]; bits: string[]; float32_bits?: string[] }
    >;
    const parsed = parseSafetensors(readFileSync(path), path);

    expect(parsed.metadata).toEqual({ format: 'pt', note: 'written by hand' });
    expect([...parsed.tensors.keys()]).toEqual(Object.keys(expected));
    for (const [name, entry] of parsed.tensors) {
      expect(entry.shape, name).toEqual(expected[name].shape);
      expect(encodeBits(entry.dtype, entry.data), name).toEqual(expected[name].bits);
      if (expected[name].float32_bits) {
        expect(float32Bits(toFloat32(entry)), name).toEqual(expected[name].float32_bits);
      }
    }
  });

  it.skipIf(!hasTorch)(`writes a file that Python parses${hasTorch ? '' : ` (${noTorchReason})`}`, () => {
    const rng = new Rng(5);
    const tensors = new Map<string, TensorEntry>();
    for (const dtype of ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'] as const) {
      tensors.set(`layer.${dtype.toLowerCase()}`, randomEntry(dtype, [3, 2], rng));
    }
    tensors.set(
      'wte.weight',
      fromFloat32(rng.fillNormal(new Float32Array(12), 0, 0.02) as Float32Array, [4, 3]),
    );
    tensors.set('scalar', { dtype: 'F32', shape: [], data: new Float32Array([-0.5]) });
    // Finite float16 and bfloat16 bit patterns, so the float32 comparison below does not see NaN payloads.
    tensors.set('half', { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0x0001, 0xfbff]) });
    tensors.set('brain', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x8001]) });
    const path = join(temporaryDirectory, 'typescript-written.safetensors');
    writeFileSync(path, serializeSafetensors(tensors, { config: '{"n_layer": 2}' }));

    const read = runInterop(['read', path]) as {
      tensors: Record<string, { shape: number[]; bits: string[]; float32_bits?: string[] }>;
      metadata: Record<string, string>;
      aligned: boolean;
      contiguous: boolean;
      header_length: number;
      order: string[];
    };
    expect(read.metadata).toEqual({ config: '{"n_layer": 2}' });
    expect(read.aligned).toBe(true);
    expect(read.contiguous).toBe(true);
    expect(read.header_length % 8).toBe(0);
    expect(read.order).toEqual([
      'layer.i64',
      'layer.f64',
      'layer.f32',
      'scalar',
      'wte.weight',
      'layer.i32',
      'brain',
      'layer.bf16',
      'half',
      'layer.f16',
      'layer.i16',
      'layer.i8',
      'layer.u8',
      'layer.bool',
    ]);
    for (const [name, entry] of tensors) {
      expect(read.tensors[name].shape, name).toEqual(entry.shape);
      expect(read.tensors[name].bits, name).toEqual(encodeBits(entry.dtype, entry.data));
    }
    expect(read.tensors.half.float32_bits).toEqual(float32Bits(toFloat32(tensors.get('half')!)));
    expect(read.tensors.brain.float32_bits).toEqual(float32Bits(toFloat32(tensors.get('brain')!)));
  });

  it.skipIf(!hasTorch)(
    `rounds to float16 and bfloat16 like torch${hasTorch ? '' : ` (${noTorchReason})`}`,
    () => {
      const rng = new Rng(6);
      const values: number[] = [
        0,
        -0,
        1,
        65504,
        65519.99,
        65520,
        1e6,
        2 ** -24,
        2 ** -25,
        3 * 2 ** -25,
        2 ** -26,
        1e-45,
        2 ** -14,
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        1 + 2 ** -8,
        1 + 3 * 2 ** -8,
        3.4e38,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
      ];
      for (let i = 0; i < 2000; i++) values.push(rng.normal() * 2 ** rng.randint(-30, 20));
      // Random bit patterns cover subnormals, ties and every exponent, but NaN payload handling differs between
      // implementations, so NaNs are compared only as NaN below.
      for (let i = 0; i < 20_000; i++) {
        const bits = rng.nextUint32();
        if ((bits & 0x7f800000) !== 0x7f800000)
          values.push(new Float32Array(new Uint32Array([bits]).buffer)[0]);
      }
      const inputBits = float32Bits(Float32Array.from(values)).map(Number);
      const torchBits = runInterop(['convert'], JSON.stringify([...inputBits, 0x7fc00000])) as {
        f16: string[];
        bf16: string[];
      };

      const f16Mismatches: string[] = [];
      const bf16Mismatches: string[] = [];
      values.forEach((value, i) => {
        const half = float32ToFloat16Bits(value);
        const brain = float32ToBfloat16Bits(value);
        if (String(half) !== torchBits.f16[i])
          f16Mismatches.push(`${value}: ${half} vs torch ${torchBits.f16[i]}`);
        if (String(brain) !== torchBits.bf16[i])
          bf16Mismatches.push(`${value}: ${brain} vs torch ${torchBits.bf16[i]}`);
      });
      expect(f16Mismatches).toEqual([]);
      expect(bf16Mismatches).toEqual([]);

      // The last input is a quiet NaN, which both implementations must keep a NaN.
      expect(Number.isNaN(float16BitsToFloat32(Number(torchBits.f16[values.length])))).toBe(true);
      expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN)))).toBe(true);
      expect(Number.isNaN(bfloat16BitsToFloat32(Number(torchBits.bf16[values.length])))).toBe(true);
      expect(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(Number.NaN)))).toBe(true);
    },
  );
});
