import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from './args.js';
import {
  BERT_TOKENIZER,
  BOOKS,
  cacheDirectory,
  ExperimentAssets,
  gutenbergUrl,
  hubFileUrl,
} from './assets.js';

const DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const TIME_MACHINE = join(DATA, 'corpora/the-time-machine.txt');
const ALICE = join(DATA, 'corpora/alice-in-wonderland.txt');
const BERT_JSON = join(DATA, 'tokenizers/bert-base-uncased/tokenizer.json');

let root: string;
let server: Server;
let baseUrl: string;
const requests: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'glassbox-assets-'));
  const files = new Map([
    ['/cache/epub/11/pg11.txt', await readFile(ALICE)],
    ['/bert-base-uncased/resolve/main/tokenizer.json', await readFile(BERT_JSON)],
    ['/tampered/resolve/main/tokenizer.json', Buffer.from('{"not": "the expected file"}')],
  ]);
  server = createServer((request, response) => {
    requests.push(request.url ?? '');
    const body = files.get(request.url ?? '');
    response.statusCode = body === undefined ? 404 : 200;
    response.end(body ?? 'not found');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.close();
  await rm(root, { recursive: true, force: true });
});

async function emptyCache(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

describe('cacheDirectory', () => {
  it('prefers GLASSBOX_CACHE', () => {
    expect(cacheDirectory({ GLASSBOX_CACHE: '/tmp/c' })).toBe('/tmp/c');
    expect(cacheDirectory({ GLASSBOX_CACHE: '' })).toMatch(/\.cache[/\\]glassbox$/);
  });
});

describe('addresses', () => {
  it('follow the Gutenberg and Hub forms', () => {
    expect(gutenbergUrl(35)).toBe('https://www.gutenberg.org/cache/epub/35/pg35.txt');
    expect(hubFileUrl(BERT_TOKENIZER)).toBe(
      'https://huggingface.co/bert-base-uncased/resolve/main/tokenizer.json',
    );
  });
});

describe('ExperimentAssets', () => {
  it('reads a pre-populated cache offline', async () => {
    const cacheDir = await emptyCache('populated');
    const assets = new ExperimentAssets({ cacheDir, offline: true });
    await mkdir(join(cacheDir, 'gutenberg'), { recursive: true });
    await copyFile(TIME_MACHINE, assets.bookCachePath(35));
    await mkdir(join(cacheDir, 'hub', 'bert-base-uncased'), { recursive: true });
    await copyFile(BERT_JSON, assets.hubCachePath(BERT_TOKENIZER));

    const book = await assets.book(BOOKS.timeMachine);
    expect(book.name).toBe('The Time Machine');
    expect(book.text).toBe(await readFile(TIME_MACHINE, 'utf8'));
    expect(await assets.hubFile(BERT_TOKENIZER)).toBe(assets.hubCachePath(BERT_TOKENIZER));
  });

  it('rejects several corpus files for one book', async () => {
    const cacheDir = await emptyCache('two-corpora');
    const assets = new ExperimentAssets({ cacheDir, offline: true, corpusPaths: [TIME_MACHINE, BERT_JSON] });
    const error = await assets.book(BOOKS.timeMachine).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      '--corpus lists 2 files, but this experiment reads one text (The Time Machine by default). Give one path.',
    );
    expect(await assets.books([BOOKS.timeMachine])).toHaveLength(2);
  });

  it('rejects a missing file offline', async () => {
    const cacheDir = await emptyCache('offline');
    const assets = new ExperimentAssets({ cacheDir, offline: true, gutenbergUrl: baseUrl });
    const error = await assets.book(BOOKS.alice).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toContain("Alice's Adventures in Wonderland (Gutenberg #11) is not in the cache");
    expect(message).toContain('--offline');
    expect(message).toContain('--corpus PATH');
    expect(message).not.toContain('\n');
    expect(requests).not.toContain('/cache/epub/11/pg11.txt');
  });

  it('rejects a cached Hub file with the wrong hash offline', async () => {
    const cacheDir = await emptyCache('tampered-cache');
    const assets = new ExperimentAssets({ cacheDir, offline: true });
    await mkdir(join(cacheDir, 'hub', 'bert-base-uncased'), { recursive: true });
    await writeFile(assets.hubCachePath(BERT_TOKENIZER), '{}');
    await expect(assets.hubFile(BERT_TOKENIZER)).rejects.toThrow(/has the wrong SHA-256.*--model DIR/);
  });

  it('downloads once and then uses the cache', async () => {
    const cacheDir = await emptyCache('download');
    const assets = new ExperimentAssets({ cacheDir, gutenbergUrl: baseUrl, hubUrl: baseUrl });
    const before = requests.length;
    const book = await assets.book(BOOKS.alice);
    expect(book.text).toBe(await readFile(ALICE, 'utf8'));
    await assets.book(BOOKS.alice);
    const path = await assets.hubFile(BERT_TOKENIZER);
    expect(await readFile(path)).toEqual(await readFile(BERT_JSON));
    await assets.hubFile(BERT_TOKENIZER);
    expect(requests.slice(before)).toEqual([
      '/cache/epub/11/pg11.txt',
      '/bert-base-uncased/resolve/main/tokenizer.json',
    ]);
  });

  it('rejects a download with the wrong hash', async () => {
    const cacheDir = await emptyCache('wrong-hash');
    const assets = new ExperimentAssets({ cacheDir, hubUrl: baseUrl });
    const ref = { ...BERT_TOKENIZER, repository: 'tampered' };
    await expect(assets.hubFile(ref)).rejects.toThrow(/has SHA-256 [0-9a-f]{64}, expected ce64fce7/);
    await expect(readFile(assets.hubCachePath(ref))).rejects.toThrow(/ENOENT/);
  });

  it('reports an HTTP error status', async () => {
    const cacheDir = await emptyCache('missing');
    const assets = new ExperimentAssets({ cacheDir, gutenbergUrl: baseUrl });
    await expect(assets.book({ id: 999, title: 'Missing' })).rejects.toThrow(
      /pg999\.txt failed with HTTP status 404\. .*--corpus PATH/,
    );
  });

  it('reports a refused connection as offline', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const cacheDir = await emptyCache('refused');
    const assets = new ExperimentAssets({ cacheDir, gutenbergUrl: `http://127.0.0.1:${port}` });
    const error = await assets.book(BOOKS.timeMachine).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(
      /^cannot download http:\/\/127\.0\.0\.1:\d+\/cache\/epub\/35\/pg35\.txt \(ECONNREFUSED\); the machine may be offline\. .*--corpus PATH/,
    );
  });

  it('uses --corpus and --model paths instead of downloads', async () => {
    const cacheDir = await emptyCache('local');
    const assets = new ExperimentAssets({
      cacheDir,
      offline: true,
      corpusPaths: [ALICE, TIME_MACHINE],
      modelDir: join(DATA, 'tokenizers/bert-base-uncased'),
    });
    const single = new ExperimentAssets({ cacheDir, offline: true, corpusPaths: [ALICE] });
    expect((await single.book(BOOKS.timeMachine)).name).toBe('alice-in-wonderland.txt');
    expect((await assets.books([BOOKS.gulliver])).map((book) => book.name)).toEqual([
      'alice-in-wonderland.txt',
      'the-time-machine.txt',
    ]);
    expect(await assets.hubFile(BERT_TOKENIZER)).toBe(BERT_JSON);
    await expect(assets.hubFile({ repository: 'gpt2', file: 'model.safetensors' })).rejects.toThrow(
      /has no model\.safetensors/,
    );
    const missing = new ExperimentAssets({ cacheDir, corpusPaths: [join(root, 'nope.txt')] });
    await expect(missing.book(BOOKS.alice)).rejects.toThrow(/--corpus file ".*nope\.txt" not found/);
  });
});
