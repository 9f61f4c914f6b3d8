import {
  buildCourseModel,
  type CourseModelConfig,
  courseModelParameterShapes,
  initCourseModelParameters,
} from '@glassbox/gpt-core';
import { addTrainingStep, Graph, GraphSession, Rng, TrainingSession, toOnnx } from '@glassbox/graph';

/** Input and target windows of a token stream. Row i of `targets` is row i of `inputs` shifted one token ahead. */
export interface TokenWindows {
  inputs: number[][];
  targets: number[][];
}

/** Settings of a course-model training run with AdamW, as torch.optim.AdamW with its default betas. */
export interface CourseTrainingOptions {
  /** Sequences per step. */
  batchSize: number;
  /** Tokens per sequence. */
  length: number;
  learningRate: number;
  /** AdamW weight decay, applied to every parameter as PyTorch does without parameter groups. */
  weightDecay: number;
  seed: number;
  /** Start values that replace the initialization of these parameters, such as pretrained embeddings. */
  initialValues?: ReadonlyMap<string, Float32Array>;
  /** Parameters that keep their start values, as `requires_grad = False` does. */
  frozen?: ReadonlySet<string>;
}

/**
 * A course model (Model 1 to 5) compiled for training with AdamW and for loss evaluation. The model starts
 * from `initCourseModelParameters(config, new Rng(seed))`, so runs with the same seed start alike.
 */
export class CourseModelTrainer {
  private constructor(
    readonly config: CourseModelConfig,
    private readonly options: CourseTrainingOptions,
    private readonly session: TrainingSession,
    private readonly evaluator: GraphSession,
  ) {}

  static async create(
    config: CourseModelConfig,
    options: CourseTrainingOptions,
  ): Promise<CourseModelTrainer> {
    const frozen = options.frozen ?? new Set<string>();
    const shapes = courseModelParameterShapes(config);
    for (const name of frozen) {
      if (!shapes.has(name)) {
        throw new Error(
          `cannot freeze "${name}": Model ${config.model} has parameters ${[...shapes.keys()].join(', ')}.`,
        );
      }
    }
    const g = new Graph(`model${config.model}-train`);
    const inputIds = g.input('input_ids', 'int64', [options.batchSize, options.length]);
    const targets = g.input('targets', 'int64', [options.batchSize, options.length]);
    const loss = g.crossEntropy(buildCourseModel(g, config, { inputIds }).logits, targets);
    const spec = addTrainingStep(g, loss, {
      optimizer: { type: 'adamw', weightDecay: options.weightDecay },
      parameterSettings: (parameter) => ({ frozen: frozen.has(parameter.name) }),
    });
    const session = await TrainingSession.create(g, spec);

    const e = new Graph(`model${config.model}-loss`);
    const evalIds = e.input('input_ids', 'int64', ['batch', 'sequence']);
    const evalTargets = e.input('targets', 'int64', ['batch', 'sequence']);
    e.output('loss', e.crossEntropy(buildCourseModel(e, config, { inputIds: evalIds }).logits, evalTargets));
    const evaluator = await GraphSession.create(toOnnx(e));

    const start = initCourseModelParameters(config, new Rng(options.seed));
    for (const [name, values] of options.initialValues ?? []) {
      const expected = start.get(name);
      if (expected === undefined || expected.length !== values.length) {
        throw new Error(
          `the start value of "${name}" has ${values.length} numbers; Model ${config.model} needs ${expected?.length ?? 'no such parameter'}.`,
        );
      }
      start.set(name, Float32Array.from(values));
    }
    session.load(start);
    return new CourseModelTrainer(config, options, session, evaluator);
  }

  /** Current parameter values; the arrays are views that later steps overwrite. */
  parameters(): Map<string, Float32Array> {
    return this.session.parameters();
  }

  /** Runs one AdamW step on `batchSize` windows and returns the batch's loss before the update. */
  async step(batch: TokenWindows): Promise<number> {
    const x = this.session.inputBuffer('input_ids') as BigInt64Array;
    const y = this.session.inputBuffer('targets') as BigInt64Array;
    const { batchSize, length } = this.options;
    if (batch.inputs.length !== batchSize) {
      throw new Error(`a training batch needs ${batchSize} windows, got ${batch.inputs.length}.`);
    }
    for (let row = 0; row < batchSize; row++) {
      for (let t = 0; t < length; t++) {
        x[row * length + t] = BigInt(batch.inputs[row][t]);
        y[row * length + t] = BigInt(batch.targets[row][t]);
      }
    }
    return (await this.session.runStep(this.options.learningRate)).loss;
  }

  /** Mean cross-entropy over `windows` with the current parameters, in chunks of `chunk` windows. */
  async meanLoss(windows: TokenWindows, chunk = 32): Promise<number> {
    const parameters = this.session.parameters();
    const feeds: Record<string, ReturnType<GraphSession['tensor']>> = {};
    for (const [name, shape] of courseModelParameterShapes(this.config)) {
      feeds[name] = this.evaluator.tensor('float32', parameters.get(name)!, shape);
    }
    let total = 0;
    for (let first = 0; first < windows.inputs.length; first += chunk) {
      const inputs = windows.inputs.slice(first, first + chunk);
      const targets = windows.targets.slice(first, first + chunk);
      const dims = [inputs.length, inputs[0].length];
      feeds.input_ids = this.evaluator.tensor('int64', BigInt64Array.from(inputs.flat(), BigInt), dims);
      feeds.targets = this.evaluator.tensor('int64', BigInt64Array.from(targets.flat(), BigInt), dims);
      const result = await this.evaluator.run(feeds, ['loss']);
      total += (result.loss.data as Float32Array)[0] * inputs.length;
    }
    return total / windows.inputs.length;
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.evaluator.release();
  }
}

/** Cuts `ids` into windows of `length` inputs starting every `stride` tokens, as the course's TokenDataset. */
export function strideWindows(ids: readonly number[], length: number, stride: number): TokenWindows {
  const windows: TokenWindows = { inputs: [], targets: [] };
  for (let start = 0; start + length < ids.length; start += stride) {
    windows.inputs.push(ids.slice(start, start + length));
    windows.targets.push(ids.slice(start + 1, start + length + 1));
  }
  return windows;
}

/** Picks the windows at `indices`. */
export function selectWindows(windows: TokenWindows, indices: ArrayLike<number>): TokenWindows {
  const picked: TokenWindows = { inputs: [], targets: [] };
  for (let i = 0; i < indices.length; i++) {
    picked.inputs.push(windows.inputs[indices[i]]);
    picked.targets.push(windows.targets[indices[i]]);
  }
  return picked;
}

/** Draws `count` windows of `length` inputs at random starts in `ids`, as the course's get_data_batch. */
export function randomWindows(ids: readonly number[], count: number, length: number, rng: Rng): TokenWindows {
  const windows: TokenWindows = { inputs: [], targets: [] };
  for (let i = 0; i < count; i++) {
    const start = rng.randint(0, ids.length - length - 1);
    windows.inputs.push(ids.slice(start, start + length));
    windows.targets.push(ids.slice(start + 1, start + length + 1));
  }
  return windows;
}
