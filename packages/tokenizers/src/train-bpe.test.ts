import { describe, expect, it } from 'vitest';
import { type PreTokenizerName, preTokenize } from './pre-tokenize.js';
import { AWKWARD_STRINGS, readCorpus } from './test-support/shared-data.js';
import { trainBpe } from './train-bpe.js';

/**
 * minbpe's RegexTokenizer.train, transcribed directly: recount every pair on every step and take
 * the first pair of maximal count in the order the pairs were first seen.
 */
function trainReference(text: string, vocabSize: number, preTokenizer: PreTokenizerName): [number, number][] {
  const encoder = new TextEncoder();
  let chunks = preTokenize(text, preTokenizer).map((chunk) => Array.from(encoder.encode(chunk)));
  const merges: [number, number][] = [];
  for (let id = 256; id < vocabSize; id++) {
    const counts = new Map<string, number>();
    for (const ids of chunks) {
      for (let i = 0; i + 1 < ids.length; i++) {
        const key = `${ids[i]},${ids[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best = '';
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount) {
        best = key;
        bestCount = count;
      }
    }
    if (bestCount === 0) break;

    const [left, right] = best.split(',').map(Number);
    merges.push([left, right]);
    chunks = chunks.map((ids) => {
      const merged: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === left && ids[i + 1] === right) {
          merged.push(id);
          i++;
        } else {
          merged.push(ids[i]);
        }
      }
      return merged;
    });
  }
  return merges;
}

describe('trainBpe', () => {
  it('trains the minbpe example by hand', () => {
    // "aaabdaaabac": aa (4) -> 256; then (256, a) and (a, b) both occur twice and (256, a) comes
    // first; then (257, b) -> 258, leaving 258 d 258 a c.
    const tokenizer = trainBpe('aaabdaaabac', { vocabSize: 259, preTokenizer: 'none' });
    expect(tokenizer.merges).toEqual([
      [97, 97],
      [256, 97],
      [257, 98],
    ]);
    expect(tokenizer.encode('aaabdaaabac')).toEqual([258, 100, 258, 97, 99]);
    expect(tokenizer.vocabSize).toBe(259);
    expect(tokenizer.decode([258, 100, 258, 97, 99])).toBe('aaabdaaabac');
    expect(tokenizer.idToToken(258)).toBe('aaab');
  });

  it('keeps ids 0-255 for the bytes', () => {
    const tokenizer = trainBpe('hello hello', { vocabSize: 260, preTokenizer: 'gpt2' });
    for (const byte of [0, 32, 104, 255]) expect(Array.from(tokenizer.idToBytes(byte)!)).toEqual([byte]);
    expect(tokenizer.encode('\u00ff')).toEqual([0xc3, 0xbf]);
  });

  it('matches minbpe on alice with each pre-tokenizer', () => {
    const alice = readCorpus('alice-in-wonderland.txt');
    const cases: [PreTokenizerName, string, number][] = [
      ['gpt2', alice.slice(0, 40_000), 400],
      ['cl100k', alice.slice(0, 40_000), 400],
      ['none', alice.slice(0, 6_000), 320],
    ];
    for (const [preTokenizer, text, vocabSize] of cases) {
      const expected = trainReference(text, vocabSize, preTokenizer);
      const tokenizer = trainBpe(text, { vocabSize, preTokenizer });
      expect(tokenizer.merges, preTokenizer).toEqual(expected);
    }
  });

  it('matches minbpe on awkward strings', () => {
    const text = AWKWARD_STRINGS.join(' | ');
    for (const preTokenizer of ['gpt2', 'cl100k', 'none'] as const) {
      const tokenizer = trainBpe(text, { vocabSize: 400, preTokenizer });
      expect(tokenizer.merges, preTokenizer).toEqual(trainReference(text, 400, preTokenizer));
    }
  });

  it('matches minbpe on random small-alphabet texts', () => {
    // Few distinct symbols give many pairs of equal count, which exercises the tie rule.
    let state = 12345;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    const alphabet = ['a', 'b', 'c', ' ', ' ', '\n', 'é'];
    for (let trial = 0; trial < 40; trial++) {
      const length = 20 + Math.floor(random() * 400);
      let text = '';
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const preTokenizer = (['gpt2', 'cl100k', 'none'] as const)[trial % 3];
      const tokenizer = trainBpe(text, { vocabSize: 320, preTokenizer });
      expect(tokenizer.merges, `${preTokenizer} ${JSON.stringify(text)}`).toEqual(
        trainReference(text, 320, preTokenizer),
      );
    }
  });

  it('trains vocab 1000 on tiny shakespeare', () => {
    const shakespeare = readCorpus('tiny-shakespeare.txt');
    const progress: number[] = [];
    const tokenizer = trainBpe(shakespeare, {
      vocabSize: 1000,
      preTokenizer: 'gpt2',
      onProgress: (done, total) => {
        expect(total).toBe(744);
        progress.push(done);
      },
    });
    expect(tokenizer.vocabSize).toBe(1000);
    expect(tokenizer.merges.length).toBe(744);
    expect(progress.length).toBe(744);
    expect(progress.at(-1)).toBe(744);

    const ids = tokenizer.encode(shakespeare);
    expect(tokenizer.decode(ids)).toBe(shakespeare);
    // Bytes per token; 1000 GPT-2-style tokens compress English prose about 2.4 times.
    expect(new TextEncoder().encode(shakespeare).length / ids.length).toBeGreaterThan(2.2);
    expect(tokenizer.tokenToId('Ġthe')).toBeDefined();
  });

  it('trains vocab 512 on a 1.2 MB text', () => {
    const text = readCorpus('gullivers-travels.txt') + readCorpus('poe-works-vol2.txt');
    expect(text.length).toBeGreaterThan(1_150_000);
    const tokenizer = trainBpe(text, { vocabSize: 512, preTokenizer: 'gpt2' });
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('gives special tokens the last ids', () => {
    const text = 'one<|endoftext|>two<|endoftext|>one two';
    const tokenizer = trainBpe(text, {
      vocabSize: 262,
      preTokenizer: 'gpt2',
      specialTokens: ['<|endoftext|>', '<pad>'],
    });
    expect(tokenizer.merges.length).toBe(4);
    expect([...tokenizer.specialTokens]).toEqual([
      ['<|endoftext|>', 260],
      ['<pad>', 261],
    ]);
    expect(tokenizer.vocabSize).toBe(262);
    expect(tokenizer.encode('one<|endoftext|>', { allowedSpecial: 'all' }).at(-1)).toBe(260);
  });

  it('leaves special-token text out of training', () => {
    const text = '<|endoftext|>'.repeat(50) + 'ab';
    const tokenizer = trainBpe(text, {
      vocabSize: 258,
      preTokenizer: 'none',
      specialTokens: ['<|endoftext|>'],
    });
    expect(tokenizer.merges).toEqual([[97, 98]]);
  });

  it('stops early when no pair is left', () => {
    const tokenizer = trainBpe('abcd', { vocabSize: 1000, preTokenizer: 'none', specialTokens: ['<s>'] });
    expect(tokenizer.merges.length).toBe(3);
    expect(tokenizer.vocabSize).toBe(260);
    expect(tokenizer.specialTokens.get('<s>')).toBe(259);
    expect(tokenizer.encode('abcd')).toEqual([258]);
  });

  it('rejects a vocabSize below 256 plus specials', () => {
    expect(() =>
      trainBpe('abc', { vocabSize: 256, preTokenizer: 'none', specialTokens: ['<s>'] }),
    ).toThrowError(/vocabSize 256.*at least 257/);
    expect(() => trainBpe('abc', { vocabSize: 300.5, preTokenizer: 'none' })).toThrowError(/vocabSize/);
    expect(() => trainBpe('abc', { vocabSize: 300, preTokenizer: 'bert' as 'none' })).toThrowError(
      /preTokenizer "bert"/,
    );
  });
});

describe('BPE training by hand', () => {
  it('learns the hand-computed merges of a toy text', () => {
    // The text has 16 symbols: 15 letters and the space. GPT-2's split keeps words apart and
    // attaches each space to the word after it: "like", " liker", " love", " lovely", " hug",
    // " hugs", " hugging", " hearts". Counting pairs within those words:
    //  1. " h" occurs 4 times, more than any other pair.
    //  2. " l", " hu" and "ug" occur 3 times; " l" is seen first (in " liker").
    //  3. " hu" (3), then  4. " hug" (3).
    //  5. Now "ik", "ke", " lo", "ov" and "ve" occur twice; "ik" is seen first (in "like").
    //  6. "ike" (2, seen in "like" before " lo").  7. " lo" (2).  8. " lov" (2).  9. " love" (2).
    // Nine merges take the 16 symbols to a vocabulary of 25. The tokenizer works on bytes, and
    // this text is ASCII, so its 256 byte tokens contain the 16 symbols and the merges are the same.
    const text = 'like liker love lovely hug hugs hugging hearts';
    expect(new Set(text).size).toBe(16);

    const tokenizer = trainBpe(text, { vocabSize: 256 + 9, preTokenizer: 'gpt2' });
    const merged = tokenizer.merges.map(([left, right]) =>
      new TextDecoder().decode(
        new Uint8Array([...tokenizer.idToBytes(left)!, ...tokenizer.idToBytes(right)!]),
      ),
    );
    expect(merged).toEqual([' h', ' l', ' hu', ' hug', 'ik', 'ike', ' lo', ' lov', ' love']);

    expect(tokenizer.encode(' hugging like lovely').map((id) => tokenizer.idToToken(id))).toEqual([
      'Ġhug',
      'g',
      'i',
      'n',
      'g',
      'Ġl',
      'ike',
      'Ġlove',
      'l',
      'y',
    ]);
  });
});
