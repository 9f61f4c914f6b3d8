import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { histogram, inspectForward, tensorStatistics, zeroHead } from './inspect.js';
import { countCourseModelParameters, initCourseModelParameters, type Model5Config } from './models.js';

describe('README course models example', () => {
  it('prints the values its comments show', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    // `format` renders a value as console.log prints it.
    const shows = (expression: string, value: unknown) =>
      expect(readme).toContain(`console.log(${expression}); // ${format(value)}`);

    const config: Model5Config = { model: 5, vocabSize: 65, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 64 };
    expect(readme).toContain(
      'const config: Model5Config = { model: 5, vocabSize: 65, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 64 };',
    );
    shows('countCourseModelParameters(config)', countCourseModelParameters(config));
    const parameters = initCourseModelParameters(config, new Rng(0));
    const wte = parameters.get('wte.weight')!;
    shows('tensorStatistics(wte).std.toFixed(4)', tensorStatistics(wte).std.toFixed(4));
    shows('histogram(wte, 4, [-0.04, 0.04]).counts', histogram(wte, 4, [-0.04, 0.04]).counts);

    const ids = [[46, 43, 50, 50, 53]];
    expect(readme).toContain('const ids = [[46, 43, 50, 50, 53]];');
    const clean = await inspectForward(config, parameters, ids, { capture: ['h.1.attn.head.0.weights'] });
    const weights = clean.intermediates.get('h.1.attn.head.0.weights')!;
    shows('weights.shape', weights.shape);
    shows('weights.data[0]', weights.data[0]);
    const ablated = await inspectForward(config, parameters, ids, {
      interventions: [zeroHead('h.1.attn', 0)],
    });
    shows('ablated.logits.data[0] !== clean.logits.data[0]', ablated.logits.data[0] !== clean.logits.data[0]);
  });
});
