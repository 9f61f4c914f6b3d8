// Weight statistics come from @glassbox/gpt-core, re-exported here for training metrics.
export { histogram, type TensorStatistics, tensorStatistics } from '@glassbox/gpt-core';
export { CHECKPOINT_FILES, decodeCheckpoint, encodeCheckpoint, type TrainerStateJson } from './checkpoint.js';
export {
  EpochBatcher,
  type EpochBatcherState,
  encodeDocuments,
  RandomWindowSampler,
  splitSequential,
  splitTrainValidation,
  type TokenArray,
  WindowDataset,
} from './data.js';
export {
  applyInitRules,
  fans,
  INIT_SCHEME_TYPES,
  type InitRule,
  type InitScheme,
  initialize,
  validateInitScheme,
  type WeightLayout,
} from './init.js';
export { type EvaluationReport, runTraining, type StepReport, type TrainingLoopOptions } from './loop.js';
export { crossEntropyLoss, klDivergenceLoss, l1Loss, likedTokensLoss, mseLoss, nllLoss } from './losses.js';
export { type CosineScheduleOptions, cosineWithWarmup } from './schedule.js';
export {
  SCHEDULE_TYPES,
  type ScheduleConfig,
  scheduleCurve,
  scheduleMultiplier,
  validateSchedule,
} from './schedules.js';
export { firstNonFinite } from './statistics.js';
export {
  GptTrainer,
  type StepMetrics,
  type TrainerOptions,
  type TrainerState,
  type TrainingData,
  validateTrainerOptions,
} from './trainer.js';
