import { buildSpecialTokenRegex, resolveSpecialRegex, splitOnSpecial } from './pre-tokenize.js';
import { checkSpecialTokenList, toSpecialTokenMap } from './special-tokens.js';
import type { EncodeOptions, Tokenizer } from './types.js';

/** Serialized form of a `CharTokenizer`. */
export interface CharTokenizerJson {
  type: 'char';
  /** Characters (one Unicode code point each) in id order: `vocab[id]`. */
  vocab: string[];
  /** Special-token strings and their ids, which come after the characters' ids. */
  specialTokens: Record<string, number>;
}

export interface CharTokenizerOptions {
  /** Special tokens, given ids after the characters in this order. */
  specialTokens?: readonly string[];
}

/** Formats a code point as U+XXXX. */
function codePointLabel(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A character-level tokenizer: one token per Unicode code point, as in char-level nanoGPT, where the
 * vocabulary is the sorted set of the characters of the training text.
 */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char';
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly chars: readonly string[];
  private readonly idsByChar = new Map<string, number>();
  private readonly specialsById = new Map<number, string>();
  private readonly allSpecialRegex: RegExp | undefined;

  /**
   * Creates a tokenizer whose id `i` is `chars[i]`. Special-token ids must not be character ids.
   * Each entry of `chars` must be one code point, and no entry may repeat.
   */
  constructor(
    chars: readonly string[],
    specialTokens: ReadonlyMap<string, number> | Readonly<Record<string, number>> = {},
  ) {
    chars.forEach((char, id) => {
      if (typeof char !== 'string' || char.length === 0 || [...char].length !== 1) {
        throw new Error(
          `Invalid vocabulary entry ${id} ${JSON.stringify(char)}: expected a single code point`,
        );
      }
      if (this.idsByChar.has(char)) {
        throw new Error(
          `Invalid vocabulary: ${JSON.stringify(char)} (${codePointLabel(char)}) is listed twice`,
        );
      }
      this.idsByChar.set(char, id);
    });
    this.chars = [...chars];

    this.specialTokens = toSpecialTokenMap(specialTokens);
    let maxId = chars.length - 1;
    for (const [token, id] of this.specialTokens) {
      if (id < chars.length) {
        throw new Error(
          `Special token ${JSON.stringify(token)} has id ${id}, which is the id of ${JSON.stringify(chars[id])}`,
        );
      }
      this.specialsById.set(id, token);
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    this.allSpecialRegex = buildSpecialTokenRegex(this.specialTokens.keys());
  }

  /**
   * Builds the vocabulary from the distinct code points of `text`, sorted by code point, followed
   * by the special tokens. Tiny Shakespeare gives 65 characters.
   */
  static fromText(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
    const distinct = new Set<string>();
    for (const char of text) distinct.add(char);
    // Sort by code point: the default string sort compares UTF-16 units, which puts characters
    // above U+FFFF before U+E000-U+FFFF.
    const chars = [...distinct].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const specials = checkSpecialTokenList(options.specialTokens ?? []);
    const specialTokens = new Map(specials.map((token, i) => [token, chars.length + i]));
    return new CharTokenizer(chars, specialTokens);
  }

  /**
   * Encodes `text` to one id per code point, and one id per allowed special token. Raises an Error
   * naming the first character that is not in the vocabulary.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const specialRegex = resolveSpecialRegex(
      options.allowedSpecial,
      this.specialTokens,
      this.allSpecialRegex,
    );
    const ids: number[] = [];
    let offset = 0;
    splitOnSpecial(
      text,
      specialRegex,
      (segment) => {
        for (const char of segment) {
          const id = this.idsByChar.get(char);
          if (id === undefined) throw this.unknownCharError(char, offset);
          ids.push(id);
          offset += char.length;
        }
      },
      (token) => {
        ids.push(this.specialTokens.get(token)!);
        offset += token.length;
      },
    );
    return ids;
  }

  private unknownCharError(char: string, offset: number): Error {
    return new Error(
      `Character ${JSON.stringify(char)} (${codePointLabel(char)}) at index ${offset} is not in the vocabulary: ` +
        'this CharTokenizer was built from a different text. Build it from a text that contains every character to encode.',
    );
  }

  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const token = this.idToToken(ids[i]);
      if (token === undefined) {
        throw new RangeError(
          `Token id ${ids[i]} at index ${i} is not in the vocabulary (size ${this.vocabSize})`,
        );
      }
      parts.push(token);
    }
    return parts.join('');
  }

  idToToken(id: number): string | undefined {
    return this.specialsById.get(id) ?? (Number.isInteger(id) && id >= 0 ? this.chars[id] : undefined);
  }

  tokenToId(token: string): number | undefined {
    return this.specialTokens.get(token) ?? this.idsByChar.get(token);
  }

  toJSON(): CharTokenizerJson {
    return { type: 'char', vocab: [...this.chars], specialTokens: Object.fromEntries(this.specialTokens) };
  }

  /** Rebuilds a tokenizer from the output of `toJSON`. */
  static fromJSON(json: CharTokenizerJson): CharTokenizer {
    if (!Array.isArray(json.vocab))
      throw new Error('Invalid char tokenizer JSON: "vocab" must be an array of characters');
    const specialTokens = json.specialTokens ?? {};
    if (typeof specialTokens !== 'object' || Array.isArray(specialTokens)) {
      throw new Error(
        'Invalid char tokenizer JSON: "specialTokens" must be an object of token strings to ids',
      );
    }
    return new CharTokenizer(json.vocab, specialTokens);
  }
}
