import type { Corpus } from '../corpus.js';
import type { TrainOptions } from '../options.js';

/** Trains a model on `corpus` as `options` describe, writing the run to `options.out`. */
export async function runTrain(_options: TrainOptions, _corpus: Corpus): Promise<void> {
  // TODO: build the model with @glassbox/gpt-core and run the training loop of @glassbox/trainer.
  throw new Error('not wired yet');
}
