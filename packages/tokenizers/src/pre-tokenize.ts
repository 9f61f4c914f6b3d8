import type { AllowedSpecial } from './types.js';

/**
 * Pre-tokenizers: `'gpt2'` splits with GPT-2's regular expression, `'cl100k'` with the one of
 * tiktoken's cl100k_base (GPT-3.5 and GPT-4), and `'none'` keeps each text segment as one chunk.
 */
export type PreTokenizerName = 'gpt2' | 'cl100k' | 'none';

/** GPT-2's split pattern, from OpenAI's `encoder.py`. */
export const GPT2_SPLIT_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/**
 * cl100k_base's split pattern from tiktoken, rewritten so that JavaScript and Oniguruma (the engine
 * behind Hugging Face `tokenizer.json` regexes) read it the same way. The case-insensitive group
 * of contractions is spelled out with character classes. The possessive quantifiers are plain
 * ones, because no alternative here matches differently after backtracking. `$` is written
 * `(?![\s\S])`, because Oniguruma's `$` also matches before a line break.
 */
export const CL100K_SPLIT_PATTERN = String.raw`'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+(?![\s\S])|\s*[\r\n]|\s+(?!\S)|\s`;

const SPLIT_REGEXES: Record<Exclude<PreTokenizerName, 'none'>, RegExp> = {
  gpt2: new RegExp(GPT2_SPLIT_PATTERN, 'gu'),
  cl100k: new RegExp(CL100K_SPLIT_PATTERN, 'gu'),
};

export function isPreTokenizerName(value: unknown): value is PreTokenizerName {
  return value === 'gpt2' || value === 'cl100k' || value === 'none';
}

export function checkPreTokenizerName(value: unknown): PreTokenizerName {
  if (!isPreTokenizerName(value)) {
    throw new Error(`Invalid preTokenizer ${JSON.stringify(value)}: expected 'gpt2', 'cl100k' or 'none'`);
  }
  return value;
}

/**
 * Calls `onChunk` for each pre-tokenizer chunk of `text`, in order. The chunks concatenate to
 * `text`, because both split patterns end with alternatives that match any character.
 */
export function forEachChunk(text: string, preTokenizer: PreTokenizerName, onChunk: (chunk: string) => void) {
  if (text.length === 0) return;
  if (preTokenizer === 'none') {
    onChunk(text);
    return;
  }
  for (const match of text.matchAll(SPLIT_REGEXES[preTokenizer])) onChunk(match[0]);
}

/** Splits `text` into pre-tokenizer chunks. */
export function preTokenize(text: string, preTokenizer: PreTokenizerName): string[] {
  const chunks: string[] = [];
  forEachChunk(text, preTokenizer, (chunk) => chunks.push(chunk));
  return chunks;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds a regular expression that matches any of `tokens`, preferring the longest at each
 * position, or returns `undefined` when `tokens` is empty.
 */
export function buildSpecialTokenRegex(tokens: Iterable<string>): RegExp | undefined {
  const sorted = [...tokens].sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return undefined;
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'gu');
}

/**
 * Resolves `allowedSpecial` to the regular expression that finds the allowed special tokens, or
 * `undefined` when none is allowed. `allRegex` is the cached regular expression for all of them.
 */
export function resolveSpecialRegex(
  allowedSpecial: AllowedSpecial | undefined,
  specialTokens: ReadonlyMap<string, number>,
  allRegex: RegExp | undefined,
): RegExp | undefined {
  if (allowedSpecial === undefined) return undefined;
  if (allowedSpecial === 'all') return allRegex;
  for (const token of allowedSpecial) {
    if (!specialTokens.has(token)) {
      throw new Error(`allowedSpecial contains ${JSON.stringify(token)}, which is not a special token`);
    }
  }
  return buildSpecialTokenRegex(allowedSpecial);
}

/**
 * Splits `text` at the matches of `specialRegex`: calls `onText` for each stretch of ordinary text
 * (never empty) and `onSpecial` for each special token found, in order.
 */
export function splitOnSpecial(
  text: string,
  specialRegex: RegExp | undefined,
  onText: (text: string) => void,
  onSpecial: (token: string) => void,
) {
  if (specialRegex === undefined) {
    if (text.length > 0) onText(text);
    return;
  }
  let start = 0;
  for (const match of text.matchAll(specialRegex)) {
    if (match.index > start) onText(text.slice(start, match.index));
    onSpecial(match[0]);
    start = match.index + match[0].length;
  }
  if (start < text.length) onText(text.slice(start));
}
