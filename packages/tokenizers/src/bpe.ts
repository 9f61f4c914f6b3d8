import { bytesToKey, bytesToTokenString, concatBytes, tokenStringToBytes } from './byte-level.js';
import { type HuggingFaceTokenizerJson, preTokenizerToJson } from './hf-json-shapes.js';
import { MergeTable } from './merge-table.js';
import {
  buildSpecialTokenRegex,
  checkDisallowedSpecial,
  checkPreTokenizerName,
  forEachChunk,
  type PreTokenizerName,
  resolveSpecialRegex,
  splitOnSpecial,
} from './pre-tokenize.js';
import { toSpecialTokenMap } from './special-tokens.js';
import type { EncodeOptions, Tokenizer } from './types.js';

/** Everything that defines a byte-level BPE tokenizer. */
export interface ByteLevelBpeModel {
  /**
   * Bytes of each ordinary token, indexed by id. It must contain each of the 256 single bytes
   * exactly once. Ids used only by special tokens may be left `undefined`.
   */
  vocab: ReadonlyArray<Uint8Array | undefined>;
  /**
   * Pairs of token ids in merge order: index 0 is the first merge (rank 0). Must be empty when
   * `tokenRanks` is true.
   */
  merges: ReadonlyArray<readonly [number, number]>;
  /**
   * Whether the ids are tiktoken ranks, as in OpenAI's rank files: any two adjacent tokens whose
   * bytes join into a token merge, with that token's id as rank, and each step merges the leftmost
   * pair of lowest rank. Default false.
   */
  tokenRanks?: boolean;
  preTokenizer: PreTokenizerName;
  /** Unicode normalization applied to the text before encoding, such as `'NFKC'`. Default none. */
  normalizer?: UnicodeNormalization;
  /** Special-token strings and their ids, which may reuse an ordinary token's id. */
  specialTokens?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /**
   * Hugging Face's `ignore_merges`: a chunk whose bytes are one token is encoded as that token
   * without applying merges. Default false.
   */
  ignoreMerges?: boolean;
}

/** The Unicode normalization forms of `String.prototype.normalize`. */
export type UnicodeNormalization = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** Options for `ByteLevelBpeTokenizer.fromVocabAndMerges`. */
export interface VocabAndMergesOptions {
  /** Default `'gpt2'`. */
  preTokenizer?: PreTokenizerName;
  specialTokens?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  ignoreMerges?: boolean;
  normalizer?: UnicodeNormalization;
}

/** Options for `ByteLevelBpeTokenizer.fromTiktokenRanks`. */
export interface TiktokenRanksOptions {
  preTokenizer: PreTokenizerName;
  specialTokens?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  normalizer?: UnicodeNormalization;
}

const utf8Encoder = new TextEncoder();
// `ignoreBOM: true` keeps a leading U+FEFF in the output instead of dropping it.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Chunks up to this many UTF-16 code units are cached after their first encoding. */
const CACHE_MAX_CHUNK_LENGTH = 256;
/** The chunk cache is cleared when it reaches this many entries. */
const CACHE_MAX_ENTRIES = 100_000;

/**
 * A byte-level BPE tokenizer like GPT-2's: text is split at special tokens, then into chunks by the
 * pre-tokenizer, and each chunk's UTF-8 bytes are merged by rank. Any text can be encoded, because
 * the vocabulary contains all 256 bytes. `encode` never adds special tokens of its own.
 */
export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly kind = 'byte-level-bpe';
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly preTokenizer: PreTokenizerName;
  readonly ignoreMerges: boolean;
  readonly tokenRanks: boolean;
  readonly normalizer: UnicodeNormalization | undefined;

  private readonly tokenBytes: ReadonlyArray<Uint8Array | undefined>;
  private readonly byteToId = new Int32Array(256).fill(-1);
  private readonly idsByBytes = new Map<string, number>();
  private readonly specialsById = new Map<number, { token: string; bytes: Uint8Array }>();
  private readonly mergeTable: MergeTable;
  private readonly allSpecialRegex: RegExp | undefined;
  private readonly cache = new Map<string, number[]>();
  private mergeList: ReadonlyArray<readonly [number, number]> | undefined;

  constructor(model: ByteLevelBpeModel) {
    this.preTokenizer = checkPreTokenizerName(model.preTokenizer);
    this.ignoreMerges = model.ignoreMerges ?? false;
    this.tokenRanks = model.tokenRanks ?? false;
    this.normalizer = checkNormalizer(model.normalizer);
    this.specialTokens = toSpecialTokenMap(model.specialTokens);
    this.tokenBytes = model.vocab.map((bytes) => (bytes === undefined ? undefined : bytes.slice()));

    let maxId = this.tokenBytes.length - 1;
    for (const [token, id] of this.specialTokens) {
      this.specialsById.set(id, { token, bytes: utf8Encoder.encode(token) });
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;

    this.indexVocab();
    if (this.tokenRanks) {
      if (model.merges.length > 0) {
        throw new Error('Invalid model: a model with tokenRanks true must have an empty merges list');
      }
      this.mergeTable = MergeTable.fromTokenRanks(this.tokenBytes, this.idsByBytes, this.vocabSize);
    } else {
      const results = model.merges.map((pair, rank) => this.mergeResult(pair, rank));
      this.mergeList = model.merges.map(([left, right]) => [left, right] as const);
      this.mergeTable = new MergeTable(this.mergeList, results, this.vocabSize);
    }
    this.allSpecialRegex = buildSpecialTokenRegex(this.specialTokens.keys());
  }

  private indexVocab() {
    this.tokenBytes.forEach((bytes, id) => {
      if (bytes === undefined) return;
      if (bytes.length === 0) throw new Error(`Invalid vocabulary: token ${id} has no bytes`);
      const key = bytesToKey(bytes);
      const existing = this.idsByBytes.get(key);
      if (existing !== undefined) {
        const token = JSON.stringify(bytesToTokenString(bytes));
        throw new Error(`Invalid vocabulary: tokens ${existing} and ${id} have the same bytes ${token}`);
      }
      this.idsByBytes.set(key, id);
      if (bytes.length === 1) this.byteToId[bytes[0]] = id;
    });
    const missing = this.byteToId.indexOf(-1);
    if (missing >= 0) {
      const hex = missing.toString(16).toUpperCase().padStart(2, '0');
      throw new Error(
        `Invalid vocabulary: no token for byte 0x${hex}; a byte-level BPE vocabulary needs all 256 single bytes`,
      );
    }
  }

  private mergeResult([left, right]: readonly [number, number], rank: number): number {
    const leftBytes = this.tokenBytes[left];
    const rightBytes = this.tokenBytes[right];
    if (leftBytes === undefined || rightBytes === undefined) {
      throw new Error(
        `Invalid merge ${rank} (${left}, ${right}): token ${leftBytes ? right : left} is not in the vocabulary`,
      );
    }
    const merged = concatBytes(leftBytes, rightBytes);
    const result = this.idsByBytes.get(bytesToKey(merged));
    if (result === undefined) {
      const mergedToken = JSON.stringify(bytesToTokenString(merged));
      throw new Error(
        `Invalid merge ${rank} (${left}, ${right}): the merged token ${mergedToken} is not in the vocabulary`,
      );
    }
    return result;
  }

  /**
   * Builds a tokenizer from a vocabulary of byte-level token strings (`"Ġthe": 262`) and merges
   * given as `"Ġ t"` strings or `["Ġ", "t"]` pairs, as in GPT-2's `encoder.json` and `vocab.bpe`
   * or a Hugging Face `tokenizer.json`. Vocabulary entries that are special tokens with the same
   * string are kept only as special tokens.
   */
  static fromVocabAndMerges(
    vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
    merges: ReadonlyArray<string | readonly [string, string]>,
    options: VocabAndMergesOptions = {},
  ): ByteLevelBpeTokenizer {
    const specialTokens = toSpecialTokenMap(options.specialTokens);
    const entries = vocab instanceof Map ? [...vocab] : Object.entries(vocab);
    const tokenBytes: (Uint8Array | undefined)[] = [];
    const idsByString = new Map<string, number>();
    const tokensById = new Map<number, string>();
    for (const [token, id] of entries) {
      checkId(id, `vocabulary entry ${JSON.stringify(token)}`);
      if (tokensById.has(id)) {
        const other = JSON.stringify(tokensById.get(id));
        throw new Error(`Invalid vocabulary: ${other} and ${JSON.stringify(token)} have the same id ${id}`);
      }
      tokensById.set(id, token);
      idsByString.set(token, id);
      if (specialTokens.get(token) === id) continue;
      const bytes = tokenStringToBytes(token);
      if (bytes === undefined) {
        throw new Error(
          `Invalid vocabulary entry ${JSON.stringify(token)}: it contains a character outside the byte-level alphabet and is not a special token`,
        );
      }
      tokenBytes[id] = bytes;
    }

    const mergeIds = merges.map((merge, rank): [number, number] => {
      const [left, right] = typeof merge === 'string' ? splitMergeString(merge, rank) : merge;
      const leftId = idsByString.get(left);
      const rightId = idsByString.get(right);
      if (leftId === undefined || rightId === undefined) {
        const unknown = leftId === undefined ? left : right;
        throw new Error(
          `Invalid merge ${rank} (${left} ${right}): ${JSON.stringify(unknown)} is not in the vocabulary`,
        );
      }
      return [leftId, rightId];
    });

    return new ByteLevelBpeTokenizer({
      vocab: tokenBytes,
      merges: mergeIds,
      preTokenizer: options.preTokenizer ?? 'gpt2',
      specialTokens,
      ignoreMerges: options.ignoreMerges,
    });
  }

  /**
   * Builds a tokenizer from tiktoken ranks: `ranks[id]` is the bytes of the token with that id and
   * rank, as a tiktoken rank file lists them (see `parseTiktokenRanks`). Ids without bytes may be
   * used by special tokens.
   */
  static fromTiktokenRanks(
    ranks: ReadonlyArray<Uint8Array | undefined>,
    options: TiktokenRanksOptions,
  ): ByteLevelBpeTokenizer {
    return new ByteLevelBpeTokenizer({
      vocab: ranks,
      merges: [],
      tokenRanks: true,
      preTokenizer: options.preTokenizer,
      specialTokens: options.specialTokens,
      normalizer: options.normalizer,
    });
  }

  /**
   * Pairs of token ids in merge order. For a model with `tokenRanks`, the list is derived: each
   * token, in rank order, gets one merge per split into two tokens of lower rank, ordered by the
   * ranks of the two parts. Hugging Face tokenizers encode cl100k_base like tiktoken with it.
   */
  get merges(): ReadonlyArray<readonly [number, number]> {
    if (this.mergeList === undefined) this.mergeList = this.deriveMerges();
    return this.mergeList;
  }

  private deriveMerges(): [number, number][] {
    const merges: [number, number][] = [];
    this.tokenBytes.forEach((bytes, id) => {
      if (bytes === undefined || bytes.length < 2) return;
      const splits: [number, number][] = [];
      for (let split = 1; split < bytes.length; split++) {
        const left = this.idsByBytes.get(bytesToKey(bytes.subarray(0, split)));
        const right = this.idsByBytes.get(bytesToKey(bytes.subarray(split)));
        if (left !== undefined && right !== undefined && left < id && right < id) splits.push([left, right]);
      }
      splits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      merges.push(...splits);
    });
    return merges;
  }

  /**
   * Builds GPT-2's tokenizer from the text of OpenAI's `encoder.json` and `vocab.bpe` files.
   * `<|endoftext|>` becomes a special token when the vocabulary contains it.
   */
  static fromGpt2Files(encoderJson: string, vocabBpe: string): ByteLevelBpeTokenizer {
    const vocab = JSON.parse(encoderJson) as Record<string, number>;
    const merges = vocabBpe.split('\n').filter((line) => line.length > 0 && !line.startsWith('#version'));
    const endOfText = vocab['<|endoftext|>'];
    const specialTokens: Record<string, number> =
      endOfText === undefined ? {} : { '<|endoftext|>': endOfText };
    return ByteLevelBpeTokenizer.fromVocabAndMerges(vocab, merges, { preTokenizer: 'gpt2', specialTokens });
  }

  /**
   * Encodes `text` to token ids. Special tokens are recognized only as `options.allowedSpecial`
   * allows, and by default the text of any other special token raises an Error that names it.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (this.normalizer !== undefined) text = text.normalize(this.normalizer);
    const specialRegex = resolveSpecialRegex(
      options.allowedSpecial,
      this.specialTokens,
      this.allSpecialRegex,
    );
    checkDisallowedSpecial(
      text,
      options.allowedSpecial,
      options.disallowedSpecial,
      this.specialTokens,
      this.allSpecialRegex,
    );
    const ids: number[] = [];
    splitOnSpecial(
      text,
      specialRegex,
      (segment) => forEachChunk(segment, this.preTokenizer, (chunk) => this.encodeChunk(chunk, ids)),
      (token) => ids.push(this.specialTokens.get(token)!),
    );
    return ids;
  }

  private encodeChunk(chunk: string, output: number[]) {
    const cached = this.cache.get(chunk);
    if (cached !== undefined) {
      for (const id of cached) output.push(id);
      return;
    }

    // Lone UTF-16 surrogates have no UTF-8 form, so TextEncoder writes U+FFFD in their place.
    const bytes = utf8Encoder.encode(chunk);
    const whole = this.ignoreMerges ? this.idsByBytes.get(bytesToKey(bytes)) : undefined;
    const ids =
      whole !== undefined ? [whole] : this.mergeTable.apply(Array.from(bytes, (byte) => this.byteToId[byte]));

    if (chunk.length <= CACHE_MAX_CHUNK_LENGTH) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(chunk, ids);
    }
    for (const id of ids) output.push(id);
  }

  /** Concatenates the bytes of the tokens `ids`. Special tokens give the UTF-8 bytes of their string. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.bytesOf(ids[i]);
      if (bytes === undefined) {
        throw new RangeError(
          `Token id ${ids[i]} at index ${i} is not in the vocabulary (size ${this.vocabSize})`,
        );
      }
      parts.push(bytes);
      length += bytes.length;
    }
    const result = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      result.set(part, offset);
      offset += part.length;
    }
    return result;
  }

  /** Decodes `ids` to text. Byte sequences that are not valid UTF-8 become U+FFFD, as in TextDecoder. */
  decode(ids: ArrayLike<number>): string {
    return utf8Decoder.decode(this.decodeBytes(ids));
  }

  private bytesOf(id: number): Uint8Array | undefined {
    return this.specialsById.get(id)?.bytes ?? this.tokenBytes[id];
  }

  /** Returns a copy of the bytes of token `id`, or `undefined` for an id outside the vocabulary. */
  idToBytes(id: number): Uint8Array | undefined {
    return this.bytesOf(id)?.slice();
  }

  /** Returns a special token's string, or an ordinary token in byte-level form (`Ġthe` for " the"). */
  idToToken(id: number): string | undefined {
    const special = this.specialsById.get(id);
    if (special !== undefined) return special.token;
    const bytes = this.tokenBytes[id];
    return bytes === undefined ? undefined : bytesToTokenString(bytes);
  }

  /** Looks up a special token's string or an ordinary token in byte-level form. */
  tokenToId(token: string): number | undefined {
    const special = this.specialTokens.get(token);
    if (special !== undefined) return special;
    const bytes = tokenStringToBytes(token);
    return bytes === undefined ? undefined : this.idsByBytes.get(bytesToKey(bytes));
  }

  /** Returns the tokenizer as a Hugging Face `tokenizer.json` object. */
  toJSON(): HuggingFaceTokenizerJson {
    const vocab: Record<string, number> = {};
    this.tokenBytes.forEach((bytes, id) => {
      if (bytes !== undefined) vocab[bytesToTokenString(bytes)] = id;
    });
    // Hugging Face lists added tokens in the model vocabulary too, unless the string is taken.
    for (const [token, id] of this.specialTokens) {
      if (!Object.hasOwn(vocab, token)) vocab[token] = id;
    }

    const addedTokens = [...this.specialTokens]
      .sort((a, b) => a[1] - b[1])
      .map(([content, id]) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      }));

    const tokenString = (id: number) => bytesToTokenString(this.tokenBytes[id]!);
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: this.normalizer === undefined ? null : { type: this.normalizer },
      pre_tokenizer: preTokenizerToJson(this.preTokenizer),
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: this.ignoreMerges,
        vocab,
        merges: this.merges.map(([left, right]) => `${tokenString(left)} ${tokenString(right)}`),
      },
    };
  }
}

function splitMergeString(merge: string, rank: number): [string, string] {
  const parts = merge.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new Error(
      `Invalid merge ${rank} ${JSON.stringify(merge)}: expected two tokens separated by one space`,
    );
  }
  return [parts[0], parts[1]];
}

function checkId(id: unknown, owner: string) {
  if (!Number.isSafeInteger(id) || (id as number) < 0) {
    throw new Error(`Invalid id ${JSON.stringify(id)} for ${owner}: expected a non-negative integer`);
  }
}

function checkNormalizer(value: unknown): UnicodeNormalization | undefined {
  if (value === undefined || value === 'NFC' || value === 'NFD' || value === 'NFKC' || value === 'NFKD') {
    return value;
  }
  throw new Error(`Invalid normalizer ${JSON.stringify(value)}: expected 'NFC', 'NFD', 'NFKC' or 'NFKD'`);
}
