import {
  CL100K_SPLIT_PATTERN,
  GPT2_SPLIT_PATTERN,
  O200K_SPLIT_PATTERN,
  type PreTokenizerName,
} from './pre-tokenize.js';

/**
 * The parts of a Hugging Face `tokenizer.json` that this package writes. Other libraries read the
 * same file: `tokenizers` in Python and Rust, and `@huggingface/transformers` in JavaScript.
 */
export interface HuggingFaceTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: HuggingFaceAddedToken[];
  normalizer: { type: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' } | null;
  pre_tokenizer: HuggingFacePreTokenizer;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown>;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

export interface HuggingFaceAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export type HuggingFacePreTokenizer =
  | { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean }
  | {
      type: 'Sequence';
      pretokenizers: [
        { type: 'Split'; pattern: { Regex: string }; behavior: 'Isolated'; invert: boolean },
        { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean },
      ];
    };

/**
 * Writes a pre-tokenizer the way Hugging Face does: GPT-2's split is built into its `ByteLevel`
 * pre-tokenizer (`use_regex`), and other patterns are a `Split` step before `ByteLevel`.
 */
export function preTokenizerToJson(name: PreTokenizerName): HuggingFacePreTokenizer {
  const byteLevel = (useRegex: boolean) =>
    ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex }) as const;
  switch (name) {
    case 'gpt2':
      return byteLevel(true);
    case 'none':
      return byteLevel(false);
    case 'cl100k':
    case 'o200k':
      return {
        type: 'Sequence',
        pretokenizers: [
          {
            type: 'Split',
            pattern: { Regex: name === 'cl100k' ? CL100K_SPLIT_PATTERN : O200K_SPLIT_PATTERN },
            behavior: 'Isolated',
            invert: false,
          },
          byteLevel(false),
        ],
      };
  }
}

const PATTERNS: ReadonlyMap<string, PreTokenizerName> = new Map([
  [GPT2_SPLIT_PATTERN, 'gpt2'],
  [CL100K_SPLIT_PATTERN, 'cl100k'],
  [O200K_SPLIT_PATTERN, 'o200k'],
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns `use_regex` of a `ByteLevel` pre-tokenizer, after rejecting settings this package lacks. */
function parseByteLevel(json: Record<string, unknown>): boolean {
  if (json.add_prefix_space === true) {
    throw new Error('Unsupported tokenizer.json: ByteLevel pre_tokenizer with add_prefix_space true');
  }
  return json.use_regex !== false;
}

/**
 * Reads a pre-tokenizer that `preTokenizerToJson` can write, including GPT-2's own form, and
 * raises an Error naming anything else.
 */
export function preTokenizerFromJson(json: unknown): PreTokenizerName {
  const jsonText = JSON.stringify(json);
  if (isObject(json) && json.type === 'ByteLevel') return parseByteLevel(json) ? 'gpt2' : 'none';

  if (isObject(json) && json.type === 'Sequence' && Array.isArray(json.pretokenizers)) {
    const [split, byteLevel, ...rest] = json.pretokenizers as unknown[];
    const splitPattern =
      isObject(split) && split.type === 'Split' && isObject(split.pattern) ? split.pattern.Regex : undefined;
    const name = typeof splitPattern === 'string' ? PATTERNS.get(splitPattern) : undefined;
    const isolated = isObject(split) && split.behavior === 'Isolated' && split.invert !== true;
    if (
      name !== undefined &&
      isolated &&
      rest.length === 0 &&
      isObject(byteLevel) &&
      byteLevel.type === 'ByteLevel'
    ) {
      if (parseByteLevel(byteLevel)) {
        throw new Error(
          `Unsupported tokenizer.json pre_tokenizer ${jsonText}: ByteLevel after Split must have use_regex false`,
        );
      }
      return name;
    }
  }
  throw new Error(
    `Unsupported tokenizer.json pre_tokenizer ${jsonText}: expected ByteLevel, or Split with the GPT-2, cl100k or o200k pattern followed by ByteLevel`,
  );
}
