import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { UsageError } from './args.js';
import { writeFileAtomic } from './atomic-write.js';

/**
 * The asset manager of experiments: Project Gutenberg books and Hugging Face Hub files, downloaded
 * only when an experiment requests them and kept in a cache directory. Paths given on the command
 * line (`--corpus`, `--model`) replace downloads.
 */

/** A Project Gutenberg book. */
export interface BookRef {
  /** Gutenberg ebook number. */
  id: number;
  title: string;
}

/** Books that the course's exercises use, by Gutenberg number. */
export const BOOKS = {
  timeMachine: { id: 35, title: 'The Time Machine' },
  alice: { id: 11, title: "Alice's Adventures in Wonderland" },
  gulliver: { id: 829, title: "Gulliver's Travels" },
  poe1: { id: 2147, title: 'The Works of Edgar Allan Poe, Vol. 1' },
  poe2: { id: 2148, title: 'The Works of Edgar Allan Poe, Vol. 2' },
  frankenstein: { id: 84, title: 'Frankenstein' },
  gatsby: { id: 64317, title: 'The Great Gatsby' },
  romeoJuliet: { id: 1513, title: 'Romeo and Juliet' },
  huckFinn: { id: 76, title: 'Adventures of Huckleberry Finn' },
  heartOfDarkness: { id: 219, title: 'Heart of Darkness' },
  grimm: { id: 2591, title: "Grimms' Fairy Tales" },
  warOfTheWorlds: { id: 36, title: 'The War of the Worlds' },
} as const satisfies Record<string, BookRef>;

/** A file in a Hugging Face Hub repository. */
export interface HubFileRef {
  /** Repository, such as `bert-base-uncased` or `openai-community/gpt2`. */
  repository: string;
  /** File name in the repository, such as `tokenizer.json`. */
  file: string;
  /** SHA-256 in hex, when one version of the file is known; downloads with another hash are rejected. */
  sha256?: string;
}

/** bert-base-uncased's tokenizer.json from the Hub's main branch. */
export const BERT_TOKENIZER: HubFileRef = {
  repository: 'bert-base-uncased',
  file: 'tokenizer.json',
  sha256: 'ce64fce797c24f68df90b40a3f74f579b336a493db14bd583fd520ea0d8c9a98',
};

/** A text that an experiment reads, with where it came from. */
export interface LoadedText {
  /** Book title, or the file name of a `--corpus` path. */
  name: string;
  text: string;
  /** The path the text was read from. */
  path: string;
}

export interface AssetOptions {
  /** Cache directory; see `cacheDirectory`. */
  cacheDir: string;
  /** When true, nothing is downloaded and a missing file raises a UsageError. */
  offline?: boolean;
  /** Local text files that replace the books an experiment requests (`--corpus`). */
  corpusPaths?: readonly string[];
  /** Local directory whose files replace Hub files (`--model`). */
  modelDir?: string;
  /** Base of Gutenberg addresses, default `https://www.gutenberg.org`. */
  gutenbergUrl?: string;
  /** Base of Hub addresses, default `https://huggingface.co`. */
  hubUrl?: string;
  /** Seconds before a download is abandoned, default 120. */
  timeoutSeconds?: number;
}

/** Returns the cache directory: `$GLASSBOX_CACHE` when set and not empty, else `~/.cache/glassbox`. */
export function cacheDirectory(env: Readonly<Record<string, string | undefined>>): string {
  const configured = env.GLASSBOX_CACHE;
  return configured !== undefined && configured !== '' ? configured : join(homedir(), '.cache', 'glassbox');
}

/** Returns asset options from the environment: `GLASSBOX_CACHE`, `HF_ENDPOINT` and `GLASSBOX_GUTENBERG_URL`. */
export function assetOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): AssetOptions {
  return {
    cacheDir: cacheDirectory(env),
    hubUrl: env.HF_ENDPOINT || undefined,
    gutenbergUrl: env.GLASSBOX_GUTENBERG_URL || undefined,
  };
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Returns the canonical plain-text address of a Gutenberg book. */
export function gutenbergUrl(id: number, base = 'https://www.gutenberg.org'): string {
  return `${base.replace(/\/+$/, '')}/cache/epub/${id}/pg${id}.txt`;
}

/** Returns the download address of a Hub file on the main branch. */
export function hubFileUrl(ref: HubFileRef, base = 'https://huggingface.co'): string {
  return `${base.replace(/\/+$/, '')}/${ref.repository}/resolve/main/${ref.file}`;
}

/** Books and model files for experiments. */
export class ExperimentAssets {
  constructor(readonly options: AssetOptions) {}

  /** Returns the cache path of a Gutenberg book. */
  bookCachePath(id: number): string {
    return join(this.options.cacheDir, 'gutenberg', `pg${id}.txt`);
  }

  /** Returns the cache path of a Hub file. */
  hubCachePath(ref: HubFileRef): string {
    return join(this.options.cacheDir, 'hub', ref.repository, ref.file);
  }

  /** Whether `--corpus` paths replace the books that experiments request. */
  get hasCorpusOverride(): boolean {
    return (this.options.corpusPaths ?? []).length > 0;
  }

  /**
   * Returns one book's text: the `--corpus` file when one is given, else the cached or downloaded book.
   * Raises a usage error for several `--corpus` files, because this reads one text and would ignore the rest.
   */
  async book(ref: BookRef): Promise<LoadedText> {
    const paths = this.options.corpusPaths ?? [];
    if (paths.length > 1) {
      throw new UsageError(
        `--corpus lists ${paths.length} files, but this experiment reads one text (${ref.title} by default). Give one path.`,
      );
    }
    if (paths.length === 1) return readCorpus(paths[0]);
    const path = await this.ensureFile({
      url: gutenbergUrl(ref.id, this.options.gutenbergUrl),
      cachePath: this.bookCachePath(ref.id),
      label: `${ref.title} (Gutenberg #${ref.id})`,
      advice: 'Save the plain-text book yourself and pass it with --corpus PATH.',
    });
    return { name: ref.title, text: await readFile(path, 'utf8'), path };
  }

  /** Returns several books, or every `--corpus` path (comma-separated on the command line) when given. */
  async books(refs: readonly BookRef[]): Promise<LoadedText[]> {
    const paths = this.options.corpusPaths ?? [];
    if (paths.length > 0) return Promise.all(paths.map((path) => readCorpus(path)));
    const texts: LoadedText[] = [];
    for (const ref of refs) texts.push(await this.book(ref));
    return texts;
  }

  /**
   * Returns the path of a Hub file: `<--model DIR>/<file>` when a model directory is given, else the
   * cached copy, downloading it when the cache has no copy with the expected hash.
   */
  async hubFile(ref: HubFileRef): Promise<string> {
    if (this.options.modelDir !== undefined) {
      const path = join(this.options.modelDir, ref.file);
      if (!(await isFile(path))) {
        throw new UsageError(
          `--model directory ${JSON.stringify(this.options.modelDir)} has no ${ref.file}. Put the ${ref.repository} file ${ref.file} there.`,
        );
      }
      return path;
    }
    return this.ensureFile({
      url: hubFileUrl(ref, this.options.hubUrl),
      cachePath: this.hubCachePath(ref),
      label: `${ref.file} of ${ref.repository}`,
      advice: `Save it yourself into a directory and pass that directory with --model DIR.`,
      sha256: ref.sha256,
    });
  }

  /** Returns `cachePath` when it contains a valid copy, else downloads `url` there (unless offline). */
  private async ensureFile(asset: {
    url: string;
    cachePath: string;
    label: string;
    advice: string;
    sha256?: string;
  }): Promise<string> {
    const cached = await readIfExists(asset.cachePath);
    if (cached !== undefined && (asset.sha256 === undefined || sha256Hex(cached) === asset.sha256)) {
      return asset.cachePath;
    }
    const state = cached === undefined ? 'is not in the cache' : 'in the cache has the wrong SHA-256';
    if (this.options.offline) {
      throw new UsageError(
        `${asset.label} ${state} (${asset.cachePath}) and --offline forbids downloading ${asset.url}. ${asset.advice}`,
      );
    }
    const data = await download(asset.url, asset.advice, (this.options.timeoutSeconds ?? 120) * 1000);
    if (asset.sha256 !== undefined) {
      const actual = sha256Hex(data);
      if (actual !== asset.sha256) {
        throw new UsageError(
          `downloaded ${asset.url} has SHA-256 ${actual}, expected ${asset.sha256}, so it was not cached. ${asset.advice}`,
        );
      }
    }
    await writeFileAtomic(asset.cachePath, data);
    return asset.cachePath;
  }
}

async function download(url: string, advice: string, timeoutMs: number): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new UsageError(`cannot download ${url} (${reason}); the machine may be offline. ${advice}`);
  }
  if (!response.ok) {
    throw new UsageError(`downloading ${url} failed with HTTP status ${response.status}. ${advice}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readCorpus(path: string): Promise<LoadedText> {
  try {
    return { name: basename(path), text: await readFile(path, 'utf8'), path };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'not found' : `cannot be read (${(error as Error).message})`;
    throw new UsageError(`--corpus file ${JSON.stringify(path)} ${reason}.`);
  }
}
