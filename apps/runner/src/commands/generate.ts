import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GptInference, gptFromSafetensors } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { readSafetensors } from '@glassbox/graph/node';
import { loadTokenizer } from '@glassbox/tokenizers/node';
import { type GenerateOptions, UsageError } from '../options.js';
import { MODEL_FILE, TOKENIZER_FILE } from '../run-files.js';

/** Generates text with the model in `options.model` and writes it to stdout as it is sampled. */
export async function runGenerate(options: GenerateOptions): Promise<void> {
  const modelPath = join(options.model, MODEL_FILE);
  const tokenizerPath = join(options.model, TOKENIZER_FILE);
  await requireFile(modelPath, 'the model weights');
  await requireFile(tokenizerPath, 'the tokenizer');
  const { config, parameters } = gptFromSafetensors(await readSafetensors(modelPath), modelPath);
  const tokenizer = await loadTokenizer(tokenizerPath);
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new UsageError(
      `${tokenizerPath} has ${tokenizer.vocabSize} tokens but ${modelPath} expects ${config.vocabSize}; they come from different runs.`,
    );
  }
  let prompt: number[];
  try {
    prompt = tokenizer.encode(options.prompt);
  } catch (error) {
    const reason = (error as Error).message.replace(/;.*$/, '').replace(/\.$/, '');
    throw new UsageError(
      `--prompt cannot be encoded with this model's tokenizer (${reason}); use only characters from the training text.`,
    );
  }
  if (prompt.length === 0) throw new UsageError('--prompt encodes to no tokens; give a non-empty prompt.');

  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const inference = await GptInference.create(config, parameters);
  process.stdout.write(options.prompt);
  // Byte-level tokens can end inside a UTF-8 character, so text is printed only up to the last complete one.
  const pending: number[] = [];
  const flush = (final: boolean) => {
    const text = tokenizer.decode(pending);
    if (final || !text.endsWith('\uFFFD')) {
      process.stdout.write(text);
      pending.length = 0;
    }
  };
  await inference.generate(prompt, {
    maxNewTokens: options.maxNewTokens,
    rng: new Rng(seed),
    temperature: options.temperature,
    topK: options.topK,
    onToken: (id) => {
      pending.push(id);
      flush(false);
    },
  });
  flush(true);
  process.stdout.write('\n');
  await inference.release();
}

async function requireFile(path: string, what: string): Promise<void> {
  try {
    if ((await stat(path)).isFile()) return;
  } catch {
    // Reported below.
  }
  throw new UsageError(
    `${path} not found: --model must be a directory written by glassbox train, with ${what}.`,
  );
}
