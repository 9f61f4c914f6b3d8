import { model1Gpt2Embeddings, model5WithModifications } from './pretraining-course-models.js';
import { finewebShard } from './pretraining-fineweb.js';
import { dropoutTraining, weightInits } from './pretraining-inits.js';
import { likeALetter } from './pretraining-liking.js';
import { attentionScaling, customLoss, logitsVsLogSoftmax } from './pretraining-math.js';
import { lrSchedules, optimizers, trainTestSplit } from './pretraining-training.js';
import { unseenTokens } from './pretraining-unseen.js';
import type { Experiment } from './types.js';

/** The experiments of the course's "Pretraining" part, in course order. */
export const PRETRAINING_EXPERIMENTS: readonly Experiment[] = [
  optimizers,
  trainTestSplit,
  model1Gpt2Embeddings,
  model5WithModifications,
  customLoss,
  likeALetter,
  attentionScaling,
  weightInits,
  dropoutTraining,
  logitsVsLogSoftmax,
  finewebShard,
  unseenTokens,
  lrSchedules,
] as unknown as Experiment[];
