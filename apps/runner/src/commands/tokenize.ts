import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  type ByteLevelBpeTokenizer,
  loadEncoding,
  type Tokenizer,
  WordPieceTokenizer,
} from '@glassbox/tokenizers';
import { loadClaudeTokenizer, loadTokenizer } from '@glassbox/tokenizers/node';
import { UsageError } from '../args.js';
import { writeFileAtomic } from '../atomic-write.js';
import { NAMED_TOKENIZERS, type NamedTokenizer, type TokenizeOptions } from '../tokenize-options.js';

/** Output stream and environment variables, as the CLI passes them. */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** A file that a named tokenizer downloads from the Hugging Face Hub. */
export interface HubFile {
  /** Repository on the Hub, such as `bert-base-uncased`. */
  repository: string;
  /** Path of the file in the repository. */
  path: string;
  /** SHA-256 of the file, in hex. */
  sha256: string;
}

/**
 * Files of named tokenizers that no npm package ships. The hash is that of the file from the Hub's
 * main branch that the tests of this command use.
 */
export const HUB_FILES: Readonly<Record<'bert-base-uncased', HubFile>> = {
  'bert-base-uncased': {
    repository: 'bert-base-uncased',
    path: 'tokenizer.json',
    sha256: 'ce64fce797c24f68df90b40a3f74f579b336a493db14bd583fd520ea0d8c9a98',
  },
};

/** The Hub address; `HF_ENDPOINT` replaces it, as in Hugging Face's own libraries. */
const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** Returns the cache directory: `$GLASSBOX_CACHE`, or `~/.cache/glassbox`. */
export function cacheDirectory(env: Readonly<Record<string, string | undefined>>): string {
  const configured = env.GLASSBOX_CACHE;
  return configured !== undefined && configured !== '' ? configured : join(homedir(), '.cache', 'glassbox');
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Returns the path of a Hub file in the cache, downloading it first when the cache has no copy
 * with the expected SHA-256. A download with another hash is not kept. A failed download raises a
 * UsageError that suggests the machine may be offline and names `--tokenizer PATH` as the alternative.
 */
export async function fetchHubFile(
  file: HubFile,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  const path = join(cacheDirectory(env), 'hub', file.repository, file.path);
  try {
    if (sha256Hex(await readFile(path)) === file.sha256) return path;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }

  const endpoint = (env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const url = `${endpoint}/${file.repository}/resolve/main/${file.path}`;
  const advice = `Pass the path of a local ${file.path} with --tokenizer PATH instead.`;
  let data: Uint8Array;
  try {
    const response = await fetch(url);
    if (!response.ok) {
      throw new UsageError(`downloading ${url} failed with HTTP status ${response.status}. ${advice}`);
    }
    data = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new UsageError(`cannot download ${url} (${reason}); the machine may be offline. ${advice}`);
  }
  const actual = sha256Hex(data);
  if (actual !== file.sha256) {
    throw new UsageError(
      `downloaded ${url} has SHA-256 ${actual}, expected ${file.sha256}; the file was not cached. ${advice}`,
    );
  }
  await writeFileAtomic(path, data);
  return path;
}

function isNamedTokenizer(value: string): value is NamedTokenizer {
  return (NAMED_TOKENIZERS as readonly string[]).includes(value);
}

/** Loads a tokenizer by name, or from a tokenizer.json path. */
export async function resolveTokenizer(
  spec: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Tokenizer> {
  if (isNamedTokenizer(spec)) {
    switch (spec) {
      case 'gpt2':
        return loadEncoding('r50k_base');
      case 'cl100k':
        return loadEncoding('cl100k_base');
      case 'o200k':
        return loadEncoding('o200k_base');
      case 'claude':
        return loadClaudeTokenizer();
      case 'bert-base-uncased':
        return loadTokenizer(await fetchHubFile(HUB_FILES['bert-base-uncased'], env));
    }
  }
  try {
    return await loadTokenizer(spec);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UsageError(
        `--tokenizer ${JSON.stringify(spec)} is neither a tokenizer name (${NAMED_TOKENIZERS.join(', ')}) nor an existing file.`,
      );
    }
    throw new UsageError(`--tokenizer ${JSON.stringify(spec)} cannot be loaded: ${(error as Error).message}`);
  }
}

/**
 * Encodes text with any tokenizer of the package. Special-token text is encoded as ordinary text
 * by byte-level BPE tokenizers, and recognized by WordPiece, as Hugging Face does.
 */
function encodeText(tokenizer: Tokenizer, text: string): number[] {
  if (tokenizer instanceof WordPieceTokenizer) return tokenizer.encode(text);
  const encode = tokenizer.encode as (
    text: string,
    options?: { disallowedSpecial?: ReadonlySet<string> },
  ) => number[];
  return encode.call(tokenizer, text, { disallowedSpecial: new Set<string>() });
}

/**
 * Returns the text of one token for display: its decoded text, or for a byte-level token that is only
 * part of a character, its GPT-2 byte-level form (`Ġ` for a space byte, and so on).
 */
function pieceText(tokenizer: Tokenizer, id: number): string {
  if (tokenizer instanceof WordPieceTokenizer) return tokenizer.idToToken(id) ?? '';
  const decoded = tokenizer.decode([id]);
  if (!decoded.includes('\ufffd') || 'idToBytes' in tokenizer === false) return decoded;
  const bytes = (tokenizer as ByteLevelBpeTokenizer).idToBytes(id);
  const roundTrip = bytes !== undefined && new TextEncoder().encode(decoded).length === bytes.length;
  return roundTrip ? decoded : (tokenizer.idToToken(id) ?? decoded);
}

/** Runs `glassbox tokenize`: loads the tokenizer, encodes the input and prints it in the chosen format. */
export async function runTokenize(options: TokenizeOptions, io: CommandIo): Promise<void> {
  let text = options.text;
  if (text === undefined) {
    try {
      text = await readFile(options.file!, 'utf8');
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (error as Error).message;
      throw new UsageError(`--file ${JSON.stringify(options.file)} cannot be read: ${reason}.`);
    }
  }
  const tokenizer = await resolveTokenizer(options.tokenizer, io.env);
  const ids = encodeText(tokenizer, text);

  switch (options.format) {
    case 'ids':
      io.stdout.write(`${ids.join(' ')}\n`);
      return;
    case 'json': {
      const tokens = ids.map((id) => pieceText(tokenizer, id));
      io.stdout.write(
        `${JSON.stringify({ tokenizer: options.tokenizer, count: ids.length, ids, tokens })}\n`,
      );
      return;
    }
    case 'pieces': {
      const width = String(Math.max(0, ...ids)).length;
      const lines = ids.map(
        (id) => `${String(id).padStart(width)}  ${JSON.stringify(pieceText(tokenizer, id))}`,
      );
      lines.push(`${ids.length} ${ids.length === 1 ? 'token' : 'tokens'}`);
      io.stdout.write(`${lines.join('\n')}\n`);
      return;
    }
  }
}
