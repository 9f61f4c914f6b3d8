import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { loadEncoding } from '@glassbox/tokenizers';
import { encodeDocuments } from '@glassbox/trainer';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { z } from 'zod';
import { UsageError } from '../args.js';
import { barChartSpec } from './charts.js';
import { round } from './pretraining-common.js';
import { defineExperiment } from './types.js';

/** A FineWeb shard of the 10-billion-token sample, about 2 GB. */
const FINEWEB_SHARD_URL =
  'https://huggingface.co/datasets/HuggingFaceFW/fineweb/resolve/main/sample/10BT/000_00000.parquet';

/** GPT-2's `<|endoftext|>`, which separates documents in GPT-2's training stream. */
const END_OF_TEXT = 50256;

/** Upper edges of the histogram bins of tokens per document. The last bin collects the rest. */
const TOKEN_BINS = [100, 250, 500, 1000, 2000, 4000];

function binLabel(index: number): string {
  if (index === 0) return `< ${TOKEN_BINS[0]}`;
  if (index === TOKEN_BINS.length) return `>= ${TOKEN_BINS.at(-1)}`;
  return `${TOKEN_BINS[index - 1]}-${TOKEN_BINS[index] - 1}`;
}

export const finewebShard = defineExperiment({
  id: 'fineweb-shard',
  title: 'The FineWeb dataset',
  section: '92. The FineWeb dataset',
  description:
    "Reads the first documents of a local FineWeb parquet shard with hyparquet (the course streams them with datatrove), prints their metadata, encodes each with GPT-2's r50k_base tokenizer and joins them into one training stream with <|endoftext|> between documents, as GPT-2's training data is laid out. Nothing is downloaded: a shard is about 2 GB, so pass one with --data PATH.",
  needs: ['hyparquet', 'tokenizers', 'a FineWeb parquet file (--data)'],
  typicalTime: '2 s',
  params: z.object({
    data: z.string().default('').describe('path of a local FineWeb parquet file'),
    documents: z.number().int().min(1).max(1_000_000).default(10).describe('documents read from the start'),
  }),
  async run({ params, progress, figure }) {
    if (params.data === '') {
      throw new UsageError(
        `fineweb-shard needs a FineWeb parquet file: download one, such as ${FINEWEB_SHARD_URL} (about 2 GB), and pass it with --data PATH.`,
      );
    }
    try {
      await stat(params.data);
    } catch {
      throw new UsageError(
        `--data ${JSON.stringify(params.data)} was not found. Give the path of a parquet file.`,
      );
    }
    progress.stage(`Reading ${basename(params.data)}`);
    const file = await asyncBufferFromFile(params.data);
    const metadata = await parquetMetadataAsync(file);
    const columns = parquetSchema(metadata).children.map((child) => child.element.name);
    if (!columns.includes('text')) {
      throw new UsageError(
        `${params.data} has no "text" column (columns: ${columns.join(', ')}). Give a FineWeb parquet file.`,
      );
    }
    const totalRows = Number(metadata.num_rows);
    const rows = await parquetReadObjects({
      file,
      metadata,
      rowStart: 0,
      rowEnd: Math.min(params.documents, totalRows),
    });

    progress.stage('Encoding with r50k_base');
    const tokenizer = await loadEncoding('r50k_base');
    const encode = (text: string) => tokenizer.encode(text, { disallowedSpecial: new Set() });
    const texts = rows.map((row) => String(row.text ?? ''));
    const tokenCounts = texts.map((text) => encode(text).length);
    const stream = encodeDocuments(encode, texts, END_OF_TEXT);
    const unique = new Set(stream).size;

    const bins = new Array<number>(TOKEN_BINS.length + 1).fill(0);
    for (const count of tokenCounts) {
      const index = TOKEN_BINS.findIndex((edge) => count < edge);
      bins[index < 0 ? TOKEN_BINS.length : index]++;
    }
    await figure(
      'tokens-per-document',
      barChartSpec({
        title: `GPT-2 tokens per document, first ${rows.length} documents`,
        xTitle: 'tokens',
        yTitle: 'documents',
        bars: bins.map((value, index) => ({ label: binLabel(index), value })),
        width: 360,
      }),
    );
    const metadataColumns = columns.filter((name) => name !== 'text');
    const describe = (value: unknown) => (typeof value === 'bigint' ? Number(value) : value);
    return {
      results: {
        file: basename(params.data),
        rowsInFile: totalRows,
        columns,
        documentsRead: rows.length,
        characters: texts.map((text) => text.length),
        gpt2Tokens: tokenCounts,
        meanTokensPerDocument: round(tokenCounts.reduce((a, b) => a + b, 0) / Math.max(1, rows.length), 1),
        streamTokens: stream.length,
        uniqueTokens: unique,
        endOfTextTokens: stream.filter((id) => id === END_OF_TEXT).length,
      },
      tables: [
        {
          title: `The first ${rows.length} documents`,
          columns: ['#', 'characters', 'GPT-2 tokens', ...metadataColumns],
          rows: rows.map((row, i) => [
            i,
            texts[i].length,
            tokenCounts[i],
            ...metadataColumns.map((name) => String(describe(row[name]) ?? '').slice(0, 80)),
          ]),
        },
      ],
      notes: rows.slice(0, 3).map((_, i) => `Document ${i}: ${JSON.stringify(texts[i].slice(0, 160))}`),
    };
  },
});
