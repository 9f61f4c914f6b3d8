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
}

export interface TrainingGraphOptions {
  optimizer: OptimizerConfig;
  /** Clips gradients to this global L2 norm, as `torch.nn.utils.clip_grad_norm_` does; 0 or undefined disables. */
  maxGradNorm?: number;
  parameterSettings?: (parameter: Tensor) => ParameterSettings;
}

/** One optimizer-state tensor: fed as input `name`, its updated value returned as output `updatedName`. */
export interface StateSlot {
  name: string;
  updatedName: string;
  shape: readonly number[];
  /** The parameter this slot belongs to, or the parameter itself. */
  parameter: string;
  kind: 'parameter' | 'exp_avg' | 'exp_avg_sq' | 'momentum_buffer';
}

/** What `addTrainingStep` added to a graph: the names to feed and fetch on every step. */
export interface TrainingStepSpec {
  loss: string;
  gradNorm: string;
  /** Scalar float input: the learning rate of this step. */
  learningRate: string;
  /** Scalar float input: the 1-based step number, used for Adam's bias correction and SGD's first step. */
  stepNumber: string;
  /** Parameters and optimizer state that the step updates, in a fixed order. */
  slots: StateSlot[];
  /** Parameters that are fed but never updated. */
  frozen: string[];
  optimizer: OptimizerConfig;
}

export const updatedName = (name: string) => `${name}.updated`;

/**
 * Appends one training step to `graph`: the backward pass of `loss`, global-norm clipping and the optimizer
 * update, so that a single run computes the loss and every updated parameter and state tensor.
 */
export function addTrainingStep(graph: Graph, loss: Tensor, options: TrainingGraphOptions): TrainingStepSpec {
  if (loss.rank !== 0) throw new Error(`addTrainingStep: the loss must be a scalar, got ${loss}.`);
  const settings = graph.parameters.map((p) => ({ parameter: p, ...(options.parameterSettings?.(p) ?? {}) }));
  const trainable = settings.filter((s) => !s.frozen);
  const frozen = settings.filter((s) => s.frozen).map((s) => s.parameter.name);
  if (trainable.length === 0) throw new Error('addTrainingStep: every parameter is frozen, so there is nothing to train.');

  const learningRate = graph.input('learning_rate', 'float32', []);
  const stepNumber = graph.input('step_number', 'float32', []);
  let grads = graph.scope('backward', () => grad(loss, trainable.map((s) => s.parameter)));

  // Global L2 norm over all trainable gradients, reported before clipping.
  const squares = grads.map((g) => graph.reduceSum(graph.mul(g, g)));
  const sumSquares = squares.reduce((acc, s) => graph.add(acc, s));
  const gradNorm = graph.sqrt(sumSquares);
  const maxNorm = options.maxGradNorm ?? 0;
  if (maxNorm > 0) {
    // clip_coef = min(1, max_norm / (total_norm + 1e-6)), exactly as torch.nn.utils.clip_grad_norm_.
    const coefficient = graph.minimum(graph.div(maxNorm, graph.add(gradNorm, 1e-6)), 1);
    grads = grads.map((g) => graph.mul(g, coefficient));
  }

  graph.output('loss', loss);
  graph.output('grad_norm', gradNorm);
  const slots: StateSlot[] = [];
  const optimizer = options.optimizer;
  trainable.forEach((setting, i) => {
    const p = setting.parameter;
    const shape = p.shape as number[];
    const state = (kind: StateSlot['kind']) => {
      const name = `optimizer.${p.name}.${kind}`;
      slots.push({ name, updatedName: updatedName(name), shape, parameter: p.name, kind });
      return graph.input(name, 'float32', shape);
    };
    slots.push({ name: p.name, updatedName: updatedName(p.name), shape, parameter: p.name, kind: 'parameter' });
    const weightDecay = setting.weightDecay ?? optimizer.weightDecay ?? 0;
    graph.scope(`optimizer.${p.name}`, () => {
      const updates =
        optimizer.type === 'sgd'
          ? sgdUpdate(graph, p, grads[i], weightDecay, optimizer, learningRate, stepNumber, state)
          : adamUpdate(graph, p, grads[i], weightDecay, optimizer, learningRate, stepNumber, state);
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
    optimizer,
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
