import { checkTypedOptions, describeValue, type OptionRule } from './option-rules.js';

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

/** Returns the factor that multiplies the peak learning rate at `step`, a non-negative integer. */
export function scheduleMultiplier(config: ScheduleConfig, step: number): number {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new Error(`scheduleMultiplier: step must be a non-negative integer, got ${describeValue(step)}.`);
  }
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
    default:
      throw makeUnknownTypeError((config as { type: unknown }).type);
  }
}

type ScheduleType = (typeof SCHEDULE_TYPES)[number];

const nonNegativeInteger: OptionRule = {
  test: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  expected: 'a non-negative integer',
};
const positiveInteger: OptionRule = {
  test: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  expected: 'a positive integer',
};

/** The options of each schedule type besides `type`, with the values they accept. */
const SCHEDULE_FIELDS: Record<ScheduleType, Record<string, OptionRule>> = {
  constant: {},
  'constant-with-warmup': { warmupSteps: nonNegativeInteger },
  'linear-with-warmup': { warmupSteps: nonNegativeInteger, totalSteps: positiveInteger },
  'cosine-with-warmup': {
    warmupSteps: nonNegativeInteger,
    totalSteps: positiveInteger,
    // Hugging Face's num_cycles is a float with default 0.5, which decays once along a half-cosine to 0.
    numCycles: {
      test: (v) => Number.isFinite(v) && (v as number) >= 0,
      expected: 'a finite non-negative number',
      optional: true,
    },
  },
  step: {
    stepSize: positiveInteger,
    gamma: { test: (v) => Number.isFinite(v) && (v as number) > 0, expected: 'a finite positive number' },
  },
};

function makeUnknownTypeError(type: unknown): Error {
  return new Error(`schedule: type must be one of ${SCHEDULE_TYPES.join(', ')}, got ${describeValue(type)}.`);
}

/**
 * Checks a schedule before training: a known type, every required option present, no unknown option,
 * integer step counts, warmupSteps at most totalSteps, a finite numCycles >= 0 and a finite gamma > 0.
 * Throws an error that names the option, and otherwise returns `config` unchanged.
 */
export function validateSchedule(config: ScheduleConfig): ScheduleConfig {
  const type = checkTypedOptions('schedule', config, SCHEDULE_TYPES, SCHEDULE_FIELDS);

  // A warmup longer than the schedule never reaches the decay. After warmup the linear schedule drops
  // straight to 0, and the cosine schedule with 0.5 cycles alternates between 1 and 0 because its progress
  // denominator is 1.
  if ('totalSteps' in config && config.warmupSteps > config.totalSteps) {
    throw new Error(
      `schedule ${type}: warmupSteps must be at most totalSteps = ${config.totalSteps}, got ${config.warmupSteps}, so lower warmupSteps or raise totalSteps.`,
    );
  }
  return config;
}

/** Returns the learning rate at every step from 0 to `steps - 1`, for plotting a schedule. */
export function scheduleCurve(
  config: ScheduleConfig,
  peakLearningRate: number,
  steps: number,
): { step: number; lr: number }[] {
  validateSchedule(config);
  if (!Number.isFinite(peakLearningRate) || peakLearningRate < 0) {
    throw new Error(
      `scheduleCurve: peakLearningRate must be a finite non-negative number, got ${describeValue(peakLearningRate)}.`,
    );
  }
  if (!Number.isSafeInteger(steps) || steps < 0) {
    throw new Error(`scheduleCurve: steps must be a non-negative integer, got ${describeValue(steps)}.`);
  }
  return Array.from({ length: steps }, (_, step) => ({
    step,
    lr: peakLearningRate * scheduleMultiplier(config, step),
  }));
}
