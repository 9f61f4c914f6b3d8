import { describe, expect, it } from 'vitest';
import { learningRatePlotSteps } from './train.js';

describe('learningRatePlotSteps', () => {
  it('keeps every step of short runs', () => {
    expect(learningRatePlotSteps(5, 2, 10)).toEqual([1, 2, 3, 4, 5]);
    expect(learningRatePlotSteps(10, 2, 10)).toHaveLength(10);
  });

  it('bounds the points of long runs', () => {
    const steps = learningRatePlotSteps(Number.MAX_SAFE_INTEGER, 100, 2000);
    expect(steps.length).toBeGreaterThanOrEqual(2000);
    expect(steps.length).toBeLessThanOrEqual(2001);
  });

  it('keeps the first and last step', () => {
    const steps = learningRatePlotSteps(Number.MAX_SAFE_INTEGER, 100, 2000);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('includes the last warmup step', () => {
    expect(learningRatePlotSteps(1_000_000, 100, 50)).toContain(100);
  });

  it('returns ascending unique steps', () => {
    for (const total of [11, 1999, 2001, 123_456_789, Number.MAX_SAFE_INTEGER]) {
      const steps = learningRatePlotSteps(total, 100, 2000);
      const ascending = steps.every((step, index) => index === 0 || step > steps[index - 1]);
      expect(ascending, `order of a ${total}-step run`).toBe(true);
      expect(steps.every(Number.isInteger), `integers of a ${total}-step run`).toBe(true);
      expect(steps[0], `first step of a ${total}-step run`).toBe(1);
      expect(steps.at(-1), `last step of a ${total}-step run`).toBe(total);
    }
  });
});
