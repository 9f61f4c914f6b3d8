import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import { loadTokenizer, saveTokenizer } from './node.js';
import { readCorpus } from './test-support/shared-data.js';
import { trainBpe } from './train-bpe.js';

describe('saveTokenizer and loadTokenizer', () => {
  let directory = '';
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'glassbox-tokenizers-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const text = readCorpus('alice-in-wonderland.txt');

  it('round-trips a BPE tokenizer', async () => {
    const tokenizer = trainBpe(text, {
      vocabSize: 500,
      preTokenizer: 'gpt2',
      specialTokens: ['<|endoftext|>'],
    });
    const path = join(directory, 'tokenizer.json');
    await saveTokenizer(path, tokenizer);

    const loaded = await loadTokenizer(path);
    expect(loaded).toBeInstanceOf(ByteLevelBpeTokenizer);
    expect(loaded.encode(text)).toEqual(tokenizer.encode(text));
    expect(loaded.specialTokens.get('<|endoftext|>')).toBe(499);
    expect(JSON.parse(await readFile(path, 'utf8')).model.type).toBe('BPE');
  });

  it('round-trips a char tokenizer', async () => {
    const tokenizer = CharTokenizer.fromText(text);
    const path = join(directory, 'char.json');
    await saveTokenizer(path, tokenizer);
    const loaded = await loadTokenizer(path);
    expect(loaded).toBeInstanceOf(CharTokenizer);
    expect(loaded.decode(loaded.encode(text))).toBe(text);
  });

  it('replaces an existing file without leftovers', async () => {
    const path = join(directory, 'replaced.json');
    await writeFile(path, 'old contents');
    await saveTokenizer(path, CharTokenizer.fromText('xyz'));
    expect((await loadTokenizer(path)).vocabSize).toBe(3);
    const names = await readdir(directory);
    expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('removes the temporary file when the rename fails', async () => {
    // Renaming a file over a directory fails with EISDIR.
    const target = join(directory, 'a-directory');
    await mkdir(target);
    await expect(saveTokenizer(target, CharTokenizer.fromText('a'))).rejects.toThrowError(/EISDIR/);
    const names = await readdir(directory);
    expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('names the file when JSON is invalid', async () => {
    const path = join(directory, 'broken.json');
    await writeFile(path, '{ not json');
    await expect(loadTokenizer(path)).rejects.toThrowError(/Failed to parse tokenizer file .*broken\.json/);
  });
});
