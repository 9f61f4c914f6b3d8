export interface CosineScheduleOptions {
  /** Peak learning rate, reached at the end of warmup. */
  maxLearningRate: number;
  /** Learning rate at and after `decaySteps`. */
  minLearningRate: number;
  warmupSteps: number;
  /** Step at which the cosine decay reaches `minLearningRate`. */
  decaySteps: number;
}

/**
 * nanoGPT's schedule: linear warmup to the peak over `warmupSteps` (step s gets peak * (s + 1) / (warmup + 1)),
 * then cosine decay to `minLearningRate` at `decaySteps`, then constant. `step` is 0-based.
 */
export function cosineWithWarmup(step: number, options: CosineScheduleOptions): number {
  const { maxLearningRate, minLearningRate, warmupSteps, decaySteps } = options;
  if (step < warmupSteps) return (maxLearningRate * (step + 1)) / (warmupSteps + 1);
  if (step > decaySteps) return minLearningRate;
  const ratio = decaySteps === warmupSteps ? 1 : (step - warmupSteps) / (decaySteps - warmupSteps);
  const coefficient = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return minLearningRate + coefficient * (maxLearningRate - minLearningRate);
}
