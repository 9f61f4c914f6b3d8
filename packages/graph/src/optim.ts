import { grad } from './autodiff.js';
import type { Graph, Tensor } from './graph.js';

/**
 * Optimizers with PyTorch's semantics (torch.optim, version 2.x):
 * - `sgd`: weight decay added to the gradient, momentum buffer initialized to the first gradient, optional
 *   dampening and Nesterov momentum.
 * - `adam`: weight decay added to the gradient (L2), bias-corrected moments.
 * - `adamw`: decoupled weight decay `p -= lr * weightDecay * p` before the Adam step.
 */
export type OptimizerConfig =
  | { type: 'sgd'; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }
  | { type: 'adam' | 'adamw'; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

/** Per-parameter choices, as PyTorch's parameter groups give them. */
export interface ParameterSettings {
  /** A frozen parameter is fed to the graph but never updated and gets no optimizer state. */
  frozen?: boolean;
  /** Overrides the optimizer's weight decay for this parameter (0 for biases and norms, as nanoGPT does). */
  weightDecay?: number;
  /** Multiplies the learning rate for this parameter, as a PyTorch parameter group's own `lr` would. */
  learningRateScale?: number;
}

export interface TrainingGraphOptions {
  optimizer: OptimizerConfig;
  /** Clips gradients to this global L2 norm, as `torch.nn.utils.clip_grad_norm_` does; 0 or undefined disables. */
  maxGradNorm?: number;
  parameterSettings?: (parameter: Tensor) => ParameterSettings;
  /**
   * Micro-batches whose gradients are averaged before one update. Above 1 the graph computes gradients per
   * micro-batch into accumulators and the update runs separately; see `TrainingSession`.
   */
  accumulationSteps?: number;
  /**
   * Adds a scalar input `loss_scale`: the backward pass starts from it instead of 1 and the gradients are
   * divided by it before clipping and the update, as `torch.cuda.amp.GradScaler` does. Float16 gradients that
   * would underflow survive at a large scale, and an overflow shows as a non-finite gradient norm, on which
   * `TrainingSession` skips the step and lowers the scale.
   */
  lossScaling?: boolean;
}

/** A packed gradient accumulator: fed as `name`, returned with the micro-batch's gradient added as `updatedName`. */
export interface AccumulatorSlot {
  name: string;
  updatedName: string;
  size: number;
}

/** The location of one parameter inside a packed group vector. */
export interface PackedMember {
  parameter: string;
  shape: readonly number[];
  /** Element offset into the group vector. */
  offset: number;
  size: number;
}

/**
 * One packed vector: a group of parameters with the same weight decay, or the optimizer state of such a
 * group. It is fed as input `name` and its updated value is returned as output `updatedName`.
 */
export interface StateSlot {
  name: string;
  updatedName: string;
  size: number;
  kind: 'parameter' | 'exp_avg' | 'exp_avg_sq' | 'momentum_buffer';
  members: readonly PackedMember[];
}

/** The inputs and outputs that `addTrainingStep` added to a graph, to feed and fetch on every step. */
export interface TrainingStepSpec {
  loss: string;
  gradNorm: string;
  /** Scalar float input: the learning rate of this step. */
  learningRate: string;
  /** Scalar float input: the 1-based step number, used for Adam's bias correction and SGD's first step. */
  stepNumber: string;
  /** Packed parameter groups and their optimizer state, in a fixed order. */
  slots: StateSlot[];
  /** Parameters that are fed but never updated. */
  frozen: string[];
  /** The location of each trainable parameter, for `toOnnx({ packedParameters })`. */
  packedParameters: Map<string, { source: string; offset: number }>;
  optimizer: OptimizerConfig;
  /** Micro-batches per update (1 when gradients are not accumulated). */
  accumulationSteps: number;
  /** Gradient accumulators, one per group, when `accumulationSteps` is above 1. */
  accumulators: AccumulatorSlot[];
  /** Scalar float input that the backward pass is scaled by, with `lossScaling`; undefined without it. */
  lossScale?: string;
}

export const updatedName = (name: string) => `${name}.updated`;

const OPTIMIZER_KEYS = {
  sgd: ['type', 'momentum', 'dampening', 'nesterov', 'weightDecay'],
  adam: ['type', 'beta1', 'beta2', 'eps', 'weightDecay'],
  adamw: ['type', 'beta1', 'beta2', 'eps', 'weightDecay'],
} as const;

/**
 * Throws on an optimizer configuration that torch.optim rejects (a negative momentum, epsilon or weight decay,
 * a beta outside [0, 1), Nesterov without momentum or with dampening), on an unknown type and on a misspelled
 * key, which would otherwise be ignored.
 */
export function validateOptimizer(optimizer: OptimizerConfig): void {
  if (typeof optimizer !== 'object' || optimizer === null) {
    throw new Error(
      `optimizer must be an object such as { type: 'adamw' }, got ${JSON.stringify(optimizer)}.`,
    );
  }
  const type = optimizer.type;
  if (!Object.hasOwn(OPTIMIZER_KEYS, type)) {
    throw new Error(`optimizer type must be "sgd", "adam" or "adamw", got ${JSON.stringify(type)}.`);
  }
  const allowed: readonly string[] = OPTIMIZER_KEYS[type];
  const unknown = Object.keys(optimizer).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new Error(
      `optimizer ${type} has unknown option ${unknown.map((key) => JSON.stringify(key)).join(', ')}. Valid options: ${allowed.slice(1).join(', ')}.`,
    );
  }
  const check = (key: string, value: number | undefined, valid: (v: number) => boolean, range: string) => {
    if (value !== undefined && (typeof value !== 'number' || !valid(value))) {
      throw new Error(`optimizer ${type}: ${key} must be ${range}, got ${JSON.stringify(value) ?? value}.`);
    }
  };
  const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;
  check('weightDecay', optimizer.weightDecay, nonNegative, 'a finite number >= 0');
  if (optimizer.type === 'sgd') {
    check('momentum', optimizer.momentum, nonNegative, 'a finite number >= 0');
    check('dampening', optimizer.dampening, Number.isFinite, 'a finite number');
    if (optimizer.nesterov !== undefined && typeof optimizer.nesterov !== 'boolean') {
      throw new Error(
        `optimizer sgd: nesterov must be true or false, got ${JSON.stringify(optimizer.nesterov)}.`,
      );
    }
    if (optimizer.nesterov && (!(optimizer.momentum ?? 0) || (optimizer.dampening ?? 0) !== 0)) {
      throw new Error(
        `optimizer sgd: Nesterov momentum requires momentum > 0 and dampening 0, got momentum ${optimizer.momentum ?? 0} and dampening ${optimizer.dampening ?? 0}.`,
      );
    }
    return;
  }
  const beta = (v: number) => Number.isFinite(v) && v >= 0 && v < 1;
  check('beta1', optimizer.beta1, beta, 'in [0, 1)');
  check('beta2', optimizer.beta2, beta, 'in [0, 1)');
  check('eps', optimizer.eps, nonNegative, 'a finite number >= 0');
}

/**
 * Appends one training step to `graph`: the backward pass of `loss`, global-norm clipping and the optimizer
 * update, so that a single run computes the loss and every updated parameter and state vector.
 *
 * Trainable parameters are packed into one 1-D vector per weight-decay value (serialize the graph with
 * `toOnnx(graph, { packedParameters: spec.packedParameters })`), so the update is a handful of element-wise
 * ops over long vectors rather than a dozen small ops per tensor.
 */
export function addTrainingStep(graph: Graph, loss: Tensor, options: TrainingGraphOptions): TrainingStepSpec {
  if (loss.rank !== 0) throw new Error(`addTrainingStep: the loss must be a scalar, got ${loss}.`);
  const optimizer = options.optimizer;
  validateOptimizer(optimizer);
  const maxGradNorm = options.maxGradNorm ?? 0;
  if (!Number.isFinite(maxGradNorm) || maxGradNorm < 0) {
    throw new Error(
      `addTrainingStep: maxGradNorm must be a finite number >= 0 (0 disables clipping), got ${maxGradNorm}.`,
    );
  }
  const settings = graph.parameters.map((p) => ({ parameter: p, ...(options.parameterSettings?.(p) ?? {}) }));
  const trainable = settings.filter((s) => !s.frozen);
  const frozen = settings.filter((s) => s.frozen).map((s) => s.parameter.name);
  if (trainable.length === 0)
    throw new Error('addTrainingStep: every parameter is frozen, so there is nothing to train.');

  const accumulationSteps = options.accumulationSteps ?? 1;
  if (!Number.isInteger(accumulationSteps) || accumulationSteps < 1) {
    throw new Error(
      `addTrainingStep: accumulationSteps must be a positive integer, got ${accumulationSteps}.`,
    );
  }

  // Group by weight decay and learning-rate scale, keeping the declaration order within each group.
  const groups = new Map<string, { decay: number; lrScale: number; params: Tensor[] }>();
  for (const s of trainable) {
    const decay = s.weightDecay ?? optimizer.weightDecay ?? 0;
    const lrScale = s.learningRateScale ?? 1;
    const key = `${decay}|${lrScale}`;
    const group = groups.get(key) ?? { decay, lrScale, params: [] };
    group.params.push(s.parameter);
    groups.set(key, group);
  }

  const learningRate = graph.input('learning_rate', 'float32', []);
  const stepNumber = graph.input('step_number', 'float32', []);
  const ordered = [...groups.values()].flatMap((group) => group.params);
  const lossScale = options.lossScaling ? graph.input('loss_scale', 'float32', []) : undefined;
  const grads = graph.scope('backward', () => grad(loss, ordered, lossScale));
  const gradOf = new Map(ordered.map((p, i) => [p.name, grads[i]]));

  const slots: StateSlot[] = [];
  const packedParameters = new Map<string, { source: string; offset: number }>();
  const groupGrads: Tensor[] = [];
  const groupInputs: { decay: number; lrScale: number; members: PackedMember[]; params: Tensor }[] = [];
  const accumulators: AccumulatorSlot[] = [];
  [...groups.values()].forEach(({ decay, lrScale, params }, index) => {
    const members: PackedMember[] = [];
    let offset = 0;
    for (const p of params) {
      const shape = p.shape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      members.push({ parameter: p.name, shape, offset, size });
      offset += size;
    }
    const name = `parameters.group${index}`;
    const packed = graph.input(name, 'float32', [offset]);
    slots.push({ name, updatedName: updatedName(name), size: offset, kind: 'parameter', members });
    for (const m of members) packedParameters.set(m.parameter, { source: name, offset: m.offset });
    const flatGrads = params.map((p) => graph.reshape(gradOf.get(p.name)!, [-1]));
    const scaledGrad = flatGrads.length === 1 ? flatGrads[0] : graph.concat(flatGrads, 0);
    const groupGrad = lossScale ? graph.div(scaledGrad, lossScale) : scaledGrad;
    if (accumulationSteps > 1) {
      // Micro-steps add their gradient to the accumulator; the update reads the mean of the accumulated sum.
      const accumulatorName = `gradients.group${index}`;
      const accumulator = graph.input(accumulatorName, 'float32', [offset]);
      graph.output(updatedName(accumulatorName), graph.add(accumulator, groupGrad));
      accumulators.push({ name: accumulatorName, updatedName: updatedName(accumulatorName), size: offset });
      groupGrads.push(graph.div(accumulator, accumulationSteps));
    } else {
      groupGrads.push(groupGrad);
    }
    groupInputs.push({ decay, lrScale, members, params: packed });
  });

  // Global L2 norm over all trainable gradients, reported before clipping.
  const squares = groupGrads.map((g) => graph.reduceSum(graph.mul(g, g)));
  const gradNorm = graph.sqrt(squares.reduce((acc, s) => graph.add(acc, s)));
  let clipped = groupGrads;
  if (maxGradNorm > 0) {
    // clip_coef = min(1, max_norm / (total_norm + 1e-6)), exactly as torch.nn.utils.clip_grad_norm_.
    const coefficient = graph.minimum(graph.div(maxGradNorm, graph.add(gradNorm, 1e-6)), 1);
    clipped = groupGrads.map((g) => graph.mul(g, coefficient));
  }

  graph.output('loss', loss);
  graph.output('grad_norm', gradNorm);
  groupInputs.forEach(({ decay, lrScale, members, params }, index) => {
    const state = (kind: StateSlot['kind']) => {
      const name = `optimizer.group${index}.${kind}`;
      slots.push({
        name,
        updatedName: updatedName(name),
        size: members.reduce((a, m) => a + m.size, 0),
        kind,
        members,
      });
      return graph.input(name, 'float32', [params.shape[0]]);
    };
    graph.scope(`optimizer.group${index}`, () => {
      const lr = lrScale === 1 ? learningRate : graph.mul(learningRate, lrScale);
      const updates =
        optimizer.type === 'sgd'
          ? sgdUpdate(graph, params, clipped[index], decay, optimizer, lr, stepNumber, state)
          : adamUpdate(graph, params, clipped[index], decay, optimizer, lr, stepNumber, state);
      for (const [name, value] of updates) graph.output(updatedName(name), value);
    });
  });

  return {
    loss: 'loss',
    gradNorm: 'grad_norm',
    learningRate: learningRate.name,
    stepNumber: stepNumber.name,
    slots,
    frozen,
    packedParameters,
    optimizer,
    accumulationSteps,
    accumulators,
    lossScale: lossScale?.name,
  };
}

type StateFactory = (kind: StateSlot['kind']) => Tensor;

function sgdUpdate(
  graph: Graph,
  p: Tensor,
  g: Tensor,
  weightDecay: number,
  config: Extract<OptimizerConfig, { type: 'sgd' }>,
  lr: Tensor,
  step: Tensor,
  state: StateFactory,
): [string, Tensor][] {
  const momentum = config.momentum ?? 0;
  const dampening = config.dampening ?? 0;
  let d = weightDecay !== 0 ? graph.add(g, graph.mul(p, weightDecay)) : g;
  const updates: [string, Tensor][] = [];
  if (momentum !== 0) {
    const buffer = state('momentum_buffer');
    // PyTorch starts the buffer at the first gradient itself, undamped.
    const running = graph.add(graph.mul(buffer, momentum), graph.mul(d, 1 - dampening));
    const next = graph.where(graph.equal(step, 1), d, running);
    updates.push([buffer.name, next]);
    d = config.nesterov ? graph.add(d, graph.mul(next, momentum)) : next;
  }
  updates.unshift([p.name, graph.sub(p, graph.mul(d, lr))]);
  return updates;
}

function adamUpdate(
  graph: Graph,
  p: Tensor,
  g: Tensor,
  weightDecay: number,
  config: Extract<OptimizerConfig, { type: 'adam' | 'adamw' }>,
  lr: Tensor,
  step: Tensor,
  state: StateFactory,
): [string, Tensor][] {
  const beta1 = config.beta1 ?? 0.9;
  const beta2 = config.beta2 ?? 0.999;
  const eps = config.eps ?? 1e-8;
  const expAvg = state('exp_avg');
  const expAvgSq = state('exp_avg_sq');
  let param = p;
  let gradient = g;
  if (weightDecay !== 0) {
    if (config.type === 'adamw') param = graph.mul(p, graph.sub(1, graph.mul(lr, weightDecay)));
    else gradient = graph.add(g, graph.mul(p, weightDecay));
  }
  const m = graph.add(graph.mul(expAvg, beta1), graph.mul(gradient, 1 - beta1));
  const v = graph.add(graph.mul(expAvgSq, beta2), graph.mul(graph.mul(gradient, gradient), 1 - beta2));
  const biasCorrection1 = graph.sub(1, graph.pow(graph.constant(beta1), step));
  const biasCorrection2 = graph.sub(1, graph.pow(graph.constant(beta2), step));
  // torch.optim.AdamW (non-fused): denom = sqrt(v) / sqrt(bc2) + eps; p -= (lr / bc1) * m / denom.
  const denom = graph.add(graph.div(graph.sqrt(v), graph.sqrt(biasCorrection2)), eps);
  const stepSize = graph.div(lr, biasCorrection1);
  const updated = graph.sub(param, graph.mul(stepSize, graph.div(m, denom)));
  return [
    [p.name, updated],
    [expAvg.name, m],
    [expAvgSq.name, v],
  ];
}
