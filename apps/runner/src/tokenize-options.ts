import { z } from 'zod';
import {
  choiceOption,
  formatOptionList,
  numberOption,
  type OptionDescriptor,
  POSITIVE_INTEGER,
  pathOption,
  readRawOptions,
  UsageError,
  validateOptions,
} from './args.js';

/** Tokenizers that `glassbox tokenize` loads by name. Any other value is a tokenizer.json path. */
export const NAMED_TOKENIZERS = ['gpt2', 'cl100k', 'o200k', 'bert-base-uncased', 'claude'] as const;
export type NamedTokenizer = (typeof NAMED_TOKENIZERS)[number];

export const TOKENIZE_FORMATS = ['pieces', 'ids', 'json'] as const;
export type TokenizeFormat = (typeof TOKENIZE_FORMATS)[number];

export interface TokenizeOptions {
  /** A name from `NAMED_TOKENIZERS` or the path of a tokenizer.json file. */
  tokenizer: string;
  /** The text to tokenize, from --text, or undefined when it comes from --file. */
  text?: string;
  file?: string;
  format: TokenizeFormat;
}

const TOKENIZE_OPTION_DESCRIPTORS: readonly OptionDescriptor[] = [
  {
    flag: 'tokenizer',
    valueName: 'NAME|PATH',
    description: `${NAMED_TOKENIZERS.join(', ')}, or the path of a Hugging Face or glassbox tokenizer.json (required)`,
  },
  { flag: 'text', valueName: 'TEXT', description: 'text to tokenize' },
  { flag: 'file', valueName: 'FILE', description: 'UTF-8 file to tokenize, instead of --text' },
  {
    flag: 'format',
    valueName: 'FORMAT',
    description: 'pieces: one token per line with its id, then the count; ids: space-separated ids; json',
    defaultText: 'pieces',
  },
];

const tokenizeSchema = z.object({
  tokenizer: pathOption('tokenizer').optional(),
  text: z.string().optional(),
  file: pathOption('file').optional(),
  format: choiceOption('format', TOKENIZE_FORMATS).default('pieces'),
});

export type ParsedCommand<T> = { help: true } | { help: false; options: T };

/**
 * Parses and validates the arguments of `glassbox tokenize` (without the subcommand itself).
 * Raises a UsageError that names the option and the invalid value.
 */
export function parseTokenizeOptions(argv: readonly string[]): ParsedCommand<TokenizeOptions> {
  const raw = readRawOptions('tokenize', argv, TOKENIZE_OPTION_DESCRIPTORS);
  if (raw.help) return { help: true };
  const parsed = validateOptions(tokenizeSchema, raw.values);
  if (parsed.tokenizer === undefined) {
    throw new UsageError(
      `--tokenizer is required. Pass one of ${NAMED_TOKENIZERS.join(', ')} or the path of a tokenizer.json.`,
    );
  }
  if (parsed.text !== undefined && parsed.file !== undefined) {
    throw new UsageError('--text and --file cannot be used together. Pass one of them.');
  }
  if (parsed.text === undefined && parsed.file === undefined) {
    throw new UsageError('missing input. Pass --text TEXT or --file FILE.');
  }
  return { help: false, options: { ...parsed, tokenizer: parsed.tokenizer } };
}

export function tokenizeUsage(): string {
  return [
    'Usage: glassbox tokenize --tokenizer NAME|PATH (--text TEXT | --file FILE) [--format pieces|ids|json]',
    '',
    'Split text into tokens and print them with their ids.',
    'bert-base-uncased is downloaded once from the Hugging Face Hub into $GLASSBOX_CACHE',
    '(default ~/.cache/glassbox); the other named tokenizers ship in npm packages.',
    '',
    'Options:',
    formatOptionList(TOKENIZE_OPTION_DESCRIPTORS),
    '',
  ].join('\n');
}

export const PRE_TOKENIZER_CHOICES = ['gpt2', 'cl100k', 'o200k', 'none'] as const;

export interface BpeTrainOptions {
  corpus: string;
  vocabSize: number;
  /** Always true: this package trains byte-level BPE only; `--byte-level` states it explicitly. */
  byteLevel: boolean;
  preTokenizer: (typeof PRE_TOKENIZER_CHOICES)[number];
  specialTokens: string[];
  out: string;
}

const BPE_TRAIN_OPTION_DESCRIPTORS: readonly OptionDescriptor[] = [
  { flag: 'corpus', valueName: 'FILE', description: 'UTF-8 text file to train on (required)' },
  {
    flag: 'vocab-size',
    valueName: 'N',
    description: 'vocabulary size: 256 byte tokens, one per merge, then the special tokens (required)',
  },
  {
    flag: 'byte-level',
    description: 'train over UTF-8 bytes, as GPT-2 does; this is the only mode, so the flag is optional',
  },
  {
    flag: 'pre-tokenizer',
    valueName: 'NAME',
    description:
      'split pattern that merges never cross: gpt2, cl100k, o200k or none (the whole text, split only at special tokens)',
    defaultText: 'gpt2',
  },
  {
    flag: 'special',
    valueName: 'TOKEN',
    description: 'special token added after the merged tokens; repeat the option for more',
  },
  {
    flag: 'out',
    valueName: 'FILE',
    description: 'path of the Hugging Face tokenizer.json to write (required)',
  },
];

const bpeTrainSchema = z.object({
  corpus: pathOption('corpus').optional(),
  vocabSize: numberOption('vocab-size', POSITIVE_INTEGER).optional(),
  byteLevel: z.string().optional(),
  preTokenizer: choiceOption('pre-tokenizer', PRE_TOKENIZER_CHOICES).default('gpt2'),
  out: pathOption('out').optional(),
});

/**
 * Parses and validates the arguments of `glassbox bpe-train`. `--special` may be repeated, so its
 * values are collected from `argv` before the other options are read.
 */
export function parseBpeTrainOptions(argv: readonly string[]): ParsedCommand<BpeTrainOptions> {
  const { specialTokens, rest } = takeRepeated(argv, 'special');
  const raw = readRawOptions('bpe-train', rest, BPE_TRAIN_OPTION_DESCRIPTORS);
  if (raw.help) return { help: true };
  const parsed = validateOptions(bpeTrainSchema, raw.values);
  for (const flag of ['corpus', 'vocab-size', 'out'] as const) {
    if (!raw.values.has(flag)) {
      throw new UsageError(`--${flag} is required. Run glassbox bpe-train --help for usage.`);
    }
  }
  const minimum = 256 + specialTokens.length;
  if (parsed.vocabSize! < minimum) {
    throw new UsageError(
      `--vocab-size must be at least ${minimum} (256 bytes + ${specialTokens.length} special tokens), got ${parsed.vocabSize}.`,
    );
  }
  const seen = new Set<string>();
  for (const token of specialTokens) {
    if (token === '') throw new UsageError('--special must be a non-empty token, got an empty value.');
    if (seen.has(token)) throw new UsageError(`--special ${JSON.stringify(token)} is given twice.`);
    seen.add(token);
  }
  return {
    help: false,
    options: {
      corpus: parsed.corpus!,
      vocabSize: parsed.vocabSize!,
      byteLevel: true,
      preTokenizer: parsed.preTokenizer,
      specialTokens,
      out: parsed.out!,
    },
  };
}

/** Removes each `--flag VALUE` and `--flag=VALUE` from `argv` and returns the values in order. */
function takeRepeated(argv: readonly string[], flag: string): { specialTokens: string[]; rest: string[] } {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === `--${flag}`) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) {
        throw new UsageError(
          `--${flag} requires a value (--${flag} TOKEN). Write a value that starts with -- as --${flag}=VALUE.`,
        );
      }
      values.push(value);
      i++;
    } else if (argument.startsWith(`--${flag}=`)) {
      values.push(argument.slice(flag.length + 3));
    } else {
      rest.push(argument);
    }
  }
  return { specialTokens: values, rest };
}

export function bpeTrainUsage(): string {
  return [
    'Usage: glassbox bpe-train --corpus FILE --vocab-size N --out tokenizer.json [options]',
    '',
    'Train a byte-level BPE tokenizer and write it as a Hugging Face tokenizer.json.',
    '',
    'Options:',
    formatOptionList(BPE_TRAIN_OPTION_DESCRIPTORS),
    '',
  ].join('\n');
}
