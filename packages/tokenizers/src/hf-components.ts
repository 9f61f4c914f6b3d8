/**
 * Normalizers, pre-tokenizers, post-processors and decoders of Hugging Face `tokenizer.json`
 * files, built from their JSON form. Each builder raises an Error that names a component type it
 * does not implement. The behaviour follows the Rust `tokenizers` library.
 */

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unsupported(kind: string, json: unknown): Error {
  const type = isObject(json) ? json.type : undefined;
  return new Error(
    `Unsupported tokenizer.json ${kind} type ${JSON.stringify(type)}: this package implements ${SUPPORTED[kind]}`,
  );
}

const SUPPORTED: Record<string, string> = {
  normalizer: 'BertNormalizer, Sequence, NFC, NFD, NFKC, NFKD, Lowercase and StripAccents',
  pre_tokenizer: 'BertPreTokenizer, Whitespace, WhitespaceSplit, Split and Sequence',
  post_processor: 'TemplateProcessing, BertProcessing and ByteLevel',
  decoder: 'WordPiece and ByteLevel',
};

/** Rust's `char::is_whitespace` (the Unicode White_Space property). */
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const WHITESPACE_GLOBAL = new RegExp(WHITESPACE.source, 'gu');
/** Characters that BertNormalizer's `clean_text` removes: NUL, U+FFFD and category C except \t\n\r. */
const BERT_REMOVED = /[\0\ufffd]|(?![\t\n\r])\p{C}/gu;
/** The CJK ideograph blocks that BertNormalizer surrounds with spaces. */
const CJK =
  /[\u{4e00}-\u{9fff}\u{3400}-\u{4dbf}\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b920}-\u{2ceaf}\u{f900}-\u{faff}\u{2f800}-\u{2fa1f}]/gu;

/**
 * Lowercases each code point on its own, as Rust's `char::to_lowercase` does. JavaScript's
 * `toLowerCase` differs only for capital sigma, which it maps to final sigma at the end of a word.
 */
export function lowercaseCodePoints(text: string): string {
  if (!text.includes('\u03a3')) return text.toLowerCase();
  return text.replace(/[^\u03a3]+/g, (run) => run.toLowerCase()).replaceAll('\u03a3', '\u03c3');
}

export type Normalizer = (text: string) => string;

export function buildNormalizer(json: unknown): Normalizer | undefined {
  if (json === null || json === undefined) return undefined;
  if (!isObject(json)) throw unsupported('normalizer', json);
  switch (json.type) {
    case 'BertNormalizer': {
      const lowercase = json.lowercase !== false;
      const stripAccents =
        json.strip_accents === null || json.strip_accents === undefined
          ? lowercase
          : json.strip_accents === true;
      const cleanText = json.clean_text !== false;
      const chinese = json.handle_chinese_chars !== false;
      return (text) => {
        if (cleanText) text = text.replace(BERT_REMOVED, '').replace(WHITESPACE_GLOBAL, ' ');
        if (chinese) text = text.replace(CJK, ' $& ');
        if (stripAccents) text = text.normalize('NFD').replace(/\p{Mn}/gu, '');
        if (lowercase) text = lowercaseCodePoints(text);
        return text;
      };
    }
    case 'Sequence': {
      const steps = (Array.isArray(json.normalizers) ? json.normalizers : []).map(buildNormalizer);
      return (text) => steps.reduce((result, step) => (step === undefined ? result : step(result)), text);
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = json.type;
      return (text) => text.normalize(form);
    }
    case 'Lowercase':
      return lowercaseCodePoints;
    case 'StripAccents':
      return (text) => text.replace(/\p{M}/gu, '');
    default:
      throw unsupported('normalizer', json);
  }
}

export type PreTokenizer = (text: string) => string[];

/** Rust's `char::is_ascii_punctuation` or a Unicode punctuation category, as BertPreTokenizer tests. */
const BERT_PUNCTUATION = /[!-/:-@[-`{-~]|\p{P}/u;
/** Rust regex `\w` with Unicode: alphabetic, marks, decimal digits, connector punctuation, joiners. */
const WORD = String.raw`[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]`;
const WHITESPACE_PRE_TOKENIZER = new RegExp(
  `${WORD}+|(?:(?!${WHITESPACE.source})[^\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}])+`,
  'gu',
);

function splitOnWhitespace(text: string): string[] {
  return text.split(WHITESPACE_GLOBAL).filter((part) => part.length > 0);
}

function bertPreTokenize(text: string): string[] {
  const words: string[] = [];
  for (const part of splitOnWhitespace(text)) {
    let start = 0;
    let index = 0;
    for (const char of part) {
      if (BERT_PUNCTUATION.test(char)) {
        if (index > start) words.push(part.slice(start, index));
        words.push(char);
        start = index + char.length;
      }
      index += char.length;
    }
    if (start < part.length) words.push(part.slice(start));
  }
  return words;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/** Builds Hugging Face's `Split` pre-tokenizer, which splits at the matches of a pattern as `behavior` selects. */
function buildSplit(json: Json): PreTokenizer {
  const pattern = isObject(json.pattern) ? json.pattern : {};
  const source =
    typeof pattern.Regex === 'string'
      ? pattern.Regex
      : typeof pattern.String === 'string'
        ? escapeRegExp(pattern.String)
        : undefined;
  if (source === undefined)
    throw new Error(`Invalid tokenizer.json Split pattern ${JSON.stringify(json.pattern)}`);
  const behavior = json.behavior as SplitBehavior;
  if (!['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'].includes(behavior)) {
    throw new Error(`Unsupported tokenizer.json Split behavior ${JSON.stringify(json.behavior)}`);
  }
  const regex = new RegExp(source, 'gu');
  const invert = json.invert === true;
  return (text) => {
    // Pieces of the text, each marked as a match of the pattern or not.
    const pieces: [string, boolean][] = [];
    let start = 0;
    for (const match of text.matchAll(regex)) {
      if (match[0].length === 0) continue;
      if (match.index > start) pieces.push([text.slice(start, match.index), invert]);
      pieces.push([match[0], !invert]);
      start = match.index + match[0].length;
    }
    if (start < text.length) pieces.push([text.slice(start), invert]);
    return applySplitBehavior(pieces, behavior);
  };
}

function applySplitBehavior(pieces: [string, boolean][], behavior: SplitBehavior): string[] {
  const result: string[] = [];
  switch (behavior) {
    case 'Removed':
      for (const [piece, isMatch] of pieces) if (!isMatch) result.push(piece);
      return result;
    case 'Isolated':
      return pieces.map(([piece]) => piece);
    case 'MergedWithPrevious':
      for (const [piece, isMatch] of pieces) {
        if (isMatch && result.length > 0) result[result.length - 1] += piece;
        else result.push(piece);
      }
      return result;
    case 'MergedWithNext': {
      let pending = '';
      for (const [piece, isMatch] of pieces) {
        if (isMatch) pending += piece;
        else {
          result.push(pending + piece);
          pending = '';
        }
      }
      if (pending.length > 0) result.push(pending);
      return result;
    }
    case 'Contiguous': {
      let previousIsMatch: boolean | undefined;
      for (const [piece, isMatch] of pieces) {
        if (isMatch && previousIsMatch === true) result[result.length - 1] += piece;
        else result.push(piece);
        previousIsMatch = isMatch;
      }
      return result;
    }
  }
}

/** Builds a pre-tokenizer for models over strings (WordPiece). ByteLevel belongs to the BPE reader. */
export function buildPreTokenizer(json: unknown): PreTokenizer | undefined {
  if (json === null || json === undefined) return undefined;
  if (!isObject(json)) throw unsupported('pre_tokenizer', json);
  switch (json.type) {
    case 'BertPreTokenizer':
      return bertPreTokenize;
    case 'Whitespace':
      return (text) => Array.from(text.matchAll(WHITESPACE_PRE_TOKENIZER), (match) => match[0]);
    case 'WhitespaceSplit':
      return splitOnWhitespace;
    case 'Split':
      return buildSplit(json);
    case 'Sequence': {
      const steps = (Array.isArray(json.pretokenizers) ? json.pretokenizers : []).map(buildPreTokenizer);
      return (text) =>
        steps.reduce<string[]>(
          (pieces, step) => (step === undefined ? pieces : pieces.flatMap((piece) => step(piece))),
          [text],
        );
    }
    default:
      throw unsupported('pre_tokenizer', json);
  }
}

/** Special tokens and ids that a post-processor adds around one or two sequences. */
export interface PostProcessor {
  /** Returns the ids with special tokens added and the type id of each. */
  process(first: number[], second: number[] | undefined): { ids: number[]; typeIds: number[] };
  /** Number of special tokens added to one sequence, or to a pair when `pair` is true. */
  addedTokens(pair: boolean): number;
}

type TemplatePiece =
  | { kind: 'special'; ids: number[]; typeId: number }
  | { kind: 'sequence'; which: 'A' | 'B'; typeId: number };

function parseTemplate(template: unknown, specialIds: Map<string, number[]>): TemplatePiece[] {
  if (!Array.isArray(template))
    throw new Error(`Invalid TemplateProcessing template ${JSON.stringify(template)}`);
  return template.map((piece): TemplatePiece => {
    if (isObject(piece) && isObject(piece.SpecialToken)) {
      const name = String(piece.SpecialToken.id);
      const ids = specialIds.get(name);
      if (ids === undefined)
        throw new Error(`Invalid TemplateProcessing: special token ${JSON.stringify(name)} has no ids`);
      return { kind: 'special', ids, typeId: Number(piece.SpecialToken.type_id ?? 0) };
    }
    if (isObject(piece) && isObject(piece.Sequence)) {
      const which = piece.Sequence.id === 'B' ? 'B' : 'A';
      return { kind: 'sequence', which, typeId: Number(piece.Sequence.type_id ?? 0) };
    }
    throw new Error(`Invalid TemplateProcessing piece ${JSON.stringify(piece)}`);
  });
}

function templateProcessor(single: TemplatePiece[], pair: TemplatePiece[]): PostProcessor {
  const count = (pieces: TemplatePiece[]) =>
    pieces.reduce((total, piece) => total + (piece.kind === 'special' ? piece.ids.length : 0), 0);
  return {
    process(first, second) {
      const ids: number[] = [];
      const typeIds: number[] = [];
      for (const piece of second === undefined ? single : pair) {
        let pieceIds: number[];
        if (piece.kind === 'special') pieceIds = piece.ids;
        else if (piece.which === 'A') pieceIds = first;
        else pieceIds = second ?? [];
        for (const id of pieceIds) {
          ids.push(id);
          typeIds.push(piece.typeId);
        }
      }
      return { ids, typeIds };
    },
    addedTokens: (isPair) => count(isPair ? pair : single),
  };
}

export function buildPostProcessor(json: unknown): PostProcessor | undefined {
  if (json === null || json === undefined) return undefined;
  if (!isObject(json)) throw unsupported('post_processor', json);
  switch (json.type) {
    case 'TemplateProcessing': {
      const specialIds = new Map<string, number[]>();
      for (const [name, value] of Object.entries(isObject(json.special_tokens) ? json.special_tokens : {})) {
        if (isObject(value) && Array.isArray(value.ids)) specialIds.set(name, value.ids.map(Number));
      }
      return templateProcessor(parseTemplate(json.single, specialIds), parseTemplate(json.pair, specialIds));
    }
    case 'BertProcessing': {
      const [, sepId] = json.sep as [string, number];
      const [, clsId] = json.cls as [string, number];
      const cls: TemplatePiece = { kind: 'special', ids: [clsId], typeId: 0 };
      return templateProcessor(
        [cls, { kind: 'sequence', which: 'A', typeId: 0 }, { kind: 'special', ids: [sepId], typeId: 0 }],
        [
          cls,
          { kind: 'sequence', which: 'A', typeId: 0 },
          { kind: 'special', ids: [sepId], typeId: 0 },
          { kind: 'sequence', which: 'B', typeId: 1 },
          { kind: 'special', ids: [sepId], typeId: 1 },
        ],
      );
    }
    case 'ByteLevel':
      return templateProcessor(
        [{ kind: 'sequence', which: 'A', typeId: 0 }],
        [
          { kind: 'sequence', which: 'A', typeId: 0 },
          { kind: 'sequence', which: 'B', typeId: 1 },
        ],
      );
    default:
      throw unsupported('post_processor', json);
  }
}

export type Decoder = (tokens: string[]) => string;

/**
 * Builds the WordPiece decoder, which joins tokens with spaces and glues `prefix` pieces to the
 * token before. With `cleanup`, each token (with its leading space) then loses the space before
 * punctuation and English contractions. The Rust library cleans each token on its own, so
 * "can ' t" stays as it is; @huggingface/tokenizers 0.2.0 on npm cleans the joined text instead.
 */
export function wordPieceDecoder(prefix: string, cleanup: boolean): Decoder {
  return (tokens) => {
    let text = '';
    tokens.forEach((token, i) => {
      let piece = token;
      if (i > 0) piece = token.startsWith(prefix) ? token.slice(prefix.length) : ` ${token}`;
      text += cleanup ? cleanUpTokenization(piece) : piece;
    });
    return text;
  };
}

/** Hugging Face's `cleanup` of decoded text, with the replacements of the Rust library in its order. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

export function buildWordPieceDecoder(json: unknown, defaultPrefix: string): Decoder {
  if (json === null || json === undefined) return wordPieceDecoder(defaultPrefix, true);
  if (isObject(json) && json.type === 'WordPiece') {
    return wordPieceDecoder(typeof json.prefix === 'string' ? json.prefix : '##', json.cleanup !== false);
  }
  throw unsupported('decoder', json);
}
