import { ByteLevelBpeTokenizer } from './bpe.js';
import { GPT2_SPLIT_PATTERN, type PreTokenizerName } from './pre-tokenize.js';

/** The OpenAI encodings of tiktoken that this package can build. */
export type EncodingName = 'r50k_base' | 'cl100k_base' | 'o200k_base';

export const ENCODING_NAMES: readonly EncodingName[] = ['r50k_base', 'cl100k_base', 'o200k_base'];

interface EncodingSpec {
  preTokenizer: PreTokenizerName;
  /** Number of ordinary tokens (ranks 0 to `rankCount - 1`). */
  rankCount: number;
  specialTokens: Readonly<Record<string, number>>;
}

/** Pre-tokenizers and special tokens of each encoding; the tests check the ids against tiktoken 1.0.22 on npm. */
const ENCODING_SPECS: Record<EncodingName, EncodingSpec> = {
  r50k_base: {
    preTokenizer: 'gpt2',
    rankCount: 50256,
    specialTokens: { '<|endoftext|>': 50256 },
  },
  cl100k_base: {
    preTokenizer: 'cl100k',
    rankCount: 100256,
    specialTokens: {
      '<|endoftext|>': 100257,
      '<|fim_prefix|>': 100258,
      '<|fim_middle|>': 100259,
      '<|fim_suffix|>': 100260,
      '<|endofprompt|>': 100276,
    },
  },
  o200k_base: {
    preTokenizer: 'o200k',
    rankCount: 199998,
    specialTokens: { '<|endoftext|>': 199999, '<|endofprompt|>': 200018 },
  },
};

function checkEncodingName(name: unknown): EncodingName {
  if (!(ENCODING_NAMES as readonly unknown[]).includes(name)) {
    throw new Error(`Unknown encoding ${JSON.stringify(name)}: expected ${ENCODING_NAMES.join(', ')}`);
  }
  return name as EncodingName;
}

/** Returns the special tokens of an encoding and their ids, as tiktoken defines them. */
export function encodingSpecialTokens(name: EncodingName): Map<string, number> {
  return new Map(Object.entries(ENCODING_SPECS[checkEncodingName(name)].specialTokens));
}

/** Decodes standard base64 with `atob`, which browsers and Node.js both provide. */
function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Parses the text of a tiktoken rank file: one `base64-token rank` pair per line, as in OpenAI's
 * `cl100k_base.tiktoken`. It also reads the compact form of the `tiktoken/lite` package, lines of
 * `! first-rank token token ...` with consecutive ranks. Returns the bytes of each token indexed
 * by rank. Ranks that no line gives are left empty.
 */
export function parseTiktokenRanks(text: string): Uint8Array[] {
  const ranks: Uint8Array[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const fields = line.trim().split(' ');
    if (fields[0] === '!') {
      const first = Number(fields[1]);
      if (!Number.isSafeInteger(first) || first < 0) {
        throw new Error(
          `Invalid tiktoken rank file: line ${index + 1} has the invalid first rank ${fields[1]}`,
        );
      }
      for (let i = 2; i < fields.length; i++) ranks[first + i - 2] = base64ToBytes(fields[i]);
      return;
    }
    const rank = Number(fields[1]);
    if (fields.length !== 2 || !Number.isSafeInteger(rank) || rank < 0) {
      throw new Error(
        `Invalid tiktoken rank file: line ${index + 1} ${JSON.stringify(line.slice(0, 80))} is not "base64-token rank"`,
      );
    }
    ranks[rank] = base64ToBytes(fields[0]);
  });
  return ranks;
}

/** Encodes bytes as standard base64 with `btoa`, which browsers and Node.js both provide. */
function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Writes the ordinary tokens of a byte-level BPE tokenizer as a tiktoken rank file, one
 * `base64-token rank` line per token with the id as rank, in id order. The file encodes like the
 * tokenizer when ids follow merge order, as in OpenAI's encodings and in tokenizers from
 * `trainBpe`. Special tokens are not part of the format.
 */
export function formatTiktokenRanks(tokenizer: ByteLevelBpeTokenizer): string {
  const lines: string[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.specialTokens.get(tokenizer.idToToken(id) ?? '') === id) continue;
    const bytes = tokenizer.idToBytes(id);
    if (bytes !== undefined) lines.push(`${bytesToBase64(bytes)} ${id}\n`);
  }
  return lines.join('');
}

/**
 * Converts gpt-tokenizer's rank lists (`gpt-tokenizer/bpeRanks/*`), where each token is its
 * UTF-8 text or, when its bytes are not valid UTF-8, an array of bytes.
 */
export function rankListToBytes(list: ReadonlyArray<string | readonly number[]>): Uint8Array[] {
  const encoder = new TextEncoder();
  return list.map((token) => (typeof token === 'string' ? encoder.encode(token) : Uint8Array.from(token)));
}

/** Builds an OpenAI encoding from its ranks, given as token bytes indexed by rank. */
export function encodingFromRanks(
  name: EncodingName,
  ranks: ReadonlyArray<Uint8Array | undefined>,
): ByteLevelBpeTokenizer {
  const spec = ENCODING_SPECS[checkEncodingName(name)];
  if (ranks.length !== spec.rankCount) {
    throw new Error(`Invalid ranks for ${name}: expected ${spec.rankCount} tokens, got ${ranks.length}`);
  }
  return ByteLevelBpeTokenizer.fromTiktokenRanks(ranks, {
    preTokenizer: spec.preTokenizer,
    specialTokens: spec.specialTokens,
  });
}

const loadedEncodings = new Map<EncodingName, Promise<ByteLevelBpeTokenizer>>();

/**
 * Loads an OpenAI encoding from the ranks that the `gpt-tokenizer` package ships, with no network
 * access, and keeps it for later calls. On a shared 2-core machine, building cl100k_base took about
 * 0.5 s and o200k_base about 1 s (`bench/encode.ts` measures it).
 */
export function loadEncoding(name: EncodingName): Promise<ByteLevelBpeTokenizer> {
  checkEncodingName(name);
  let loaded = loadedEncodings.get(name);
  if (loaded === undefined) {
    loaded = importRankList(name).then((list) => encodingFromRanks(name, rankListToBytes(list)));
    loadedEncodings.set(name, loaded);
  }
  return loaded;
}

async function importRankList(name: EncodingName): Promise<ReadonlyArray<string | readonly number[]>> {
  // One literal import per encoding, so that bundlers can split each rank list into its own chunk.
  switch (name) {
    case 'r50k_base':
      return (await import('gpt-tokenizer/bpeRanks/r50k_base')).default;
    case 'cl100k_base':
      return (await import('gpt-tokenizer/bpeRanks/cl100k_base')).default;
    case 'o200k_base':
      return (await import('gpt-tokenizer/bpeRanks/o200k_base')).default;
  }
}

/** The JSON file of the `@anthropic-ai/tokenizer` package (`claude.json`). */
export interface ClaudeTokenizerJson {
  bpe_ranks: string;
  special_tokens: Record<string, number>;
  pat_str: string;
}

/**
 * Builds the legacy Claude tokenizer (Claude 1 and 2) from the `claude.json` of the
 * `@anthropic-ai/tokenizer` package. That package normalizes text with NFKC before encoding, so
 * this tokenizer does too. Its `countTokens` allows all special tokens; pass
 * `allowedSpecial: 'all'` to `encode` to count the same way.
 */
export function claudeTokenizerFromJson(json: ClaudeTokenizerJson): ByteLevelBpeTokenizer {
  if (json.pat_str !== GPT2_SPLIT_PATTERN) {
    throw new Error(
      `Unsupported Claude tokenizer pattern ${JSON.stringify(json.pat_str)}: expected GPT-2's split pattern`,
    );
  }
  return ByteLevelBpeTokenizer.fromTiktokenRanks(parseTiktokenRanks(json.bpe_ranks), {
    preTokenizer: 'gpt2',
    specialTokens: json.special_tokens,
    normalizer: 'NFKC',
  });
}
