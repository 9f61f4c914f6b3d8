import {
  buildGpt,
  type GptConfig,
  gptParameterShapes,
  initGptParameters,
  isDecayedParameter,
} from '@glassbox/gpt-core';
import {
  addTrainingStep,
  Graph,
  GraphSession,
  type LossScalerOptions,
  type LossScalerState,
  type OptimizerConfig,
  Rng,
  type RngState,
  type SessionOptions,
  TrainingSession,
  toOnnx,
} from '@glassbox/graph';
import type * as ort from 'onnxruntime-common';
import { RandomWindowSampler, type TokenArray } from './data.js';
import { describeValue } from './option-rules.js';
import { cosineWithWarmup } from './schedule.js';
import { type ScheduleConfig, scheduleMultiplier, validateSchedule } from './schedules.js';
import { firstNonFinite } from './statistics.js';

/** Settings of a pretraining run, named as nanoGPT names them. */
export interface TrainerOptions {
  model: GptConfig;
  batchSize: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Learning rate at the end of the cosine decay. */
  minLearningRate: number;
  warmupSteps: number;
  /** Total optimizer steps; the cosine decay ends here. */
  maxSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Global gradient-norm clipping threshold; 0 disables clipping. */
  gradClip: number;
  /** Batches averaged per split by `evaluate`. */
  evalIters: number;
  seed: number;
  /**
   * The optimizer; defaults to AdamW with `beta1`, `beta2` and `weightDecay` above. Weight decay applies to
   * matrices and embeddings only, as nanoGPT groups parameters.
   */
  optimizer?: OptimizerConfig;
  /**
   * A Hugging Face-style schedule that multiplies `learningRate`; when omitted, nanoGPT's linear warmup
   * and cosine decay from `learningRate` to `minLearningRate` over `warmupSteps` and `maxSteps`.
   */
  schedule?: ScheduleConfig;
  /**
   * Micro-batches of `batchSize` sequences whose gradients are averaged into one update, as nanoGPT's
   * `gradient_accumulation_steps`; the effective batch is their product. Default 1.
   */
  gradientAccumulationSteps?: number;
  /**
   * `float32` (default) computes everything in float32. `mixed-float16` runs the matrix products in float16
   * on float16 copies of the float32 parameters, as PyTorch's autocast does, and scales the loss dynamically
   * as torch.cuda.amp.GradScaler does. It pays off on GPUs with float16 units. On the CPU, ONNX Runtime
   * computes float16 products through casts to float32, so it is slower and only shows the numerics.
   * NOTE: tested on the CPU execution provider only; no run on CUDA has been measured.
   */
  precision?: 'float32' | 'mixed-float16';
  /** Loss scaling settings for `mixed-float16`; GradScaler's defaults when omitted. */
  lossScaler?: LossScalerOptions;
  session?: SessionOptions;
}

export interface StepMetrics {
  /** 1-based number of the step just taken. */
  step: number;
  loss: number;
  learningRate: number;
  /** Gradient norm before clipping. */
  gradNorm: number;
  /** Tokens processed by this step. */
  tokens: number;
  /**
   * True when the scaled float16 gradients overflowed, so the update was skipped and the loss scale lowered
   * (`mixed-float16` only). `step` then repeats the number of the last step taken.
   */
  skipped: boolean;
  /** The loss scale this step ran with, with `mixed-float16` precision. */
  lossScale?: number;
}

/** Everything needed to continue a run exactly where it stopped. */
export interface TrainerState {
  step: number;
  parameters: Map<string, Float32Array>;
  /** Every optimizer tensor; an empty map at step 0 starts a fresh optimizer on `parameters`. */
  optimizerState: Map<string, Float32Array>;
  batchRng: RngState;
  dropoutRng: RngState;
  evalRng: RngState;
  /** The loss scale and its growth count, with `mixed-float16` precision. */
  lossScaler?: LossScalerState;
}

export interface TrainingData {
  train: TokenArray;
  validation: TokenArray;
}

const INPUT_IDS = 'input_ids';
const TARGETS = 'targets';

/** Largest finite float32. The loss scale is fed to ONNX Runtime as a float32 scalar. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** Smallest positive normal float32. Smaller loss scales lose precision and then round to 0. */
const FLOAT32_MIN_NORMAL = 2 ** -126;
const LOSS_SCALER_KEYS: readonly string[] = ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval'];

/**
 * Checks that a loss scale survives the conversion to float32. An infinite scale or one that rounds to 0
 * makes every gradient non-finite, so every step would be skipped and training would never advance.
 */
function isFloat32LossScale(scale: unknown): scale is number {
  return typeof scale === 'number' && scale >= FLOAT32_MIN_NORMAL && scale <= FLOAT32_MAX;
}

/**
 * Rejects `lossScaler` settings that `LossScaler` accepts but that stall training, and settings that would
 * be ignored: a misspelled key, or any settings without `mixed-float16` precision.
 */
function checkLossScalerOptions(settings: LossScalerOptions | undefined, precision: string): void {
  if (settings === undefined) return;
  if (precision !== 'mixed-float16') {
    throw new Error(
      `lossScaler applies only to precision "mixed-float16", but precision is "${precision}". Remove lossScaler or set precision to "mixed-float16".`,
    );
  }
  if (typeof settings !== 'object' || settings === null) {
    throw new Error(`lossScaler must be an object, got ${JSON.stringify(settings)}.`);
  }
  const unknown = Object.keys(settings).filter((key) => !LOSS_SCALER_KEYS.includes(key));
  if (unknown.length > 0) {
    throw new Error(
      `lossScaler has unknown option ${unknown.map((key) => JSON.stringify(key)).join(', ')}. Valid options: ${LOSS_SCALER_KEYS.join(', ')}.`,
    );
  }
  if (settings.initScale !== undefined && !isFloat32LossScale(settings.initScale)) {
    throw new Error(
      `lossScaler.initScale must be a number from 2^-126 to ${FLOAT32_MAX} (the normal float32 range), got ${settings.initScale}.`,
    );
  }
  if (settings.growthFactor !== undefined && !Number.isFinite(settings.growthFactor)) {
    throw new Error(`lossScaler.growthFactor must be a finite number above 1, got ${settings.growthFactor}.`);
  }
}

/**
 * Throws unless `tensors` contains exactly the tensors of `expected`, with the same sizes. Loading a state with
 * a tensor missing would leave that tensor at its initial value and silently resume a different run.
 */
function checkStateTensors(
  field: string,
  tensors: ReadonlyMap<string, Float32Array>,
  expected: ReadonlyMap<string, Float32Array>,
): void {
  if (!(tensors instanceof Map)) {
    throw new Error(
      `the trainer state's ${field} must be a Map of Float32Arrays, got ${describeValue(tensors)}.`,
    );
  }
  const missing = [...expected.keys()].filter((name) => !tensors.has(name));
  const unexpected = [...tensors.keys()].filter((name) => !expected.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [
      missing.length > 0
        ? `missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? `, and ${missing.length - 5} more` : ''}`
        : '',
      unexpected.length > 0
        ? `unexpected ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? `, and ${unexpected.length - 5} more` : ''}`
        : '',
    ].filter(Boolean);
    throw new Error(
      `the trainer state's ${field} do not match this model and optimizer: ${parts.join('; ')}. Resume with the options the state was saved with.`,
    );
  }
  for (const [name, data] of tensors) {
    const size = expected.get(name)!.length;
    if (!(data instanceof Float32Array) || data.length !== size) {
      throw new Error(
        `the trainer state's ${field} entry ${name} must be a Float32Array of ${size} values, got ${data instanceof Float32Array ? `${data.length} values` : describeValue(data)}.`,
      );
    }
  }
}

/**
 * Throws on trainer options that would crash ONNX Runtime or train with a different setting than the one
 * given: sizes that are not positive integers, learning rates and decay values that are negative or not
 * finite, betas outside [0, 1). The model, schedule and loss scaler are checked by their own validators,
 * and `addTrainingStep` checks the optimizer.
 */
export function validateTrainerOptions(options: TrainerOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new Error(`trainer options must be an object, got ${JSON.stringify(options)}.`);
  }
  const check = (key: keyof TrainerOptions, valid: (value: number) => boolean, expected: string) => {
    const value = options[key];
    if (typeof value !== 'number' || !valid(value)) {
      throw new Error(`trainer option ${key} must be ${expected}, got ${describeValue(value)}.`);
    }
  };
  const positiveInteger = (v: number) => Number.isSafeInteger(v) && v > 0;
  const nonNegativeInteger = (v: number) => Number.isSafeInteger(v) && v >= 0;
  const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;
  const beta = (v: number) => Number.isFinite(v) && v >= 0 && v < 1;
  check('batchSize', positiveInteger, 'a positive integer');
  check('learningRate', nonNegative, 'a finite number >= 0');
  check('minLearningRate', nonNegative, 'a finite number >= 0');
  check('warmupSteps', nonNegativeInteger, 'an integer >= 0');
  check('maxSteps', positiveInteger, 'a positive integer');
  check('weightDecay', nonNegative, 'a finite number >= 0');
  check('beta1', beta, 'in [0, 1)');
  check('beta2', beta, 'in [0, 1)');
  check('gradClip', nonNegative, 'a finite number >= 0 (0 disables clipping)');
  check('evalIters', positiveInteger, 'a positive integer');
  check('seed', Number.isSafeInteger, 'an integer');
  if (options.gradientAccumulationSteps !== undefined) {
    check('gradientAccumulationSteps', positiveInteger, 'a positive integer');
  }
  if (typeof options.model !== 'object' || options.model === null) {
    throw new Error(
      `trainer option model must be a GPT config from resolveGptConfig, got ${describeValue(options.model)}.`,
    );
  }
}

/**
 * Pretrains a GPT on a token stream with AdamW, nanoGPT's warmup-then-cosine schedule, global-norm clipping
 * and random-window batches. One `step()` is one ONNX Runtime run of a graph that contains the forward pass,
 * the backward pass and the optimizer update.
 */
export class GptTrainer {
  private readonly trainSampler: RandomWindowSampler;
  private readonly validationSampler: RandomWindowSampler;
  private readonly noiseBuffers: Float32Array[];
  private readonly evalInputs: BigInt64Array;
  private readonly evalTargets: BigInt64Array;
  private readonly evalFeedCache = new WeakMap<Float32Array, ort.Tensor>();
  /** Steps skipped in a row because their float16 gradients overflowed. */
  private consecutiveSkips = 0;

  private constructor(
    readonly options: TrainerOptions,
    private readonly training: TrainingSession,
    private readonly evaluation: GraphSession,
    data: TrainingData,
    private readonly batchRng: Rng,
    private readonly dropoutRng: Rng,
    private readonly evalRng: Rng,
    noiseNames: string[],
  ) {
    const { blockSize } = options.model;
    this.trainSampler = new RandomWindowSampler(data.train, blockSize, options.batchSize);
    this.validationSampler = new RandomWindowSampler(data.validation, blockSize, options.batchSize);
    this.noiseBuffers = noiseNames.map((name) => training.inputBuffer(name) as Float32Array);
    this.evalInputs = new BigInt64Array(options.batchSize * blockSize);
    this.evalTargets = new BigInt64Array(options.batchSize * blockSize);
  }

  /** Compiles the training and evaluation graphs and initializes parameters as GPT-2 does (or from `state`). */
  static async create(
    options: TrainerOptions,
    data: TrainingData,
    state?: TrainerState,
  ): Promise<GptTrainer> {
    validateTrainerOptions(options);
    const { model, batchSize } = options;
    const { blockSize } = model;
    const trainSizes = [data.train.length, data.validation.length];
    if (Math.min(...trainSizes) < blockSize + 1) {
      throw new Error(
        `the training split has ${data.train.length} tokens and the validation split ${data.validation.length}; ` +
          `each needs at least blockSize + 1 = ${blockSize + 1}.`,
      );
    }

    const g = new Graph('gpt-train');
    const inputIds = g.input(INPUT_IDS, 'int64', [batchSize, blockSize]);
    const targets = g.input(TARGETS, 'int64', [batchSize, blockSize]);
    const noiseNames: string[] = [];
    const precision = options.precision ?? 'float32';
    if (precision !== 'float32' && precision !== 'mixed-float16') {
      throw new Error(`precision must be "float32" or "mixed-float16", got ${JSON.stringify(precision)}.`);
    }
    checkLossScalerOptions(options.lossScaler, precision);
    if (state) GptTrainer.validateState(state);
    const computeDtype = precision === 'mixed-float16' ? 'float16' : 'float32';
    const { logits } = buildGpt(g, model, {
      inputIds,
      computeDtype,
      dropoutNoise: (site, shape) => {
        const name = `dropout_noise.${site}`;
        noiseNames.push(name);
        return g.input(name, 'float32', shape);
      },
    });
    const loss = g.crossEntropy(logits, targets);
    if (options.schedule) validateSchedule(options.schedule);
    const optimizer: OptimizerConfig = options.optimizer ?? {
      type: 'adamw',
      beta1: options.beta1,
      beta2: options.beta2,
      eps: 1e-8,
      weightDecay: options.weightDecay,
    };
    const decay = optimizer.weightDecay ?? 0;
    const spec = addTrainingStep(g, loss, {
      optimizer,
      accumulationSteps: options.gradientAccumulationSteps ?? 1,
      maxGradNorm: options.gradClip,
      lossScaling: precision === 'mixed-float16',
      parameterSettings: (p) => ({
        weightDecay: isDecayedParameter(p.name, p.shape as number[]) ? decay : 0,
      }),
    });
    const training = await TrainingSession.create(g, spec, options.session, options.lossScaler);

    const e = new Graph('gpt-eval');
    const evalIds = e.input(INPUT_IDS, 'int64', [batchSize, blockSize]);
    const evalTargets = e.input(TARGETS, 'int64', [batchSize, blockSize]);
    const evalLogits = buildGpt(e, model, { inputIds: evalIds, computeDtype }).logits;
    e.output('loss', e.crossEntropy(evalLogits, evalTargets));
    // Only the training session writes a profile, so that the two do not share one file name.
    const evaluation = await GraphSession.create(toOnnx(e), {
      ...options.session,
      profileFilePrefix: undefined,
    });

    const batchRng = state ? Rng.fromState(state.batchRng) : new Rng(options.seed);
    const dropoutRng = state ? Rng.fromState(state.dropoutRng) : batchRng.fork(1);
    const evalRng = state ? Rng.fromState(state.evalRng) : batchRng.fork(2);
    if (state) {
      checkStateTensors('parameters', state.parameters, training.parameters());
      // At step 0 an empty optimizer state means a fresh optimizer on the given weights.
      const freshOptimizer =
        state.step === 0 && state.optimizerState instanceof Map && state.optimizerState.size === 0;
      if (!freshOptimizer) {
        checkStateTensors('optimizerState', state.optimizerState, training.optimizerState());
      }
      training.load(state.parameters);
      training.load(state.optimizerState);
      training.step = state.step;
      if (state.lossScaler && training.lossScaler) training.lossScaler.restore(state.lossScaler);
    } else {
      training.load(initGptParameters(model, new Rng(options.seed).fork(3)));
    }
    return new GptTrainer(options, training, evaluation, data, batchRng, dropoutRng, evalRng, noiseNames);
  }

  /**
   * Throws when `state` cannot continue a run: a step count that is not a non-negative integer, or a loss
   * scaler position whose scale is outside the normal float32 range or whose growth count is not a
   * non-negative integer. A hand-edited or damaged checkpoint shows up here.
   */
  static validateState(state: TrainerState): void {
    if (typeof state !== 'object' || state === null) {
      throw new Error(
        `the trainer state must be an object from trainer.state(), got ${describeValue(state)}.`,
      );
    }
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new Error(
        `the trainer state's step must be a non-negative integer, got ${describeValue(state.step)}.`,
      );
    }
    for (const key of ['batchRng', 'dropoutRng', 'evalRng'] as const) {
      try {
        Rng.fromState(state[key]);
      } catch (error) {
        throw new Error(
          `the trainer state's ${key} is not a random generator state: ${(error as Error).message}. Use a state from trainer.state().`,
        );
      }
    }
    const scaler = state.lossScaler;
    if (scaler === undefined) return;
    if (!isFloat32LossScale(scaler.scale)) {
      throw new Error(
        `the trainer state's loss scale must be a number from 2^-126 to ${FLOAT32_MAX} (the normal float32 range), got ${describeValue(scaler.scale)}.`,
      );
    }
    if (!Number.isSafeInteger(scaler.growthTracker) || scaler.growthTracker < 0) {
      throw new Error(
        `the trainer state's loss scale growth count must be a non-negative integer, got ${describeValue(scaler.growthTracker)}.`,
      );
    }
  }

  /** Number of optimizer steps taken. */
  get step(): number {
    return this.training.step;
  }

  /** Returns the learning rate of step `step` (0-based). */
  learningRateAt(step: number): number {
    if (this.options.schedule)
      return this.options.learningRate * scheduleMultiplier(this.options.schedule, step);
    return cosineWithWarmup(step, {
      maxLearningRate: this.options.learningRate,
      minLearningRate: this.options.minLearningRate,
      warmupSteps: this.options.warmupSteps,
      decaySteps: this.options.maxSteps,
    });
  }

  /** Samples a batch and takes one optimizer step. */
  async trainStep(): Promise<StepMetrics> {
    const learningRate = this.learningRateAt(this.training.step);
    const inputs = this.training.inputBuffer(INPUT_IDS) as BigInt64Array;
    const targets = this.training.inputBuffer(TARGETS) as BigInt64Array;
    const microSteps = this.options.gradientAccumulationSteps ?? 1;
    const lossScale = this.training.lossScaler?.scale;
    let loss: number;
    let gradNorm: number;
    let skipped: boolean;
    if (microSteps === 1) {
      this.trainSampler.sample(this.batchRng, inputs, targets);
      for (const buffer of this.noiseBuffers) this.dropoutRng.fillUniform(buffer, 0, 1);
      ({ loss, gradNorm, skipped } = await this.training.runStep(learningRate));
    } else {
      let lossSum = 0;
      for (let m = 0; m < microSteps; m++) {
        this.trainSampler.sample(this.batchRng, inputs, targets);
        for (const buffer of this.noiseBuffers) this.dropoutRng.fillUniform(buffer, 0, 1);
        lossSum += await this.training.runMicroStep();
      }
      loss = lossSum / microSteps;
      ({ gradNorm, skipped } = await this.training.applyUpdate(learningRate));
    }
    // A skipped step overflowed in the scaled float16 backward pass; the scaler has lowered the scale. A
    // non-finite loss is a forward overflow, which no loss scale fixes.
    if (!Number.isFinite(loss) || (!skipped && !Number.isFinite(gradNorm))) {
      // The inputs of the failed step show where it started, and the updated values only show how it spread.
      // A skipped step keeps its inputs as the current parameters, and its discarded update changed nothing.
      const inputs = skipped ? this.training.parameters() : this.training.previousParameters();
      const before = firstNonFinite(inputs);
      const culprit = before ?? (skipped ? undefined : firstNonFinite(this.training.parameters()));
      const where = culprit
        ? `parameter ${culprit.name} ${before ? 'held' : 'became'} ${culprit.value} at index ${culprit.index}`
        : `the loss is ${loss} and the gradient norm ${gradNorm} while every parameter is finite`;
      const advice =
        this.options.precision === 'mixed-float16'
          ? `Lower the learning rate${this.options.gradClip > 0 ? '' : ', enable gradient clipping (gradClip)'} or train with precision "float32", because float16 overflows above 65504.`
          : this.options.gradClip > 0
            ? 'Lower the learning rate.'
            : 'Lower the learning rate or enable gradient clipping (gradClip).';
      throw new Error(`training stopped at step ${this.training.step}: ${where}. ${advice}`);
    }
    this.consecutiveSkips = skipped ? this.consecutiveSkips + 1 : 0;
    this.checkLossScale();
    return {
      step: this.training.step,
      loss,
      learningRate,
      gradNorm,
      tokens: microSteps * this.options.batchSize * this.options.model.blockSize,
      skipped,
      ...(lossScale === undefined ? {} : { lossScale }),
    };
  }

  /**
   * Stops training once the loss scale has left the normal float32 range. From there every step would be
   * skipped, because the scaled gradients are infinite or NaN, and `runTraining` would never finish.
   */
  private checkLossScale(): void {
    const scaler = this.training.lossScaler;
    if (scaler === undefined || isFloat32LossScale(scaler.scale)) return;
    const step = this.training.step;
    if (scaler.scale > FLOAT32_MAX) {
      throw new Error(
        `training stopped at step ${step}: the loss scale grew to ${scaler.scale}, beyond the largest float32 ${FLOAT32_MAX} ` +
          `(lossScaler growthFactor ${scaler.growthFactor}, growthInterval ${scaler.growthInterval}). Lower growthFactor or raise growthInterval.`,
      );
    }
    const skips = this.consecutiveSkips === 1 ? '1 step' : `${this.consecutiveSkips} steps in a row`;
    throw new Error(
      `training stopped at step ${step}: the float16 gradients were not finite in ${skips}, and the loss scale fell to ${scaler.scale}, ` +
        `below the smallest normal float32 2^-126 (lossScaler backoffFactor ${scaler.backoffFactor}). Lower the learning rate, or train with precision "float32".`,
    );
  }

  /** Mean loss over `evalIters` random batches of each split, with dropout off (nanoGPT's `estimate_loss`). */
  async evaluate(): Promise<{ train: number; validation: number }> {
    const parameterFeeds: Record<string, ort.Tensor> = {};
    for (const [name, data] of this.training.parameters()) {
      let tensor = this.evalFeedCache.get(data);
      if (!tensor) {
        tensor = this.evaluation.tensor('float32', data, gptParameterShapes(this.options.model).get(name)!);
        this.evalFeedCache.set(data, tensor);
      }
      parameterFeeds[name] = tensor;
    }
    const dims = [this.options.batchSize, this.options.model.blockSize];
    const feeds = {
      ...parameterFeeds,
      [INPUT_IDS]: this.evaluation.tensor('int64', this.evalInputs, dims),
      [TARGETS]: this.evaluation.tensor('int64', this.evalTargets, dims),
    };
    const meanLoss = async (sampler: RandomWindowSampler) => {
      let total = 0;
      for (let i = 0; i < this.options.evalIters; i++) {
        sampler.sample(this.evalRng, this.evalInputs, this.evalTargets);
        total += (await this.evaluation.run(feeds, ['loss'])).loss.data[0] as number;
      }
      return total / this.options.evalIters;
    };
    return { train: await meanLoss(this.trainSampler), validation: await meanLoss(this.validationSampler) };
  }

  /**
   * L2 norm of each parameter's last update (new value minus old), by name; call it right after `trainStep`.
   * A skipped `mixed-float16` step changed nothing, so its norms are 0.
   */
  updateNorms(): Map<string, number> {
    // After a skipped step the other half of the double buffer contains the discarded update.
    const previous =
      this.consecutiveSkips > 0 ? this.training.parameters() : this.training.previousParameters();
    const norms = new Map<string, number>();
    for (const [name, current] of this.training.parameters()) {
      const before = previous.get(name);
      if (!before) continue;
      let sum = 0;
      for (let i = 0; i < current.length; i++) sum += (current[i] - before[i]) ** 2;
      norms.set(name, Math.sqrt(sum));
    }
    return norms;
  }

  /** Live views of the current parameters; they change with the next step. */
  parameterViews(): Map<string, Float32Array> {
    return this.training.parameters();
  }

  /** Copies of the current parameters, by Hugging Face GPT-2 name. */
  parameters(): Map<string, Float32Array> {
    return new Map([...this.training.parameters()].map(([name, data]) => [name, Float32Array.from(data)]));
  }

  /** Returns a snapshot of everything that `create(options, data, state)` needs to continue identically. */
  state(): TrainerState {
    const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));
    return {
      step: this.training.step,
      parameters: copy(this.training.parameters()),
      optimizerState: copy(this.training.optimizerState()),
      batchRng: this.batchRng.getState(),
      dropoutRng: this.dropoutRng.getState(),
      evalRng: this.evalRng.getState(),
      ...(this.training.lossScaler ? { lossScaler: this.training.lossScaler.state() } : {}),
    };
  }

  /** Ends ONNX Runtime profiling of the training session (see `SessionOptions.profileFilePrefix`) and writes the file. */
  endProfiling(): void {
    this.training.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.training.release();
    await this.evaluation.release();
  }
}
