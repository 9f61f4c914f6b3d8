import { cleanWords, splitWords, WordVocabulary } from '@glassbox/tokenizers';
import { z } from 'zod';
import { BOOKS } from '../assets.js';
import { barChartSpec, heatmapSpec, scatterChartSpec } from './charts.js';
import { defineExperiment } from './types.js';

/** The three quotes that the first tokenizer exercise numbers. */
export const QUOTES = [
  'All that we are is the result of what we have thought',
  'To be or not to be that is the question',
  'Be yourself everyone else is already taken',
];

const quotesParam = z
  .string()
  .default(QUOTES.join(' | '))
  .describe('sentences separated by " | ", split into lower-case words at whitespace');

function quoteWords(text: string): string[] {
  return splitWords(text.split('|').join(' '));
}

export const textToTokens = defineExperiment({
  id: 'text-to-tokens',
  title: 'Text to tokens and back',
  section: '8. Parsing text to numbered tokens',
  description:
    'Builds a word-level tokenizer from three quotes: the vocabulary is the sorted set of lower-case words, the encoder maps words to ids and the decoder maps ids back. It encodes a new sentence made of vocabulary words, decodes it, and draws a fake quote of random vocabulary words.',
  needs: ['tokenizers'],
  typicalTime: '1 s',
  params: z.object({
    text: quotesParam,
    sentence: z
      .string()
      .default('we are what we have thought')
      .describe('sentence to encode, made of vocabulary words'),
    fakeWords: z.number().int().min(1).max(100).default(5).describe('words in the random fake quote'),
  }),
  async run({ params, rng, figure }) {
    const words = quoteWords(params.text);
    const vocabulary = new WordVocabulary(words);
    const sentenceWords = splitWords(params.sentence);
    const ids = vocabulary.encode(sentenceWords);
    const decoded = vocabulary.decode(ids);
    const fakeIds = Array.from({ length: params.fakeWords }, () => rng.randint(0, vocabulary.size));
    const fakeQuote = vocabulary.decode(fakeIds);
    await figure(
      'token-ids',
      scatterChartSpec({
        title: `Token ids of "${params.sentence}"`,
        xTitle: 'word position',
        yTitle: 'token id',
        points: ids.map((id, position) => ({ x: position, y: id, label: vocabulary.words[id] })),
        lines: true,
        pointLabels: true,
        integerX: true,
      }),
    );
    return {
      notes: [`Encoded: ${JSON.stringify(ids)}`, `Decoded: "${decoded}"`, `Fake quote: "${fakeQuote}"`],
      results: {
        words: words.length,
        vocabularySize: vocabulary.size,
        vocabulary: [...vocabulary.words],
        sentenceIds: ids,
        decoded,
        roundTrip: decoded === sentenceWords.join(' '),
        fakeQuoteIds: fakeIds,
        fakeQuote,
      },
    };
  },
});

export const oneHot = defineExperiment({
  id: 'one-hot',
  title: 'One-hot encoding of words',
  section: '10. CodeChallenge: Create and visualize tokens (part 2)',
  description:
    'Encodes every word of the quotes as a one-hot row: a matrix with one row per word and one column per vocabulary entry, holding a single 1 per row. The heatmap shows it as an image.',
  needs: ['tokenizers'],
  typicalTime: '1 s',
  params: z.object({ text: quotesParam }),
  async run({ params, figure }) {
    const words = quoteWords(params.text);
    const vocabulary = new WordVocabulary(words);
    const matrix = vocabulary.oneHot(words);
    const onesPerRow = matrix.map((row) => row.reduce((sum, value) => sum + value, 0));
    const columnSums = vocabulary.words.map((_, column) => matrix.reduce((sum, row) => sum + row[column], 0));
    await figure(
      'one-hot',
      heatmapSpec({
        title: 'One-hot matrix: words by vocabulary',
        xTitle: 'vocabulary entry',
        yTitle: 'word in the text',
        xLabels: vocabulary.words,
        yLabels: words,
        values: matrix,
        colorTitle: 'value',
        scheme: 'greys',
      }),
    );
    const mostFrequent = vocabulary.words[columnSums.indexOf(Math.max(...columnSums))];
    return {
      results: {
        rows: matrix.length,
        columns: vocabulary.size,
        onesPerRowAllEqualOne: onesPerRow.every((count) => count === 1),
        totalOnes: onesPerRow.reduce((sum, count) => sum + count, 0),
        wordCounts: Object.fromEntries(vocabulary.words.map((word, column) => [word, columnSums[column]])),
        mostFrequentWord: mostFrequent,
      },
    };
  },
});

export const wordContext = defineExperiment({
  id: 'word-context',
  title: 'Context of a target word',
  section: '9. CodeChallenge: Create and visualize tokens (part 1)',
  description:
    'Finds every occurrence of a target word and prints the words around it, the context that language models learn from. Occurrences at the start or end of the text get a shorter context instead of wrapping around, which Python negative indexing would do.',
  needs: ['tokenizers'],
  typicalTime: '1 s',
  params: z.object({
    text: quotesParam,
    target: z.string().default('to').describe('word whose contexts are shown'),
    window: z.number().int().min(1).max(20).default(1).describe('words of context on each side'),
  }),
  async run({ params }) {
    const words = quoteWords(params.text);
    const vocabulary = new WordVocabulary(words);
    const target = params.target.toLowerCase();
    const targetId = vocabulary.idOf(target);
    const contexts: { position: number; before: string[]; after: string[] }[] = [];
    words.forEach((word, position) => {
      if (word !== target) return;
      contexts.push({
        position,
        before: words.slice(Math.max(0, position - params.window), position),
        after: words.slice(position + 1, position + 1 + params.window),
      });
    });
    return {
      notes: contexts.map((context) => [...context.before, `[${target}]`, ...context.after].join(' ')),
      results: {
        targetId: targetId ?? null,
        occurrences: contexts.length,
        contexts: contexts.map((context) => ({
          position: context.position,
          before: context.before,
          after: context.after,
        })),
      },
      tables: [
        {
          title: `Contexts of "${target}"`,
          columns: ['position', 'before', 'target', 'after'],
          rows: contexts.map((context) => [
            context.position,
            context.before.join(' '),
            target,
            context.after.join(' '),
          ]),
        },
      ],
    };
  },
});

export const cleanBook = defineExperiment({
  id: 'clean-book',
  title: 'Cleaning a Gutenberg book into words',
  section: '11. Preparing text for tokenization',
  description:
    'Loads The Time Machine from Project Gutenberg and cleans it into words: the Gutenberg header and licence are cut off (the course keeps them), typographic quotes, dashes and underscores become spaces, other non-ASCII characters and digits are removed, and the lower-cased text is split at punctuation and whitespace, dropping one-letter words. It builds the sorted vocabulary and checks that 10 consecutive words encode and decode unchanged.',
  needs: ['tokenizers', 'Gutenberg book 35 (download, or --corpus PATH)'],
  typicalTime: '1 s',
  params: z.object({
    keepLicense: z
      .boolean()
      .default(false)
      .describe('keep the Gutenberg header and licence text, as the course does'),
    minLength: z.number().int().min(1).max(10).default(2).describe('shortest word kept, in characters'),
  }),
  async run({ params, rng, assets, progress }) {
    progress.stage(`Loading ${BOOKS.timeMachine.title}`);
    const book = await assets.book(BOOKS.timeMachine);
    const body = params.keepLicense ? book.text : gutenbergBody(book.text);
    const words = cleanWords(body, { minLength: params.minLength });
    const vocabulary = new WordVocabulary(words);
    const start = rng.randint(0, Math.max(1, words.length - 10));
    const sample = words.slice(start, start + 10);
    const decoded = vocabulary.decode(vocabulary.encode(sample));
    return {
      notes: [`Words ${start}-${start + sample.length - 1}: "${decoded}"`],
      results: {
        source: book.name,
        characters: body.length,
        words: words.length,
        vocabularySize: vocabulary.size,
        firstWords: words.slice(0, 20),
        sampleStart: start,
        sampleRoundTrip: decoded === sample.join(' '),
      },
    };
  },
});

/** Returns the text between the "*** START OF" and "*** END OF" lines, or all of it without them. */
export function gutenbergBody(text: string): string {
  const start = /^\*\*\*\s*START OF.*$/m.exec(text);
  let body = start === null ? text : text.slice(start.index + start[0].length);
  const end = /^\*\*\*\s*END OF.*$/m.exec(body);
  if (end !== null) body = body.slice(0, end.index);
  return body;
}

export const timeMachineTokens = defineExperiment({
  id: 'time-machine-tokens',
  title: 'Tokenizing The Time Machine',
  section: '12. CodeChallenge: Tokenizing The Time Machine',
  description:
    'Cleans The Time Machine into words, counts them and the vocabulary, shows the most frequent words and the distribution of word lengths, decodes random token ids and a random walk of ids into "text", and encodes a new sentence with an <|unk|> token for words the book does not contain.',
  needs: ['tokenizers', 'Gutenberg book 35 (download, or --corpus PATH)'],
  typicalTime: '2 s',
  params: z.object({
    topWords: z.number().int().min(1).max(200).default(20).describe('most frequent words shown'),
    walkLength: z.number().int().min(1).max(1000).default(30).describe('tokens in the random walk'),
    sentence: z
      .string()
      .default('the time traveller pressed the lever of his spaceship')
      .describe('sentence encoded with <|unk|> for unknown words'),
  }),
  async run({ params, rng, assets, progress, figure }) {
    progress.stage(`Loading ${BOOKS.timeMachine.title}`);
    const book = await assets.book(BOOKS.timeMachine);
    const words = cleanWords(gutenbergBody(book.text));
    const vocabulary = new WordVocabulary(words, { unknownToken: '<|unk|>' });
    const counts = new Map<string, number>();
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, params.topWords);
    const lengthCounts: number[] = [];
    for (const word of vocabulary.words) {
      if (word === vocabulary.unknownToken) continue;
      while (lengthCounts.length <= word.length) lengthCounts.push(0);
      lengthCounts[word.length]++;
    }
    const wordCount = vocabulary.size - 1;
    const randomIds = Array.from({ length: 10 }, () => rng.randint(0, wordCount));
    // A random walk: start anywhere, then step one id up or down, reflecting at the vocabulary's ends.
    const walk = [rng.randint(0, wordCount)];
    while (walk.length < params.walkLength) {
      let next = walk[walk.length - 1] + (rng.random() < 0.5 ? -1 : 1);
      if (next < 0) next = 1;
      if (next >= wordCount) next = wordCount - 2;
      walk.push(Math.max(0, next));
    }
    const sentenceWords = cleanWords(params.sentence, { minLength: 1 });
    const sentenceIds = vocabulary.encode(sentenceWords);
    const unknownWords = sentenceWords.filter((word) => vocabulary.idOf(word) === undefined);

    await figure(
      'top-words',
      barChartSpec({
        title: `The ${top.length} most frequent words`,
        xTitle: 'word',
        yTitle: 'occurrences',
        bars: top.map(([word, count]) => ({ label: word, value: count })),
      }),
    );
    await figure(
      'word-lengths',
      barChartSpec({
        title: 'Vocabulary words by length',
        xTitle: 'word length (characters)',
        yTitle: 'words in the vocabulary',
        bars: lengthCounts.map((count, length) => ({ label: String(length), value: count })).slice(1),
      }),
    );
    return {
      notes: [
        `Random ids decode to: "${vocabulary.decode(randomIds)}"`,
        `Random walk decodes to: "${vocabulary.decode(walk)}"`,
        `"${params.sentence}" encodes to ${JSON.stringify(sentenceIds)}, decoded "${vocabulary.decode(sentenceIds)}"`,
      ],
      results: {
        source: book.name,
        words: words.length,
        vocabularySize: wordCount,
        vocabularySizeWithUnknown: vocabulary.size,
        unknownTokenId: vocabulary.idOf('<|unk|>') ?? null,
        topWords: Object.fromEntries(top),
        wordLengthCounts: lengthCounts,
        longestWord: vocabulary.words.reduce(
          (longest, word) => (word.length > longest.length && word !== '<|unk|>' ? word : longest),
          '',
        ),
        randomIds,
        randomWalk: walk,
        sentenceIds,
        unknownWords,
      },
    };
  },
});
