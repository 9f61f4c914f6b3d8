import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEncoding } from '@glassbox/tokenizers';
import { parquetWriteFile } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { finewebShard } from './pretraining-fineweb.js';
import { populatedTestCache, runForTest, TEST_DATA } from './testing.js';

let cache: string;
let parquetPath: string;
let documents: string[];

/** Writes a small parquet file with FineWeb's text, id, url and token_count columns. */
beforeAll(async () => {
  cache = await populatedTestCache();
  const text = await readFile(join(TEST_DATA, 'corpora/tiny-shakespeare.txt'), 'utf8');
  documents = text.split('\n\n').slice(0, 12);
  parquetPath = join(await mkdtemp(join(tmpdir(), 'glassbox-fineweb-')), 'shard.parquet');
  parquetWriteFile({
    filename: parquetPath,
    columnData: [
      { name: 'text', data: documents, type: 'STRING' },
      { name: 'id', data: documents.map((_, i) => `<urn:uuid:${i}>`), type: 'STRING' },
      { name: 'url', data: documents.map((_, i) => `http://example.com/${i}`), type: 'STRING' },
      { name: 'token_count', data: documents.map((doc) => doc.length), type: 'INT32' },
    ],
  });
});

describe('fineweb-shard', () => {
  it('reads and encodes the first documents', async () => {
    const { results, output, report } = await runForTest(finewebShard, cache, {
      data: parquetPath,
      documents: '5',
    });
    const gpt2 = await loadEncoding('r50k_base');
    const expectedCounts = documents.slice(0, 5).map((doc) => gpt2.encode(doc).length);
    expect(results.rowsInFile).toBe(12);
    expect(results.columns).toEqual(['text', 'id', 'url', 'token_count']);
    expect(results.documentsRead).toBe(5);
    expect(results.characters).toEqual(documents.slice(0, 5).map((doc) => doc.length));
    expect(results.gpt2Tokens).toEqual(expectedCounts);
    // One <|endoftext|> after each document.
    expect(results.streamTokens).toBe(expectedCounts.reduce((a, b) => a + b, 0) + 5);
    expect(results.endOfTextTokens).toBe(5);
    expect(report).toContain('http://example.com/4');
    expect(output.figures).toEqual(['tokens-per-document']);
  });

  it('reads at most the rows in the file', async () => {
    const { results } = await runForTest(finewebShard, cache, { data: parquetPath, documents: '100' });
    expect(results.documentsRead).toBe(12);
  });

  it('explains how to provide a shard', async () => {
    await expect(runForTest(finewebShard, cache)).rejects.toThrow(
      /fineweb-shard needs a FineWeb parquet file: .* pass it with --data PATH\./,
    );
    await expect(runForTest(finewebShard, cache, { data: '/nonexistent/shard.parquet' })).rejects.toThrow(
      /--data "\/nonexistent\/shard.parquet" was not found\. Give/,
    );
  });
});
