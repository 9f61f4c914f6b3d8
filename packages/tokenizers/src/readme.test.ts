import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CharTokenizer, trainBpe } from './index.js';

describe('README example', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('prints the values its comments show', () => {
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
