// Measures BPE training and encoding time on the shared corpora.
// Run from the package directory: node --conditions=development --import tsx bench/train-bpe.ts
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { type PreTokenizerName, trainBpe } from '../src/index.js';

const corpora = new URL('../../../../shared/data/corpora/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, corpora), 'utf8');

const cases: { label: string; text: string; vocabSize: number }[] = [
  { label: 'tiny-shakespeare (1.1 MB)', text: read('tiny-shakespeare.txt'), vocabSize: 1000 },
  {
    label: 'gullivers-travels + poe-works-vol2 (1.2 MB)',
    text: read('gullivers-travels.txt') + read('poe-works-vol2.txt'),
    vocabSize: 512,
  },
];
const preTokenizers: PreTokenizerName[] = ['gpt2', 'cl100k', 'none'];

console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`);
for (const { label, text, vocabSize } of cases) {
  for (const preTokenizer of preTokenizers) {
    const trainStart = performance.now();
    const tokenizer = trainBpe(text, { vocabSize, preTokenizer });
    const trainMs = performance.now() - trainStart;

    const encodeStart = performance.now();
    const ids = tokenizer.encode(text);
    const encodeMs = performance.now() - encodeStart;

    const columns = [
      label,
      `vocab ${vocabSize}`,
      preTokenizer.padEnd(6),
      `train ${trainMs.toFixed(0)} ms`,
      `encode ${encodeMs.toFixed(0)} ms`,
      `${ids.length} tokens`,
    ];
    console.log(columns.join('  '));
  }
}
