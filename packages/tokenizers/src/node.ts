import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { ByteLevelBpeTokenizer } from './bpe.js';
import type { CharTokenizer } from './char.js';
import {
  type ClaudeTokenizerJson,
  claudeTokenizerFromJson,
  type EncodingName,
  encodingFromRanks,
  parseTiktokenRanks,
} from './encodings.js';
import { tokenizerFromJSON } from './json.js';
import type { Tokenizer } from './types.js';
import type { WordPieceTokenizer } from './wordpiece.js';

/** Reads a tokenizer saved by `saveTokenizer`, or a Hugging Face byte-level BPE or WordPiece `tokenizer.json`. */
export async function loadTokenizer(
  path: string,
): Promise<CharTokenizer | ByteLevelBpeTokenizer | WordPieceTokenizer> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`Failed to parse tokenizer file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return tokenizerFromJSON(json);
}

/**
 * Writes `tokenizer.toJSON()` to `path` as JSON. The data goes to a temporary file in the same
 * directory first and is then renamed over `path`, so readers never see a partly written file.
 */
export async function saveTokenizer(path: string, tokenizer: Tokenizer): Promise<void> {
  const temporaryPath = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporaryPath, `${JSON.stringify(tokenizer.toJSON(), null, 2)}\n`);
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

/** Reads a tiktoken rank file (`base64-token rank` lines) and builds the OpenAI encoding `name` from it. */
export async function loadTiktokenFile(path: string, name: EncodingName): Promise<ByteLevelBpeTokenizer> {
  return encodingFromRanks(name, parseTiktokenRanks(await readFile(path, 'utf8')));
}

/**
 * Builds the legacy Claude tokenizer from the `claude.json` that the installed
 * `@anthropic-ai/tokenizer` package ships, with no network access.
 */
export async function loadClaudeTokenizer(): Promise<ByteLevelBpeTokenizer> {
  const path = createRequire(import.meta.url).resolve('@anthropic-ai/tokenizer/claude.json');
  return claudeTokenizerFromJson(JSON.parse(await readFile(path, 'utf8')) as ClaudeTokenizerJson);
}
