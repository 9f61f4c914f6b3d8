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
 */
export class TrainingSession {
  private parity = 0;
  private readonly feeds: [Record<string, ort.Tensor>, Record<string, ort.Tensor>];
  private readonly fetches: [Record<string, ort.Tensor>, Record<string, ort.Tensor>];
  private readonly scalars = { learningRate: new Float32Array(1), stepNumber: new Float32Array(1) };
  private readonly lossBuffer = new Float32Array(1);
  private readonly gradNormBuffer = new Float32Array(1);
  private readonly slotBuffers: SlotBuffers[];
  private readonly frozenBuffers = new Map<string, Float32Array>();
  private readonly inputBuffers = new Map<string, TensorData>();
  /** Number of optimizer steps taken so far. */
  step = 0;

  private constructor(
    readonly session: GraphSession,
    readonly spec: TrainingStepSpec,
    graph: Graph,
  ) {
    this.slotBuffers = spec.slots.map((slot) => ({
      slot,
      buffers: [new Float32Array(slot.size), new Float32Array(slot.size)],
    }));
    const shared: Record<string, ort.Tensor> = {};
    shared[spec.learningRate] = session.tensor('float32', this.scalars.learningRate, []);
    shared[spec.stepNumber] = session.tensor('float32', this.scalars.stepNumber, []);
    for (const name of spec.frozen) {
      const parameter = graph.parameters.find((p) => p.name === name)!;
      const data = new Float32Array(parameter.shape.reduce<number>((a, b) => a * (b as number), 1));
      this.frozenBuffers.set(name, data);
      shared[name] = session.tensor('float32', data, parameter.shape as number[]);
    }
    const slotNames = new Set(spec.slots.map((s) => s.name));
    for (const input of graph.inputs) {
      if (slotNames.has(input.name) || input.name === spec.learningRate || input.name === spec.stepNumber)
        continue;
      if (!session.inputNames.includes(input.name)) continue;
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
      shared[input.name] = session.tensor(input.dtype, data, dims);
    }
    const lossTensor = session.tensor('float32', this.lossBuffer, []);
    const normTensor = session.tensor('float32', this.gradNormBuffer, []);
    const makeSide = (side: 0 | 1) => {
      const feeds: Record<string, ort.Tensor> = { ...shared };
      const fetches: Record<string, ort.Tensor> = { [spec.loss]: lossTensor, [spec.gradNorm]: normTensor };
      for (const { slot, buffers } of this.slotBuffers) {
        feeds[slot.name] = session.tensor('float32', buffers[side], [slot.size]);
        fetches[slot.updatedName] = session.tensor('float32', buffers[1 - side], [slot.size]);
      }
      return [feeds, fetches] as const;
    };
    const [feeds0, fetches0] = makeSide(0);
    const [feeds1, fetches1] = makeSide(1);
    this.feeds = [feeds0, feeds1];
    this.fetches = [fetches0, fetches1];
  }

  /** Compiles the training graph. Parameters start at zero and optimizer state at zero until set. */
  static async create(
    graph: Graph,
    spec: TrainingStepSpec,
    options: SessionOptions = {},
  ): Promise<TrainingSession> {
    const outputs = [spec.loss, spec.gradNorm, ...spec.slots.map((s) => s.updatedName)];
    const model = toOnnx(graph, { outputs, packedParameters: spec.packedParameters });
    const session = await GraphSession.create(model, options);
    return new TrainingSession(session, spec, graph);
  }

  /** The buffer of a batch input such as `input_ids`; fill it before calling `runStep`. */
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
    this.scalars.learningRate[0] = learningRate;
    this.scalars.stepNumber[0] = this.step + 1;
    await this.session.run(this.feeds[this.parity], this.fetches[this.parity]);
    this.parity = 1 - this.parity;
    this.step += 1;
    return { loss: this.lossBuffer[0], gradNorm: this.gradNormBuffer[0] };
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
   * The trainable parameters as they were before the last step, as views of the other half of the double
   * buffer; valid until the next step. With `parameters()` this gives update norms without copying.
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
