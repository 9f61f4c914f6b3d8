import { describe, expect, it } from 'vitest';
import {
  createTrainingProgress,
  formatDuration,
  formatProgressLine,
  type ProgressStream,
} from './progress.js';

/** A stream that records what is written to it. */
class RecordingStream implements ProgressStream {
  readonly chunks: string[] = [];

  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
  ) {}

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }

  text(): string {
    return this.chunks.join('');
  }
}

/** Creates a millisecond clock that moves only when the test calls `advanceSeconds`. */
function manualClock(): { now: () => number; advanceSeconds: (seconds: number) => void } {
  let milliseconds = 0;
  return {
    now: () => milliseconds,
    advanceSeconds: (seconds) => {
      milliseconds += seconds * 1000;
    },
  };
}

describe('plain progress', () => {
  it('writes the first update, then one line per interval and the last step', () => {
    const stream = new RecordingStream(false);
    const clock = manualClock();
    const progress = createTrainingProgress({
      totalSteps: 10,
      stream,
      now: clock.now,
      plainIntervalSeconds: 10,
    });
    for (let step = 1; step <= 10; step++) {
      clock.advanceSeconds(3);
      progress.update({ step, loss: 5 - step * 0.25, tokensPerSecond: 1234.4 });
    }
    progress.stop();

    expect(stream.text().split('\n')).toEqual([
      'step 1/10 (10.0%) | loss 4.7500 | 1,234 tok/s | elapsed 3s | ETA 27s',
      'step 5/10 (50.0%) | loss 3.7500 | 1,234 tok/s | elapsed 15s | ETA 15s',
      'step 9/10 (90.0%) | loss 2.7500 | 1,234 tok/s | elapsed 27s | ETA 3s',
      'step 10/10 (100.0%) | loss 2.5000 | 1,234 tok/s | elapsed 30s | ETA 0s',
      '',
    ]);
  });

  it('writes the last update on stop', () => {
    const stream = new RecordingStream(false);
    const clock = manualClock();
    const progress = createTrainingProgress({ totalSteps: 100, stream, now: clock.now });
    progress.update({ step: 1, loss: 4, tokensPerSecond: 10 });
    clock.advanceSeconds(1);
    progress.update({ step: 2, loss: 3.5, tokensPerSecond: 10 });
    progress.stop();
    progress.stop();

    const lines = stream.text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^step 2\/100 \(2\.0%\) \| loss 3\.5000 /);
  });

  it('writes log lines as they come', () => {
    const stream = new RecordingStream(false);
    const progress = createTrainingProgress({ totalSteps: 10, stream });
    progress.log('step 5: validation loss 2.1000');
    expect(stream.text()).toBe('step 5: validation loss 2.1000\n');
    progress.stop();
    expect(stream.text()).toBe('step 5: validation loss 2.1000\n');
  });

  it('measures the ETA from the resumed step', () => {
    const stream = new RecordingStream(false);
    const clock = manualClock();
    const progress = createTrainingProgress({ totalSteps: 200, startStep: 100, stream, now: clock.now });
    clock.advanceSeconds(5);
    progress.update({ step: 110, loss: 2, tokensPerSecond: 100 });
    expect(stream.text()).toContain('| elapsed 5s | ETA 45s');
  });
});

describe('bar progress', () => {
  it('draws a bar with step, loss, rate, elapsed time and ETA', async () => {
    const stream = new RecordingStream(true);
    const clock = manualClock();
    const progress = createTrainingProgress({ totalSteps: 20, stream, now: clock.now });
    for (let step = 1; step <= 20; step++) {
      clock.advanceSeconds(65);
      progress.update({ step, loss: 3 - step / 10, tokensPerSecond: 25_000 });
      if (step === 10) {
        progress.log('step 10: validation loss 2.0500');
      }
    }
    progress.stop();

    const text = stream.text();
    expect(text).toContain('20/20 ');
    expect(text).toContain('loss 1.0000 | 25,000 tok/s | elapsed 21m40s | ETA 0s');
    expect(text).toContain('step 10: validation loss 2.0500\n');
    // Terminal control sequences show that the bar redraws in place.
    expect(text).toContain('\u001b[');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('follows whether the stream is a TTY', () => {
    const tty = new RecordingStream(true);
    const progress = createTrainingProgress({ totalSteps: 5, stream: tty });
    progress.update({ step: 1, loss: 1, tokensPerSecond: 1 });
    progress.stop();
    expect(tty.text()).toContain('\u001b[');

    const plain = new RecordingStream(false);
    const plainProgress = createTrainingProgress({ totalSteps: 5, stream: plain });
    plainProgress.update({ step: 1, loss: 1, tokensPerSecond: 1 });
    plainProgress.stop();
    expect(plain.text()).not.toContain('\u001b[');
  });
});

describe('createTrainingProgress', () => {
  it('rejects invalid step counts', () => {
    expect(() => createTrainingProgress({ totalSteps: 0, stream: new RecordingStream(false) })).toThrow(
      RangeError,
    );
    expect(() =>
      createTrainingProgress({ totalSteps: 5, startStep: 6, stream: new RecordingStream(false) }),
    ).toThrow(RangeError);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [59.9, '59s'],
    [60, '1m00s'],
    [425, '7m05s'],
    [7389, '2h03m09s'],
    [-1, '-'],
    [Number.NaN, '-'],
  ])('formats %d seconds', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe('formatProgressLine', () => {
  it('shows a dash for an unknown ETA and a diverged loss as NaN', () => {
    expect(formatProgressLine({ step: 0, loss: Number.NaN, tokensPerSecond: 0 }, 10, 0, undefined)).toBe(
      'step 0/10 (0.0%) | loss NaN | 0 tok/s | elapsed 0s | ETA -',
    );
  });
});
