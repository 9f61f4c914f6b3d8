import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from './args.js';
import { checkCorpusLength, hashCorpusText, loadCorpus, mobyDickText, splitSizes } from './corpus.js';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-corpus-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function usageErrorOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(UsageError);
  return (error as UsageError).message;
}

describe('loadCorpus', () => {
  it('loads moby-dick from the npm package', async () => {
    const corpus = await loadCorpus('moby-dick');
    expect(corpus.name).toBe('moby-dick');
    expect(Buffer.byteLength(corpus.text, 'utf8')).toBeGreaterThan(1_000_000);
  });

  it('keeps the book in order with chapter headings', () => {
    const text = mobyDickText();
    // The table of contents lists the headings too, so each search starts after the previous match.
    const contents = text.indexOf('CONTENTS');
    const chapter1 = text.indexOf('CHAPTER 1. Loomings.\n\nCall me Ishmael.');
    const chapter2 = text.indexOf('CHAPTER 2. The Carpet-Bag.\n\nI stuffed a shirt', chapter1);
    const chapter135 = text.indexOf('CHAPTER 135. The Chase.\u2014Third Day.\n\n', chapter2);
    const epilogue = text.indexOf('Epilogue "AND I ONLY AM ESCAPED ALONE TO TELL THEE" Job.\n\n', chapter135);
    expect(contents).toBe(0);
    expect(chapter1).toBeGreaterThan(contents);
    expect(chapter2).toBeGreaterThan(chapter1);
    expect(chapter135).toBeGreaterThan(chapter2);
    expect(epilogue).toBeGreaterThan(chapter135);
    expect(text.slice(chapter1).match(/^CHAPTER \d+\. .*\n\n/gm)?.length).toBe(135);
  });

  it('separates sections by one blank line', () => {
    const text = mobyDickText();
    expect(text).toContain('like a snow hill in the air.\n\nCHAPTER 2. The Carpet-Bag.');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
  });

  it('reads a UTF-8 file', async () => {
    const path = join(directory, 'tiny.txt');
    await writeFile(path, '\uFEFFhello, w\u00f6rld\r\n');
    expect(await loadCorpus(path)).toEqual({ name: path, text: 'hello, w\u00f6rld\r\n' });
  });

  it('rejects a missing file', async () => {
    const path = join(directory, 'missing.txt');
    expect(await usageErrorOf(loadCorpus(path))).toBe(
      `corpus file ${JSON.stringify(path)} not found. ` +
        'Pass an existing text file to --corpus, or --corpus moby-dick.',
    );
  });

  it('rejects a path through a file', async () => {
    const file = join(directory, 'plain.txt');
    await writeFile(file, 'text');
    expect(await usageErrorOf(loadCorpus(join(file, 'inner.txt')))).toMatch(/^corpus file ".*" not found\./);
  });

  it('rejects a directory', async () => {
    expect(await usageErrorOf(loadCorpus(directory))).toBe(
      `--corpus ${JSON.stringify(directory)} is a directory. Pass a text file to --corpus, or --corpus moby-dick.`,
    );
  });

  it('rejects an empty file', async () => {
    const path = join(directory, 'empty.txt');
    await writeFile(path, '');
    expect(await usageErrorOf(loadCorpus(path))).toBe(
      `corpus file ${JSON.stringify(path)} is empty. ` +
        'Pass a file with training text to --corpus, or --corpus moby-dick.',
    );
  });

  it('rejects a whitespace-only file', async () => {
    const path = join(directory, 'blank.txt');
    await writeFile(path, ' \n\t\r\n ');
    expect(await usageErrorOf(loadCorpus(path))).toMatch(
      /^corpus file ".*blank\.txt" contains only whitespace\./,
    );
  });

  it('rejects invalid UTF-8', async () => {
    const path = join(directory, 'latin1.txt');
    await writeFile(path, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(await usageErrorOf(loadCorpus(path))).toMatch(
      /^corpus file ".*latin1\.txt" is not valid UTF-8 text\./,
    );
  });

  // Root reads files whatever their permission bits, so this case only runs as another user.
  it.skipIf(process.getuid?.() === 0)('rejects an unreadable file', async () => {
    const path = join(directory, 'secret.txt');
    await writeFile(path, 'text');
    await chmod(path, 0o000);
    expect(await usageErrorOf(loadCorpus(path))).toMatch(/^cannot read corpus file ".*secret\.txt" \(EACCES/);
  });
});

describe('splitSizes', () => {
  it('holds out the tail like nanoGPT', () => {
    expect(splitSizes(1000, 0.1)).toEqual({ train: 900, validation: 100 });
    expect(splitSizes(7, 0.5)).toEqual({ train: 3, validation: 4 });
  });

  it('rejects invalid arguments', () => {
    expect(() => splitSizes(-1, 0.1)).toThrow(RangeError);
    expect(() => splitSizes(10, 1)).toThrow(RangeError);
  });
});

describe('checkCorpusLength', () => {
  it('returns the sizes of a long enough corpus', () => {
    expect(checkCorpusLength(1300, 64, 0.05)).toEqual({ train: 1235, validation: 65 });
  });

  it('rejects a short validation split', () => {
    let message = '';
    try {
      checkCorpusLength(1000, 128, 0.1);
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      message = (error as Error).message;
    }
    expect(message).toBe(
      'the corpus is too short for --block-size 128. Its 1000 tokens split into 900 for training and 100 ' +
        'for validation (--val-fraction 0.1), but each split needs at least --block-size + 1 = 129 tokens. ' +
        'Use a longer corpus, a smaller --block-size or a larger --val-fraction.',
    );
  });

  it('rejects a short training split', () => {
    expect(() => checkCorpusLength(200, 64, 0.9)).toThrow(
      /20 for training and 180 for validation .* Use a longer corpus, a smaller --block-size or a smaller --val-fraction\.$/,
    );
  });

  it('rejects a corpus too short for both splits', () => {
    expect(() => checkCorpusLength(100, 64, 0.5)).toThrow(/Use a longer corpus or a smaller --block-size\.$/);
  });

  it('accepts splits of exactly block size + 1', () => {
    expect(checkCorpusLength(130, 64, 0.5)).toEqual({ train: 65, validation: 65 });
    expect(() => checkCorpusLength(129, 64, 0.5)).toThrow(UsageError);
  });
});

describe('hashCorpusText', () => {
  it('returns the SHA-256 in hex', () => {
    // The SHA-256 of "abc", the common test vector that `sha256sum` also prints.
    expect(hashCorpusText('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes text as UTF-8', () => {
    const utf8Bytes = Buffer.from([0xc3, 0xa9]);
    expect(hashCorpusText('é')).toBe(createHash('sha256').update(utf8Bytes).digest('hex'));
  });
});
