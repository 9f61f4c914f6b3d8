import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { UsageError } from './args.js';
import { writeFileAtomic } from './atomic-write.js';

/** File name of the metrics log inside a run directory. */
export const METRICS_FILE = 'metrics.jsonl';

/**
 * One line of `metrics.jsonl`: the state of training after an optimizer step. Losses are mean
 * cross-entropy per token. Non-finite numbers (a diverged loss) are stored as JSON `null` and read back
 * as NaN.
 */
export interface MetricsRecord {
  /** Optimizer steps completed. */
  step: number;
  trainLoss: number;
  /** Validation loss, present only on the steps where it was evaluated. */
  valLoss?: number;
  /** Learning rate used for this step. */
  lr: number;
  /** Global L2 norm of the gradients, before clipping. */
  gradNorm: number;
  /** Training throughput, in tokens per second. */
  tokensPerSecond: number;
  /** Wall-clock seconds since the start of training, summed over resumed runs. */
  elapsedSeconds: number;
}

/** A JSON number, or `null` for a value that was NaN or infinite when written. */
const storedNumber = z
  .number()
  .nullable()
  .transform((value) => value ?? Number.NaN);

// Loose, so that fields added by later versions survive a truncation on resume.
const recordSchema = z.looseObject({
  step: z.number().int().nonnegative(),
  trainLoss: storedNumber,
  valLoss: storedNumber.optional(),
  lr: storedNumber,
  gradNorm: storedNumber,
  tokensPerSecond: storedNumber,
  elapsedSeconds: storedNumber,
});

/** Serializes a record as one JSON line, with a trailing newline. */
export function formatMetricsLine(record: MetricsRecord): string {
  if (!Number.isSafeInteger(record.step) || record.step < 0) {
    throw new RangeError(`metrics step must be a non-negative integer, got ${record.step}.`);
  }
  // JSON.stringify writes NaN and Infinity as null.
  return `${JSON.stringify(record)}\n`;
}

/**
 * Appends records to a metrics file, one JSON object per line. Each record goes to the file in one
 * write(2) call, so other processes see it at once and a killed process loses at most the line it was
 * writing. `close` also flushes the file to disk with fsync.
 */
export class MetricsWriter {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opens `path` for appending, creating it and its directory if needed. */
  static open(path: string): MetricsWriter {
    mkdirSync(dirname(path), { recursive: true });
    return new MetricsWriter(path, openSync(path, 'a'));
  }

  append(record: MetricsRecord): void {
    if (this.fd === undefined) {
      throw new Error(`metrics writer for ${this.path} is closed.`);
    }
    writeSync(this.fd, formatMetricsLine(record));
  }

  close(): void {
    if (this.fd === undefined) {
      return;
    }
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Reads all records of a metrics file, or returns an empty list when the file does not exist. A last
 * line that is cut off (no trailing newline and not valid JSON, as a killed writer leaves it) is
 * skipped. Raises a UsageError naming the file and line for any other invalid line.
 */
export async function readMetrics(path: string): Promise<MetricsRecord[]> {
  const content = await readFileIfExists(path);
  return content === undefined ? [] : parseMetrics(content, path);
}

async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

function parseMetrics(content: string, path: string): MetricsRecord[] {
  const lines = content.split('\n');
  const records: MetricsRecord[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (line.trim() === '') {
      continue;
    }
    const isUnterminatedLastLine = index === lines.length - 1;

    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      if (isUnterminatedLastLine) {
        continue;
      }
      throw invalidLineError(path, index + 1, 'is not valid JSON');
    }
    const result = recordSchema.safeParse(json);
    if (!result.success) {
      const issue = result.error.issues[0];
      const field = issue.path.length > 0 ? ` (field ${issue.path.join('.')})` : '';
      throw invalidLineError(path, index + 1, `is not a metrics record${field}: ${issue.message}`);
    }
    records.push(result.data as MetricsRecord);
  }
  return records;
}

function invalidLineError(path: string, lineNumber: number, problem: string): UsageError {
  return new UsageError(
    `line ${lineNumber} of metrics file ${JSON.stringify(path)} ${problem}. Fix or delete that line.`,
  );
}

/**
 * Drops the records after `lastStep` from a metrics file, for resuming from the checkpoint at that
 * step, and returns the records that remain. The file is rewritten atomically, with a cut-off last line
 * also removed, unless its content stays the same. A missing file stays missing and gives an empty list.
 */
export async function truncateMetrics(path: string, lastStep: number): Promise<MetricsRecord[]> {
  const content = await readFileIfExists(path);
  if (content === undefined) {
    return [];
  }
  const records = parseMetrics(content, path);
  const remaining = records.filter((record) => record.step <= lastStep);
  const text = remaining.map(formatMetricsLine).join('');
  if (text !== content) {
    await writeFileAtomic(path, text);
  }
  return remaining;
}
