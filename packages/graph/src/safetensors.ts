// Reading and writing the safetensors format (https://github.com/huggingface/safetensors), following
// the validation and layout rules of its Rust reference implementation. This module has no Node.js
// imports, so it also runs in browsers.
//
// File layout: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {key: value}}`, then the byte
// buffer. Offsets are relative to the start of the buffer, and the tensors must cover the buffer
// exactly, without gaps or overlaps. All numbers are little-endian.

import {
  bfloat16BitsArrayToFloat32,
  float16BitsArrayToFloat32,
  float32ArrayToBfloat16Bits,
  float32ArrayToFloat16Bits,
} from './dtype-convert.js';

export {
  bfloat16BitsArrayToFloat32,
  bfloat16BitsToFloat32,
  float16BitsArrayToFloat32,
  float16BitsToFloat32,
  float32ArrayToBfloat16Bits,
  float32ArrayToFloat16Bits,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from './dtype-convert.js';

/** Element types that this module reads and writes; FP8 and packed 4-bit types are not supported. */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** Typed array holding a tensor's elements. F16 and BF16 data are raw bit patterns in a Uint16Array. */
export type SafetensorsData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | BigUint64Array
  | Uint32Array
  | Uint8Array;

/** One tensor: its dtype, its shape and its elements in row-major order. */
export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

/** Parsed safetensors file: tensors by name, and the string-to-string `__metadata__` map. */
export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Header entry of one tensor, with offsets relative to the start of the byte buffer. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Validated safetensors header. `dataStart` is the file offset of the byte buffer, 8 + N. */
export interface SafetensorsHeader {
  dataStart: number;
  tensors: SafetensorsTensorInfo[];
  metadata: Record<string, string>;
}

/** Error for an invalid safetensors file or tensor, naming the source and, where known, the tensor. */
export class SafetensorsError extends Error {
  readonly source: string;
  readonly tensor: string | undefined;

  constructor(source: string, message: string, tensor?: string) {
    const where = tensor === undefined ? '' : ` tensor ${JSON.stringify(tensor)}:`;
    super(`Invalid safetensors data in ${source}:${where} ${message}`);
    this.name = 'SafetensorsError';
    this.source = source;
    this.tensor = tensor;
  }
}

type TypedArrayConstructor = new (length: number) => SafetensorsData;

interface DtypeInfo {
  byteSize: number;
  arrayType: TypedArrayConstructor;
  /** Position in the Rust `Dtype` enum, which lists dtypes in increasing alignment order. */
  alignmentRank: number;
}

const DTYPES: Record<SafetensorsDtype, DtypeInfo> = {
  BOOL: { byteSize: 1, arrayType: Uint8Array, alignmentRank: 0 },
  U8: { byteSize: 1, arrayType: Uint8Array, alignmentRank: 1 },
  I8: { byteSize: 1, arrayType: Int8Array, alignmentRank: 2 },
  I16: { byteSize: 2, arrayType: Int16Array, alignmentRank: 3 },
  U16: { byteSize: 2, arrayType: Uint16Array, alignmentRank: 4 },
  F16: { byteSize: 2, arrayType: Uint16Array, alignmentRank: 5 },
  BF16: { byteSize: 2, arrayType: Uint16Array, alignmentRank: 6 },
  I32: { byteSize: 4, arrayType: Int32Array, alignmentRank: 7 },
  U32: { byteSize: 4, arrayType: Uint32Array, alignmentRank: 8 },
  F32: { byteSize: 4, arrayType: Float32Array, alignmentRank: 9 },
  F64: { byteSize: 8, arrayType: Float64Array, alignmentRank: 10 },
  I64: { byteSize: 8, arrayType: BigInt64Array, alignmentRank: 11 },
  U64: { byteSize: 8, arrayType: BigUint64Array, alignmentRank: 12 },
};

/** Dtypes accepted by `parseSafetensors` and `serializeSafetensors`. */
export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
];

/** Maximum header length, the limit of the Rust reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
const DEFAULT_SOURCE = '<in-memory bytes>';
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Returns the byte size of one element of `dtype`. */
export function safetensorsDtypeByteSize(dtype: SafetensorsDtype): number {
  return DTYPES[dtype].byteSize;
}

function isSupportedDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Returns the element count of `shape`, or undefined when it is not a safe integer. */
function elementCount(shape: readonly number[]): number | undefined {
  let count = 1;
  for (const dim of shape) count *= dim;
  return Number.isSafeInteger(count) ? count : undefined;
}

/** Reverses the bytes of each element in place, to convert between little- and big-endian order. */
function swapByteOrder(bytes: Uint8Array, byteSize: number): void {
  if (byteSize === 1) return;
  for (let start = 0; start < bytes.length; start += byteSize) {
    for (let low = start, high = start + byteSize - 1; low < high; low++, high--) {
      const byte = bytes[low];
      bytes[low] = bytes[high];
      bytes[high] = byte;
    }
  }
}

/**
 * Reads and validates the 8-byte header length field, returning the JSON header length N. `prefix`
 * must contain at least the first 8 bytes of the file when the file has that many, and `fileLength`
 * is the length of the whole file. Throws a SafetensorsError that names `source`.
 */
export function parseSafetensorsHeaderLength(
  prefix: Uint8Array,
  fileLength: number,
  source = DEFAULT_SOURCE,
): number {
  if (fileLength < 8) {
    throw new SafetensorsError(
      source,
      `file is ${fileLength} bytes long, shorter than the 8-byte header length`,
    );
  }
  if (prefix.length < 8) {
    throw new RangeError(
      `parseSafetensorsHeaderLength needs the first 8 bytes of ${source}, got ${prefix.length}`,
    );
  }
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      source,
      `header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`,
    );
  }
  if (8 + Number(headerLength) > fileLength) {
    throw new SafetensorsError(
      source,
      `header length ${headerLength} exceeds the ${fileLength - 8} bytes after the length field; the file is truncated or not safetensors`,
    );
  }
  return Number(headerLength);
}

/**
 * Reads and validates the header length and JSON header. `prefix` must contain at least the first
 * 8 + N bytes of the file and `fileLength` is the length of the whole file, so a reader can validate
 * a large file before loading its tensors. Throws a SafetensorsError that names `source`.
 */
export function parseSafetensorsHeader(
  prefix: Uint8Array,
  fileLength: number,
  source = DEFAULT_SOURCE,
): SafetensorsHeader {
  const dataStart = 8 + parseSafetensorsHeaderLength(prefix, fileLength, source);
  if (prefix.length < dataStart) {
    throw new RangeError(
      `parseSafetensorsHeader needs the first ${dataStart} bytes of ${source}, got ${prefix.length}`,
    );
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(prefix.subarray(8, dataStart));
  } catch {
    throw new SafetensorsError(source, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(source, `header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(
      source,
      `header must be a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}`,
    );
  }

  const metadata = parseMetadata(json[METADATA_KEY], source);
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name !== METADATA_KEY) tensors.push(parseTensorInfo(name, value, source));
  }
  checkBufferCoverage(tensors, fileLength - dataStart, source);
  return { dataStart, tensors, metadata };
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined || value === null) return metadata;
  if (!isPlainObject(value)) {
    throw new SafetensorsError(
      source,
      `"${METADATA_KEY}" must be an object of strings, got ${JSON.stringify(value)}`,
    );
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw new SafetensorsError(
        source,
        `"${METADATA_KEY}" value for key ${JSON.stringify(key)} must be a string, got ${JSON.stringify(entry)}`,
      );
    }
    metadata[key] = entry;
  }
  return metadata;
}

function parseTensorInfo(name: string, value: unknown, source: string): SafetensorsTensorInfo {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(source, `entry must be an object with dtype, shape and data_offsets`, name);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSupportedDtype(dtype)) {
    throw new SafetensorsError(
      source,
      `dtype ${JSON.stringify(dtype)} is not supported (supported: ${SAFETENSORS_DTYPES.join(', ')})`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      source,
      `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
      name,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      source,
      `data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`,
      name,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw new SafetensorsError(source, `data_offsets [${begin}, ${end}] end before they begin`, name);
  }

  const count = elementCount(shape);
  const expectedBytes = count === undefined ? undefined : count * DTYPES[dtype].byteSize;
  if (expectedBytes === undefined || !Number.isSafeInteger(expectedBytes)) {
    throw new SafetensorsError(source, `shape ${JSON.stringify(shape)} has too many elements`, name);
  }
  if (end - begin !== expectedBytes) {
    throw new SafetensorsError(
      source,
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape ${JSON.stringify(shape)} of ${dtype} needs ${expectedBytes}`,
      name,
    );
  }
  return { name, dtype, shape: shape.slice(), begin, end };
}

/** Checks that the tensors lie inside the buffer and cover it exactly, as the Rust reference requires. */
function checkBufferCoverage(
  tensors: readonly SafetensorsTensorInfo[],
  bufferLength: number,
  source: string,
): void {
  for (const tensor of tensors) {
    if (tensor.end > bufferLength) {
      throw new SafetensorsError(
        source,
        `data_offsets [${tensor.begin}, ${tensor.end}] extend past the end of the ${bufferLength}-byte data buffer`,
        tensor.name,
      );
    }
  }
  const ordered = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const tensor of ordered) {
    if (tensor.begin < covered) {
      throw new SafetensorsError(
        source,
        `data_offsets [${tensor.begin}, ${tensor.end}] overlap tensor ${JSON.stringify(previous?.name)} at [${previous?.begin}, ${previous?.end}]`,
        tensor.name,
      );
    }
    if (tensor.begin > covered) {
      throw new SafetensorsError(
        source,
        `data_offsets [${tensor.begin}, ${tensor.end}] leave bytes ${covered} to ${tensor.begin} of the data buffer unused`,
        tensor.name,
      );
    }
    covered = tensor.end;
    previous = tensor;
  }
  if (covered !== bufferLength) {
    throw new SafetensorsError(
      source,
      `tensors cover ${covered} bytes but the data buffer has ${bufferLength}; bytes ${covered} to ${bufferLength} are unused`,
    );
  }
}

/**
 * Allocates an aligned typed array for `info` and copies its little-endian bytes from `bytes`, which
 * may start at any offset. Used by readers that load the buffer themselves.
 */
export function createTensorData(info: SafetensorsTensorInfo): { data: SafetensorsData; bytes: Uint8Array } {
  const { byteSize, arrayType } = DTYPES[info.dtype];
  const data = new arrayType((info.end - info.begin) / byteSize);
  return { data, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Converts tensor bytes that were just read in little-endian order to the platform byte order. */
export function fixByteOrderAfterRead(info: SafetensorsTensorInfo, bytes: Uint8Array): void {
  if (!IS_LITTLE_ENDIAN) swapByteOrder(bytes, DTYPES[info.dtype].byteSize);
}

/**
 * Parses a complete safetensors file. Each tensor is copied into its own typed array, so the result is
 * aligned even when the tensor's offset in `bytes` is not, and does not keep `bytes` alive.
 * `source` (usually the file path) is named in every error.
 */
export function parseSafetensors(bytes: Uint8Array, source = DEFAULT_SOURCE): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, bytes.length, source);
  const tensors = new Map<string, TensorEntry>();
  for (const info of header.tensors) {
    const { data, bytes: target } = createTensorData(info);
    target.set(bytes.subarray(header.dataStart + info.begin, header.dataStart + info.end));
    fixByteOrderAfterRead(info, target);
    tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data });
  }
  return { tensors, metadata: header.metadata };
}

/** Compares strings by Unicode code point, which is the byte order of their UTF-8 encodings. */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a, (char) => char.codePointAt(0)!);
  const right = Array.from(b, (char) => char.codePointAt(0)!);
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) {
    if (left[i] !== right[i]) return left[i] - right[i];
  }
  return left.length - right.length;
}

function dataMatchesDtype(data: SafetensorsData, dtype: SafetensorsDtype): boolean {
  const expected = DTYPES[dtype].arrayType as unknown as abstract new (...args: never[]) => unknown;
  return data instanceof expected;
}

function checkEntry(name: string, entry: TensorEntry): void {
  const source = 'serializeSafetensors input';
  if (name === METADATA_KEY) {
    throw new SafetensorsError(
      source,
      `"${METADATA_KEY}" is reserved for metadata and cannot name a tensor`,
      name,
    );
  }
  if (!isSupportedDtype(entry.dtype)) {
    throw new SafetensorsError(
      source,
      `dtype ${JSON.stringify(entry.dtype)} is not supported (supported: ${SAFETENSORS_DTYPES.join(', ')})`,
      name,
    );
  }
  if (!Array.isArray(entry.shape) || !entry.shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      source,
      `shape must be an array of non-negative integers, got ${JSON.stringify(entry.shape)}`,
      name,
    );
  }
  if (!dataMatchesDtype(entry.data, entry.dtype)) {
    throw new SafetensorsError(
      source,
      `${entry.dtype} data must be a ${DTYPES[entry.dtype].arrayType.name}, got ${entry.data?.constructor?.name ?? typeof entry.data}`,
      name,
    );
  }
  const count = elementCount(entry.shape);
  if (count !== entry.data.length) {
    throw new SafetensorsError(
      source,
      `shape ${JSON.stringify(entry.shape)} has ${count ?? 'too many'} elements but data has ${entry.data.length}`,
      name,
    );
  }
}

/** Serialized header and the tensors in the order their bytes follow it. */
export interface SerializedHeader {
  /** The 8-byte length field followed by the JSON header, padded with spaces to a multiple of 8. */
  header: Uint8Array;
  /** Tensors in buffer order: descending dtype alignment, then name, as the Rust reference lays them out. */
  ordered: Array<[string, TensorEntry]>;
  /** Length of the byte buffer after the header. */
  bufferLength: number;
}

/**
 * Validates the tensors and builds the header. Writers that stream large files write `header`, then
 * `littleEndianBytes(entry)` for each entry of `ordered`.
 */
export function serializeSafetensorsHeader(
  tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
  metadata: Record<string, string> = {},
): SerializedHeader {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, entry] of entries) checkEntry(name, entry);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        'serializeSafetensors input',
        `metadata value for key ${JSON.stringify(key)} must be a string, got ${JSON.stringify(value)}`,
      );
    }
  }

  // Larger alignments first keeps every tensor aligned to its element size, because the header
  // length is a multiple of 8.
  entries.sort(
    ([nameA, a], [nameB, b]) =>
      DTYPES[b.dtype].alignmentRank - DTYPES[a.dtype].alignmentRank || compareCodePoints(nameA, nameB),
  );

  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, entry] of entries) {
    const byteLength = entry.data.length * DTYPES[entry.dtype].byteSize;
    json[name] = { dtype: entry.dtype, shape: entry.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }

  const jsonBytes = new TextEncoder().encode(JSON.stringify(json));
  const paddedLength = Math.ceil(jsonBytes.length / 8) * 8;
  const header = new Uint8Array(8 + paddedLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(paddedLength), true);
  header.set(jsonBytes, 8);
  header.fill(0x20, 8 + jsonBytes.length);
  return { header, ordered: entries, bufferLength: offset };
}

/** Returns the tensor's bytes in little-endian order: a view of its data, or a swapped copy on big-endian platforms. */
export function littleEndianBytes(entry: TensorEntry): Uint8Array {
  const view = new Uint8Array(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
  if (IS_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swapByteOrder(copy, DTYPES[entry.dtype].byteSize);
  return copy;
}

/**
 * Serializes tensors and string metadata to safetensors bytes. Tensors are laid out by descending
 * dtype alignment, then by name, as the Rust reference does, and `__metadata__` is written only when
 * `metadata` is not empty.
 */
export function serializeSafetensors(
  tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const { header, ordered, bufferLength } = serializeSafetensorsHeader(tensors, metadata);
  const output = new Uint8Array(header.length + bufferLength);
  output.set(header, 0);
  let offset = header.length;
  for (const [, entry] of ordered) {
    const bytes = littleEndianBytes(entry);
    output.set(bytes, offset);
    offset += bytes.length;
  }
  return output;
}

/**
 * Converts a tensor's elements to float32. F16 and BF16 bits are decoded, and integers are rounded to
 * the nearest float32. F32 data is returned as is, without a copy.
 */
export function toFloat32(entry: TensorEntry): Float32Array {
  const { dtype, data } = entry;
  if (dtype === 'F32') return data as Float32Array;
  if (dtype === 'F16') return float16BitsArrayToFloat32(data as Uint16Array);
  if (dtype === 'BF16') return bfloat16BitsArrayToFloat32(data as Uint16Array);
  const output = new Float32Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) output[i] = Number(data[i]);
  } else {
    output.set(data);
  }
  return output;
}

/** Builds an F32, F16 or BF16 tensor entry from float32 values, rounding to nearest even for 16-bit dtypes. */
export function fromFloat32(
  values: Float32Array,
  shape: number[],
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
): TensorEntry {
  const count = elementCount(shape);
  if (count !== values.length) {
    throw new RangeError(
      `shape ${JSON.stringify(shape)} has ${count ?? 'too many'} elements but values has ${values.length}`,
    );
  }
  if (dtype === 'F16') return { dtype, shape: shape.slice(), data: float32ArrayToFloat16Bits(values) };
  if (dtype === 'BF16') return { dtype, shape: shape.slice(), data: float32ArrayToBfloat16Bits(values) };
  return { dtype, shape: shape.slice(), data: values };
}
