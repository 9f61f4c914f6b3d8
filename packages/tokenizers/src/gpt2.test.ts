import { decode as referenceDecode, encode as referenceEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer } from './bpe.js';
import { tokenizerFromJSON } from './json.js';
import { AWKWARD_STRINGS, corpusFileNames, readCorpus, readSharedText } from './test-support/shared-data.js';

describe('GPT-2 tokenizer', () => {
  const gpt2 = ByteLevelBpeTokenizer.fromGpt2Files(
    readSharedText('tokenizers/gpt2/encoder.json'),
    readSharedText('tokenizers/gpt2/vocab.bpe'),
  );

  it('loads encoder.json and vocab.bpe', () => {
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.merges.length).toBe(50000);
    expect([...gpt2.specialTokens]).toEqual([['<|endoftext|>', 50256]]);
    expect(gpt2.idToToken(0)).toBe('!');
    expect(gpt2.idToToken(262)).toBe('Ġthe');
    expect(gpt2.tokenToId('Ġthe')).toBe(262);
  });

  it('encodes known sentences', () => {
    expect(gpt2.encode('Hello world')).toEqual([15496, 995]);
    expect(gpt2.encode(' Hello, world!')).toEqual([18435, 11, 995, 0]);
    expect(gpt2.encode('<|endoftext|>', { allowedSpecial: 'all' })).toEqual([50256]);
  });

  it('matches gpt-tokenizer on the time machine', () => {
    const book = readCorpus('the-time-machine.txt');
    const head = book.slice(0, 20_000);
    expect(gpt2.encode(head)).toEqual(referenceEncode(head));
    expect(gpt2.encode(book)).toEqual(referenceEncode(book));
  });

  it('matches gpt-tokenizer on every book', () => {
    for (const name of corpusFileNames()) {
      const book = readCorpus(name);
      const ids = gpt2.encode(book);
      expect(ids, name).toEqual(referenceEncode(book));
      expect(gpt2.decode(ids) === book, name).toBe(true);
    }
  });

  it('matches gpt-tokenizer on awkward strings', () => {
    for (const text of AWKWARD_STRINGS) {
      // gpt-tokenizer raises on special-token text unless it is allowed or disallowed explicitly.
      const expected = referenceEncode(text, { disallowedSpecial: new Set() });
      const ids = gpt2.encode(text, { disallowedSpecial: new Set() });
      expect(ids, JSON.stringify(text)).toEqual(expected);
      expect(gpt2.decode(ids)).toBe(referenceDecode(expected));
      expect(gpt2.decode(ids)).toBe(text);
    }
  });

  it("matches llama.cpp's GPT-2 test vectors", () => {
    const inputs = readSharedText('tokenizers/llamacpp-vectors/ggml-vocab-gpt-2.gguf.inp').split(
      '\n__ggml_vocab_test__\n',
    );
    const outputs = readSharedText('tokenizers/llamacpp-vectors/ggml-vocab-gpt-2.gguf.out').split('\n');
    // Both files end with a separator or line break, which leaves an empty last entry.
    expect(inputs.pop()).toBe('');
    expect(outputs.pop()).toBe('');
    expect(inputs.length).toBe(outputs.length);
    expect(inputs.length).toBeGreaterThan(40);
    inputs.forEach((input, i) => {
      const expected = outputs[i].trim() === '' ? [] : outputs[i].trim().split(' ').map(Number);
      expect(gpt2.encode(input), JSON.stringify(input)).toEqual(expected);
    });
  });

  it("loads Hugging Face's gpt2 tokenizer.json", () => {
    const fromJson = tokenizerFromJSON(JSON.parse(readSharedText('tokenizers/gpt2/tokenizer.json')));
    expect(fromJson).toBeInstanceOf(ByteLevelBpeTokenizer);
    const tokenizer = fromJson as ByteLevelBpeTokenizer;
    expect(tokenizer.vocabSize).toBe(50257);
    expect(tokenizer.merges).toEqual(gpt2.merges);
    expect([...tokenizer.specialTokens]).toEqual([['<|endoftext|>', 50256]]);
    const text = readCorpus('alice-in-wonderland.txt').slice(0, 30_000);
    expect(tokenizer.encode(text)).toEqual(gpt2.encode(text));
  });

  it('writes the same tokenizer.json model as Hugging Face', () => {
    const reference = JSON.parse(readSharedText('tokenizers/gpt2/tokenizer.json'));
    const json = gpt2.toJSON();
    expect(json.model.vocab).toEqual(reference.model.vocab);
    expect(json.model.merges).toEqual(reference.model.merges);
    expect(json.added_tokens.map(({ id, content }) => ({ id, content }))).toEqual([
      { id: 50256, content: '<|endoftext|>' },
    ]);
    expect(json.pre_tokenizer).toMatchObject(reference.pre_tokenizer);
    expect(json.decoder).toMatchObject(reference.decoder);
  });
});
