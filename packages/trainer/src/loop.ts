import type { GptTrainer, StepMetrics } from './trainer.js';

/** The report of a training loop after each step. */
export interface StepReport extends StepMetrics {
  /** Throughput of this step alone. */
  tokensPerSecond: number;
  /** Seconds since `runTraining` started. */
  elapsedSeconds: number;
}

/** Mean losses of one evaluation. */
export interface EvaluationReport {
  step: number;
  train: number;
  validation: number;
}

export interface TrainingLoopOptions {
  /** Trains until the trainer has taken this many steps. */
  maxSteps: number;
  /** Evaluates every this many steps and at the last step; 0 evaluates only at the last step. */
  evalInterval: number;
  /** Stops after the current step when aborted (for example on Ctrl-C); the caller then saves a checkpoint. */
  signal?: AbortSignal;
  /** Called after every step, before any evaluation of that step. */
  onStep?: (report: StepReport) => void | Promise<void>;
  /** Called after each evaluation; a checkpoint is usually saved here. */
  onEvaluate?: (report: EvaluationReport) => void | Promise<void>;
}

/**
 * Trains with periodic evaluation, reporting through callbacks so that apps can draw progress bars and
 * plots. Returns whether the loop completed or was aborted, and the step it stopped at.
 */
export async function runTraining(
  trainer: GptTrainer,
  options: TrainingLoopOptions,
): Promise<{ status: 'completed' | 'aborted'; step: number }> {
  const started = performance.now();
  while (trainer.step < options.maxSteps) {
    if (options.signal?.aborted) return { status: 'aborted', step: trainer.step };
    const stepStart = performance.now();
    const metrics = await trainer.trainStep();
    const now = performance.now();
    await options.onStep?.({
      ...metrics,
      tokensPerSecond: metrics.tokens / ((now - stepStart) / 1000),
      elapsedSeconds: (now - started) / 1000,
    });
    // A skipped mixed-precision step repeats the last step number, which was already evaluated.
    const last = metrics.step === options.maxSteps;
    const due = last || (options.evalInterval > 0 && metrics.step % options.evalInterval === 0);
    if (due && !metrics.skipped) {
      const losses = await trainer.evaluate();
      await options.onEvaluate?.({ step: metrics.step, ...losses });
    }
  }
  return { status: 'completed', step: trainer.step };
}
