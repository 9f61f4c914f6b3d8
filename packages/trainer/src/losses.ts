import type { Graph, Tensor } from '@glassbox/graph';

/**
 * Losses built from graph ops, so their gradients come from the same autodiff as the model's. Reductions
 * follow `torch.nn.functional`: means over elements (over kept targets for cross-entropy and NLL).
 */

/**
 * Cross-entropy of logits [batch, seq, vocab] against targets [batch, seq]. `position: 'last'` scores only the
 * final position of each sequence, as a classifier or a next-token probe does.
 */
export function crossEntropyLoss(
  g: Graph,
  logits: Tensor,
  targets: Tensor,
  options: { position?: 'all' | 'last'; ignoreIndex?: number } = {},
): Tensor {
  if (options.position === 'last') {
    return g.crossEntropy(g.slice(logits, -2, -1), g.slice(targets, -1, -1), options.ignoreIndex ?? -100);
  }
  return g.crossEntropy(logits, targets, options.ignoreIndex ?? -100);
}

/** Negative log-likelihood of log-probabilities [..., classes] at integer targets [...] (`F.nll_loss`). */
export function nllLoss(g: Graph, logProbs: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
  const oneHot = g.apply('oneHot', [targets, logProbs], { ignoreIndex })[0];
  const kept = g.cast(g.not(g.equal(targets, g.constant(ignoreIndex, [], targets.dtype))), logProbs.dtype);
  const picked = g.reduceSum(g.mul(logProbs, oneHot), [-1]);
  return g.neg(g.div(g.reduceSum(g.mul(picked, kept)), g.reduceSum(kept)));
}

/**
 * KL divergence KL(target || model) from the model's log-probabilities and a target distribution over the last
 * axis, summed over classes and averaged over the other positions (`F.kl_div(..., reduction='batchmean')`
 * for 2-D inputs). Target entries of 0 contribute 0, as `xlogy` defines.
 */
export function klDivergenceLoss(g: Graph, logProbs: Tensor, targetProbs: Tensor): Tensor {
  const positive = g.greater(targetProbs, 0);
  const safeTarget = g.where(positive, targetProbs, 1);
  const terms = g.where(positive, g.mul(targetProbs, g.sub(g.log(safeTarget), logProbs)), 0);
  return g.reduceMean(g.reduceSum(terms, [-1]));
}

/** Mean absolute error (`F.l1_loss`). */
export function l1Loss(g: Graph, prediction: Tensor, target: Tensor): Tensor {
  return g.reduceMean(g.abs(g.sub(prediction, target)));
}

/** Mean squared error (`F.mse_loss`). */
export function mseLoss(g: Graph, prediction: Tensor, target: Tensor): Tensor {
  const diff = g.sub(prediction, target);
  return g.reduceMean(g.mul(diff, diff));
}

/**
 * A custom loss that teaches a language model to "like" a set of tokens: the mean over positions of
 * -log(sum of the probabilities of `liked`). Minimizing it moves probability mass onto those tokens, whatever
 * the text contains, as in the exercise that trains a model to like a letter.
 */
export function likedTokensLoss(g: Graph, logits: Tensor, liked: readonly number[]): Tensor {
  const vocab = logits.shape[logits.rank - 1];
  if (typeof vocab !== 'number') throw new Error('likedTokensLoss: the vocabulary dimension must be static.');
  for (const id of liked) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new Error(`likedTokensLoss: token id ${id} is outside the vocabulary [0, ${vocab}).`);
    }
  }
  const mask = new Array<number>(vocab).fill(0);
  for (const id of liked) mask[id] = 1;
  const probs = g.softmax(logits, -1);
  const likedProbability = g.reduceSum(g.mul(probs, g.constant(mask, [vocab])), [-1]);
  return g.neg(g.reduceMean(g.log(likedProbability)));
}
