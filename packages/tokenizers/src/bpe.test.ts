import { CL100K_TOKEN_SPLIT_REGEX, R50K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import { describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer } from './bpe.js';
import { bytesToTokenString, tokenStringToBytes } from './byte-level.js';
import { MergeTable } from './merge-table.js';
import { type PreTokenizerName, preTokenize } from './pre-tokenize.js';
import { AWKWARD_STRINGS, corpusFileNames, readCorpus } from './test-support/shared-data.js';
import { trainBpe } from './train-bpe.js';

const PRE_TOKENIZERS: readonly PreTokenizerName[] = ['gpt2', 'cl100k', 'none'];

describe('byte-level alphabet', () => {
  it('maps bytes like GPT-2', () => {
    expect(bytesToTokenString(new TextEncoder().encode(' the\n'))).toBe('Ġthe\u010a');
    expect(bytesToTokenString(Uint8Array.of(0, 0x21, 0x7f, 0xad, 0xff))).toBe('\u0100!\u0121\u0143ÿ');
  });

  it('round-trips all 256 bytes', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, byte) => byte);
    const token = bytesToTokenString(bytes);
    expect(new Set(token).size).toBe(256);
    expect(tokenStringToBytes(token)).toEqual(bytes);
    expect(tokenStringToBytes('a b')).toBeUndefined();
  });
});

describe('preTokenize', () => {
  it('splits like GPT-2 and cl100k', () => {
    expect(preTokenize("Hello world's 123  end\n\n", 'gpt2')).toEqual([
      'Hello',
      ' world',
      "'s",
      ' 123',
      ' ',
      ' end',
      '\n\n',
    ]);
    expect(preTokenize("Hello WORLD'S 12345  end\n\n", 'cl100k')).toEqual([
      'Hello',
      ' WORLD',
      "'S",
      ' ',
      '123',
      '45',
      ' ',
      ' end',
      '\n\n',
    ]);
    expect(preTokenize('a b', 'none')).toEqual(['a b']);
    expect(preTokenize('', 'gpt2')).toEqual([]);
  });

  it("matches gpt-tokenizer's split patterns", () => {
    const texts = [
      ...AWKWARD_STRINGS,
      'a  \n  b  \n\n',
      'end with spaces  \n  ',
      readCorpus('the-time-machine.txt'),
    ];
    for (const text of texts) {
      expect(preTokenize(text, 'gpt2')).toEqual(text.match(R50K_TOKEN_SPLIT_REGEX) ?? []);
      expect(preTokenize(text, 'cl100k')).toEqual(text.match(CL100K_TOKEN_SPLIT_REGEX) ?? []);
    }
  });
});

describe('ByteLevelBpeTokenizer', () => {
  const training = readCorpus('alice-in-wonderland.txt');
  const trained = new Map(
    PRE_TOKENIZERS.map((name) => [name, trainBpe(training, { vocabSize: 600, preTokenizer: name })]),
  );

  it('round-trips every book', () => {
    for (const name of corpusFileNames()) {
      const book = readCorpus(name);
      for (const [preTokenizer, tokenizer] of trained) {
        const ids = tokenizer.encode(book);
        expect(tokenizer.decode(ids) === book, `${name} with ${preTokenizer}`).toBe(true);
        expect(ids.length).toBeLessThan(book.length);
      }
    }
  });

  it('round-trips awkward strings', () => {
    for (const [preTokenizer, tokenizer] of trained) {
      for (const text of AWKWARD_STRINGS) {
        expect(tokenizer.decode(tokenizer.encode(text)), `${preTokenizer} ${JSON.stringify(text)}`).toBe(
          text,
        );
      }
    }
  });

  it('encodes chunks independently', () => {
    const tokenizer = trained.get('gpt2')!;
    const text = 'The Rabbit said, "Off with her head!"\n\nAlice laughed.';
    const expected = preTokenize(text, 'gpt2').flatMap((chunk) => tokenizer.encode(chunk));
    expect(tokenizer.encode(text)).toEqual(expected);
    // The cache must give the same ids on a second call.
    expect(tokenizer.encode(text)).toEqual(expected);
  });

  it('applies merges in rank order', () => {
    // Ranks: (a, b) -> ab first, then (b, c) -> bc, then (ab, c) -> abc.
    const vocab: Uint8Array[] = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));
    const encoder = new TextEncoder();
    vocab.push(encoder.encode('ab'), encoder.encode('bc'), encoder.encode('abc'));
    const tokenizer = new ByteLevelBpeTokenizer({
      vocab,
      merges: [
        [97, 98],
        [98, 99],
        [256, 99],
      ],
      preTokenizer: 'none',
    });
    expect(tokenizer.encode('abc')).toEqual([258]);
    expect(tokenizer.encode('bc')).toEqual([257]);
    expect(tokenizer.encode('abbc')).toEqual([256, 257]);
    expect(tokenizer.encode('aabcc')).toEqual([97, 258, 99]);
  });

  it('replaces invalid UTF-8 with U+FFFD', () => {
    const tokenizer = trained.get('gpt2')!;
    expect(tokenizer.decode([0xe2, 0x82])).toBe('\ufffd');
    expect(tokenizer.decode([0xff, 0x61])).toBe('\ufffda');
    const euro = tokenizer.encode('€');
    expect(Array.from(tokenizer.decodeBytes(euro))).toEqual([0xe2, 0x82, 0xac]);
  });

  it('encodes lone surrogates as U+FFFD', () => {
    const tokenizer = trained.get('gpt2')!;
    expect(tokenizer.decode(tokenizer.encode('a\ud800b'))).toBe('a\ufffdb');
  });

  it('rejects ids outside the vocabulary', () => {
    const tokenizer = trained.get('none')!;
    expect(() => tokenizer.decode([97, 600])).toThrowError(
      /Token id 600 at index 1 is not in the vocabulary/,
    );
    expect(() => tokenizer.decode([-1])).toThrowError(RangeError);
    expect(tokenizer.idToToken(600)).toBeUndefined();
    expect(tokenizer.idToBytes(600)).toBeUndefined();
  });

  it('maps tokens to byte-level strings', () => {
    const tokenizer = trained.get('gpt2')!;
    const id = tokenizer.encode(' the')[0];
    expect(tokenizer.encode(' the')).toHaveLength(1);
    expect(tokenizer.idToToken(id)).toBe('Ġthe');
    expect(tokenizer.tokenToId('Ġthe')).toBe(id);
    expect(tokenizer.tokenToId('not a token')).toBeUndefined();
    expect(new TextDecoder().decode(tokenizer.idToBytes(id))).toBe(' the');
  });

  it('recognizes special tokens only when allowed', () => {
    const tokenizer = trainBpe(training.slice(0, 20_000), {
      vocabSize: 300,
      preTokenizer: 'gpt2',
      specialTokens: ['<|endoftext|>', '<|end|>'],
    });
    const text = 'Alice<|endoftext|>Rabbit<|end|>';
    const endOfText = tokenizer.specialTokens.get('<|endoftext|>')!;
    const end = tokenizer.specialTokens.get('<|end|>')!;

    expect(() => tokenizer.encode(text)).toThrowError(
      /Disallowed special token "<\|endoftext\|>" found in the text at index 5/,
    );
    expect(() => tokenizer.encode(text, { allowedSpecial: new Set(['<|endoftext|>']) })).toThrowError(
      /"<\|end\|>" found in the text at index 24/,
    );
    expect(() => tokenizer.encode(text, { disallowedSpecial: new Set(['<pad>']) })).toThrowError(/"<pad>"/);
    const plain = tokenizer.encode(text, { disallowedSpecial: new Set() });
    expect(plain).not.toContain(endOfText);
    expect(tokenizer.decode(plain)).toBe(text);
    // As in tiktoken, a token listed in disallowedSpecial raises even when it is also allowed.
    const both = {
      allowedSpecial: new Set(['<|endoftext|>']),
      disallowedSpecial: new Set(['<|endoftext|>']),
    };
    expect(() => tokenizer.encode(text, both)).toThrowError(/"<\|endoftext\|>"/);
    const onlyEndOfText = tokenizer.encode(text, {
      allowedSpecial: new Set(['<|endoftext|>']),
      disallowedSpecial: new Set(),
    });
    expect(onlyEndOfText.filter((id) => id >= 298)).toEqual([endOfText]);

    const all = tokenizer.encode(text, { allowedSpecial: 'all' });
    expect(all.filter((id) => id >= 298)).toEqual([endOfText, end]);
    expect(all.slice(0, all.indexOf(endOfText))).toEqual(tokenizer.encode('Alice'));
    expect(tokenizer.decode(all)).toBe(text);

    const some = tokenizer.encode(text, {
      allowedSpecial: new Set(['<|end|>']),
      disallowedSpecial: new Set(),
    });
    expect(some.filter((id) => id >= 298)).toEqual([end]);
    expect(() => tokenizer.encode(text, { allowedSpecial: new Set(['<pad>']) })).toThrowError(/"<pad>"/);
  });

  it('prefers the longest special token', () => {
    const tokenizer = trainBpe('abc', {
      vocabSize: 258,
      preTokenizer: 'none',
      specialTokens: ['<a>', '<a>b'],
    });
    expect(tokenizer.encode('<a>b<a>', { allowedSpecial: 'all' })).toEqual([257, 256]);
  });

  it('rejects an invalid vocabulary', () => {
    const bytes: Uint8Array[] = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));
    expect(
      () =>
        new ByteLevelBpeTokenizer({
          vocab: bytes.map((b, i) => (i === 1 ? undefined : b)),
          merges: [],
          preTokenizer: 'gpt2',
        }),
    ).toThrowError(/no token for byte 0x01/);
    expect(
      () => new ByteLevelBpeTokenizer({ vocab: bytes, merges: [[97, 98]], preTokenizer: 'gpt2' }),
    ).toThrowError(/merge 0 \(97, 98\).*"ab" is not in the vocabulary/);
    expect(
      () =>
        new ByteLevelBpeTokenizer({ vocab: [...bytes, Uint8Array.of(97)], merges: [], preTokenizer: 'gpt2' }),
    ).toThrowError(/tokens 97 and 256 have the same bytes/);
    expect(() => ByteLevelBpeTokenizer.fromVocabAndMerges({ a: 1, b: 1 }, [])).toThrowError(
      /"a" and "b" have the same id 1/,
    );
    expect(() => ByteLevelBpeTokenizer.fromVocabAndMerges({ 日本: 1 }, [])).toThrowError(
      /"日本".*outside the byte-level alphabet/,
    );
    expect(() => ByteLevelBpeTokenizer.fromVocabAndMerges({ a: 0 }, ['a b'])).toThrowError(
      /merge 0 \(a b\): "b" is not in the vocabulary/,
    );
  });
});

describe('MergeTable', () => {
  it('gives the same ids by heap and by scanning', () => {
    const tokenizer = trainBpe(readCorpus('alice-in-wonderland.txt'), {
      vocabSize: 700,
      preTokenizer: 'none',
    });
    const table = new MergeTable(
      tokenizer.merges,
      tokenizer.merges.map(([left, right]) => {
        const bytes = new Uint8Array([...tokenizer.idToBytes(left)!, ...tokenizer.idToBytes(right)!]);
        return tokenizer.tokenToId(bytesToTokenString(bytes))!;
      }),
      tokenizer.vocabSize,
    );
    expect(table.ordered).toBe(true);
    const encoder = new TextEncoder();
    const samples = [
      readCorpus('the-time-machine.txt').slice(5_000, 25_000),
      'a'.repeat(5_000),
      ...AWKWARD_STRINGS,
    ];
    for (const sample of samples) {
      const bytes = Array.from(encoder.encode(sample));
      expect(table.applyWithHeap(bytes.slice())).toEqual(table.applyByScanning(bytes.slice()));
    }
  });

  it('detects merges that use a token before it exists', () => {
    expect(new MergeTable([[1, 2]], [3], 10).ordered).toBe(true);
    expect(
      new MergeTable(
        [
          [3, 1],
          [1, 2],
        ],
        [4, 3],
        10,
      ).ordered,
    ).toBe(false);
  });
});
