import {
  ByteLevelBpeTokenizer,
  CharTokenizer,
  loadEncoding,
  trainBpe,
  trainSymbolBpe,
} from '@glassbox/tokenizers';
import { z } from 'zod';
import { BOOKS } from '../assets.js';
import { barChartSpec, scatterChartSpec } from './charts.js';
import { defineExperiment } from './types.js';
import { gutenbergBody } from './words.js';

export const BPE_TOY_TEXT = 'like liker love lovely hug hugs hugging hearts';

/** Shows a token sequence with visible boundaries and spaces, such as `like|·l|...`. */
function showTokens(tokens: readonly string[]): string {
  return tokens.map((token) => token.replaceAll(' ', '·')).join('|');
}

export const bpeSteps = defineExperiment({
  id: 'bpe-steps',
  title: 'Byte pair encoding step by step',
  section: '14. Byte-pair encoding algorithm; 15. CodeChallenge: Byte-pair encoding to a desired vocab size',
  description:
    'Runs byte pair encoding by hand on a short text: the vocabulary starts as the sorted characters (space included), and each step merges the most frequent adjacent pair into a new token, ties going to the pair seen first, until the vocabulary reaches the target size. Every merge is listed with its count and the text as tokens after it.',
  needs: ['tokenizers'],
  typicalTime: '1 s',
  params: z.object({
    text: z.string().min(2).default(BPE_TOY_TEXT).describe('text to train on'),
    vocabSize: z
      .number()
      .int()
      .min(2)
      .max(10_000)
      .default(25)
      .describe('vocabulary size at which merging stops'),
  }),
  async run({ params, figure }) {
    const result = trainSymbolBpe(params.text, { vocabSize: params.vocabSize });
    const initialTokens = Array.from(params.text).length;
    await figure(
      'tokens-per-merge',
      scatterChartSpec({
        title: 'Text length in tokens after each merge',
        xTitle: 'merges',
        yTitle: 'tokens',
        points: [
          { x: 0, y: initialTokens, label: 'characters' },
          ...result.merges.map((merge) => ({
            x: merge.step,
            y: merge.tokensAfter,
            label: JSON.stringify(merge.token),
          })),
        ],
        lines: true,
        pointLabels: result.merges.length <= 30,
        integerX: true,
      }),
    );
    let tokens = Array.from(params.text);
    const sequences: string[] = [`start: ${showTokens(tokens)}`];
    for (const merge of result.merges) {
      const merged: string[] = [];
      for (let i = 0; i < tokens.length; i++) {
        if (i + 1 < tokens.length && tokens[i] === merge.left && tokens[i + 1] === merge.right) {
          merged.push(merge.token);
          i++;
        } else merged.push(tokens[i]);
      }
      tokens = merged;
      sequences.push(`merge ${merge.step} "${merge.token}": ${showTokens(tokens)}`);
    }
    return {
      notes: sequences,
      results: {
        initialVocabularySize: result.initialVocabulary.length,
        initialVocabulary: result.initialVocabulary,
        finalVocabularySize: result.vocabulary.length,
        merges: result.merges.map((merge) => merge.token),
        mergeCounts: result.merges.map((merge) => merge.count),
        initialTokens,
        finalTokens: result.tokens.length,
        finalTokenization: result.tokens,
      },
      tables: [
        {
          title: 'Merges',
          columns: ['step', 'left', 'right', 'new token', 'id', 'pair count', 'tokens after'],
          rows: result.merges.map((merge) => [
            merge.step,
            JSON.stringify(merge.left),
            JSON.stringify(merge.right),
            JSON.stringify(merge.token),
            merge.id,
            merge.count,
            merge.tokensAfter,
          ]),
        },
      ],
    };
  },
});

export const bpeVocabSize = defineExperiment({
  id: 'bpe-vocab-size',
  title: 'BPE to a target vocabulary size on a book',
  section: '15. CodeChallenge: Byte-pair encoding to a desired vocab size',
  description:
    'Trains a byte-level BPE tokenizer (256 byte tokens, GPT-2 pre-tokenizer) on The Time Machine up to a target vocabulary size, then encodes the book with the first k merges for several k to show how the token count falls as the vocabulary grows. Lists the first merges and the longest tokens learned.',
  needs: ['tokenizers', 'Gutenberg book 35 (download, or --corpus PATH)'],
  typicalTime: '3 s',
  params: z.object({
    vocabSize: z
      .number()
      .int()
      .min(257)
      .max(20_000)
      .default(1000)
      .describe('vocabulary size to train to, 256 bytes included'),
    checkpoints: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(10)
      .describe('vocabulary sizes at which the book is encoded'),
    maxCharacters: z
      .number()
      .int()
      .min(100)
      .default(1_000_000)
      .describe('characters of the book used, from its start'),
  }),
  async run({ params, assets, progress, figure }) {
    progress.stage(`Loading ${BOOKS.timeMachine.title}`);
    const book = await assets.book(BOOKS.timeMachine);
    const text = gutenbergBody(book.text).replace(/\r\n/g, '\n').slice(0, params.maxCharacters);
    progress.stage(`Training BPE to ${params.vocabSize} tokens`);
    const trained = trainBpe(text, {
      vocabSize: params.vocabSize,
      preTokenizer: 'gpt2',
      onProgress: (done, total) => progress.advance(done, total),
    });
    const merges = trained.merges;
    const vocab = Array.from({ length: 256 + merges.length }, (_, id) => trained.idToBytes(id));
    const points: { x: number; y: number }[] = [];
    const steps = new Set<number>();
    for (let i = 0; i <= params.checkpoints; i++)
      steps.add(Math.round((merges.length * i) / params.checkpoints));
    progress.stage('Encoding the book at each checkpoint');
    for (const k of [...steps].sort((a, b) => a - b)) {
      const partial = new ByteLevelBpeTokenizer({
        vocab: vocab.slice(0, 256 + k),
        merges: merges.slice(0, k),
        preTokenizer: 'gpt2',
      });
      points.push({ x: 256 + k, y: partial.encode(text).length });
    }
    const decoder = new TextDecoder();
    const learned = Array.from({ length: merges.length }, (_, index) => decoder.decode(vocab[256 + index]));
    const longest = [...learned].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).slice(0, 15);
    const bytes = new TextEncoder().encode(text).length;
    await figure(
      'tokens-by-vocab-size',
      scatterChartSpec({
        title: 'Tokens in the book against vocabulary size',
        xTitle: 'vocabulary size',
        yTitle: 'tokens',
        points,
        lines: true,
      }),
    );
    const finalTokens = points[points.length - 1].y;
    return {
      results: {
        source: book.name,
        characters: text.length,
        bytes,
        vocabularySize: 256 + merges.length,
        firstMerges: learned.slice(0, 20),
        longestTokens: longest,
        tokensByVocabularySize: Object.fromEntries(points.map((point) => [String(point.x), point.y])),
        finalTokens,
        bytesPerToken: bytes / finalTokens,
      },
    };
  },
});

/** Splits text into words and single punctuation marks. */
function wordTokens(text: string): string[] {
  return text.match(/[\p{L}\p{N}']+|[^\p{L}\p{N}\s]/gu) ?? [];
}

export const charsSubwordsWords = defineExperiment({
  id: 'chars-subwords-words',
  title: 'Tokenizing characters vs. subwords vs. words',
  section: '13. Tokenizing characters vs. subwords vs. words',
  description:
    'Tokenizes the same text three ways: one token per character, subword tokens of GPT-4 (cl100k_base), and one token per word or punctuation mark. Characters give a tiny vocabulary and long sequences, words a huge vocabulary and short sequences, and subwords sit between the two.',
  needs: ['tokenizers', 'Gutenberg book 35 (download, or --corpus PATH)'],
  typicalTime: '3 s',
  params: z.object({
    example: z.string().default('Hello, tokenizers!').describe('short text shown token by token'),
    maxCharacters: z
      .number()
      .int()
      .min(100)
      .default(1_000_000)
      .describe('characters of the book used, from its start'),
  }),
  async run({ params, assets, progress, figure }) {
    progress.stage(`Loading ${BOOKS.timeMachine.title}`);
    const book = await assets.book(BOOKS.timeMachine);
    const text = gutenbergBody(book.text).replace(/\r\n/g, '\n').slice(0, params.maxCharacters);
    progress.stage('Loading cl100k_base');
    const gpt4 = await loadEncoding('cl100k_base');
    const chars = CharTokenizer.fromText(text);
    const charIds = chars.encode(text);
    const subwordIds = gpt4.encode(text, { disallowedSpecial: new Set() });
    const words = wordTokens(text);
    const schemes = [
      {
        name: 'characters',
        tokens: charIds.length,
        vocabulary: chars.vocabSize,
        used: new Set(charIds).size,
      },
      {
        name: 'subwords (cl100k)',
        tokens: subwordIds.length,
        vocabulary: gpt4.vocabSize,
        used: new Set(subwordIds).size,
      },
      { name: 'words', tokens: words.length, vocabulary: new Set(words).size, used: new Set(words).size },
    ];
    const exampleSubwords = gpt4.encode(params.example).map((id) => gpt4.decode([id]));
    await figure(
      'tokens-and-vocabulary',
      barChartSpec({
        title: 'Sequence length and vocabulary size by tokenization',
        xTitle: 'tokenization',
        yTitle: 'count (log scale)',
        bars: schemes.flatMap((scheme) => [
          { label: scheme.name, value: scheme.tokens, group: 'tokens in the text' },
          { label: scheme.name, value: scheme.used, group: 'distinct tokens used' },
          { label: scheme.name, value: scheme.vocabulary, group: 'vocabulary size' },
        ]),
        grouped: true,
        yScale: 'log',
        width: 420,
      }),
    );
    return {
      notes: [
        `Characters: ${JSON.stringify(Array.from(params.example))}`,
        `Subwords: ${JSON.stringify(exampleSubwords)}`,
        `Words: ${JSON.stringify(wordTokens(params.example))}`,
      ],
      results: {
        source: book.name,
        characters: text.length,
        characterTokens: schemes[0].tokens,
        characterVocabulary: schemes[0].vocabulary,
        subwordTokens: schemes[1].tokens,
        subwordVocabulary: schemes[1].vocabulary,
        subwordTokensUsed: schemes[1].used,
        wordTokens: schemes[2].tokens,
        wordVocabulary: schemes[2].vocabulary,
        charactersPerSubword: text.length / schemes[1].tokens,
        exampleSubwords,
      },
      tables: [
        {
          title: 'Tokenizations of the book',
          columns: ['tokenization', 'tokens', 'distinct tokens used', 'vocabulary size'],
          rows: schemes.map((scheme) => [scheme.name, scheme.tokens, scheme.used, scheme.vocabulary]),
        },
      ],
    };
  },
});
