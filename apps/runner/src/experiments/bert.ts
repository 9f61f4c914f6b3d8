import {
  type ByteLevelBpeTokenizer,
  loadEncoding,
  type Tokenizer,
  translateTokens,
  WordPieceTokenizer,
} from '@glassbox/tokenizers';
import { loadTokenizer } from '@glassbox/tokenizers/node';
import { z } from 'zod';
import { BERT_TOKENIZER, type ExperimentAssets } from '../assets.js';
import { barChartSpec } from './charts.js';
import { defineExperiment, type ProgressReporter } from './types.js';

const BERT_NEED = 'bert-base-uncased tokenizer.json (download, or --model DIR)';

async function loadBert(assets: ExperimentAssets, progress: ProgressReporter): Promise<WordPieceTokenizer> {
  progress.stage('Loading the bert-base-uncased tokenizer');
  const tokenizer = await loadTokenizer(await assets.hubFile(BERT_TOKENIZER));
  if (!(tokenizer instanceof WordPieceTokenizer)) {
    throw new Error(
      `expected a WordPiece tokenizer.json for ${BERT_TOKENIZER.repository}, got a ${tokenizer.kind} tokenizer`,
    );
  }
  return tokenizer;
}

export const bertTokenizer = defineExperiment({
  id: 'bert-tokenizer',
  title: 'Tokenization in BERT',
  section: '21. Tokenization in BERT',
  description:
    "Inspects bert-base-uncased's WordPiece tokenizer: vocabulary size, special tokens, a stretch of the vocabulary, word pieces with ## against ids, the [CLS] and [SEP] that encoding for the model adds, decoding with and without special tokens, and how repeating encode and decode keeps adding them.",
  needs: ['tokenizers', BERT_NEED],
  typicalTime: '2 s',
  params: z.object({
    text: z.string().default('AI is both exciting and terrifying.').describe('text to tokenize'),
    firstId: z
      .number()
      .int()
      .min(0)
      .max(30_000)
      .default(20_000)
      .describe('first id of the vocabulary stretch shown'),
    count: z.number().int().min(1).max(200).default(20).describe('ids in the vocabulary stretch shown'),
    repeats: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('rounds of encoding and decoding with special tokens'),
  }),
  async run({ params, assets, progress }) {
    const bert = await loadBert(assets, progress);
    const pieces = bert.tokenize(params.text);
    const ids = bert.encode(params.text);
    const modelInputs = bert.encodeForModel(params.text);
    let text = params.text;
    const rounds: string[] = [];
    for (let i = 0; i < params.repeats; i++) {
      text = bert.decode(bert.encodeForModel(text).ids);
      rounds.push(text);
    }
    const stretch = Array.from({ length: params.count }, (_, i) => params.firstId + i).filter(
      (id) => id < bert.vocabSize,
    );
    return {
      notes: rounds.map((round, index) => `After ${index + 1} rounds: "${round}"`),
      results: {
        vocabularySize: bert.vocabSize,
        specialTokens: Object.fromEntries(
          ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((token) => [
            token,
            bert.tokenToId(token) ?? null,
          ]),
        ),
        vocabularyStretch: stretch.map((id) => bert.idToToken(id) ?? ''),
        pieces,
        ids,
        modelIds: modelInputs.ids,
        tokenTypeIds: modelInputs.tokenTypeIds,
        attentionMask: modelInputs.attentionMask,
        decodedWithSpecial: bert.decode(modelInputs.ids),
        decodedWithoutSpecial: bert.decode(modelInputs.ids, { skipSpecialTokens: true }),
      },
    };
  },
});

export const bertCharacters = defineExperiment({
  id: 'bert-characters',
  title: 'Character counts in BERT tokens',
  section: '22. CodeChallenge: Character counts in BERT tokens',
  description:
    'Counts, for each digit and lower-case letter, how many bert-base-uncased vocabulary entries contain it, leaving out the [unusedN] placeholders.',
  needs: ['tokenizers', BERT_NEED],
  typicalTime: '2 s',
  params: z.object({
    characters: z
      .string()
      .min(1)
      .default('0123456789abcdefghijklmnopqrstuvwxyz')
      .describe('characters to count'),
  }),
  async run({ params, assets, progress, figure }) {
    const bert = await loadBert(assets, progress);
    const entries: string[] = [];
    for (let id = 0; id < bert.vocabSize; id++) {
      const token = bert.idToToken(id);
      if (token !== undefined && !/^\[unused\d+\]$/.test(token)) entries.push(token);
    }
    const counts = Array.from(params.characters).map((char) => ({
      char,
      count: entries.filter((entry) => entry.includes(char)).length,
    }));
    const sorted = [...counts].sort((a, b) => b.count - a.count);
    await figure(
      'character-counts',
      barChartSpec({
        title: 'bert-base-uncased vocabulary entries containing each character',
        xTitle: 'character',
        yTitle: 'entries',
        bars: counts.map((entry) => ({ label: entry.char, value: entry.count })),
      }),
    );
    return {
      results: {
        entriesCounted: entries.length,
        counts: Object.fromEntries(counts.map((entry) => [entry.char, entry.count])),
        mostCommon: sorted.slice(0, 5).map((entry) => entry.char),
        leastCommon: sorted.slice(-5).map((entry) => entry.char),
      },
    };
  },
});

/** Strips [CLS] and [SEP] and decodes BERT ids, then encodes the text with the target tokenizer. */
function translate(
  ids: readonly number[],
  from: Tokenizer,
  to: WordPieceTokenizer | ByteLevelBpeTokenizer,
): number[] {
  const text =
    from instanceof WordPieceTokenizer ? from.decode(ids, { skipSpecialTokens: true }) : from.decode(ids);
  return to instanceof WordPieceTokenizer
    ? to.encodeForModel(text).ids
    : (to as ByteLevelBpeTokenizer).encode(text, { disallowedSpecial: new Set() });
}

export const tokenTranslation = defineExperiment({
  id: 'token-translation',
  title: 'Translating between tokenizers',
  section: '23-24. Translating between tokenizers; CodeChallenge: More on token translation',
  description:
    'Shows that ids of one tokenizer mean nothing to another: decoding BERT ids with cl100k_base gives unrelated text. The right translation decodes to text and encodes again. Translating GPT-4 ids to BERT and back loses case and whitespace, because BERT lower-cases and drops whitespace. The alignment lists which tokens of each side cover the same characters.',
  needs: ['tokenizers', BERT_NEED],
  typicalTime: '3 s',
  params: z.object({
    text: z
      .string()
      .default('Lorem ipsum dolor sit amet,\r\n\tconsectetur Adipiscing elit.')
      .describe('text to translate'),
  }),
  async run({ params, assets, progress }) {
    const bert = await loadBert(assets, progress);
    progress.stage('Loading cl100k_base');
    const gpt4 = await loadEncoding('cl100k_base');
    const bertIds = bert.encodeForModel(params.text).ids;
    const gptIds = gpt4.encode(params.text, { disallowedSpecial: new Set() });
    const wrong = gpt4.decode(bertIds.filter((id) => id < gpt4.vocabSize));
    const bertToGpt = translate(bertIds, bert, gpt4);
    const gptToBert = translate(gptIds, gpt4, bert);
    const roundTrip = gpt4.decode(translate(gptToBert, bert, gpt4));
    progress.stage('Loading r50k_base');
    const gpt2 = await loadEncoding('r50k_base');
    const toGpt2 = translateTokens(gptIds, gpt4, gpt2);
    const piece = (tokenizer: Tokenizer, id: number) => JSON.stringify(tokenizer.decode([id]));
    return {
      notes: [
        `BERT ids decoded by cl100k_base: ${JSON.stringify(wrong)}`,
        `GPT-4 -> BERT -> GPT-4: ${JSON.stringify(roundTrip)}`,
      ],
      results: {
        bertIds,
        gpt4Ids: gptIds,
        bertTokens: bertIds.length - 2,
        gpt4Tokens: gptIds.length,
        bertIdsDecodedByGpt4: wrong,
        bertToGpt4Ids: bertToGpt,
        bertToGpt4Text: gpt4.decode(bertToGpt),
        gpt4ToBertIds: gptToBert,
        roundTripText: roundTrip,
        roundTripEqual: roundTrip === params.text,
        gpt2Ids: toGpt2.ids,
        alignedGroups: toGpt2.alignment.length,
      },
      tables: [
        {
          title: 'Tokens side by side',
          columns: ['tokenizer', 'tokens'],
          rows: [
            ['bert-base-uncased', bert.tokenize(params.text).join(' | ')],
            ['cl100k_base', gptIds.map((id) => piece(gpt4, id)).join(' | ')],
            ['r50k_base (GPT-2)', toGpt2.ids.map((id) => piece(gpt2, id)).join(' | ')],
          ],
        },
        {
          title: 'cl100k_base tokens aligned with GPT-2 tokens over the same characters',
          columns: ['characters', 'cl100k_base', 'r50k_base'],
          rows: toGpt2.alignment.map((group) => [
            `${group.span.start}-${group.span.end}`,
            group.source.map((index) => piece(gpt4, gptIds[index])).join(' '),
            group.target.map((index) => piece(gpt2, toGpt2.ids[index])).join(' '),
          ]),
        },
      ],
    };
  },
});

/** One sentence in several languages: "Blue towels are great because they dry quickly." */
export const LANGUAGE_SENTENCES: Record<string, string> = {
  English: 'Blue towels are great because they dry quickly.',
  Spanish: 'Las toallas azules son geniales porque se secan rápido.',
  Arabic: 'المناشف الزرقاء رائعة لأنها تجف بسرعة.',
  Persian: 'حوله‌های آبی عالی هستند چون زود خشک می‌شوند.',
  Lithuanian: 'Mėlyni rankšluosčiai yra puikūs, nes greitai išdžiūsta.',
  Chinese: '蓝色毛巾很棒，因为它们干得很快。',
  Tamil: 'நீல துண்டுகள் அருமையானவை, ஏனெனில் அவை விரைவாக உலர்கின்றன.',
  Esperanto: 'Bluaj mantukoj estas bonegaj, ĉar ili rapide sekiĝas.',
};

export const languages = defineExperiment({
  id: 'languages',
  title: 'Tokenization in different languages',
  section: '26. Tokenization in different languages',
  description:
    'Counts characters and tokens of one sentence in eight languages with bert-base-uncased (without [CLS] and [SEP]), cl100k_base and o200k_base. Tokenizers trained mostly on English text spend more tokens on other languages and scripts; [UNK] marks what BERT cannot represent.',
  needs: ['tokenizers', BERT_NEED],
  typicalTime: '4 s',
  params: z.object({}),
  async run({ assets, progress, figure }) {
    const bert = await loadBert(assets, progress);
    progress.stage('Loading cl100k_base and o200k_base');
    const gpt4 = await loadEncoding('cl100k_base');
    const gpt4o = await loadEncoding('o200k_base');
    const unknownId = bert.tokenToId('[UNK]');
    const rows = Object.entries(LANGUAGE_SENTENCES).map(([language, sentence]) => {
      const bertIds = bert.encode(sentence);
      return {
        language,
        characters: Array.from(sentence).length,
        bert: bertIds.length,
        bertUnknown: bertIds.filter((id) => id === unknownId).length,
        gpt4: gpt4.encode(sentence).length,
        gpt4o: gpt4o.encode(sentence).length,
      };
    });
    await figure(
      'tokens-by-language',
      barChartSpec({
        title: 'Tokens for the same sentence',
        xTitle: 'language',
        yTitle: 'tokens',
        bars: rows.flatMap((row) => [
          { label: row.language, value: row.bert, group: 'bert-base-uncased' },
          { label: row.language, value: row.gpt4, group: 'cl100k_base' },
          { label: row.language, value: row.gpt4o, group: 'o200k_base' },
        ]),
        grouped: true,
        width: 520,
      }),
    );
    return {
      results: { languages: Object.fromEntries(rows.map(({ language, ...counts }) => [language, counts])) },
      tables: [
        {
          title: 'Characters and tokens',
          columns: [
            'language',
            'sentence',
            'characters',
            'BERT tokens',
            'BERT [UNK]',
            'cl100k tokens',
            'o200k tokens',
          ],
          rows: rows.map((row) => [
            row.language,
            LANGUAGE_SENTENCES[row.language],
            row.characters,
            row.bert,
            row.bertUnknown,
            row.gpt4,
            row.gpt4o,
          ]),
        },
      ],
    };
  },
});
