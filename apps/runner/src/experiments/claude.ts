import { loadClaudeTokenizer } from '@glassbox/tokenizers/node';
import { z } from 'zod';
import { barChartSpec } from './charts.js';
import { defineExperiment } from './types.js';

/** Spelling, spacing, punctuation and code variants whose token counts the exercise compares. */
export const CLAUDE_VARIANTS: string[] = [
  'hypothetical',
  ' hypothetical',
  'hypothetical ',
  ' hypothetical ',
  'hypothetcal',
  "can't",
  'cant',
  'can not',
  'straight forward',
  'straightforward',
  'straight-forward',
  'part-time',
  'part time',
  'definately',
  'definitely',
  'Hello!',
  'Hello!!!',
  'Hello?!',
  '"Curiouser and curiouser!" cried Alice',
  '“Curiouser and curiouser!” cried Alice—',
  '\\frac{a}{b} + \\sqrt{x^2}',
  'for i in range(10): print(i)',
  'x = linspace(0,1,10); plot(x,x.^2)',
];

export const claudeVariations = defineExperiment({
  id: 'claude-variations',
  title: 'Word variations in the Claude tokenizer',
  section: '28. Word variations in Claude tokenizer',
  description:
    'Encodes variants of words and phrases (leading and trailing spaces, misspellings, contractions, hyphens, punctuation, curly quotes and code) with the legacy Claude tokenizer (65,000 tokens, from the @anthropic-ai/tokenizer package) and compares their tokens. Small changes in spelling or spacing change the tokens a model sees.',
  needs: ['tokenizers'],
  typicalTime: '3 s',
  params: z.object({
    extra: z.string().default('').describe('more variants to compare, separated by " | "'),
  }),
  async run({ params, progress, figure }) {
    progress.stage('Loading the Claude tokenizer');
    const claude = await loadClaudeTokenizer();
    const extra = params.extra === '' ? [] : params.extra.split(' | ');
    const rows = [...CLAUDE_VARIANTS, ...extra].map((text) => {
      const ids = claude.encode(text, { disallowedSpecial: new Set() });
      return { text, ids, pieces: ids.map((id) => claude.decode([id])) };
    });
    await figure(
      'tokens-per-variant',
      barChartSpec({
        title: 'Claude tokens per variant',
        xTitle: 'text',
        yTitle: 'tokens',
        // Spaces are shown as middle dots, so variants that differ only in spacing stay distinct. The
        // chart shortens labels wider than its label limit and marks the cut with an ellipsis.
        bars: rows.map((row) => ({
          label: row.text.replaceAll(' ', '·'),
          value: row.ids.length,
        })),
        height: 260,
      }),
    );
    return {
      results: {
        vocabularySize: claude.vocabSize,
        helloWorldIds: claude.encode('hello world'),
        tokenCounts: Object.fromEntries(rows.map((row) => [row.text, row.ids.length])),
      },
      tables: [
        {
          title: 'Variants',
          columns: ['text', 'tokens', 'ids', 'pieces'],
          rows: rows.map((row) => [
            JSON.stringify(row.text),
            row.ids.length,
            row.ids.join(' '),
            row.pieces.map((piece) => JSON.stringify(piece)).join(' '),
          ]),
        },
      ],
    };
  },
});
