import { bertCharacters, bertTokenizer, languages, tokenTranslation } from './bert.js';
import { bpeSteps, bpeVocabSize, charsSubwordsWords } from './bpe.js';
import { BUILDING_GPT_EXPERIMENTS } from './building-gpt.js';
import { claudeVariations } from './claude.js';
import { compressionRatios, gpt4Tokenizer, rapperName, strawberry, tokenEfficiency, zipf } from './openai.js';
import { PRETRAINING_EXPERIMENTS } from './pretraining.js';
import { logSoftmaxExperiment, multinomial, softmax } from './softmax.js';
import type { Experiment } from './types.js';
import { cleanBook, oneHot, textToTokens, timeMachineTokens, wordContext } from './words.js';

/** Every experiment that `glassbox run` can execute, in course order. */
export const EXPERIMENTS: readonly Experiment[] = [
  textToTokens,
  wordContext,
  oneHot,
  cleanBook,
  timeMachineTokens,
  charsSubwordsWords,
  bpeSteps,
  bpeVocabSize,
  gpt4Tokenizer,
  tokenEfficiency,
  strawberry,
  rapperName,
  bertTokenizer,
  bertCharacters,
  tokenTranslation,
  compressionRatios,
  languages,
  zipf,
  claudeVariations,
  logSoftmaxExperiment,
  softmax,
  multinomial,
  ...BUILDING_GPT_EXPERIMENTS,
  ...PRETRAINING_EXPERIMENTS,
] as unknown as Experiment[];

/** Returns the experiment with `id`, or undefined. */
export function findExperiment(id: string): Experiment | undefined {
  return EXPERIMENTS.find((experiment) => experiment.id === id);
}
