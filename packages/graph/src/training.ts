import type * as ort from 'onnxruntime-common';
import { toOnnx } from './emit.js';
import type { Graph } from './graph.js';
import type { StateSlot, TrainingStepSpec } from './optim.js';
import { GraphSession, type SessionOptions, type TensorData } from './runtime.js';
import type { DType } from './tensor.js';

/** Result of one training step. */
export interface StepResult {
  loss: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  /**
   * True when loss scaling found a non-finite gradient and the step was skipped: parameters, optimizer state
   * and the step count stay as they were, and the loss scale was lowered.
   */
  skipped: boolean;
}

/** Settings of dynamic loss scaling, with the defaults of `torch.cuda.amp.GradScaler`. */
export interface LossScalerOptions {
  /** Starting scale; default 2^16. */
  initScale?: number;
  /** Factor applied after `growthInterval` steps in a row without overflow; default 2. */
  growthFactor?: number;
  /** Factor applied when a step overflows; default 0.5. */
  backoffFactor?: number;
  /** Steps without overflow before the scale grows; default 2000. */
  growthInterval?: number;
}

/** Position of a `LossScaler`, saved with checkpoints so that a resumed run scales identically. */
export interface LossScalerState {
  scale: number;
  /** Steps in a row without overflow since the scale last changed. */
  growthTracker: number;
}

/**
 * Dynamic loss scale, updated as `torch.cuda.amp.GradScaler.update` does. An overflowing step multiplies the
 * scale by `backoffFactor` and resets the count of good steps. After `growthInterval` good steps in a row the
 * scale is multiplied by `growthFactor`.
 */
export class LossScaler {
  scale: number;
  growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;

  constructor(options: LossScalerOptions = {}) {
    this.scale = options.initScale ?? 2 ** 16;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 2000;
    if (!(this.scale > 0 && Number.isFinite(this.scale))) {
      throw new Error(`LossScaler: initScale must be a positive finite number, got ${this.scale}.`);
    }
    if (!(this.growthFactor > 1)) {
      throw new Error(`LossScaler: growthFactor must be above 1, got ${this.growthFactor}.`);
    }
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) {
      throw new Error(`LossScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}.`);
    }
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) {
      throw new Error(`LossScaler: growthInterval must be a positive integer, got ${this.growthInterval}.`);
    }
  }

  /** Records the outcome of one step: `overflow` is true when its gradients were not finite. */
  update(overflow: boolean): void {
    if (overflow) {
      this.scale *= this.backoffFactor;
      this.growthTracker = 0;
      return;
    }
    this.growthTracker += 1;
    if (this.growthTracker === this.growthInterval) {
      this.scale *= this.growthFactor;
      this.growthTracker = 0;
    }
  }

  state(): LossScalerState {
    return { scale: this.scale, growthTracker: this.growthTracker };
  }

  restore(state: LossScalerState): void {
    this.scale = state.scale;
    this.growthTracker = state.growthTracker;
  }
}

interface SlotBuffers {
  slot: StateSlot;
  buffers: [Float32Array, Float32Array];
}

/**
 * Runs a graph built with `addTrainingStep`, one optimizer step per `session.run`. Parameters and optimizer
 * state live in two preallocated sets of Float32Array buffers: each step feeds one set and ONNX Runtime writes
 * the updated values into the other, then the roles swap. Batch inputs, the learning rate and the step
 * number are written into preallocated buffers too, so a step allocates no tensor memory.
 *
 * With gradient accumulation (`accumulationSteps` above 1) a second session computes each micro-batch's
 * gradient into double-buffered accumulators (`runMicroStep`), and `applyUpdate` runs the optimizer on their
 * mean and clears them.
 *
 * A graph built with `lossScaling` gets a `LossScaler`. A step whose gradient norm is not finite is skipped by
 * keeping the current buffers, because the update was written into the other half of the double buffer.
 */
export class TrainingSession {
  private parity = 0;
  private accumulatorParity = 0;
  private microSteps = 0;
  private readonly scalars = {
    learningRate: new Float32Array(1),
    stepNumber: new Float32Array(1),
    lossScale: new Float32Array(1),
  };
  private readonly lossBuffer = new Float32Array(1);
  private readonly gradNormBuffer = new Float32Array(1);
  private readonly slotBuffers: SlotBuffers[];
  private readonly accumulatorBuffers: {
    name: string;
    updatedName: string;
    buffers: [Float32Array, Float32Array];
  }[];
  private readonly frozenBuffers = new Map<string, Float32Array>();
  private readonly inputBuffers = new Map<string, TensorData>();
  private readonly shared: Record<string, ort.Tensor> = {};
  private readonly feedCache = new Map<string, [Record<string, ort.Tensor>, Record<string, ort.Tensor>]>();
  /** Number of optimizer steps taken so far; skipped steps do not count. */
  step = 0;
  /** The dynamic loss scale of a graph built with `lossScaling`; undefined otherwise. */
  readonly lossScaler: LossScaler | undefined;

  private constructor(
    /** The session that applies the optimizer (and, without accumulation, also computes the gradients). */
    readonly session: GraphSession,
    /** The gradient session of accumulated training; undefined without accumulation. */
    readonly microSession: GraphSession | undefined,
    readonly spec: TrainingStepSpec,
    graph: Graph,
    lossScaler: LossScalerOptions = {},
  ) {
    this.lossScaler = spec.lossScale === undefined ? undefined : new LossScaler(lossScaler);
    this.slotBuffers = spec.slots.map((slot) => ({
      slot,
      buffers: [new Float32Array(slot.size), new Float32Array(slot.size)],
    }));
    this.accumulatorBuffers = spec.accumulators.map((a) => ({
      name: a.name,
      updatedName: a.updatedName,
      buffers: [new Float32Array(a.size), new Float32Array(a.size)],
    }));
    this.shared[spec.learningRate] = session.tensor('float32', this.scalars.learningRate, []);
    this.shared[spec.stepNumber] = session.tensor('float32', this.scalars.stepNumber, []);
    if (spec.lossScale !== undefined) {
      this.shared[spec.lossScale] = session.tensor('float32', this.scalars.lossScale, []);
    }
    for (const name of spec.frozen) {
      const parameter = graph.parameters.find((p) => p.name === name)!;
      const data = new Float32Array(parameter.shape.reduce<number>((a, b) => a * (b as number), 1));
      this.frozenBuffers.set(name, data);
      this.shared[name] = session.tensor('float32', data, parameter.shape as number[]);
    }
    const reserved = new Set([
      ...spec.slots.map((s) => s.name),
      ...spec.accumulators.map((a) => a.name),
      spec.learningRate,
      spec.stepNumber,
      ...(spec.lossScale === undefined ? [] : [spec.lossScale]),
    ]);
    const batchSession = microSession ?? session;
    for (const input of graph.inputs) {
      if (reserved.has(input.name) || !batchSession.inputNames.includes(input.name)) continue;
      const dims = input.shape.map((d) => {
        if (typeof d !== 'number') {
          throw new Error(
            `TrainingSession: input ${input} needs a static shape so that its buffer can be preallocated.`,
          );
        }
        return d;
      });
      const data = allocate(
        input.dtype,
        dims.reduce((a, b) => a * b, 1),
      );
      this.inputBuffers.set(input.name, data);
      this.shared[input.name] = session.tensor(input.dtype, data, dims);
    }
  }

  /**
   * Compiles the training graph. Parameters start at zero and optimizer state at zero until set. `lossScaler`
   * configures the loss scale of a graph built with `lossScaling`. ONNX Runtime's memory pattern is off
   * unless `options.memoryPattern` turns it on (see `SessionOptions.memoryPattern`).
   */
  static async create(
    graph: Graph,
    spec: TrainingStepSpec,
    options: SessionOptions = {},
    lossScaler: LossScalerOptions = {},
  ): Promise<TrainingSession> {
    const updates = spec.slots.map((s) => s.updatedName);
    const sessionOptions: SessionOptions = { memoryPattern: false, ...options };
    const serialize = (outputs: string[]) =>
      toOnnx(graph, { outputs, packedParameters: spec.packedParameters });
    if (spec.accumulationSteps === 1) {
      const session = await GraphSession.create(
        serialize([spec.loss, spec.gradNorm, ...updates]),
        sessionOptions,
      );
      return new TrainingSession(session, undefined, spec, graph, lossScaler);
    }
    const session = await GraphSession.create(serialize([spec.gradNorm, ...updates]), sessionOptions);
    const micro = await GraphSession.create(
      serialize([spec.loss, ...spec.accumulators.map((a) => a.updatedName)]),
      sessionOptions,
    );
    return new TrainingSession(session, micro, spec, graph, lossScaler);
  }

  /**
   * Feeds and preallocated fetches of `target` for the current buffer parities. Only the session's own
   * inputs are fed, and the dictionaries are built once per parity combination.
   */
  private feedsFor(
    target: GraphSession,
    fetchNames: readonly string[],
  ): [Record<string, ort.Tensor>, Record<string, ort.Tensor>] {
    const key = `${target === this.session ? 'update' : 'micro'}:${this.parity}:${this.accumulatorParity}`;
    const cached = this.feedCache.get(key);
    if (cached) return cached;
    const available: Record<string, ort.Tensor> = { ...this.shared };
    const outputs: Record<string, ort.Tensor> = {
      [this.spec.loss]: target.tensor('float32', this.lossBuffer, []),
      [this.spec.gradNorm]: target.tensor('float32', this.gradNormBuffer, []),
    };
    for (const { slot, buffers } of this.slotBuffers) {
      available[slot.name] = target.tensor('float32', buffers[this.parity], [slot.size]);
      outputs[slot.updatedName] = target.tensor('float32', buffers[1 - this.parity], [slot.size]);
    }
    for (const { name, updatedName, buffers } of this.accumulatorBuffers) {
      available[name] = target.tensor('float32', buffers[this.accumulatorParity], [buffers[0].length]);
      outputs[updatedName] = target.tensor('float32', buffers[1 - this.accumulatorParity], [
        buffers[0].length,
      ]);
    }
    const feeds = Object.fromEntries(target.inputNames.map((name) => [name, available[name]]));
    const fetches = Object.fromEntries(fetchNames.map((name) => [name, outputs[name]]));
    const entry: [Record<string, ort.Tensor>, Record<string, ort.Tensor>] = [feeds, fetches];
    this.feedCache.set(key, entry);
    return entry;
  }

  /** Returns the buffer of a batch input such as `input_ids`, to fill before calling `runStep`. */
  inputBuffer(name: string): TensorData {
    const buffer = this.inputBuffers.get(name);
    if (!buffer) {
      throw new Error(
        `TrainingSession: no input named "${name}"; inputs: ${[...this.inputBuffers.keys()].join(', ')}.`,
      );
    }
    return buffer;
  }

  /** Runs one optimizer step with learning rate `learningRate` on the batch currently in the input buffers. */
  async runStep(learningRate: number): Promise<StepResult> {
    if (this.microSession) {
      throw new Error(
        'TrainingSession: this graph accumulates gradients; call runMicroStep for each micro-batch, then applyUpdate.',
      );
    }
    this.scalars.learningRate[0] = learningRate;
    this.scalars.stepNumber[0] = this.step + 1;
    this.scalars.lossScale[0] = this.lossScaler?.scale ?? 1;
    const [feeds, fetches] = this.feedsFor(this.session, this.session.outputNames);
    await this.session.run(feeds, fetches);
    const skipped = this.finishUpdate();
    return { loss: this.lossBuffer[0], gradNorm: this.gradNormBuffer[0], skipped };
  }

  /**
   * Makes the values the update wrote the current ones, or, when loss scaling found a non-finite gradient,
   * keeps the current ones and lowers the scale. Returns whether the step was skipped.
   */
  private finishUpdate(): boolean {
    const overflow = this.lossScaler !== undefined && !Number.isFinite(this.gradNormBuffer[0]);
    this.lossScaler?.update(overflow);
    if (overflow) return true;
    this.parity = 1 - this.parity;
    this.step += 1;
    return false;
  }

  /** Adds the gradient of the batch in the input buffers to the accumulators and returns its loss. */
  async runMicroStep(): Promise<number> {
    if (!this.microSession)
      throw new Error('TrainingSession: this graph does not accumulate gradients; call runStep.');
    this.scalars.lossScale[0] = this.lossScaler?.scale ?? 1;
    const [feeds, fetches] = this.feedsFor(this.microSession, this.microSession.outputNames);
    await this.microSession.run(feeds, fetches);
    this.accumulatorParity = 1 - this.accumulatorParity;
    this.microSteps += 1;
    return this.lossBuffer[0];
  }

  /**
   * Applies the optimizer to the mean accumulated gradient and clears the accumulators. With loss scaling, a
   * non-finite mean gradient skips the update as `runStep` does.
   */
  async applyUpdate(learningRate: number): Promise<{ gradNorm: number; skipped: boolean }> {
    if (!this.microSession)
      throw new Error('TrainingSession: this graph does not accumulate gradients; call runStep.');
    if (this.microSteps !== this.spec.accumulationSteps) {
      throw new Error(
        `TrainingSession: ${this.microSteps} micro-steps ran, but the graph averages ${this.spec.accumulationSteps}; run exactly that many before applyUpdate.`,
      );
    }
    this.scalars.learningRate[0] = learningRate;
    this.scalars.stepNumber[0] = this.step + 1;
    const [feeds, fetches] = this.feedsFor(this.session, this.session.outputNames);
    await this.session.run(feeds, fetches);
    const skipped = this.finishUpdate();
    this.microSteps = 0;
    for (const { buffers } of this.accumulatorBuffers) buffers[this.accumulatorParity].fill(0);
    return { gradNorm: this.gradNormBuffer[0], skipped };
  }

  /** Current values of every parameter (trainable and frozen), as views of the live buffers. */
  parameters(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, view] of this.views('parameter')) out.set(name, view);
    for (const [name, data] of this.frozenBuffers) out.set(name, data);
    return out;
  }

  /**
   * Current optimizer state, one tensor per parameter and kind, keyed `optimizer.<parameter>.<kind>` with
   * PyTorch's state names (`exp_avg`, `exp_avg_sq`, `momentum_buffer`); views of the live buffers.
   */
  optimizerState(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const { slot } of this.slotBuffers) {
      if (slot.kind === 'parameter') continue;
      for (const [name, view] of this.views(slot.kind)) out.set(`optimizer.${name}.${slot.kind}`, view);
    }
    return out;
  }

  /**
   * Returns the trainable parameters as they were before the last step, as views of the other half of the
   * double buffer. The views are valid until the next step; with `parameters()` they give update norms without copying.
   */
  previousParameters(): Map<string, Float32Array> {
    return this.views('parameter', 1 - this.parity);
  }

  private views(kind: StateSlot['kind'], parity = this.parity): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const { slot, buffers } of this.slotBuffers) {
      if (slot.kind !== kind) continue;
      const buffer = buffers[parity];
      for (const m of slot.members) out.set(m.parameter, buffer.subarray(m.offset, m.offset + m.size));
    }
    return out;
  }

  /**
   * Copies values into parameters (by parameter name) or optimizer state (by `optimizer.<parameter>.<kind>`).
   * Every name must exist and every size must match.
   */
  load(values: ReadonlyMap<string, Float32Array>): void {
    const targets = new Map([...this.parameters(), ...this.optimizerState()]);
    for (const [name, data] of values) {
      const target = targets.get(name);
      if (!target) {
        throw new Error(
          `TrainingSession: no parameter or optimizer state named "${name}"; check the checkpoint matches the model.`,
        );
      }
      if (target.length !== data.length) {
        throw new Error(`TrainingSession: "${name}" has ${data.length} values, expected ${target.length}.`);
      }
      target.set(data);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.microSession?.release();
  }
}

function allocate(dtype: DType, size: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int64':
      return new BigInt64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
    case 'float16':
      return new Uint16Array(size);
  }
}
