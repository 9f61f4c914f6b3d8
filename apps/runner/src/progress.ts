import { MultiBar, type SingleBar } from 'cli-progress';

/** The state of training after an optimizer step. */
export interface ProgressUpdate {
  /** Optimizer steps completed so far, counting those of a resumed run. */
  step: number;
  /** Training loss of the last step. */
  loss: number;
  /** Training throughput, in tokens per second. */
  tokensPerSecond: number;
}

/** A writable stream such as `process.stderr`. */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface TrainingProgressOptions {
  /** Step at which training ends. */
  totalSteps: number;
  /** Steps already completed when this run starts, when resuming. Defaults to 0. */
  startStep?: number;
  /** Defaults to `process.stderr`. */
  stream?: ProgressStream;
  /** Draw a redrawing bar instead of plain lines. Defaults to whether `stream` is a TTY. */
  interactive?: boolean;
  /** Seconds between plain lines in non-interactive mode. Defaults to 10. */
  plainIntervalSeconds?: number;
  /** Clock in milliseconds. Defaults to `performance.now`. */
  now?: () => number;
}

/** Shows training progress on a terminal, or as periodic lines in logs. */
export interface TrainingProgress {
  update(update: ProgressUpdate): void;
  /** Writes a line, such as an evaluation result, above the bar or between the plain lines. */
  log(line: string): void;
  /** Draws the final state and releases the terminal. Call it once, also when training fails. */
  stop(): void;
}

/**
 * Creates a progress display for training: step/total, loss, tokens per second, elapsed time and ETA.
 * On a TTY it is a cli-progress bar redrawn up to 10 times per second. Elsewhere, such as in CI logs, it
 * writes one plain line for the first update, then at most one per `plainIntervalSeconds`, and one for
 * the last step.
 */
export function createTrainingProgress(options: TrainingProgressOptions): TrainingProgress {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? stream.isTTY === true;
  const timing = new ProgressTiming(options.totalSteps, options.startStep ?? 0, options.now);
  return interactive
    ? new BarProgress(stream, timing)
    : new PlainProgress(stream, timing, options.plainIntervalSeconds ?? 10);
}

/** Elapsed time and ETA, measured from the creation of the display. */
class ProgressTiming {
  private readonly startTime: number;

  constructor(
    readonly totalSteps: number,
    readonly startStep: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isSafeInteger(totalSteps) || totalSteps < 1) {
      throw new RangeError(`totalSteps must be a positive integer, got ${totalSteps}.`);
    }
    if (!Number.isSafeInteger(startStep) || startStep < 0 || startStep > totalSteps) {
      throw new RangeError(
        `startStep must be an integer from 0 to totalSteps (${totalSteps}), got ${startStep}.`,
      );
    }
    this.startTime = now();
  }

  elapsedSeconds(): number {
    return (this.now() - this.startTime) / 1000;
  }

  /** Seconds left at the average rate of this run so far, or undefined before the first step of this run. */
  etaSeconds(step: number): number | undefined {
    const stepsDone = step - this.startStep;
    const elapsed = this.elapsedSeconds();
    if (stepsDone <= 0 || elapsed <= 0) {
      return undefined;
    }
    return ((this.totalSteps - step) * elapsed) / stepsDone;
  }
}

class BarProgress implements TrainingProgress {
  private readonly multiBar: MultiBar;
  private readonly bar: SingleBar;
  private stopped = false;

  constructor(
    stream: ProgressStream,
    private readonly timing: ProgressTiming,
  ) {
    this.multiBar = new MultiBar({
      stream: stream as NodeJS.WritableStream,
      // About 80 columns for runs of up to 9999 steps and under an hour.
      format:
        '{value}/{total} {bar} loss {loss} | {tokensPerSecond} tok/s | elapsed {elapsedText} | ETA {etaText}',
      barsize: 12,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      fps: 10,
      // Truncates the line to the terminal width instead of switching off the terminal's line wrapping,
      // which a crash would leave switched off.
      linewrap: true,
      hideCursor: false,
      gracefulExit: false,
    });
    // Payload keys must differ from the built-in placeholders ({eta}, {duration}, ...), which take precedence.
    this.bar = this.multiBar.create(timing.totalSteps, timing.startStep, {
      loss: '-',
      tokensPerSecond: '-',
      elapsedText: formatDuration(0),
      etaText: '-',
    });
  }

  update(update: ProgressUpdate): void {
    this.bar.update(update.step, {
      loss: formatLoss(update.loss),
      tokensPerSecond: formatRate(update.tokensPerSecond),
      elapsedText: formatDuration(this.timing.elapsedSeconds()),
      etaText: formatOptionalDuration(this.timing.etaSeconds(update.step)),
    });
  }

  log(line: string): void {
    this.multiBar.log(`${line}\n`);
  }

  stop(): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    // MultiBar.stop drops lines that are still buffered, so one redraw flushes them first.
    this.multiBar.update();
    this.multiBar.stop();
  }
}

class PlainProgress implements TrainingProgress {
  private lastLineTime: number | undefined;
  private lastUpdate: ProgressUpdate | undefined;
  private lastUpdateWritten = false;
  private stopped = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly timing: ProgressTiming,
    private readonly intervalSeconds: number,
  ) {}

  update(update: ProgressUpdate): void {
    this.lastUpdate = update;
    const elapsed = this.timing.elapsedSeconds();
    const due = this.lastLineTime === undefined || elapsed - this.lastLineTime >= this.intervalSeconds;
    if (due || update.step >= this.timing.totalSteps) {
      this.writeUpdate(update, elapsed);
    } else {
      this.lastUpdateWritten = false;
    }
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }

  stop(): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    if (this.lastUpdate !== undefined && !this.lastUpdateWritten) {
      this.writeUpdate(this.lastUpdate, this.timing.elapsedSeconds());
    }
  }

  private writeUpdate(update: ProgressUpdate, elapsed: number): void {
    this.stream.write(
      `${formatProgressLine(update, this.timing.totalSteps, elapsed, this.timing.etaSeconds(update.step))}\n`,
    );
    this.lastLineTime = elapsed;
    this.lastUpdateWritten = true;
  }
}

/** Formats one plain progress line, e.g. `step 250/2000 (12.5%) | loss 2.3456 | 10,240 tok/s | elapsed 1m05s | ETA 7m35s`. */
export function formatProgressLine(
  update: ProgressUpdate,
  totalSteps: number,
  elapsedSeconds: number,
  etaSeconds: number | undefined,
): string {
  const percent = ((100 * update.step) / totalSteps).toFixed(1);
  return [
    `step ${update.step}/${totalSteps} (${percent}%)`,
    `loss ${formatLoss(update.loss)}`,
    `${formatRate(update.tokensPerSecond)} tok/s`,
    `elapsed ${formatDuration(elapsedSeconds)}`,
    `ETA ${formatOptionalDuration(etaSeconds)}`,
  ].join(' | ');
}

function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toFixed(4) : String(loss);
}

function formatRate(tokensPerSecond: number): string {
  return Number.isFinite(tokensPerSecond) ? Math.round(tokensPerSecond).toLocaleString('en-US') : '-';
}

function formatOptionalDuration(seconds: number | undefined): string {
  return seconds === undefined ? '-' : formatDuration(seconds);
}

/** Formats a duration as `42s`, `7m05s` or `2h03m09s`, rounded down to whole seconds. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '-';
  }
  const whole = Math.floor(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  const pad = (value: number) => String(value).padStart(2, '0');
  if (hours > 0) {
    return `${hours}h${pad(minutes)}m${pad(secs)}s`;
  }
  if (minutes > 0) {
    return `${minutes}m${pad(secs)}s`;
  }
  return `${secs}s`;
}
