import { countParameters, gptParameterShapes, tensorStatistics } from '@glassbox/gpt-core';
import { loadModelDirectory } from '../model-directory.js';
import type { InspectOptions } from '../model-options.js';

const count = (n: number) => n.toLocaleString('en-US');
const number = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));

/**
 * Prints the configuration of the model in `options.model`, its parameter counts per module and in total (the
 * tied output head counted once), and statistics of every tensor.
 */
export async function runInspect(options: InspectOptions): Promise<void> {
  const { config, parameters, tokenizer, tokenizerPath } = await loadModelDirectory(options.model);
  const shapes = gptParameterShapes(config);
  const counts = countParameters(shapes);
  const lines: string[] = [];
  lines.push(`model ${options.model}`);
  lines.push(
    `  layers ${config.nLayer}, heads ${config.nHead}, width ${config.nEmbd}, context ${config.blockSize}, ` +
      `vocabulary ${config.vocabSize}, dropout ${config.dropout}, layer norm epsilon ${config.layerNormEpsilon}`,
  );
  lines.push(`  tokenizer ${tokenizer ? `${tokenizer.kind} from ${tokenizerPath}` : 'none usable'}`);
  lines.push('');
  lines.push(
    `parameters ${count(counts.total)} (weights ${count(counts.weights)}, biases ${count(counts.biases)})`,
  );
  const components = counts.byComponent;
  lines.push(
    `  embeddings ${count(components.embeddings)}, attention ${count(components.attention)}, ` +
      `MLP ${count(components.mlp)}, layer norms ${count(components.layerNorm)}`,
  );
  lines.push('');
  lines.push('per module');
  const width = Math.max(...[...counts.byModule.keys()].map((name) => name.length));
  for (const [module, size] of counts.byModule)
    lines.push(`  ${module.padEnd(width)}  ${count(size).padStart(12)}`);
  lines.push('');
  lines.push('per tensor: shape, mean, std, min, max');
  const nameWidth = Math.max(...[...shapes.keys()].map((name) => name.length));
  for (const [name, shape] of shapes) {
    const stats = tensorStatistics(parameters.get(name)!);
    lines.push(
      `  ${name.padEnd(nameWidth)}  ${`[${shape.join(', ')}]`.padEnd(14)} ${number(stats.mean).padStart(10)} ` +
        `${number(stats.std).padStart(10)} ${number(stats.min).padStart(10)} ${number(stats.max).padStart(10)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
