/**
 * Word-level tokenization as a first lesson in tokenizers: split text into words, build a sorted
 * vocabulary, and map words to ids and back. Also the cleaning of book text into lower-case words.
 */

/** Splits `text` at runs of whitespace and drops empty strings, optionally lower-casing first. */
export function splitWords(text: string, options: { lowercase?: boolean } = {}): string[] {
  const source = options.lowercase === false ? text : text.toLowerCase();
  return source.split(/\s+/u).filter((word) => word !== '');
}

/** ASCII punctuation, the characters of Python's `string.punctuation`. */
const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export interface CleanWordsOptions {
  /** Shortest word kept, in characters. Default 2, which drops one-letter words such as "a" and "i". */
  minLength?: number;
}

/**
 * Cleans book text into words: typographic quotes, dashes and underscores become spaces, other
 * non-ASCII characters and digits are removed, the text is lower-cased and split at runs of ASCII
 * punctuation and whitespace, and words shorter than `minLength` are dropped. An apostrophe splits
 * a word, so "don't" gives "don" (and a dropped "t").
 */
export function cleanWords(text: string, options: CleanWordsOptions = {}): string[] {
  const minLength = options.minLength ?? 2;
  const cleaned = text
    .replace(/[\u2018\u2019\u201c\u201d\u2013\u2014_]/gu, ' ')
    .replace(/[^\p{ASCII}]+/gu, '')
    .replace(/[0-9]/g, '')
    .toLowerCase();
  const escaped = ASCII_PUNCTUATION.replace(/[\\\]^-]/g, '\\$&');
  const separator = new RegExp(`[${escaped}\\s]+`, 'u');
  return cleaned.split(separator).filter((word) => word.length >= minLength);
}

function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** A sorted word vocabulary with encoding to ids and decoding back, and an optional unknown-word token. */
export class WordVocabulary {
  /** Words in id order. */
  readonly words: readonly string[];
  /** The token that unknown words encode to, when there is one. */
  readonly unknownToken: string | undefined;
  private readonly ids: Map<string, number>;

  /**
   * Builds the vocabulary from the distinct `words`, sorted by UTF-16 code unit order as Python's
   * `sorted` sorts ASCII. `unknownToken`, when given, gets the id after the words.
   */
  constructor(words: Iterable<string>, options: { unknownToken?: string } = {}) {
    const distinct = [...new Set(words)].sort(compareCodeUnits);
    if (options.unknownToken !== undefined && !distinct.includes(options.unknownToken)) {
      distinct.push(options.unknownToken);
    }
    this.words = distinct;
    this.unknownToken = options.unknownToken;
    this.ids = new Map(distinct.map((word, id) => [word, id]));
  }

  get size(): number {
    return this.words.length;
  }

  /** Returns the id of `word`, or undefined when it is not in the vocabulary. */
  idOf(word: string): number | undefined {
    return this.ids.get(word);
  }

  /**
   * Encodes words to ids. An unknown word encodes to the unknown token, or raises an Error that
   * names the word when the vocabulary has no unknown token.
   */
  encode(words: readonly string[]): number[] {
    return words.map((word, index) => {
      const id =
        this.ids.get(word) ?? (this.unknownToken === undefined ? undefined : this.ids.get(this.unknownToken));
      if (id === undefined) {
        throw new Error(`Word ${JSON.stringify(word)} at index ${index} is not in the vocabulary`);
      }
      return id;
    });
  }

  /** Decodes ids to words joined by single spaces; raises an Error for an id outside the vocabulary. */
  decode(ids: readonly number[]): string {
    return ids
      .map((id) => {
        const word = this.words[id];
        if (word === undefined)
          throw new Error(`Invalid word id ${id}: the vocabulary has ${this.size} words`);
        return word;
      })
      .join(' ');
  }

  /** Builds a one-hot matrix with one row per word of `words` and one column per vocabulary entry. */
  oneHot(words: readonly string[]): Uint8Array[] {
    return this.encode(words).map((id) => {
      const row = new Uint8Array(this.size);
      row[id] = 1;
      return row;
    });
  }
}
