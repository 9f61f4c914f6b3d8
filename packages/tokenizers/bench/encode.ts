// Measures encoding throughput against gpt-tokenizer, js-tiktoken and tiktoken (WASM), encoding
// time on long runs of one character and one word, and BPE training time against Hugging Face's
// Rust trainer (npm tokenizers 0.13.3).
// Run from the package directory: node --conditions=development --import tsx bench/encode.ts
// Add --quick to skip the 16,000- and 30,000-token training runs.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as gptTokenizerCl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as gptTokenizerR50k from 'gpt-tokenizer/encoding/r50k_base';
import { getEncoding as getJsTiktoken } from 'js-tiktoken';
import { get_encoding as getWasmTiktoken } from 'tiktoken';
import { BPE, byteLevelPreTokenizer, Tokenizer as HuggingFaceTokenizer } from 'tokenizers';
import { type EncodingName, loadEncoding, trainBpe } from '../src/index.js';

const corporaDirectory = new URL('../../../../shared/data/corpora/', import.meta.url);
const books = readdirSync(corporaDirectory)
  .filter((name) => name.endsWith('.txt'))
  .sort()
  .map((name) => readFileSync(new URL(name, corporaDirectory), 'utf8'));
const corpus = books.join('\n');
const corpusMegabytes = new TextEncoder().encode(corpus).length / 1e6;
const quick = process.argv.includes('--quick');

/** Runs `work` once to warm up, then `repeats` times, and returns the fastest time in milliseconds. */
function fastest(work: () => unknown, repeats = 3): number {
  work();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    work();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

function timeOnce(work: () => unknown): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`);
console.log(
  `\nEncoding throughput on the ${books.length} shared books joined (${corpusMegabytes.toFixed(2)} MB)`,
);
console.log('encoding     implementation          MB/s   load ms   tokens');
const references = { r50k_base: gptTokenizerR50k, cl100k_base: gptTokenizerCl100k } as const;
for (const name of ['r50k_base', 'cl100k_base'] as const satisfies EncodingName[]) {
  const loadStart = performance.now();
  const ours = await loadEncoding(name);
  const loadMs = performance.now() - loadStart;
  const jsTiktoken = getJsTiktoken(name);
  const wasmTiktoken = getWasmTiktoken(name);
  const implementations: [string, () => ArrayLike<number>, number | undefined][] = [
    ['@glassbox/tokenizers', () => ours.encode(corpus), loadMs],
    ['gpt-tokenizer', () => references[name].encode(corpus), undefined],
    ['js-tiktoken', () => jsTiktoken.encode(corpus), undefined],
    ['tiktoken (WASM)', () => wasmTiktoken.encode(corpus), undefined],
  ];
  for (const [label, encode, load] of implementations) {
    const tokens = encode().length;
    const ms = fastest(encode);
    const loadText = load === undefined ? '-' : load.toFixed(0);
    console.log(
      `${name.padEnd(12)} ${label.padEnd(20)} ${(corpusMegabytes / (ms / 1000)).toFixed(2).padStart(6)}   ${loadText.padStart(7)}   ${tokens}`,
    );
  }
  wasmTiktoken.free();
}

console.log(
  '\nEncoding one long chunk with cl100k_base (ms): one repeated character, and one word of random letters',
);
const cl100k = await loadEncoding('cl100k_base');
let state = 12345;
const randomLetter = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return String.fromCharCode(97 + ((state >>> 16) % 26));
};
const longWord = Array.from({ length: 1_000_000 }, randomLetter).join('');
console.log('characters   "a" repeated   random word   ms per 1,000 characters (word)');
for (const size of [62_500, 125_000, 250_000, 500_000, 1_000_000]) {
  const repeated = timeOnce(() => cl100k.encode('a'.repeat(size)));
  const word = timeOnce(() => cl100k.encode(longWord.slice(0, size)));
  console.log(
    `${String(size).padStart(10)}   ${repeated.toFixed(0).padStart(12)}   ${word.toFixed(0).padStart(11)}   ${((1000 * word) / size).toFixed(3)}`,
  );
}
console.log('The references on the same input, at smaller sizes (ms):');
console.log('characters   gpt-tokenizer   tiktoken (WASM)');
const wasmCl100k = getWasmTiktoken('cl100k_base');
for (const size of [5_000, 10_000, 20_000]) {
  const text = 'a'.repeat(size);
  const gpt = timeOnce(() => gptTokenizerCl100k.encode(text));
  const wasm = timeOnce(() => wasmCl100k.encode(text));
  console.log(
    `${String(size).padStart(10)}   ${gpt.toFixed(0).padStart(13)}   ${wasm.toFixed(0).padStart(15)}`,
  );
}
wasmCl100k.free();

// The shared books are about 3.2 MB, so they are repeated to make 5 MB of training text.
const trainingText = corpus.repeat(Math.ceil(5e6 / corpus.length)).slice(0, 5_000_000);
console.log(
  `\nBPE training on ${(trainingText.length / 1e6).toFixed(1)} M characters (the books, repeated), gpt2 pre-tokenizer`,
);
// The npm binding's Tokenizer.train(files) takes no trainer options: it trains with
// BpeTrainer::default(), whose vocabulary size is 30,000, so Hugging Face runs at that size only.
const huggingFaceVocabSize = 30_000;
const trainingDirectory = mkdtempSync(join(tmpdir(), 'bpe-bench-'));
const trainingFile = join(trainingDirectory, 'train.txt');
writeFileSync(trainingFile, trainingText);
const huggingFaceTokenizer = new HuggingFaceTokenizer(BPE.empty());
huggingFaceTokenizer.setPreTokenizer(byteLevelPreTokenizer(false, true));
const huggingFaceSeconds = timeOnce(() => huggingFaceTokenizer.train([trainingFile])) / 1000;
rmSync(trainingDirectory, { recursive: true, force: true });

console.log('vocabulary   @glassbox/tokenizers (s)   merges   tokenizers 0.13.3 (Rust, s)   ratio');
for (const vocabSize of quick ? [1_000, 4_000] : [1_000, 4_000, 16_000, huggingFaceVocabSize]) {
  let mergeCount = 0;
  const seconds =
    timeOnce(() => {
      mergeCount = trainBpe(trainingText, { vocabSize, preTokenizer: 'gpt2' }).merges.length;
    }) / 1000;
  const reference = vocabSize === huggingFaceVocabSize ? huggingFaceSeconds.toFixed(1) : '-';
  const ratio = vocabSize === huggingFaceVocabSize ? (seconds / huggingFaceSeconds).toFixed(1) : '-';
  console.log(
    `${String(vocabSize).padStart(10)}   ${seconds.toFixed(1).padStart(24)}   ${String(mergeCount).padStart(6)}   ${reference.padStart(27)}   ${ratio.padStart(5)}`,
  );
}
// Hugging Face's vocabulary holds the characters seen in the byte-level text, not all 256 bytes.
console.log(`tokenizers 0.13.3 vocabulary: ${huggingFaceTokenizer.getVocabSize()} tokens`);
