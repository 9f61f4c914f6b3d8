import {
  type ByteLevelBpeTokenizer,
  ENCODING_NAMES,
  fitZipf,
  loadEncoding,
  rankFrequency,
} from '@glassbox/tokenizers';
import { z } from 'zod';
import { BOOKS, type BookRef } from '../assets.js';
import { barChartSpec, scatterChartSpec } from './charts.js';
import { defineExperiment, type ExperimentContext, type ProgressReporter } from './types.js';
import { gutenbergBody } from './words.js';

/**
 * Turns counts indexed by length into bars for lengths 1 to `last - 1`, plus one bar `<last>+`
 * for the rest, so that a long tail does not crowd the axis.
 */
function histogramBars(counts: readonly number[], last: number): { label: string; value: number }[] {
  const bars = counts.slice(1, last).map((count, index) => ({ label: String(index + 1), value: count }));
  const tail = counts.slice(last).reduce((sum, count) => sum + count, 0);
  if (tail > 0) bars.push({ label: `${last}+`, value: tail });
  return bars;
}

async function loadGpt4(progress: ProgressReporter): Promise<ByteLevelBpeTokenizer> {
  progress.stage('Loading cl100k_base');
  return loadEncoding('cl100k_base');
}

/** Encodes text with special-token text treated as ordinary text, as a book may contain it. */
function encodeText(tokenizer: ByteLevelBpeTokenizer, text: string): number[] {
  return tokenizer.encode(text, { disallowedSpecial: new Set() });
}

function pieces(tokenizer: ByteLevelBpeTokenizer, ids: readonly number[]): string[] {
  return ids.map((id) => tokenizer.decode([id]));
}

/** Splits text into words as the course does: at whitespace, common punctuation and double hyphens. */
function courseWords(text: string): string[] {
  return text.split(/[,.:;—?_!"“”()']|--|\s/u).filter((word) => word !== '');
}

export const gpt4Tokenizer = defineExperiment({
  id: 'gpt4-tokenizer',
  title: "Exploring GPT-4's tokenizer",
  section: "16. Exploring ChatGPT4's tokenizer",
  description:
    'Inspects cl100k_base, the tokenizer of GPT-3.5 and GPT-4: its size, special tokens, an invalid id, a stretch of the vocabulary, the effect of a leading space and of letter case, a sentence encoded whole and word by word, the distribution of token lengths, and words against tokens for The Time Machine.',
  needs: ['tokenizers', 'Gutenberg book 35 (download, or --corpus PATH)'],
  typicalTime: '4 s',
  params: z.object({
    sentence: z
      .string()
      .default('My name is Mike and I like toothpaste-flavored chocolate.')
      .describe('sentence encoded whole and word by word'),
    firstId: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(1000)
      .describe('first id of the vocabulary stretch shown'),
    count: z.number().int().min(1).max(200).default(50).describe('ids in the vocabulary stretch shown'),
  }),
  async run({ params, assets, progress, figure }) {
    const gpt4 = await loadGpt4(progress);
    let invalidIdError = '';
    try {
      gpt4.decode([100_261]);
    } catch (error) {
      invalidIdError = (error as Error).message;
    }
    const stretch = Array.from({ length: params.count }, (_, i) => params.firstId + i).filter(
      (id) => id < gpt4.vocabSize,
    );
    const whole = gpt4.encode(params.sentence);
    const wordByWord = params.sentence.split(' ').map((word) => gpt4.encode(word));
    const variants = ['Michael', ' Michael', 'Peach', ' Peach', 'book', 'Book', 'bOok', ' book', 'â'];
    const variantIds = Object.fromEntries(variants.map((variant) => [variant, gpt4.encode(variant)]));

    progress.stage('Measuring every token');
    const lengths: number[] = [];
    const lengthCounts: number[] = [];
    let undecodable = 0;
    for (let id = 0; id < gpt4.vocabSize; id++) {
      if (gpt4.idToToken(id) === undefined) {
        undecodable++;
        lengths.push(Number.NaN);
        continue;
      }
      const length = Array.from(gpt4.decode([id])).length;
      lengths.push(length);
      while (lengthCounts.length <= length) lengthCounts.push(0);
      lengthCounts[length]++;
    }
    const bucket = 2000;
    const meanByBucket: { x: number; y: number }[] = [];
    for (let start = 0; start < lengths.length; start += bucket) {
      const slice = lengths.slice(start, start + bucket).filter(Number.isFinite);
      if (slice.length > 0)
        meanByBucket.push({ x: start, y: slice.reduce((a, b) => a + b, 0) / slice.length });
    }
    await figure(
      'token-length-histogram',
      barChartSpec({
        title: 'cl100k_base tokens by length',
        xTitle: 'token length (characters)',
        yTitle: 'tokens',
        bars: histogramBars(lengthCounts, 25),
      }),
    );
    await figure(
      'token-length-by-id',
      scatterChartSpec({
        title: `Mean token length per ${bucket} ids`,
        xTitle: 'first token id of the group',
        yTitle: 'mean length (characters)',
        points: meanByBucket,
        lines: true,
      }),
    );

    progress.stage(`Loading ${BOOKS.timeMachine.title}`);
    const book = await assets.book(BOOKS.timeMachine);
    const bookWords = courseWords(book.text);
    const bookTokens = encodeText(gpt4, book.text).length;
    const finite = lengths.filter(Number.isFinite);
    return {
      notes: [
        `"${params.sentence}" whole: ${JSON.stringify(pieces(gpt4, whole))}`,
        `Word by word: ${JSON.stringify(wordByWord.map((ids) => pieces(gpt4, ids)))}`,
      ],
      results: {
        vocabularySize: gpt4.vocabSize,
        endOfTextId: gpt4.specialTokens.get('<|endoftext|>') ?? null,
        specialTokens: Object.fromEntries(gpt4.specialTokens),
        invalidIdError,
        idsWithoutToken: undecodable,
        vocabularyStretch: Object.fromEntries(stretch.map((id) => [String(id), gpt4.decode([id])])),
        sentenceTokens: whole.length,
        sentenceTokensWordByWord: wordByWord.reduce((sum, ids) => sum + ids.length, 0),
        variantIds,
        tokenLengthCounts: lengthCounts,
        meanTokenLength: finite.reduce((a, b) => a + b, 0) / finite.length,
        longestTokenLength: Math.max(...finite),
        bookWords: bookWords.length,
        bookTokens,
        tokensPerWord: bookTokens / bookWords.length,
      },
    };
  },
});

export const tokenEfficiency = defineExperiment({
  id: 'token-efficiency',
  title: 'Token count by subword length',
  section: '17-18. CodeChallenge: Token count by subword length',
  description:
    'Encodes each distinct word of The Time Machine alone with cl100k_base and relates its length in characters to its number of tokens; efficiency is characters per token. Also shows how token counts depend on word frequency, and builds fake words from random tokens.',
  needs: ['tokenizers', 'Gutenberg book 35 (download, or --corpus PATH)'],
  typicalTime: '4 s',
  params: z.object({
    showLength: z
      .number()
      .int()
      .min(1)
      .max(40)
      .default(14)
      .describe('word length whose words are decomposed in the report'),
    topWords: z.number().int().min(1).max(100).default(20).describe('most frequent words listed'),
    fakeWords: z.number().int().min(0).max(50).default(5).describe('fake words made of 3 random tokens each'),
  }),
  async run({ params, rng, assets, progress, figure }) {
    const gpt4 = await loadGpt4(progress);
    progress.stage(`Loading ${BOOKS.timeMachine.title}`);
    const book = await assets.book(BOOKS.timeMachine);
    const words = courseWords(gutenbergBody(book.text));
    const frequency = new Map<string, number>();
    for (const word of words) frequency.set(word, (frequency.get(word) ?? 0) + 1);
    const rows = [...frequency].map(([word, count]) => {
      const ids = gpt4.encode(word, { disallowedSpecial: new Set() });
      const characters = Array.from(word).length;
      return { word, count, characters, tokens: ids.length, ids };
    });
    const byLength = new Map<number, { words: number; tokens: number }>();
    for (const row of rows) {
      const entry = byLength.get(row.characters) ?? { words: 0, tokens: 0 };
      entry.words++;
      entry.tokens += row.tokens;
      byLength.set(row.characters, entry);
    }
    const lengthRows = [...byLength].sort((a, b) => a[0] - b[0]);
    const efficiency = rows.map((row) => ({ ...row, efficiency: row.characters / row.tokens }));
    const sortedByEfficiency = [...efficiency].sort(
      (a, b) => b.efficiency - a.efficiency || b.characters - a.characters,
    );
    const efficiencyBins = new Map<number, number>();
    for (const row of efficiency) {
      const bin = Math.floor(row.efficiency);
      efficiencyBins.set(bin, (efficiencyBins.get(bin) ?? 0) + 1);
    }
    const top = [...rows].sort((a, b) => b.count - a.count).slice(0, params.topWords);
    const fakes = Array.from({ length: params.fakeWords }, () => {
      const ids = Array.from({ length: 3 }, () => rng.randint(0, 100_256));
      return gpt4.decode(ids);
    });
    await figure(
      'tokens-by-word-length',
      barChartSpec({
        title: 'Mean tokens per word by word length (cl100k_base)',
        xTitle: 'word length (characters)',
        yTitle: 'mean tokens per word',
        bars: lengthRows.map(([length, entry]) => ({
          label: String(length),
          value: entry.tokens / entry.words,
        })),
      }),
    );
    await figure(
      'efficiency-histogram',
      barChartSpec({
        title: 'Words by efficiency',
        xTitle: 'characters per token (bin start)',
        yTitle: 'distinct words',
        bars: [...efficiencyBins]
          .sort((a, b) => a[0] - b[0])
          .map(([bin, count]) => ({ label: String(bin), value: count })),
      }),
    );
    await figure(
      'tokens-by-frequency',
      scatterChartSpec({
        title: 'Tokens per word against word frequency',
        xTitle: 'occurrences in the book (log scale)',
        yTitle: 'tokens (jittered by up to ±0.15)',
        xScale: 'log',
        points: rows.map((row) => ({
          x: row.count,
          y: row.tokens + (rng.random() - 0.5) * 0.3,
          label: row.word,
        })),
      }),
    );
    const meanTokens = (selected: typeof rows) =>
      selected.reduce((sum, row) => sum + row.tokens, 0) / selected.length;
    const rare = rows.filter((row) => row.count === 1);
    return {
      notes: [`Fake words: ${fakes.map((fake) => JSON.stringify(fake)).join(', ')}`],
      results: {
        source: book.name,
        words: words.length,
        distinctWords: rows.length,
        meanTokensByLength: Object.fromEntries(
          lengthRows.map(([length, entry]) => [String(length), entry.tokens / entry.words]),
        ),
        singleTokenWords: rows.filter((row) => row.tokens === 1).length,
        mostEfficient: sortedByEfficiency.slice(0, 5).map((row) => row.word),
        leastEfficient: sortedByEfficiency.slice(-5).map((row) => row.word),
        meanTokensTopWords: meanTokens(top),
        meanTokensWordsSeenOnce: rare.length > 0 ? meanTokens(rare) : null,
        fakeWords: fakes,
      },
      tables: [
        {
          title: `Words of ${params.showLength} characters`,
          columns: ['word', 'tokens', 'pieces'],
          rows: rows
            .filter((row) => row.characters === params.showLength)
            .map((row) => [row.word, row.tokens, pieces(gpt4, row.ids).join(' | ')]),
        },
        {
          title: 'Most frequent words',
          columns: ['word', 'occurrences', 'tokens'],
          rows: top.map((row) => [row.word, row.count, row.tokens]),
        },
      ],
    };
  },
});

export const strawberry = defineExperiment({
  id: 'strawberry',
  title: 'How many "r"s in strawberry?',
  section: '19. How many "r"s in strawberry?',
  description:
    'Encodes a word with cl100k_base to show that a model sees tokens, not letters: the letter is not one of the tokens, and counting it needs the decoded text.',
  needs: ['tokenizers'],
  typicalTime: '2 s',
  params: z.object({
    word: z.string().min(1).default('strawberry').describe('word to encode'),
    letter: z.string().length(1).default('r').describe('letter to count'),
  }),
  async run({ params, progress }) {
    const gpt4 = await loadGpt4(progress);
    const variants = [params.word, ` ${params.word}`, params.word[0].toUpperCase() + params.word.slice(1)];
    const letterId = gpt4.encode(params.letter)[0];
    const rows = variants.map((variant) => {
      const ids = gpt4.encode(variant);
      return { variant, ids, pieces: pieces(gpt4, ids), containsLetterToken: ids.includes(letterId) };
    });
    const decoded = gpt4.decode(rows[0].ids);
    const count = Array.from(decoded).filter((char) => char === params.letter).length;
    return {
      results: {
        ids: rows[0].ids,
        pieces: rows[0].pieces,
        letterId,
        letterTokenInIds: rows[0].containsLetterToken,
        letterCountInDecodedText: count,
        lettersPerToken: rows[0].pieces.map(
          (piece) => Array.from(piece).filter((char) => char === params.letter).length,
        ),
      },
      tables: [
        {
          title: 'Encodings',
          columns: ['text', 'ids', 'pieces', `contains the token of "${params.letter}"`],
          rows: rows.map((row) => [
            JSON.stringify(row.variant),
            row.ids.join(' '),
            row.pieces.join(' | '),
            String(row.containsLetterToken),
          ]),
        },
      ],
    };
  },
});

const NAME_PATTERN = /^[A-Za-z0-9\s]+$/;

/** Returns the first id from `start` upward (wrapping) whose token is letters, digits and spaces only. */
function nextNameToken(tokenizer: ByteLevelBpeTokenizer, start: number): number {
  const ordinary = 100_256;
  for (let offset = 0; offset < ordinary; offset++) {
    const id = (((start + offset) % ordinary) + ordinary) % ordinary;
    if (NAME_PATTERN.test(tokenizer.decode([id]))) return id;
  }
  throw new Error('no token of letters and digits found');
}

export const rapperName = defineExperiment({
  id: 'rapper-name',
  title: 'A name built from tokens',
  section: '20. CodeChallenge: Create your algorithmic rapper name :)',
  description:
    'Encodes a name and a color with cl100k_base and makes three new token ids by arithmetic on the sorted ids (smallest minus one, largest plus one, the rounded mean of the rest), moving each up to the next token made only of letters, digits and spaces. A second name uses three random such tokens from the seeded generator.',
  needs: ['tokenizers'],
  typicalTime: '2 s',
  params: z.object({
    firstName: z.string().min(1).default('Mike X').describe('first name'),
    lastName: z.string().min(1).default('Cohen').describe('last name'),
    color: z.string().min(1).default('purple').describe('favorite color'),
  }),
  async run({ params, rng, progress }) {
    const gpt4 = await loadGpt4(progress);
    const ids = gpt4.encode(`${params.firstName} ${params.lastName} ${params.color}`).sort((a, b) => a - b);
    const middle = ids.length > 2 ? ids.slice(1, -1) : ids;
    const seeds = [
      ids[0] - 1,
      ids[ids.length - 1] + 1,
      Math.round(middle.reduce((a, b) => a + b, 0) / middle.length),
    ];
    const nameIds = seeds.map((seed) => nextNameToken(gpt4, seed));
    const randomIds = Array.from({ length: 3 }, () => nextNameToken(gpt4, rng.randint(0, 100_256)));
    const arithmeticName = pieces(gpt4, nameIds)
      .map((piece) => piece.trim())
      .join(' ');
    const randomName = pieces(gpt4, randomIds)
      .map((piece) => piece.trim())
      .join(' ');
    return {
      notes: [`Arithmetic name: "${arithmeticName}"`, `Random name: "${randomName}"`],
      results: { inputIdsSorted: ids, startIds: seeds, nameIds, arithmeticName, randomIds, randomName },
    };
  },
});

/** Strings of Python's `string` module, which the course also compresses. */
const PYTHON_STRINGS: Record<string, string> = {
  ascii_letters: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ascii_lowercase: 'abcdefghijklmnopqrstuvwxyz',
  ascii_uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  hexdigits: '0123456789abcdefABCDEF',
  octdigits: '01234567',
  punctuation: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  whitespace: ' \t\n\r\x0b\x0c',
};

const COMPRESSION_BOOKS: BookRef[] = [
  BOOKS.frankenstein,
  BOOKS.gatsby,
  BOOKS.alice,
  BOOKS.romeoJuliet,
  BOOKS.huckFinn,
  BOOKS.heartOfDarkness,
  BOOKS.grimm,
  BOOKS.poe2,
  BOOKS.warOfTheWorlds,
  BOOKS.gulliver,
];

const booksParam = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'expected Gutenberg numbers separated by commas')
  .default(COMPRESSION_BOOKS.map((book) => book.id).join(','))
  .describe('Gutenberg book numbers, comma-separated (--corpus files replace them)');

function bookRefs(ids: string): BookRef[] {
  const known = new Map<number, BookRef>(Object.values(BOOKS).map((book) => [book.id, book]));
  return ids
    .split(',')
    .map((text) => known.get(Number(text)) ?? { id: Number(text), title: `Gutenberg #${text}` });
}

async function loadBooks(
  context: Pick<ExperimentContext<unknown>, 'assets' | 'progress'>,
  ids: string,
  keepLicense: boolean,
): Promise<{ name: string; text: string }[]> {
  context.progress.stage(context.assets.hasCorpusOverride ? 'Reading --corpus files' : 'Loading books');
  const books = await context.assets.books(bookRefs(ids));
  return books.map((book) => ({ name: book.name, text: keepLicense ? book.text : gutenbergBody(book.text) }));
}

export const compressionRatios = defineExperiment({
  id: 'compression-ratios',
  title: 'Tokenization compression ratios',
  section: '25. CodeChallenge: Tokenization compression ratios',
  description:
    "Measures how much an OpenAI tokenizer compresses ten Gutenberg books and the strings of Python's string module: compression is 100 times tokens over characters, so lower is better. The course also compresses live web pages, which change from day to day and are left out here.",
  needs: ['tokenizers', 'Gutenberg books (download, or --corpus PATH,PATH,...)'],
  typicalTime: '5 s once the books are cached',
  params: z.object({
    books: booksParam,
    encoding: z
      .enum(ENCODING_NAMES as [string, ...string[]])
      .default('cl100k_base')
      .describe('OpenAI encoding'),
    keepLicense: z
      .boolean()
      .default(false)
      .describe('keep the Gutenberg header and licence text, as the course does'),
  }),
  async run({ params, assets, progress, figure }) {
    const books = await loadBooks({ assets, progress }, params.books, params.keepLicense);
    progress.stage(`Loading ${params.encoding}`);
    const tokenizer = await loadEncoding(params.encoding as (typeof ENCODING_NAMES)[number]);
    const rows: { name: string; characters: number; tokens: number; compression: number }[] = [];
    for (const [index, book] of books.entries()) {
      progress.advance(index, books.length);
      const characters = Array.from(book.text).length;
      const tokens = encodeText(tokenizer, book.text).length;
      rows.push({ name: book.name, characters, tokens, compression: (100 * tokens) / characters });
    }
    const stringRows = Object.entries(PYTHON_STRINGS).map(([name, text]) => {
      const tokens = encodeText(tokenizer, text).length;
      return { name, characters: text.length, tokens, compression: (100 * tokens) / text.length };
    });
    await figure(
      'compression',
      barChartSpec({
        title: `Compression by ${params.encoding} (100 × tokens / characters)`,
        xTitle: 'text',
        yTitle: 'compression (%)',
        bars: [
          ...rows.map((row) => ({ label: row.name, value: row.compression, group: 'book' })),
          ...stringRows.map((row) => ({
            label: `string.${row.name}`,
            value: row.compression,
            group: 'Python string',
          })),
        ],
      }),
    );
    const table = (title: string, data: typeof rows) => ({
      title,
      columns: ['text', 'characters', 'tokens', 'compression (%)', 'characters per token'],
      rows: data.map((row) => [
        row.name,
        row.characters,
        row.tokens,
        row.compression,
        row.characters / row.tokens,
      ]),
    });
    return {
      results: {
        encoding: params.encoding,
        books: Object.fromEntries(
          rows.map((row) => [
            row.name,
            { characters: row.characters, tokens: row.tokens, compression: row.compression },
          ]),
        ),
        meanBookCompression: rows.reduce((sum, row) => sum + row.compression, 0) / rows.length,
        pythonStrings: Object.fromEntries(
          stringRows.map((row) => [row.name, { tokens: row.tokens, compression: row.compression }]),
        ),
      },
      tables: [table('Books', rows), table("Python's string module", stringRows)],
    };
  },
});

/** Log-spaced ranks from 1 to `max`, for plotting rank-frequency curves with few points. */
function logSpacedRanks(max: number, points = 60): number[] {
  const ranks = new Set<number>();
  for (let i = 0; i < points; i++) ranks.add(Math.round(Math.exp((Math.log(max) * i) / (points - 1))));
  return [...ranks].filter((rank) => rank >= 1 && rank <= max);
}

export const zipf = defineExperiment({
  id: 'zipf',
  title: "Zipf's law in characters and tokens",
  section: "27. CodeChallenge: Zipf's law in characters and tokens",
  description:
    "Counts how often each character and each cl100k_base token occurs in each book and plots count against rank on log-log axes. Zipf's law predicts a straight line, count ≈ C / rank^s; the fitted exponent s and R² are given for the most frequent ranks.",
  needs: ['tokenizers', 'Gutenberg books (download, or --corpus PATH,PATH,...)'],
  typicalTime: '5 s once the books are cached',
  params: z.object({
    books: booksParam,
    fitRanks: z
      .number()
      .int()
      .min(2)
      .max(100_000)
      .default(1000)
      .describe('most frequent tokens used in the Zipf fit'),
    keepLicense: z
      .boolean()
      .default(false)
      .describe('keep the Gutenberg header and licence text, as the course does'),
  }),
  async run({ params, assets, progress, figure }) {
    const books = await loadBooks({ assets, progress }, params.books, params.keepLicense);
    const gpt4 = await loadGpt4(progress);
    const charPoints: { x: number; y: number; series: string }[] = [];
    const tokenPoints: { x: number; y: number; series: string }[] = [];
    const rows: (string | number)[][] = [];
    const fits: Record<
      string,
      { characterExponent: number; tokenExponent: number; tokenRSquared: number; distinctTokens: number }
    > = {};
    for (const [index, book] of books.entries()) {
      progress.advance(index, books.length);
      const charCounts = new Map<string, number>();
      for (const char of book.text) charCounts.set(char, (charCounts.get(char) ?? 0) + 1);
      const charFrequencies = [...charCounts.values()].sort((a, b) => b - a);
      const tokenFrequencies = rankFrequency(encodeText(gpt4, book.text)).map((entry) => entry.count);
      for (const rank of logSpacedRanks(charFrequencies.length, 30)) {
        charPoints.push({ x: rank, y: charFrequencies[rank - 1], series: book.name });
      }
      for (const rank of logSpacedRanks(tokenFrequencies.length)) {
        tokenPoints.push({ x: rank, y: tokenFrequencies[rank - 1], series: book.name });
      }
      const charFit = fitZipf(charFrequencies);
      const tokenFit = fitZipf(tokenFrequencies.slice(0, params.fitRanks));
      fits[book.name] = {
        characterExponent: charFit.exponent,
        tokenExponent: tokenFit.exponent,
        tokenRSquared: tokenFit.rSquared,
        distinctTokens: tokenFrequencies.length,
      };
      rows.push([
        book.name,
        charFrequencies.length,
        charFit.exponent,
        tokenFrequencies.length,
        tokenFit.exponent,
        tokenFit.rSquared,
      ]);
    }
    for (const [name, points] of [
      ['zipf-characters', charPoints],
      ['zipf-tokens', tokenPoints],
    ] as const) {
      await figure(
        name,
        scatterChartSpec({
          title: `Count against rank: ${name === 'zipf-tokens' ? 'cl100k_base tokens' : 'characters'}`,
          xTitle: 'rank (log scale)',
          yTitle: 'count (log scale)',
          xScale: 'log',
          yScale: 'log',
          points,
          lines: true,
          width: 520,
        }),
      );
    }
    return {
      results: { fits },
      tables: [
        {
          title: 'Zipf fits',
          columns: [
            'book',
            'distinct characters',
            'character exponent',
            'distinct tokens',
            'token exponent',
            'token R²',
          ],
          rows,
        },
      ],
    };
  },
});
