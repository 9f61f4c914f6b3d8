export { CHECKPOINT_FILES, decodeCheckpoint, encodeCheckpoint, type TrainerStateJson } from './checkpoint.js';
export { RandomWindowSampler, splitTrainValidation, type TokenArray } from './data.js';
export { type CosineScheduleOptions, cosineWithWarmup } from './schedule.js';
export {
  GptTrainer,
  type StepMetrics,
  type TrainerOptions,
  type TrainerState,
  type TrainingData,
} from './trainer.js';
