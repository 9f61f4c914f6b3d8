import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../cli.js';
import { HUB_FILES } from './tokenize.js';

const BERT_JSON = new URL(
  '../../../../../shared/data/tokenizers/bert-base-uncased/tokenizer.json',
  import.meta.url,
);
const GPT2_JSON = new URL('../../../../../shared/data/tokenizers/gpt2/tokenizer.json', import.meta.url);

let directory: string;
let bertBytes: Buffer;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-tokenize-'));
  bertBytes = await readFile(BERT_JSON);
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** Runs the CLI in this process and returns its exit status and output. */
async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  };
  const status = await runCli(argv, io);
  return { status, stdout, stderr };
}

/** Returns a loopback port with nothing listening on it, so connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a loopback HTTP server that serves `body` at the Hub path of bert-base-uncased's tokenizer.json. */
async function startHub(body: Buffer): Promise<{ server: Server; endpoint: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? '');
    if (request.url === '/bert-base-uncased/resolve/main/tokenizer.json') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}`, requests };
}

describe('glassbox tokenize', () => {
  it('prints pieces with ids and a count', async () => {
    const result = await run(['tokenize', '--tokenizer', 'gpt2', '--text', 'Hello world']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('15496  "Hello"\n  995  " world"\n2 tokens\n');
  });

  it('prints ids and JSON', async () => {
    const ids = await run(['tokenize', '--tokenizer', 'cl100k', '--text', ' strawberry', '--format', 'ids']);
    expect(ids.stdout).toBe('73700\n');
    const json = await run([
      'tokenize',
      '--tokenizer',
      'o200k',
      '--text',
      'Hi <|endoftext|>',
      '--format',
      'json',
    ]);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.tokenizer).toBe('o200k');
    expect(parsed.count).toBe(parsed.ids.length);
    expect(parsed.tokens.join('')).toBe('Hi <|endoftext|>');
    expect(parsed.ids).not.toContain(199999);
  });

  it('reads a file and a tokenizer.json path', async () => {
    const file = join(directory, 'input.txt');
    await writeFile(file, 'Hello world\n');
    const result = await run([
      'tokenize',
      '--tokenizer',
      GPT2_JSON.pathname,
      '--file',
      file,
      '--format',
      'ids',
    ]);
    expect(result.stdout).toBe('15496 995 198\n');
  });

  it('loads the legacy Claude tokenizer', async () => {
    const result = await run([
      'tokenize',
      '--tokenizer',
      'claude',
      '--text',
      'Hello world',
      '--format',
      'ids',
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('10002 2253\n');
  });

  it('uses bert-base-uncased from the cache', async () => {
    const cache = join(directory, 'cache-prefilled');
    await mkdir(join(cache, 'hub', 'bert-base-uncased'), { recursive: true });
    await writeFile(join(cache, 'hub', 'bert-base-uncased', 'tokenizer.json'), bertBytes);
    // The endpoint refuses connections, so the command succeeds only without a download.
    const env = { GLASSBOX_CACHE: cache, HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}` };
    const result = await run(
      ['tokenize', '--tokenizer', 'bert-base-uncased', '--text', 'Hello, World!'],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('7592  "hello"\n1010  ","\n2088  "world"\n 999  "!"\n4 tokens\n');
  });

  it('downloads bert-base-uncased once and checks its hash', async () => {
    expect(createHash('sha256').update(bertBytes).digest('hex')).toBe(HUB_FILES['bert-base-uncased'].sha256);
    const hub = await startHub(bertBytes);
    try {
      const cache = join(directory, 'cache-download');
      const env = { GLASSBOX_CACHE: cache, HF_ENDPOINT: hub.endpoint };
      const argv = ['tokenize', '--tokenizer', 'bert-base-uncased', '--text', 'unaffable', '--format', 'ids'];
      const first = await run(argv, env);
      expect(first.stderr).toBe('');
      expect(first.stdout).toBe('14477 20961 3468\n');
      const second = await run(argv, env);
      expect(second.stdout).toBe(first.stdout);
      expect(hub.requests).toEqual(['/bert-base-uncased/resolve/main/tokenizer.json']);
      const cached = await readFile(join(cache, 'hub', 'bert-base-uncased', 'tokenizer.json'));
      expect(cached.equals(bertBytes)).toBe(true);

      // A damaged cached copy is downloaded again.
      await writeFile(join(cache, 'hub', 'bert-base-uncased', 'tokenizer.json'), '{}');
      expect((await run(argv, env)).stdout).toBe(first.stdout);
      expect(hub.requests.length).toBe(2);
    } finally {
      hub.server.close();
    }
  });

  it('rejects a download with the wrong hash', async () => {
    const hub = await startHub(Buffer.from('{"tampered": true}'));
    try {
      const cache = join(directory, 'cache-tampered');
      const env = { GLASSBOX_CACHE: cache, HF_ENDPOINT: hub.endpoint };
      const result = await run(['tokenize', '--tokenizer', 'bert-base-uncased', '--text', 'a'], env);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        /has SHA-256 [0-9a-f]{64}, expected ce64fce7.*not cached.*--tokenizer PATH/,
      );
      await expect(stat(join(cache, 'hub', 'bert-base-uncased', 'tokenizer.json'))).rejects.toThrow(/ENOENT/);
    } finally {
      hub.server.close();
    }
  });

  it('says when it cannot download', async () => {
    const env = {
      GLASSBOX_CACHE: join(directory, 'cache-offline'),
      HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    };
    const result = await run(['tokenize', '--tokenizer', 'bert-base-uncased', '--text', 'a'], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^glassbox tokenize: cannot download http:\/\/127\.0\.0\.1:\d+\/bert-base-uncased\/resolve\/main\/tokenizer\.json \(ECONNREFUSED\); the machine may be offline\. Pass the path of a local tokenizer\.json with --tokenizer PATH instead\.\n$/,
    );
    const missing = await startHub(bertBytes);
    try {
      const notFound = await run(['tokenize', '--tokenizer', 'bert-base-uncased', '--text', 'a'], {
        GLASSBOX_CACHE: join(directory, 'cache-404'),
        HF_ENDPOINT: `${missing.endpoint}/mirror`,
      });
      expect(notFound.stderr).toMatch(/HTTP status 404/);
    } finally {
      missing.server.close();
    }
  });

  it('rejects invalid options with one-line messages', async () => {
    const cases: [string[], RegExp][] = [
      [['tokenize', '--text', 'a'], /--tokenizer is required/],
      [['tokenize', '--tokenizer', 'gpt2'], /missing input\. Pass --text TEXT or --file FILE/],
      [
        ['tokenize', '--tokenizer', 'gpt2', '--text', 'a', '--file', 'b'],
        /--text and --file cannot be used together/,
      ],
      [
        ['tokenize', '--tokenizer', 'gpt2', '--text', 'a', '--format', 'xml'],
        /--format must be one of pieces, ids, json, got "xml"/,
      ],
      [['tokenize', '--tokenizer', 'gtp2', '--text', 'a'], /--tokenizer "gtp2" is neither a tokenizer name/],
      [
        ['tokenize', '--tokenizer', 'gpt2', '--file', join(directory, 'missing.txt')],
        /--file ".*missing.txt" cannot be read: not found/,
      ],
      [['tokenize', '--tokenizer', 'gpt2', '--txt', 'a'], /unknown option --txt.*Did you mean --text\?/],
    ];
    for (const [argv, message] of cases) {
      const result = await run(argv);
      expect(result.status, argv.join(' ')).toBe(1);
      expect(result.stderr, argv.join(' ')).toMatch(message);
      expect(result.stderr.trim().split('\n').length, argv.join(' ')).toBe(1);
    }
  });

  it('prints help', async () => {
    const result = await run(['tokenize', '--help']);
    expect(result.stdout).toMatch(/^Usage: glassbox tokenize --tokenizer NAME\|PATH/);
    expect(result.stdout).toContain('--format FORMAT');
    expect((await run(['help', 'tokenize'])).stdout).toBe(result.stdout);
  });
});
