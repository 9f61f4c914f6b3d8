import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CharTokenizer, compressionStats, loadEncoding, tokenizerFromJSON, trainBpe } from './index.js';
import { readSharedText } from './test-support/shared-data.js';
import type { WordPieceTokenizer } from './wordpiece.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** Formats values the way the README's comments write them: `[1, 2]` and `['a', 'b']`. */
function show(values: readonly (number | string)[]): string {
  return `[${values.map((value) => (typeof value === 'string' ? `'${value}'` : String(value))).join(', ')}]`;
}

describe('README example', () => {
  it('prints the values its opening example shows', async () => {
    const gpt2 = await loadEncoding('r50k_base');
    const gpt4 = await loadEncoding('cl100k_base');

    const ids = gpt4.encode(' strawberry');
    expect(readme).toContain(
      `console.log(ids, pieces); // ${show(ids)} ${show(ids.map((id) => gpt4.decode([id])))}`,
    );
    const noSpace = gpt4.encode('strawberry');
    expect(readme).toContain(
      `console.log(noSpace.map((id) => gpt4.decode([id]))); // ${show(noSpace.map((id) => gpt4.decode([id])))}`,
    );
    expect(readme).toContain(`.length); // ${[...'strawberry'].filter((char) => char === 'r').length}`);

    const sentences = {
      English: 'The quick brown fox jumps over the lazy dog.',
      French: 'Le vif renard brun saute par-dessus le chien paresseux.',
      Chinese: '敏捷的棕色狐狸跳过了懒狗。',
      Hindi: 'तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।',
    };
    for (const [language, text] of Object.entries(sentences)) {
      expect(readme).toContain(`  ${language}: '${text}',`);
      const perToken = [gpt2, gpt4].map((encoding) => compressionStats(encoding, text).charactersPerToken);
      expect(readme).toContain(`// ${language} ${perToken.map((value) => value.toFixed(2)).join(' ')}\n`);
    }

    expect(readme).toContain(
      "trainBpe('like liker love lovely hug hugs hugging hearts', {\n  vocabSize: 265,\n  preTokenizer: 'gpt2',\n});",
    );
    const toy = trainBpe('like liker love lovely hug hugs hugging hearts', {
      vocabSize: 265,
      preTokenizer: 'gpt2',
    });
    expect(readme).toContain(
      `// ${show(toy.merges.map(([left, right]) => toy.idToToken(left)! + toy.idToToken(right)))}`,
    );
  });

  it('shows the special-token behaviour of the encodings', async () => {
    const gpt4 = await loadEncoding('cl100k_base');
    let message = '';
    try {
      gpt4.encode('<|endoftext|>');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(readme).toContain(
      `gpt4.encode('<|endoftext|>'); // Error: ${message.slice(0, message.indexOf('. ') + 1)} ...`,
    );
    expect(readme).toContain(
      `gpt4.encode('<|endoftext|>', { allowedSpecial: 'all' }); // ${show(gpt4.encode('<|endoftext|>', { allowedSpecial: 'all' }))}`,
    );
    const ordinary = gpt4.encode('<|endoftext|>', { disallowedSpecial: new Set() });
    expect(readme).toContain(
      `gpt4.encode('<|endoftext|>', { disallowedSpecial: new Set() }); // ${show(ordinary)}`,
    );
  });

  it('shows WordPiece output', () => {
    const bert = tokenizerFromJSON(
      JSON.parse(readSharedText('tokenizers/bert-base-uncased/tokenizer.json')),
    ) as WordPieceTokenizer;
    expect(readme).toContain(
      `bert.tokenize('Unaffable tokenization!'); // ${show(bert.tokenize('Unaffable tokenization!'))}`,
    );
    const inputs = bert.encodeForModel('Hello there', 'General Kenobi!', {
      maxLength: 8,
      truncation: true,
      padding: 'max_length',
    });
    expect(readme).toContain(
      `// { ids: ${show(inputs.ids)}, tokenTypeIds: ${show(inputs.tokenTypeIds)}, attentionMask: ${show(inputs.attentionMask)} }`,
    );
  });

  it('prints the values of the character and BPE example', () => {
    const text = 'the cat sat on the mat. the cat ate the rat.';
    expect(readme).toContain(`const text = '${text}';`);

    const chars = CharTokenizer.fromText(text);
    expect(readme).toContain(`// ${chars.vocabSize} [${chars.encode('the rat').join(', ')}]`);

    expect(readme).toContain("trainBpe(text, { vocabSize: 270, preTokenizer: 'gpt2' })");
    const bpe = trainBpe(text, { vocabSize: 270, preTokenizer: 'gpt2' });
    const ids = bpe.encode('the cat ate the rat');
    expect(readme).toContain(`// [${ids.join(', ')}] ${bpe.decode(ids)}`);
    const tokens = ids.map((id) => `'${bpe.idToToken(id)}'`).join(', ');
    expect(readme).toContain(`// [${tokens}]`);
  });
});
