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
      training.load(state.parameters);
      training.load(state.optimizerState);
      training.step = state.step;
      if (state.lossScaler && training.lossScaler) training.lossScaler.restore(state.lossScaler);
    } else {
      training.load(initGptParameters(model, new Rng(options.seed).fork(3)));
    }
    return new GptTrainer(options, training, evaluation, data, batchRng, dropoutRng, evalRng, noiseNames);
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
      // The inputs of the failed step show where it started; the updated values only show how it spread.
      const before = firstNonFinite(this.training.previousParameters());
      const culprit = before ?? firstNonFinite(this.training.parameters());
      const where = culprit
        ? `parameter ${culprit.name} ${before ? 'held' : 'became'} ${culprit.value} at index ${culprit.index}`
        : `the loss is ${loss} and the gradient norm ${gradNorm} while every parameter is finite`;
      throw new Error(
        `training stopped at step ${this.training.step}: ${where}. Lower the learning rate or enable gradient clipping.`,
      );
    }
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
   */
  updateNorms(): Map<string, number> {
    const previous = this.training.previousParameters();
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
