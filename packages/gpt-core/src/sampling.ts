import type { Rng } from '@glassbox/graph';

export interface SamplingOptions {
  /** Divides the logits before the softmax; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keeps only the k most likely tokens; 0 or undefined keeps all. */
  topK?: number;
  /** Keeps the smallest set of most likely tokens whose probability reaches p (nucleus sampling); 1 keeps all. */
  topP?: number;
}

/** Index of the largest logit; the first one wins ties, as `torch.argmax` does. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * Probabilities after temperature, top-k and top-p filtering, computed in float64 with the maximum
 * subtracted first so that extreme logits stay finite. Filtered tokens get probability 0.
 */
export function samplingProbabilities(
  logits: ArrayLike<number>,
  options: SamplingOptions = {},
): Float64Array {
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0))
    throw new Error(
      `sampling: temperature must be positive (use greedy decoding for 0), got ${temperature}.`,
    );
  const n = logits.length;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = logits[i] / temperature;

  const topK = options.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0)
    throw new Error(`sampling: topK must be a non-negative integer, got ${topK}.`);
  if (topK > 0 && topK < n) {
    // As nanoGPT: every logit below the k-th largest is removed (ties with the k-th are kept).
    const kth = Float64Array.from(scaled).sort()[n - topK];
    for (let i = 0; i < n; i++) if (scaled[i] < kth) scaled[i] = Number.NEGATIVE_INFINITY;
  }

  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (scaled[i] > max) max = scaled[i];
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = scaled[i] === Number.NEGATIVE_INFINITY ? 0 : Math.exp(scaled[i] - max);
    sum += probs[i];
  }
  for (let i = 0; i < n; i++) probs[i] /= sum;

  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampling: topP must be in (0, 1], got ${topP}.`);
  if (topP < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    let cumulative = 0;
    let kept = 0;
    // Keep tokens until the cumulative probability reaches topP; the token that crosses it is kept.
    while (kept < n && cumulative < topP) cumulative += probs[order[kept++]];
    let keptSum = 0;
    for (let r = kept; r < n; r++) probs[order[r]] = 0;
    for (let i = 0; i < n; i++) keptSum += probs[i];
    for (let i = 0; i < n; i++) probs[i] /= keptSum;
  }
  return probs;
}

/** Draws the next token from logits; greedy when `temperature` is 0. */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, options: SamplingOptions = {}): number {
  if (options.temperature === 0) return argmax(logits);
  return rng.categorical(samplingProbabilities(logits, options));
}
