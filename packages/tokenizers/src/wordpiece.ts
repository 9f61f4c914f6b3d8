import {
  buildNormalizer,
  buildPostProcessor,
  buildPreTokenizer,
  buildWordPieceDecoder,
  type Decoder,
  type Normalizer,
  type PostProcessor,
  type PreTokenizer,
} from './hf-components.js';
import { buildSpecialTokenRegex, resolveSpecialRegex, splitOnSpecial } from './pre-tokenize.js';
import type { EncodeOptions, Tokenizer } from './types.js';

/** A Hugging Face added token, as listed in `added_tokens` of a `tokenizer.json`. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** Everything that defines a WordPiece tokenizer: the model and the pipeline around it. */
export interface WordPieceModel {
  /** Token strings and their ids. Continuation pieces carry `continuingSubwordPrefix`. */
  vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  unkToken: string;
  /** Default `'##'`. */
  continuingSubwordPrefix?: string;
  /** Words with more characters (code points) than this become `unkToken`. Default 100. */
  maxInputCharsPerWord?: number;
  addedTokens?: readonly AddedToken[];
  /** The `normalizer`, `pre_tokenizer`, `post_processor` and `decoder` of a `tokenizer.json`. */
  normalizer?: unknown;
  preTokenizer?: unknown;
  postProcessor?: unknown;
  decoder?: unknown;
}

/** Options of `encodeForModel`. */
export interface EncodeForModelOptions {
  /** Length of the output with special tokens included. Without it nothing is truncated or padded. */
  maxLength?: number;
  /**
   * `'max_length'` pads to `maxLength`, `false` (the default) does not pad. Padding appends the
   * `[PAD]` token (or `padToken`) with type id 0 and attention mask 0, as Hugging Face does by
   * default.
   */
  padding?: 'max_length' | false;
  /**
   * How to shorten input longer than `maxLength`: `'longest_first'` (or `true`) cuts the end of
   * the longer sequence first, as Hugging Face tokenizers do, and `'only_first'` and
   * `'only_second'` cut one sequence only. Default `false`: longer input raises an Error.
   */
  truncation?: boolean | 'longest_first' | 'only_first' | 'only_second';
  /** Whether to add the post-processor's special tokens such as [CLS] and [SEP]. Default true. */
  addSpecialTokens?: boolean;
  padToken?: string;
}

/** Model inputs of a BERT-style encoder. */
export interface ModelInputs {
  ids: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

/**
 * A WordPiece tokenizer as BERT uses it: the text is normalized, split into words, and each word
 * is split into the longest vocabulary pieces from the left (greedy longest-match-first), with
 * `##` marking pieces that continue a word. A word with no such split becomes `[UNK]` as a whole.
 * `encode` recognizes the text of added tokens such as `[MASK]` by default, as Hugging Face does,
 * and adds no special tokens. `encodeForModel` adds them and builds the model inputs.
 */
export class WordPieceTokenizer implements Tokenizer {
  readonly kind = 'wordpiece';
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly unkToken: string;
  readonly continuingSubwordPrefix: string;
  readonly maxInputCharsPerWord: number;

  private readonly vocab = new Map<string, number>();
  private readonly tokens: string[] = [];
  private readonly addedTokens: readonly AddedToken[];
  private readonly addedTokenIds = new Map<string, number>();
  private readonly addedRegex: RegExp | undefined;
  private readonly unkId: number;
  private readonly normalize: Normalizer | undefined;
  private readonly preTokenize: PreTokenizer | undefined;
  private readonly postProcessor: PostProcessor | undefined;
  private readonly decodeTokens: Decoder;
  private readonly components: Pick<
    WordPieceModel,
    'normalizer' | 'preTokenizer' | 'postProcessor' | 'decoder'
  >;
  private readonly cache = new Map<string, number[]>();

  constructor(model: WordPieceModel) {
    const entries = model.vocab instanceof Map ? [...model.vocab] : Object.entries(model.vocab);
    for (const [token, id] of entries) {
      if (!Number.isSafeInteger(id) || id < 0) {
        throw new Error(`Invalid id ${JSON.stringify(id)} for vocabulary entry ${JSON.stringify(token)}`);
      }
      this.vocab.set(token, id);
      this.tokens[id] = token;
    }
    this.addedTokens = (model.addedTokens ?? []).map(({ id, content, special }) => ({
      id,
      content,
      special,
    }));
    for (const added of this.addedTokens) {
      this.addedTokenIds.set(added.content, added.id);
      this.tokens[added.id] ??= added.content;
    }
    this.specialTokens = new Map(this.addedTokens.filter((t) => t.special).map((t) => [t.content, t.id]));
    this.addedRegex = buildSpecialTokenRegex(this.addedTokenIds.keys());
    this.vocabSize = this.tokens.length;

    this.unkToken = model.unkToken;
    const unkId = this.vocab.get(model.unkToken);
    if (unkId === undefined)
      throw new Error(
        `Invalid WordPiece model: unk_token ${JSON.stringify(model.unkToken)} is not in the vocabulary`,
      );
    this.unkId = unkId;
    this.continuingSubwordPrefix = model.continuingSubwordPrefix ?? '##';
    this.maxInputCharsPerWord = model.maxInputCharsPerWord ?? 100;

    this.components = {
      normalizer: model.normalizer ?? null,
      preTokenizer: model.preTokenizer ?? null,
      postProcessor: model.postProcessor ?? null,
      decoder: model.decoder ?? null,
    };
    this.normalize = buildNormalizer(model.normalizer);
    this.preTokenize = buildPreTokenizer(model.preTokenizer);
    this.postProcessor = buildPostProcessor(model.postProcessor);
    this.decodeTokens = buildWordPieceDecoder(model.decoder, this.continuingSubwordPrefix);
  }

  /**
   * Builds a tokenizer from a BERT `vocab.txt` (one token per line, the line number is the id)
   * with the pipeline of `bert-base-uncased`, or of `bert-base-cased` when `lowercase` is false.
   */
  static fromVocabTxt(vocabTxt: string, options: { lowercase?: boolean } = {}): WordPieceTokenizer {
    const lines = vocabTxt.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const vocab = new Map(lines.map((line, id) => [line.replace(/\r$/, ''), id]));
    const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((token) => vocab.has(token));
    const cls = vocab.get('[CLS]') ?? 0;
    const sep = vocab.get('[SEP]') ?? 0;
    return new WordPieceTokenizer({
      vocab,
      unkToken: '[UNK]',
      addedTokens: special.map((content) => ({ id: vocab.get(content)!, content, special: true })),
      normalizer: {
        type: 'BertNormalizer',
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: options.lowercase ?? true,
      },
      preTokenizer: { type: 'BertPreTokenizer' },
      postProcessor: { type: 'BertProcessing', sep: ['[SEP]', sep], cls: ['[CLS]', cls] },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    });
  }

  /** Splits text into WordPiece token strings, with added tokens recognized as `encode` does. */
  tokenize(text: string, options: EncodeOptions = {}): string[] {
    return this.encode(text, options).map((id) => this.tokens[id]);
  }

  /**
   * Encodes `text` without special tokens of the post-processor. Added tokens are recognized in
   * the text as `options.allowedSpecial` allows, by default all of them.
   * Added tokens are matched in the text before normalization, as Hugging Face does for tokens
   * with `normalized: false` (all of BERT's). `tokenizerFromJSON` rejects the other settings.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const regex = resolveSpecialRegex(options.allowedSpecial ?? 'all', this.addedTokenIds, this.addedRegex);
    const ids: number[] = [];
    splitOnSpecial(
      text,
      regex,
      (segment) => this.encodeSegment(segment, ids),
      (token) => ids.push(this.addedTokenIds.get(token)!),
    );
    return ids;
  }

  private encodeSegment(segment: string, output: number[]) {
    const normalized = this.normalize === undefined ? segment : this.normalize(segment);
    const words = this.preTokenize === undefined ? [normalized] : this.preTokenize(normalized);
    for (const word of words) {
      if (word.length === 0) continue;
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        if (this.cache.size >= 100_000) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) output.push(id);
    }
  }

  /** Greedy longest-match-first over the code points of one word. */
  private encodeWord(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > this.maxInputCharsPerWord) return [this.unkId];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let found: number | undefined;
      let end = chars.length;
      for (; end > start; end--) {
        const piece = chars.slice(start, end).join('');
        found = this.vocab.get(start > 0 ? this.continuingSubwordPrefix + piece : piece);
        if (found !== undefined) break;
      }
      if (found === undefined) return [this.unkId];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /**
   * Encodes one text or a pair for a BERT-style model: adds [CLS] and [SEP] as the post-processor
   * defines, then truncates and pads to `maxLength`. Returns the ids, the token type ids (0 for the
   * first text, 1 for the second) and the attention mask (1 for tokens, 0 for padding).
   */
  encodeForModel(text: string, pair?: string, options: EncodeForModelOptions = {}): ModelInputs {
    let first = this.encode(text);
    let second = pair === undefined ? undefined : this.encode(pair);
    const addSpecial = options.addSpecialTokens !== false && this.postProcessor !== undefined;
    const { maxLength } = options;
    if (maxLength !== undefined) {
      if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
        throw new RangeError(`Invalid maxLength ${maxLength}: expected a positive integer`);
      }
      const added = addSpecial ? this.postProcessor!.addedTokens(second !== undefined) : 0;
      const budget = maxLength - added;
      const total = first.length + (second?.length ?? 0);
      if (total > budget) {
        const truncation = options.truncation === true ? 'longest_first' : (options.truncation ?? false);
        if (truncation === false) {
          throw new Error(
            `Input of ${total + added} tokens is longer than maxLength ${maxLength}: pass truncation to shorten it`,
          );
        }
        if (budget < 0) throw new Error(`maxLength ${maxLength} is shorter than the ${added} special tokens`);
        [first, second] = truncate(first, second, budget, truncation);
      }
    }

    const processed = addSpecial
      ? this.postProcessor!.process(first, second)
      : {
          ids: [...first, ...(second ?? [])],
          typeIds: [...first.map(() => 0), ...(second ?? []).map(() => 1)],
        };
    const ids = processed.ids;
    const tokenTypeIds = processed.typeIds;
    const attentionMask = ids.map(() => 1);
    if (options.padding === 'max_length' && maxLength !== undefined) {
      const padToken = options.padToken ?? '[PAD]';
      const padId = this.tokenToId(padToken);
      if (padId === undefined)
        throw new Error(`Pad token ${JSON.stringify(padToken)} is not in the vocabulary`);
      while (ids.length < maxLength) {
        ids.push(padId);
        tokenTypeIds.push(0);
        attentionMask.push(0);
      }
    }
    return { ids, tokenTypeIds, attentionMask };
  }

  /**
   * Decodes ids with the decoder of the pipeline. Special tokens are kept unless
   * `skipSpecialTokens` is true, as in Hugging Face's `decode`.
   */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens === true;
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const token = this.tokens[ids[i]];
      if (token === undefined) {
        throw new RangeError(
          `Token id ${ids[i]} at index ${i} is not in the vocabulary (size ${this.vocabSize})`,
        );
      }
      if (skip && this.specialTokens.get(token) === ids[i]) continue;
      tokens.push(token);
    }
    return this.decodeTokens(tokens);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  tokenToId(token: string): number | undefined {
    return this.addedTokenIds.get(token) ?? this.vocab.get(token);
  }

  /** Returns the tokenizer as a Hugging Face `tokenizer.json` object. */
  toJSON(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    for (const [token, id] of [...this.vocab].sort((a, b) => a[1] - b[1])) vocab[token] = id;
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.addedTokens.map(({ id, content, special }) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special,
      })),
      normalizer: this.components.normalizer,
      pre_tokenizer: this.components.preTokenizer,
      post_processor: this.components.postProcessor,
      decoder: this.components.decoder,
      model: {
        type: 'WordPiece',
        unk_token: this.unkToken,
        continuing_subword_prefix: this.continuingSubwordPrefix,
        max_input_chars_per_word: this.maxInputCharsPerWord,
        vocab,
      },
    };
  }
}

/** Removes tokens from the ends of the sequences until they fit in `budget` tokens. */
function truncate(
  first: number[],
  second: number[] | undefined,
  budget: number,
  strategy: 'longest_first' | 'only_first' | 'only_second',
): [number[], number[] | undefined] {
  const secondLength = second?.length ?? 0;
  if (strategy === 'only_first' || second === undefined) {
    if (secondLength > budget) {
      throw new Error(
        `The second sequence has ${secondLength} tokens, more than fit with truncation 'only_first'`,
      );
    }
    return [first.slice(0, budget - secondLength), second];
  }
  if (strategy === 'only_second') {
    if (first.length > budget) {
      throw new Error(
        `The first sequence has ${first.length} tokens, more than fit with truncation 'only_second'`,
      );
    }
    return [first, second.slice(0, budget - first.length)];
  }
  // Longest first, as `truncate_encodings` in Hugging Face tokenizers computes it: the shorter
  // sequence keeps its length when the longer one can absorb the cut, and otherwise each keeps half
  // the budget, the longer one (the second on a tie) taking the odd token.

  let shorter = Math.min(first.length, second.length);
  let longer = Math.max(first.length, second.length);
  longer = shorter > budget ? shorter : Math.max(shorter, budget - shorter);
  if (shorter + longer > budget) {
    shorter = Math.floor(budget / 2);
    longer = shorter + (budget % 2);
  }

  const firstIsLonger = first.length > second.length;
  const firstLength = firstIsLonger ? longer : shorter;
  const pairLength = firstIsLonger ? shorter : longer;
  return [first.slice(0, firstLength), second.slice(0, pairLength)];
}
