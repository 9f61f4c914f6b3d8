import { readFileSync } from 'node:fs';
import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { countGptParameters, GptInference, initGptParameters, resolveGptConfig } from './index.js';

describe('README example', () => {
  it('prints the values its comments show', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const config = resolveGptConfig({ vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 });
    expect(readme).toContain(`console.log(countGptParameters(config)); // ${countGptParameters(config)}`);
    const model = await GptInference.create(config, initGptParameters(config, new Rng(1337)));
    const ids = await model.generate([0], { maxNewTokens: 20, rng: new Rng(1), temperature: 0.8, topK: 40 });
    expect(readme).toContain(`console.log(ids.length); // ${ids.length}`);
    await model.release();
  });
});
