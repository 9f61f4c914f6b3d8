import { describe, expect, it } from 'vitest';
import { type ScheduleConfig, scheduleCurve, scheduleMultiplier, validateSchedule } from './schedules.js';

/** Casts an invalid schedule past the type checker, as a config read from JSON would arrive. */
const unchecked = (config: unknown) => config as ScheduleConfig;

describe('validateSchedule', () => {
  const valid: ScheduleConfig[] = [
    { type: 'constant' },
    { type: 'constant-with-warmup', warmupSteps: 0 },
    { type: 'linear-with-warmup', warmupSteps: 10, totalSteps: 10 },
    { type: 'cosine-with-warmup', warmupSteps: 2, totalSteps: 10 },
    { type: 'cosine-with-warmup', warmupSteps: 2, totalSteps: 10, numCycles: 0 },
    { type: 'cosine-with-warmup', warmupSteps: 2, totalSteps: 10, numCycles: undefined },
    { type: 'step', stepSize: 1, gamma: 2 },
  ];

  it.each(valid)('accepts $type', (config) => {
    expect(validateSchedule(config)).toBe(config);
  });

  it('rejects an unknown type', () => {
    expect(() => validateSchedule(unchecked({ type: 'exponential' }))).toThrow(
      'schedule: type must be one of constant, constant-with-warmup, linear-with-warmup, cosine-with-warmup, step, got "exponential".',
    );
  });

  it('rejects a missing type', () => {
    expect(() => validateSchedule(unchecked({ warmupSteps: 1 }))).toThrow(
      /type must be one of .*, got undefined/,
    );
  });

  it('rejects a non-object config', () => {
    expect(() => validateSchedule(unchecked(null))).toThrow(
      /schedule: expected an object with a type, got null/,
    );
  });

  it.each([
    { name: 'warmupSteps', config: { type: 'constant-with-warmup' } },
    { name: 'totalSteps', config: { type: 'linear-with-warmup', warmupSteps: 1 } },
    { name: 'warmupSteps', config: { type: 'cosine-with-warmup', totalSteps: 5 } },
    { name: 'gamma', config: { type: 'step', stepSize: 2 } },
    { name: 'stepSize', config: { type: 'step', gamma: 0.5 } },
  ])('rejects $config.type without $name', ({ name, config }) => {
    expect(() => validateSchedule(unchecked(config))).toThrow(`schedule ${config.type}: ${name} is missing`);
  });

  const step = { type: 'step', stepSize: 1 };
  const linear = { type: 'linear-with-warmup', warmupSteps: 0 };
  const cosine = { type: 'cosine-with-warmup', warmupSteps: 1, totalSteps: 5 };
  it.each([
    { option: 'gamma', value: Number.POSITIVE_INFINITY, config: step, expected: 'a finite positive number' },
    { option: 'gamma', value: Number.NaN, config: step, expected: 'a finite positive number' },
    { option: 'gamma', value: 0, config: step, expected: 'a finite positive number' },
    { option: 'gamma', value: -0.5, config: step, expected: 'a finite positive number' },
    { option: 'gamma', value: '0.5', config: step, expected: 'a finite positive number' },
    { option: 'stepSize', value: 2.5, config: { type: 'step', gamma: 0.5 }, expected: 'a positive integer' },
    {
      option: 'warmupSteps',
      value: 1.5,
      config: { type: 'constant-with-warmup' },
      expected: 'a non-negative integer',
    },
    {
      option: 'warmupSteps',
      value: Number.NaN,
      config: { type: 'constant-with-warmup' },
      expected: 'a non-negative integer',
    },
    { option: 'totalSteps', value: 0, config: linear, expected: 'a positive integer' },
    { option: 'totalSteps', value: Number.POSITIVE_INFINITY, config: linear, expected: 'a positive integer' },
    { option: 'numCycles', value: Number.NaN, config: cosine, expected: 'a finite non-negative number' },
    { option: 'numCycles', value: -1, config: cosine, expected: 'a finite non-negative number' },
    {
      option: 'numCycles',
      value: Number.POSITIVE_INFINITY,
      config: cosine,
      expected: 'a finite non-negative number',
    },
  ])('rejects $option $value', ({ option, value, config, expected }) => {
    const got = typeof value === 'string' ? JSON.stringify(value) : String(value);
    expect(() => validateSchedule(unchecked({ ...config, [option]: value }))).toThrow(
      `schedule ${config.type}: ${option} must be ${expected}, got ${got}.`,
    );
  });

  it.each(['linear-with-warmup', 'cosine-with-warmup'] as const)(
    'rejects %s warmup past totalSteps',
    (type) => {
      expect(() => validateSchedule({ type, warmupSteps: 11, totalSteps: 10 })).toThrow(
        `schedule ${type}: warmupSteps must be at most totalSteps = 10, got 11, so lower warmupSteps or raise totalSteps.`,
      );
    },
  );

  it('rejects an option of another type', () => {
    expect(() => validateSchedule(unchecked({ type: 'constant', warmupSteps: 5 }))).toThrow(
      'schedule constant: unknown option "warmupSteps", expected only type.',
    );
  });

  it('rejects a misspelt option', () => {
    const config = unchecked({ type: 'cosine-with-warmup', warmupSteps: 1, totalSteps: 5, numCycle: 2 });
    expect(() => validateSchedule(config)).toThrow(
      'schedule cosine-with-warmup: unknown option "numCycle", expected only type, warmupSteps, totalSteps, numCycles.',
    );
  });
});

describe('scheduleMultiplier', () => {
  const constant: ScheduleConfig = { type: 'constant' };

  it.each([-1, 1.5, Number.NaN])('rejects step %s', (step) => {
    expect(() => scheduleMultiplier(constant, step)).toThrow(
      `scheduleMultiplier: step must be a non-negative integer, got ${step}.`,
    );
  });

  it('rejects an unknown type', () => {
    expect(() => scheduleMultiplier(unchecked({ type: 'exponential' }), 0)).toThrow(
      /type must be one of constant, .*, got "exponential"/,
    );
  });
});

describe('scheduleCurve', () => {
  const constant: ScheduleConfig = { type: 'constant' };

  it('validates the schedule', () => {
    expect(() => scheduleCurve(unchecked({ type: 'step', stepSize: 0, gamma: 0.5 }), 1, 3)).toThrow(
      /stepSize must be a positive integer, got 0/,
    );
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -0.1])('rejects peak learning rate %s', (lr) => {
    expect(() => scheduleCurve(constant, lr, 3)).toThrow(
      `scheduleCurve: peakLearningRate must be a finite non-negative number, got ${lr}.`,
    );
  });

  it.each([-1, 2.5, Number.NaN])('rejects step count %s', (steps) => {
    expect(() => scheduleCurve(constant, 1, steps)).toThrow(
      `scheduleCurve: steps must be a non-negative integer, got ${steps}.`,
    );
  });

  it('returns an empty curve for zero steps', () => {
    expect(scheduleCurve(constant, 1, 0)).toEqual([]);
  });
});
