/**
 * Learning-rate schedules as multipliers of the peak learning rate, with the formulas of their Hugging Face
 * `transformers.optimization` counterparts (`get_constant_schedule`, `get_constant_schedule_with_warmup`,
 * `get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup`) and PyTorch's `StepLR`. `step` is the
 * 0-based index of the optimizer step, as `LambdaLR` passes it.
 */
export type ScheduleConfig =
  | { type: 'constant' }
  | { type: 'constant-with-warmup'; warmupSteps: number }
  | { type: 'linear-with-warmup'; warmupSteps: number; totalSteps: number }
  | { type: 'cosine-with-warmup'; warmupSteps: number; totalSteps: number; numCycles?: number }
  | { type: 'step'; stepSize: number; gamma: number };

export const SCHEDULE_TYPES = [
  'constant',
  'constant-with-warmup',
  'linear-with-warmup',
  'cosine-with-warmup',
  'step',
] as const;

/** Returns the factor that multiplies the peak learning rate at `step`. */
export function scheduleMultiplier(config: ScheduleConfig, step: number): number {
  switch (config.type) {
    case 'constant':
      return 1;
    case 'constant-with-warmup':
      return step < config.warmupSteps ? step / Math.max(1, config.warmupSteps) : 1;
    case 'linear-with-warmup': {
      if (step < config.warmupSteps) return step / Math.max(1, config.warmupSteps);
      return Math.max(0, (config.totalSteps - step) / Math.max(1, config.totalSteps - config.warmupSteps));
    }
    case 'cosine-with-warmup': {
      if (step < config.warmupSteps) return step / Math.max(1, config.warmupSteps);
      const progress = (step - config.warmupSteps) / Math.max(1, config.totalSteps - config.warmupSteps);
      const cycles = config.numCycles ?? 0.5;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
    }
    case 'step':
      return config.gamma ** Math.floor(step / config.stepSize);
  }
}

/** Checks a schedule's numbers, with an error that names the field. */
export function validateSchedule(config: ScheduleConfig): ScheduleConfig {
  const check = (name: string, value: number, rule: (v: number) => boolean, expected: string) => {
    if (!rule(value)) throw new Error(`schedule ${config.type}: ${name} must be ${expected}, got ${value}.`);
  };
  const nonNegativeInteger = (v: number) => Number.isInteger(v) && v >= 0;
  if ('warmupSteps' in config)
    check('warmupSteps', config.warmupSteps, nonNegativeInteger, 'a non-negative integer');
  if ('totalSteps' in config)
    check('totalSteps', config.totalSteps, nonNegativeInteger, 'a non-negative integer');
  if (config.type === 'step') {
    check('stepSize', config.stepSize, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
    check('gamma', config.gamma, (v) => v > 0, 'positive');
  }
  return config;
}

/** Returns the learning rate at every step from 0 to `steps - 1`, for plotting a schedule. */
export function scheduleCurve(
  config: ScheduleConfig,
  peakLearningRate: number,
  steps: number,
): { step: number; lr: number }[] {
  return Array.from({ length: steps }, (_, step) => ({
    step,
    lr: peakLearningRate * scheduleMultiplier(config, step),
  }));
}
