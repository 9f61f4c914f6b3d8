import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '@glassbox/tokenizers/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../cli.js';
import { parseBpeTrainOptions } from '../tokenize-options.js';
import { runBpeTrain } from './bpe-train.js';

const SHAKESPEARE = new URL('../../../../../shared/data/corpora/tiny-shakespeare.txt', import.meta.url);

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-bpe-train-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  };
  const status = await runCli(argv, io);
  return { status, stdout, stderr };
}

describe('glassbox bpe-train', () => {
  it('trains and writes a tokenizer.json', async () => {
    const corpus = join(directory, 'corpus.txt');
    await writeFile(corpus, 'the cat sat on the mat. the cat ate the rat.\n'.repeat(20));
    const out = join(directory, 'tokenizer.json');
    const argv = ['bpe-train', '--corpus', corpus, '--vocab-size', '270', '--byte-level', '--out', out];
    const result = await run([
      ...argv,
      '--special',
      '<|endoftext|>',
      '--special=<pad>',
      '--pre-tokenizer',
      'cl100k',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(
      /^Trained 12 merges, vocabulary size 270, in \d+\.\d s\. Wrote .*tokenizer\.json\n$/,
    );
    const tokenizer = await loadTokenizer(out);
    expect(tokenizer.vocabSize).toBe(270);
    expect([...tokenizer.specialTokens]).toEqual([
      ['<|endoftext|>', 268],
      ['<pad>', 269],
    ]);
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json.pre_tokenizer.type).toBe('Sequence');
    expect(tokenizer.decode(tokenizer.encode('the cat'))).toBe('the cat');
  });

  it('shows progress on a large corpus', async () => {
    const out = join(directory, 'shakespeare.json');
    const options = parseBpeTrainOptions([
      '--corpus',
      SHAKESPEARE.pathname,
      '--vocab-size',
      '300',
      '--out',
      out,
    ]);
    expect(options.help).toBe(false);
    let progress = '';
    let stdout = '';
    const stream = {
      write: (text: string) => {
        progress += text;
        return true;
      },
      isTTY: false,
    };
    await runBpeTrain(options.help ? ({} as never) : options.options, {
      stdout: { write: (text: string) => (stdout += text) },
      progress: stream,
    });
    expect(progress).toMatch(/^merges \d+\/44 \| elapsed \d+s \| ETA /);
    expect(progress.trim().split('\n').at(-1)).toMatch(/^merges 44\/44 /);
    expect(stdout).toMatch(/^Trained 44 merges, vocabulary size 300/);
  });

  it('rejects invalid options with one-line messages', async () => {
    const corpus = join(directory, 'small.txt');
    await writeFile(corpus, 'abc');
    const cases: [string[], RegExp][] = [
      [['bpe-train', '--vocab-size', '300', '--out', 'x.json'], /--corpus is required/],
      [['bpe-train', '--corpus', corpus, '--out', 'x.json'], /--vocab-size is required/],
      [['bpe-train', '--corpus', corpus, '--vocab-size', '300'], /--out is required/],
      [
        ['bpe-train', '--corpus', corpus, '--vocab-size', 'big', '--out', 'x'],
        /--vocab-size must be a positive integer, got "big"/,
      ],
      [
        ['bpe-train', '--corpus', corpus, '--vocab-size', '256', '--special', 'a', '--out', 'x'],
        /--vocab-size must be at least 257 \(256 bytes \+ 1 special tokens\), got 256/,
      ],
      [
        ['bpe-train', '--corpus', corpus, '--vocab-size', '300', '--pre-tokenizer', 'bert', '--out', 'x'],
        /--pre-tokenizer must be one of gpt2, cl100k, o200k, none, got "bert"/,
      ],
      [
        [
          'bpe-train',
          '--corpus',
          corpus,
          '--vocab-size',
          '300',
          '--special',
          'a',
          '--special',
          'a',
          '--out',
          'x',
        ],
        /--special "a" is given twice/,
      ],
      [
        ['bpe-train', '--corpus', corpus, '--vocab-size', '300', '--out', 'x', '--special'],
        /--special requires a value/,
      ],
      [
        ['bpe-train', '--corpus', join(directory, 'none.txt'), '--vocab-size', '300', '--out', 'x'],
        /--corpus ".*none.txt" cannot be read: not found/,
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await run(argv);
      expect(result.status, argv.join(' ')).toBe(1);
      expect(result.stderr, argv.join(' ')).toMatch(message);
      expect(result.stderr.trim().split('\n').length, argv.join(' ')).toBe(1);
    }
  });

  it('prints help', async () => {
    const result = await run(['bpe-train', '--help']);
    expect(result.stdout).toMatch(
      /^Usage: glassbox bpe-train --corpus FILE --vocab-size N --out tokenizer.json/,
    );
    expect(result.stdout).toContain('--special TOKEN');
  });
});
