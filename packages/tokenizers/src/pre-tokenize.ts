import type { AllowedSpecial } from './types.js';

/**
 * Pre-tokenizers: `'gpt2'` splits with GPT-2's regular expression, `'cl100k'` with the one of
 * tiktoken's cl100k_base (GPT-3.5 and GPT-4), `'o200k'` with the one of o200k_base (GPT-4o), and
 * `'none'` keeps each text segment as one chunk.
 */
export type PreTokenizerName = 'gpt2' | 'cl100k' | 'o200k' | 'none';

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

/**
 * o200k_base's split pattern, as gpt-tokenizer 4.0.0 writes tiktoken's pattern for JavaScript: the
 * case-insensitive contraction groups `(?i:'s|'t|...)` are spelled out with character classes.
 */
export const O200K_SPLIT_PATTERN = [
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))?`,
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))?`,
  String.raw`\p{N}{1,3}`,
  String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
  String.raw`\s*[\r\n]+`,
  String.raw`\s+(?!\S)`,
  String.raw`\s+`,
].join('|');

const PRE_TOKENIZER_NAMES: readonly PreTokenizerName[] = ['gpt2', 'cl100k', 'o200k', 'none'];

/**
 * The characters of the Unicode White_Space property, which `\s` matches in Rust's regex crate
 * (tiktoken) and Python's `regex` module. JavaScript's `\s` differs: it also matches U+FEFF and
 * misses U+0085.
 */
const WHITE_SPACE = String.raw`\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;

/**
 * Rewrites `\s` and `\S` in a split pattern as explicit White_Space classes, so that JavaScript
 * splits text where tiktoken does.
 */
export function withUnicodeWhiteSpace(pattern: string): string {
  // `[\s\S]` is any character, written `[^]` in JavaScript.
  pattern = pattern.replaceAll(String.raw`[\s\S]`, '[^]');
  let result = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') {
      const next = pattern[i + 1];
      i++;
      if (next === 's') result += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (next === 'S' && !inClass) result += `[^${WHITE_SPACE}]`;
      else if (next === 'S') throw new Error(`Unsupported \\S inside a character class in ${pattern}`);
      else result += char + next;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    result += char;
  }
  return result;
}

const SPLIT_REGEXES: Record<Exclude<PreTokenizerName, 'none'>, RegExp> = {
  gpt2: new RegExp(withUnicodeWhiteSpace(GPT2_SPLIT_PATTERN), 'gu'),
  cl100k: new RegExp(withUnicodeWhiteSpace(CL100K_SPLIT_PATTERN), 'gu'),
  o200k: new RegExp(withUnicodeWhiteSpace(O200K_SPLIT_PATTERN), 'gu'),
};

export function isPreTokenizerName(value: unknown): value is PreTokenizerName {
  return (PRE_TOKENIZER_NAMES as readonly unknown[]).includes(value);
}

export function checkPreTokenizerName(value: unknown): PreTokenizerName {
  if (!isPreTokenizerName(value)) {
    throw new Error(
      `Invalid preTokenizer ${JSON.stringify(value)}: expected 'gpt2', 'cl100k', 'o200k' or 'none'`,
    );
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

/**
 * Raises an Error naming the first disallowed special token whose text occurs in `text`, as
 * tiktoken's `encode` does. `disallowedSpecial` defaults to `'all'`, which means every special
 * token that `allowedSpecial` does not allow.
 */
export function checkDisallowedSpecial(
  text: string,
  allowedSpecial: AllowedSpecial | undefined,
  disallowedSpecial: AllowedSpecial | undefined,
  specialTokens: ReadonlyMap<string, number>,
  allRegex: RegExp | undefined,
) {
  let regex: RegExp | undefined;
  if (disallowedSpecial === undefined || disallowedSpecial === 'all') {
    if (allowedSpecial === 'all') return;
    const allowed = allowedSpecial ?? new Set<string>();
    regex =
      allowed.size === 0
        ? allRegex
        : buildSpecialTokenRegex([...specialTokens.keys()].filter((token) => !allowed.has(token)));
  } else {
    for (const token of disallowedSpecial) {
      if (!specialTokens.has(token)) {
        throw new Error(`disallowedSpecial contains ${JSON.stringify(token)}, which is not a special token`);
      }
    }
    regex = buildSpecialTokenRegex(disallowedSpecial);
  }
  if (regex === undefined) return;
  const found = text.matchAll(regex).next();
  if (found.done === true) return;
  const token = JSON.stringify(found.value[0]);
  throw new Error(
    `Disallowed special token ${token} found in the text at index ${found.value.index}. Pass allowedSpecial to encode it as a special token, or disallowedSpecial: new Set() to encode it as ordinary text`,
  );
}
