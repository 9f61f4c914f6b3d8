import { CachedGenerator } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { loadModelDirectory } from '../model-directory.js';
import { type GenerateOptions, UsageError } from '../options.js';

/**
 * Generates with the model in `options.model` (a `glassbox train` run or a Hugging Face GPT-2 directory) and
 * writes the text to stdout as it is sampled, or only the generated ids with `--format ids`.
 */
export async function runGenerate(options: GenerateOptions): Promise<void> {
  const { config, parameters, tokenizer, tokenizerError } = await loadModelDirectory(options.model);
  let prompt: number[];
  if (options.promptIds) {
    prompt = options.promptIds;
    const outside = prompt.find((id) => id >= config.vocabSize);
    if (outside !== undefined) {
      throw new UsageError(
        `--prompt-ids contains ${outside}, outside the model's vocabulary of ${config.vocabSize} tokens.`,
      );
    }
  } else {
    if (!tokenizer) {
      throw new UsageError(
        tokenizerError
          ? `${tokenizerError.replace(/\.$/, '')}; give the prompt as --prompt-ids and add --format ids.`
          : `${options.model} has no tokenizer.json (nor vocab.json and merges.txt); give the prompt as --prompt-ids and add --format ids.`,
      );
    }
    try {
      prompt = tokenizer.encode(options.prompt);
    } catch (error) {
      const reason = (error as Error).message.replace(/;.*$/, '').replace(/\.$/, '');
      throw new UsageError(
        `--prompt cannot be encoded with this model's tokenizer (${reason}); use only characters from the training text.`,
      );
    }
  }
  if (prompt.length === 0) throw new UsageError('--prompt encodes to no tokens; give a non-empty prompt.');
  if (options.format === 'text' && !tokenizer) {
    throw new UsageError(
      `${tokenizerError ?? `${options.model} has no tokenizer`}; add --format ids to print token ids.`,
    );
  }

  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const generator = await CachedGenerator.create(config, parameters, { weightsAsInitializers: true });
  const sampling = options.greedy
    ? { temperature: 0 }
    : { temperature: options.temperature, topK: options.topK === 0 ? undefined : options.topK };
  if (options.format === 'ids') {
    const ids = await generator.generate(prompt, {
      maxNewTokens: options.maxNewTokens,
      rng: new Rng(seed),
      ...sampling,
    });
    process.stdout.write(`${ids.join(' ')}\n`);
    await generator.release();
    return;
  }

  const text = tokenizer!;
  process.stdout.write(options.promptIds ? text.decode(prompt) : options.prompt);
  // Byte-level tokens can end inside a UTF-8 character, so text is printed only up to the last complete one.
  const pending: number[] = [];
  const flush = (final: boolean) => {
    const decoded = text.decode(pending);
    if (final || !decoded.endsWith('\uFFFD')) {
      process.stdout.write(decoded);
      pending.length = 0;
    }
  };
  await generator.generate(prompt, {
    maxNewTokens: options.maxNewTokens,
    rng: new Rng(seed),
    ...sampling,
    onToken: (id) => {
      pending.push(id);
      flush(false);
    },
  });
  flush(true);
  process.stdout.write('\n');
  await generator.release();
}
