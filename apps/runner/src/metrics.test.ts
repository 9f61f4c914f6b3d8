import { mkdirSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from './args.js';
import {
  formatMetricsLine,
  type MetricsRecord,
  MetricsWriter,
  readMetrics,
  truncateMetrics,
} from './metrics.js';

let directory: string;
let fileIndex = 0;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-metrics-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** Returns the metrics path in a new, empty run directory. */
function freshPath(): string {
  fileIndex += 1;
  const runDirectory = join(directory, `run-${fileIndex}`);
  mkdirSync(runDirectory);
  return join(runDirectory, 'metrics.jsonl');
}

function record(step: number, extra: Partial<MetricsRecord> = {}): MetricsRecord {
  return {
    step,
    trainLoss: 4 - step / 100,
    lr: 1e-3,
    gradNorm: 0.5 + step / 1000,
    tokensPerSecond: 12_000,
    elapsedSeconds: step * 0.25,
    ...extra,
  };
}

function writeRecords(path: string, records: MetricsRecord[]): void {
  const writer = MetricsWriter.open(path);
  for (const entry of records) {
    writer.append(entry);
  }
  writer.close();
}

describe('MetricsWriter', () => {
  it('creates the run directory', async () => {
    const path = join(directory, 'new-run', 'metrics.jsonl');
    writeRecords(path, [record(1)]);
    expect(await readMetrics(path)).toEqual([record(1)]);
  });

  it('round-trips records through readMetrics', async () => {
    const path = freshPath();
    const records = [record(10), record(20, { valLoss: 3.9 }), record(30)];
    writeRecords(path, records);
    expect(await readMetrics(path)).toEqual(records);
  });

  it('writes one JSON object per line', async () => {
    const path = freshPath();
    writeRecords(path, [record(1), record(2, { valLoss: 3 })]);
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0])).toEqual(record(1));
    expect(JSON.parse(lines[1]).valLoss).toBe(3);
  });

  it('makes each record visible before close', async () => {
    const path = freshPath();
    const writer = MetricsWriter.open(path);
    writer.append(record(1));
    expect(await readMetrics(path)).toEqual([record(1)]);
    writer.append(record(2));
    expect(await readMetrics(path)).toHaveLength(2);
    writer.close();
  });

  it('appends to an existing file', async () => {
    const path = freshPath();
    writeRecords(path, [record(1)]);
    writeRecords(path, [record(2)]);
    expect((await readMetrics(path)).map((entry) => entry.step)).toEqual([1, 2]);
  });

  it('stores a diverged loss as null and reads NaN', async () => {
    const path = freshPath();
    writeRecords(path, [record(1, { trainLoss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY })]);
    expect(await readFile(path, 'utf8')).toContain('"trainLoss":null');
    const [read] = await readMetrics(path);
    expect(read.trainLoss).toBeNaN();
    expect(read.gradNorm).toBeNaN();
  });

  it('rejects writes after close', () => {
    const writer = MetricsWriter.open(freshPath());
    writer.close();
    expect(() => writer.append(record(1))).toThrow(/is closed/);
  });

  it('rejects a fractional step', () => {
    expect(() => formatMetricsLine(record(1.5))).toThrow(RangeError);
  });
});

describe('readMetrics', () => {
  it('returns nothing for a missing file', async () => {
    expect(await readMetrics(join(directory, 'none.jsonl'))).toEqual([]);
  });

  it('skips a cut-off last line', async () => {
    const path = freshPath();
    writeRecords(path, [record(1), record(2)]);
    await appendFile(path, '{"step":3,"trainLo');
    expect((await readMetrics(path)).map((entry) => entry.step)).toEqual([1, 2]);
  });

  it('rejects invalid JSON before the last line', async () => {
    const path = freshPath();
    writeRecords(path, [record(1)]);
    await appendFile(path, 'not json\n');
    writeRecords(path, [record(3)]);
    const error = await readMetrics(path).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      `line 2 of metrics file ${JSON.stringify(path)} is not valid JSON. Fix or delete that line.`,
    );
  });

  it('rejects a record without a required field', async () => {
    const path = freshPath();
    await writeFile(path, '{"step":1,"trainLoss":2}\n');
    await expect(readMetrics(path)).rejects.toThrow(
      /^line 1 of metrics file .* is not a metrics record \(field lr\)/,
    );
  });

  it('keeps fields it does not know', async () => {
    const path = freshPath();
    await writeFile(path, `${JSON.stringify({ ...record(1), tokensSeen: 768 })}\n`);
    const [read] = await readMetrics(path);
    expect((read as MetricsRecord & { tokensSeen?: number }).tokensSeen).toBe(768);
  });
});

describe('truncateMetrics', () => {
  it('drops records after the step', async () => {
    const path = freshPath();
    writeRecords(path, [record(100), record(200, { valLoss: 3.5 }), record(300), record(400)]);
    const remaining = await truncateMetrics(path, 250);
    expect(remaining).toEqual([record(100), record(200, { valLoss: 3.5 })]);
    expect(await readMetrics(path)).toEqual(remaining);
  });

  it('lets the writer continue after truncation', async () => {
    const path = freshPath();
    writeRecords(path, [record(1), record(2), record(3)]);
    await truncateMetrics(path, 2);
    writeRecords(path, [record(3, { trainLoss: 1 })]);
    const read = await readMetrics(path);
    expect(read.map((entry) => entry.step)).toEqual([1, 2, 3]);
    expect(read[2].trainLoss).toBe(1);
  });

  it('removes a cut-off last line', async () => {
    const path = freshPath();
    writeRecords(path, [record(1)]);
    await appendFile(path, '{"step":2');
    await truncateMetrics(path, 10);
    expect(await readFile(path, 'utf8')).toBe(formatMetricsLine(record(1)));
  });

  it('leaves an unchanged file untouched', async () => {
    const path = freshPath();
    writeRecords(path, [record(1), record(2)]);
    const before = await stat(path);
    await truncateMetrics(path, 2);
    const after = await stat(path);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('keeps a missing file missing', async () => {
    const runDirectory = join(directory, 'empty-run');
    expect(await truncateMetrics(join(runDirectory, 'metrics.jsonl'), 5)).toEqual([]);
    await expect(readdir(runDirectory)).rejects.toThrow(/ENOENT/);
  });
});
