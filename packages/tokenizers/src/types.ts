/** Special tokens that `encode` recognizes in its input: `'all'` or a set of special-token strings. */
export type AllowedSpecial = 'all' | ReadonlySet<string>;

export interface EncodeOptions {
  /**
   * Special tokens to recognize in the input text. Default: none.
   */
  allowedSpecial?: AllowedSpecial;
  /**
   * Special tokens whose text raises an Error when it occurs in the input, as in tiktoken. Text of
   * a special token that is neither allowed nor disallowed is encoded as ordinary text. Default
   * `'all'`: every special token that `allowedSpecial` does not allow. Byte-level BPE tokenizers
   * apply it; `CharTokenizer` ignores it and encodes such text as ordinary text.
   */
  disallowedSpecial?: AllowedSpecial;
}

/** The interface every tokenizer in this package implements, shared with other packages. */
export interface Tokenizer {
  /** Tokenizer family: `'char'`, `'byte-level-bpe'` or `'wordpiece'`. */
  readonly kind: string;
  /** Number of ids, that is the largest id plus one. */
  readonly vocabSize: number;
  /** Special-token strings and their ids. */
  readonly specialTokens: ReadonlyMap<string, number>;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  /** The string form of a token, or `undefined` for an id outside the vocabulary. */
  idToToken(id: number): string | undefined;
  /** The id of a token given in its string form, or `undefined` if there is none. */
  tokenToId(token: string): number | undefined;
  /** A JSON-serializable form that `tokenizerFromJSON` turns back into an equal tokenizer. */
  toJSON(): unknown;
}
