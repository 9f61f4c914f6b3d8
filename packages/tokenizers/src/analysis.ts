import type { Tokenizer } from './types.js';

/**
 * Tools for studying tokenizers: translation between two tokenizers with an alignment, compression,
 * token length histograms, rank-frequency counts with a Zipf fit, character use in a vocabulary,
 * unused tokens, and a cleaner for Project Gutenberg texts. They use no Node.js built-ins.
 */

/** A tokenizer that can give the raw bytes of a token, such as `ByteLevelBpeTokenizer`. */
interface ByteTokenizer extends Tokenizer {
  idToBytes(id: number): Uint8Array | undefined;
}

function hasBytes(tokenizer: Tokenizer): tokenizer is ByteTokenizer {
  return typeof (tokenizer as Partial<ByteTokenizer>).idToBytes === 'function';
}

/** A half-open range `[start, end)` of UTF-16 code units in a text. */
export interface TextSpan {
  start: number;
  end: number;
}

/** Number of UTF-16 code units of the code point that starts with UTF-8 lead byte `byte`. */
function utf16LengthOfLead(byte: number): { bytes: number; units: number } {
  if (byte < 0x80) return { bytes: 1, units: 1 };
  if (byte >= 0xc2 && byte < 0xe0) return { bytes: 2, units: 1 };
  if (byte >= 0xe0 && byte < 0xf0) return { bytes: 3, units: 1 };
  if (byte >= 0xf0 && byte < 0xf5) return { bytes: 4, units: 2 };
  return { bytes: 1, units: 1 };
}

/**
 * Returns the decoded text of `ids` and the span of each token in it. A token that covers only
 * part of a character's bytes gets the span of the whole character, so neighbouring spans can
 * overlap. Works for tokenizers whose tokens concatenate to the text: byte-level BPE (through
 * `idToBytes`) and tokenizers where decoding each id alone and joining gives the full decoding,
 * such as `CharTokenizer`. Raises an Error for others, such as WordPiece, whose decoder adds
 * spaces between words.
 */
export function tokenSpans(
  tokenizer: Tokenizer,
  ids: ArrayLike<number>,
): { text: string; spans: TextSpan[] } {
  const text = tokenizer.decode(ids);
  if (!hasBytes(tokenizer)) {
    const spans: TextSpan[] = [];
    let offset = 0;
    for (let i = 0; i < ids.length; i++) {
      const piece = tokenizer.decode([ids[i]]);
      spans.push({ start: offset, end: offset + piece.length });
      offset += piece.length;
    }
    if (offset !== text.length) {
      throw new Error(
        `Cannot find token offsets for a ${tokenizer.kind} tokenizer: its tokens do not concatenate to the decoded text`,
      );
    }
    return { text, spans };
  }

  // The UTF-16 offset at which the character containing each byte starts, and where it ends.
  const tokenBytes = Array.from(
    ids as ArrayLike<number>,
    (id) => tokenizer.idToBytes(id) ?? new Uint8Array(),
  );
  const all = new Uint8Array(tokenBytes.reduce((total, bytes) => total + bytes.length, 0));
  let position = 0;
  for (const bytes of tokenBytes) {
    all.set(bytes, position);
    position += bytes.length;
  }
  const charStart = new Int32Array(all.length + 1);
  const charEnd = new Int32Array(all.length + 1);
  let units = 0;
  // NOTE: an invalid byte sequence counts as one U+FFFD per byte here, while TextDecoder may
  // replace a truncated sequence of several bytes with one U+FFFD, so spans after one can shift.
  for (let i = 0; i < all.length; ) {
    const { bytes, units: width } = utf16LengthOfLead(all[i]);
    const valid = i + bytes <= all.length && all.subarray(i + 1, i + bytes).every((b) => (b & 0xc0) === 0x80);
    const length = valid ? bytes : 1;
    for (let j = i; j < i + length; j++) {
      charStart[j] = units;
      charEnd[j] = units + (valid ? width : 1);
    }
    units += valid ? width : 1;
    i += length;
  }
  charStart[all.length] = units;
  charEnd[all.length] = units;

  const spans: TextSpan[] = [];
  let byteOffset = 0;
  for (const bytes of tokenBytes) {
    const start = charStart[byteOffset];
    const end = bytes.length === 0 ? start : charEnd[byteOffset + bytes.length - 1];
    spans.push({ start, end });
    byteOffset += bytes.length;
  }
  return { text, spans };
}

/** Tokens of the source and of the target that cover the same stretch of text. */
export interface AlignedGroup {
  /** Indices into the source ids. */
  source: number[];
  /** Indices into the target ids. */
  target: number[];
  span: TextSpan;
}

export interface Translation {
  text: string;
  /** The text encoded by the target tokenizer. */
  ids: number[];
  /** The smallest groups of source and target tokens that start and end at the same offsets. */
  alignment: AlignedGroup[];
}

/**
 * Translates token ids of one tokenizer into another: decodes `ids` with `from`, encodes the text
 * with `to` (special-token text encoded as ordinary text), and aligns the two sequences by the
 * character offsets of their tokens.
 */
export function translateTokens(ids: ArrayLike<number>, from: Tokenizer, to: Tokenizer): Translation {
  const source = tokenSpans(from, ids);
  const targetIds = encodeOrdinary(to, source.text);
  const target = tokenSpans(to, targetIds);
  return { text: source.text, ids: targetIds, alignment: alignSpans(source.spans, target.spans) };
}

function encodeOrdinary(tokenizer: Tokenizer, text: string): number[] {
  const encode = tokenizer.encode as (text: string, options?: object) => number[];
  return encode.call(tokenizer, text, { disallowedSpecial: new Set() });
}

/**
 * Groups two span lists over the same text at the offsets where both have a token boundary. Each
 * group takes the next token of each side, then more tokens from the side that ends first, until
 * both sides end at the same offset.
 */
export function alignSpans(source: readonly TextSpan[], target: readonly TextSpan[]): AlignedGroup[] {
  const groups: AlignedGroup[] = [];
  let i = 0;
  let j = 0;
  while (i < source.length || j < target.length) {
    const group: AlignedGroup = { source: [], target: [], span: { start: 0, end: 0 } };
    let sourceEnd = Number.NEGATIVE_INFINITY;
    let targetEnd = Number.NEGATIVE_INFINITY;
    const starts: number[] = [];
    if (i < source.length) {
      group.source.push(i);
      starts.push(source[i].start);
      sourceEnd = source[i++].end;
    }
    if (j < target.length) {
      group.target.push(j);
      starts.push(target[j].start);
      targetEnd = target[j++].end;
    }
    while (sourceEnd !== targetEnd) {
      if (sourceEnd < targetEnd && i < source.length) {
        group.source.push(i);
        sourceEnd = source[i++].end;
      } else if (targetEnd < sourceEnd && j < target.length) {
        group.target.push(j);
        targetEnd = target[j++].end;
      } else {
        break;
      }
    }
    group.span = { start: Math.min(...starts), end: Math.max(sourceEnd, targetEnd) };
    groups.push(group);
  }
  return groups;
}

/** How much a tokenizer compresses a text. */
export interface CompressionStats {
  characters: number;
  bytes: number;
  /** Whitespace-separated words. */
  words: number;
  tokens: number;
  charactersPerToken: number;
  bytesPerToken: number;
  tokensPerWord: number;
}

/** Measures compression: characters are Unicode code points, bytes are UTF-8 bytes. */
export function compressionStats(tokenizer: Tokenizer, text: string): CompressionStats {
  const tokens = encodeOrdinary(tokenizer, text).length;
  let characters = 0;
  for (const _ of text) characters++;
  const bytes = new TextEncoder().encode(text).length;
  const words = text.match(/\S+/gu)?.length ?? 0;
  return {
    characters,
    bytes,
    words,
    tokens,
    charactersPerToken: tokens === 0 ? 0 : characters / tokens,
    bytesPerToken: tokens === 0 ? 0 : bytes / tokens,
    tokensPerWord: words === 0 ? 0 : tokens / words,
  };
}

/**
 * Measures compression for each pair of tokenizer and text, such as one text per corpus or per
 * language. Returns one row per pair, in the order of the tokenizers and then of the texts.
 */
export function compareCompression(
  tokenizers: Readonly<Record<string, Tokenizer>>,
  texts: Readonly<Record<string, string>>,
): ({ tokenizer: string; text: string } & CompressionStats)[] {
  const rows: ({ tokenizer: string; text: string } & CompressionStats)[] = [];
  for (const [tokenizerName, tokenizer] of Object.entries(tokenizers)) {
    for (const [textName, text] of Object.entries(texts)) {
      rows.push({ tokenizer: tokenizerName, text: textName, ...compressionStats(tokenizer, text) });
    }
  }
  return rows;
}

/**
 * Returns the text of a token: its decoded bytes for byte-level tokens, its string without the
 * continuation prefix (`##`) for WordPiece, else its string.
 */
function tokenText(tokenizer: Tokenizer, id: number): string | undefined {
  const token = tokenizer.idToToken(id);
  if (token === undefined) return undefined;
  const prefix = (tokenizer as { continuingSubwordPrefix?: unknown }).continuingSubwordPrefix;
  if (typeof prefix === 'string' && prefix !== '' && token.startsWith(prefix) && token !== prefix) {
    return token.slice(prefix.length);
  }
  return tokenizer.decode([id]);
}

/**
 * Counts the tokens of each length over the whole vocabulary. `unit` is `'bytes'` (UTF-8 bytes,
 * the default for tokenizers with `idToBytes`) or `'characters'` (code points of the decoded
 * token). Returns `counts[length]`, the number of tokens of that length.
 */
export function tokenLengthHistogram(tokenizer: Tokenizer, unit?: 'bytes' | 'characters'): number[] {
  const byBytes = (unit ?? (hasBytes(tokenizer) ? 'bytes' : 'characters')) === 'bytes';
  const encoder = new TextEncoder();
  const counts: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    let length: number | undefined;
    if (byBytes) {
      const bytes = hasBytes(tokenizer) ? tokenizer.idToBytes(id) : undefined;
      const text = bytes === undefined ? tokenText(tokenizer, id) : undefined;
      length = bytes?.length ?? (text === undefined ? undefined : encoder.encode(text).length);
    } else {
      const text = tokenText(tokenizer, id);
      length = text === undefined ? undefined : Array.from(text).length;
    }
    if (length === undefined) continue;
    while (counts.length <= length) counts.push(0);
    counts[length]++;
  }
  return counts;
}

export interface RankFrequency {
  /** 1 for the most frequent id. Ties are ordered by id. */
  rank: number;
  id: number;
  count: number;
}

/** Counts each id in `ids` and sorts them from most to least frequent. */
export function rankFrequency(ids: Iterable<number>): RankFrequency[] {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .map(([id, count], index) => ({ rank: index + 1, id, count }));
}

export interface ZipfFit {
  /** s in count ≈ C / rank^s. */
  exponent: number;
  /** ln C. */
  intercept: number;
  /** Coefficient of determination of the fit on log-log axes. */
  rSquared: number;
}

/**
 * Fits Zipf's law to counts sorted from most to least frequent, by least squares on
 * ln(count) = intercept - exponent * ln(rank). Needs at least two counts.
 */
export function fitZipf(counts: readonly number[]): ZipfFit {
  if (counts.length < 2) throw new Error(`fitZipf needs at least 2 counts, got ${counts.length}`);
  const n = counts.length;
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < n; i++) {
    if (!(counts[i] > 0))
      throw new Error(`Invalid count ${counts[i]} at index ${i}: expected a positive number`);
    sumX += Math.log(i + 1);
    sumY += Math.log(counts[i]);
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = Math.log(i + 1) - meanX;
    const dy = Math.log(counts[i]) - meanY;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxy / sxx;
  const rSquared = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { exponent: -slope, intercept: meanY - slope * meanX, rSquared };
}

/**
 * Counts how often each character occurs in the vocabulary's entries, over their decoded text.
 * Byte-level tokens that are only part of a character's UTF-8 bytes decode to U+FFFD.
 */
export function vocabularyCharacterCounts(tokenizer: Tokenizer): Map<string, number> {
  const counts = new Map<string, number>();
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const text = tokenText(tokenizer, id);
    if (text === undefined) continue;
    for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  return counts;
}

/** Returns the ids of the vocabulary, special tokens included, that the encoding of `corpus` never uses. */
export function unusedTokens(tokenizer: Tokenizer, corpus: string): number[] {
  const used = new Uint8Array(tokenizer.vocabSize);
  for (const id of encodeOrdinary(tokenizer, corpus)) used[id] = 1;
  const unused: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (!used[id] && tokenizer.idToToken(id) !== undefined) unused.push(id);
  }
  return unused;
}

export interface GutenbergCleanOptions {
  /** Replace ‘ ’ ‚ ‛ with ' and “ ” „ ‟ with ". Default true. */
  quotes?: boolean;
  /** Replace an em dash (—) with "--" and en dashes (–) and minus-like hyphens (‐ ‑ ‒) with "-". Default true. */
  dashes?: boolean;
}

/**
 * Cleans a Project Gutenberg text. It keeps only the lines between the "*** START OF" and
 * "*** END OF" marker lines, or the whole text when a marker is missing. It turns \r\n and \r
 * into \n, normalizes quotes and dashes as `options` selects, and trims blank lines at both ends.
 */
export function cleanGutenbergText(text: string, options: GutenbergCleanOptions = {}): string {
  let result = text.replace(/\r\n?/g, '\n');
  const start = /^\*\*\*\s*START OF.*$/m.exec(result);
  if (start !== null) result = result.slice(start.index + start[0].length);
  const end = /^\*\*\*\s*END OF.*$/m.exec(result);
  if (end !== null) result = result.slice(0, end.index);
  if (options.quotes !== false) result = result.replace(/[‘’‚‛]/g, "'").replace(/[“”„‟]/g, '"');
  if (options.dashes !== false) result = result.replaceAll('—', '--').replace(/[–‐‑‒]/g, '-');
  return result.replace(/^\s*\n/, '').replace(/\n\s*$/, '\n');
}
