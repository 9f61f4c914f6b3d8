/**
 * Incremental GPT-2 inference with a key/value cache, in the input and output layout of Hugging Face's
 * ONNX exports (`input_ids`, `attention_mask`, `position_ids`, `past_key_values.N.key/value` in,
 * `logits`, `present.N.key/value` out), and a generator that uses it for batched, left-padded prompts.
 */
import { Graph, GraphSession, type SessionOptions, type Tensor, toOnnx } from '@glassbox/graph';
import type * as ort from 'onnxruntime-common';
import { type GptConfig, gptParameterShapes } from './config.js';
import type { GenerateOptions } from './inference.js';
import { linear, mergeHeads, splitHeads } from './model.js';
import { sampleToken } from './sampling.js';

/** The most negative float32. Padded keys get this score instead of -Infinity, as transformers does. */
const FLOAT32_MIN = -3.4028234663852886e38;

export interface CachedGptGraphOptions {
  /** Computes logits for the last position only, as generation needs. The export keeps every position. */
  lastPositionOnly?: boolean;
}

export interface CachedGptGraph {
  /** Logits [batch, seq, vocab], or [batch, 1, vocab] with `lastPositionOnly`. */
  logits: Tensor;
  /** Keys and values of every position so far, [batch, nHead, past + seq, headDim], one pair per layer. */
  presents: { key: Tensor; value: Tensor }[];
  /** Parameters by Hugging Face name. */
  parameters: Map<string, Tensor>;
}

/** Graph input name of layer `layer`'s cached keys or values. */
export function pastName(layer: number, kind: 'key' | 'value'): string {
  return `past_key_values.${layer}.${kind}`;
}

/** Graph output name of layer `layer`'s keys or values after this step. */
export function presentName(layer: number, kind: 'key' | 'value'): string {
  return `present.${layer}.${kind}`;
}

/**
 * Builds the GPT-2 forward pass of one generation step into `g`, with the inputs and outputs named as
 * transformers.js expects. It computes the same function as `buildGpt` on the whole sequence. Keys and
 * values of earlier positions come from the `past_key_values` inputs, and the new positions' keys and
 * values are appended to them along the sequence axis. A score is masked by the causal mask (query i
 * attends to keys up to i + past) and where `attention_mask` is 0 (left padding).
 */
export function buildCachedGpt(
  g: Graph,
  config: GptConfig,
  options: CachedGptGraphOptions = {},
): CachedGptGraph {
  const { nLayer, nHead, nEmbd } = config;
  const headDim = nEmbd / nHead;
  const parameters = new Map<string, Tensor>();
  for (const [name, shape] of gptParameterShapes(config)) parameters.set(name, g.parameter(name, shape));
  const p = (name: string) => parameters.get(name)!;

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const pasts = Array.from({ length: nLayer }, (_, layer) => ({
    key: g.input(pastName(layer, 'key'), 'float32', ['batch_size', nHead, 'past_sequence_length', headDim]),
    value: g.input(pastName(layer, 'value'), 'float32', [
      'batch_size',
      nHead,
      'past_sequence_length',
      headDim,
    ]),
  }));

  // [batch, total] -> [batch, 1, 1, total], true where the key position is padding.
  const padded = g.unsqueeze(g.equal(attentionMask, 0), [1, 2]);

  let x = g.scope('embeddings', () =>
    g.add(g.gather(p('wte.weight'), inputIds), g.gather(p('wpe.weight'), positionIds)),
  );
  const presents: { key: Tensor; value: Tensor }[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const prefix = `h.${layer}`;
    x = g.scope(prefix, () => {
      const ln1 = g.layerNorm(
        x,
        p(`${prefix}.ln_1.weight`),
        p(`${prefix}.ln_1.bias`),
        config.layerNormEpsilon,
      );
      const qkv = linear(g, ln1, p(`${prefix}.attn.c_attn.weight`), p(`${prefix}.attn.c_attn.bias`));
      const [q, kNew, vNew] = splitHeads(g, qkv, nEmbd, nHead);
      const k = g.concat([pasts[layer].key, kNew], 2);
      const v = g.concat([pasts[layer].value, vNew], 2);
      presents.push({ key: k, value: v });

      const scores = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(headDim));
      // A finite minimum for padding keeps the rows of padding queries (all keys masked) free of NaN,
      // which would otherwise reach real rows through 0 * NaN in the next layer's attention.
      const masked = g.causalMask(g.where(padded, FLOAT32_MIN, scores));
      const heads = g.matmul(g.softmax(masked, -1), v);
      const merged = mergeHeads(g, heads, nEmbd);
      const attnOut = linear(g, merged, p(`${prefix}.attn.c_proj.weight`), p(`${prefix}.attn.c_proj.bias`));
      const afterAttn = g.add(x, attnOut);

      const ln2 = g.layerNorm(
        afterAttn,
        p(`${prefix}.ln_2.weight`),
        p(`${prefix}.ln_2.bias`),
        config.layerNormEpsilon,
      );
      const hidden = g.gelu(
        linear(g, ln2, p(`${prefix}.mlp.c_fc.weight`), p(`${prefix}.mlp.c_fc.bias`)),
        'tanh',
      );
      const mlpOut = linear(g, hidden, p(`${prefix}.mlp.c_proj.weight`), p(`${prefix}.mlp.c_proj.bias`));
      return g.add(afterAttn, mlpOut);
    });
  }

  let final = g.layerNorm(x, p('ln_f.weight'), p('ln_f.bias'), config.layerNormEpsilon);
  if (options.lastPositionOnly) final = g.slice(final, 1, -1);
  const logits = g.matmul(final, g.transpose(p('wte.weight'), [1, 0]));
  return { logits, presents, parameters };
}

/** Declares the outputs `logits` and `present.N.key/value` of a cached graph. */
export function addCachedGptOutputs(g: Graph, built: CachedGptGraph): void {
  g.output('logits', built.logits);
  built.presents.forEach(({ key, value }, layer) => {
    g.output(presentName(layer, 'key'), key);
    g.output(presentName(layer, 'value'), value);
  });
}

/**
 * Position ids for left-padded rows, as transformers computes them: the running count of unmasked
 * positions minus 1, and 1 at masked positions.
 */
export function positionIdsFromMask(mask: readonly number[]): number[] {
  let count = 0;
  return mask.map((m) => {
    if (m === 0) return 1;
    count += 1;
    return count - 1;
  });
}

export interface CachedGeneratorOptions extends SessionOptions {
  /**
   * Stores the weights in the ONNX model as initializers instead of feeding them on every run. ONNX Runtime
   * can then pre-pack the matrices, but later changes to the parameter buffers are not seen. Default false.
   */
  weightsAsInitializers?: boolean;
}

export interface BatchGenerateOptions extends Omit<GenerateOptions, 'onToken'> {
  /** Called with each new token id and the index of its prompt, as soon as it is sampled. */
  onToken?: (id: number, row: number) => void;
  /** The id fed at padded positions. Any id in the vocabulary works because those positions are masked. Default 0. */
  padTokenId?: number;
}

/** The result of one step: next-token logits per row and the updated cache. */
export interface CachedStepResult {
  /** Logits of the last position, one Float32Array of `vocabSize` values per row. */
  logits: Float32Array[];
  /** `present.N.key/value` tensors, to be fed as `past_key_values.N.key/value` in the next step. */
  cache: Record<string, ort.Tensor>;
}

/**
 * Greedy or sampled generation with a key/value cache: the prompt is run once and each later step runs
 * only the new token. Prompts of different lengths share a batch through left padding and an attention
 * mask. When a context would exceed `blockSize` tokens, the step is recomputed without the cache from
 * the last `blockSize` tokens, which gives the same tokens as `GptInference` (and nanoGPT's cropping).
 */
export class CachedGenerator {
  private readonly parameterFeeds: Record<string, ort.Tensor> = {};

  private constructor(
    readonly config: GptConfig,
    readonly session: GraphSession,
    parameters: ReadonlyMap<string, Float32Array> | undefined,
  ) {
    if (parameters) {
      for (const [name, shape] of gptParameterShapes(config)) {
        this.parameterFeeds[name] = session.tensor('float32', parameters.get(name)!, shape);
      }
    }
  }

  static async create(
    config: GptConfig,
    parameters: ReadonlyMap<string, Float32Array>,
    options: CachedGeneratorOptions = {},
  ): Promise<CachedGenerator> {
    for (const [name, shape] of gptParameterShapes(config)) {
      const data = parameters.get(name);
      if (!data) throw new Error(`CachedGenerator: missing parameter "${name}".`);
      const expected = shape.reduce((a, b) => a * b, 1);
      if (data.length !== expected) {
        throw new Error(
          `CachedGenerator: parameter "${name}" has ${data.length} values, expected ${expected} for shape [${shape}].`,
        );
      }
    }
    const g = new Graph('gpt-cached');
    addCachedGptOutputs(g, buildCachedGpt(g, config, { lastPositionOnly: true }));
    const { weightsAsInitializers, ...sessionOptions } = options;
    const model = toOnnx(g, weightsAsInitializers ? { initializers: parameters } : {});
    const session = await GraphSession.create(model, sessionOptions);
    return new CachedGenerator(config, session, weightsAsInitializers ? undefined : parameters);
  }

  get headDim(): number {
    return this.config.nEmbd / this.config.nHead;
  }

  /** Creates an empty cache (past length 0) for `batch` rows. */
  emptyCache(batch: number): Record<string, ort.Tensor> {
    const cache: Record<string, ort.Tensor> = {};
    const dims = [batch, this.config.nHead, 0, this.headDim];
    for (let layer = 0; layer < this.config.nLayer; layer++) {
      cache[pastName(layer, 'key')] = this.session.tensor('float32', new Float32Array(0), dims);
      cache[pastName(layer, 'value')] = this.session.tensor('float32', new Float32Array(0), dims);
    }
    return cache;
  }

  /**
   * Runs one step. `inputIds` and `positionIds` are [batch][seq], `attentionMask` is [batch][past + seq],
   * and `cache` contains the `past_key_values` of the previous step (or `emptyCache`).
   */
  async step(
    inputIds: readonly (readonly number[])[],
    attentionMask: readonly (readonly number[])[],
    positionIds: readonly (readonly number[])[],
    cache: Record<string, ort.Tensor>,
  ): Promise<CachedStepResult> {
    const { vocabSize, blockSize } = this.config;
    const batch = inputIds.length;
    const seq = inputIds[0]?.length ?? 0;
    if (batch === 0 || seq === 0) throw new Error('CachedGenerator.step: input_ids must not be empty.');
    const total = attentionMask[0].length;
    const past = cache[pastName(0, 'key')]?.dims[2];
    if (past === undefined) throw new Error('CachedGenerator.step: the cache has no past_key_values.0.key.');
    if (total !== past + seq) {
      throw new Error(
        `CachedGenerator.step: attention_mask has ${total} positions, expected past ${past} + sequence ${seq}.`,
      );
    }
    const flatIds = new BigInt64Array(batch * seq);
    const flatPositions = new BigInt64Array(batch * seq);
    const flatMask = new BigInt64Array(batch * total);
    for (let b = 0; b < batch; b++) {
      if (inputIds[b].length !== seq || positionIds[b].length !== seq || attentionMask[b].length !== total) {
        throw new Error(
          `CachedGenerator.step: row ${b} of input_ids, position_ids or attention_mask has another length.`,
        );
      }
      for (let t = 0; t < seq; t++) {
        const id = inputIds[b][t];
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new Error(`CachedGenerator: token id ${id} is outside the vocabulary [0, ${vocabSize}).`);
        }
        const position = positionIds[b][t];
        if (!Number.isInteger(position) || position < 0 || position >= blockSize) {
          throw new Error(
            `CachedGenerator: position id ${position} is outside [0, ${blockSize}); crop the context.`,
          );
        }
        flatIds[b * seq + t] = BigInt(id);
        flatPositions[b * seq + t] = BigInt(position);
      }
      for (let t = 0; t < total; t++) flatMask[b * total + t] = BigInt(attentionMask[b][t]);
    }
    const feeds: Record<string, ort.Tensor> = {
      ...this.parameterFeeds,
      ...cache,
      input_ids: this.session.tensor('int64', flatIds, [batch, seq]),
      attention_mask: this.session.tensor('int64', flatMask, [batch, total]),
      position_ids: this.session.tensor('int64', flatPositions, [batch, seq]),
    };
    const result = await this.session.run(feeds);
    const logitsData = result.logits.data as Float32Array;
    const logits = Array.from({ length: batch }, (_, b) =>
      logitsData.slice(b * vocabSize, (b + 1) * vocabSize),
    );
    const nextCache: Record<string, ort.Tensor> = {};
    for (let layer = 0; layer < this.config.nLayer; layer++) {
      for (const kind of ['key', 'value'] as const)
        nextCache[pastName(layer, kind)] = result[presentName(layer, kind)];
    }
    return { logits, cache: nextCache };
  }

  /**
   * Runs whole contexts with an empty cache: rows are left-padded with `padTokenId` to the longest one,
   * with attention mask 0 and position id 1 at the padding.
   */
  async prefill(
    contexts: readonly (readonly number[])[],
    padTokenId = 0,
  ): Promise<CachedStepResult & { mask: number[][] }> {
    const longest = Math.max(...contexts.map((c) => c.length));
    if (longest === 0) throw new Error('CachedGenerator: a prompt is empty; give at least one token id.');
    const ids: number[][] = [];
    const mask: number[][] = [];
    const positions: number[][] = [];
    for (const context of contexts) {
      if (context.length === 0)
        throw new Error('CachedGenerator: a prompt is empty; give at least one token id.');
      const padding = longest - context.length;
      const rowMask = [...Array(padding).fill(0), ...Array(context.length).fill(1)];
      ids.push([...Array(padding).fill(padTokenId), ...context]);
      mask.push(rowMask);
      positions.push(positionIdsFromMask(rowMask));
    }
    const result = await this.step(ids, mask, positions, this.emptyCache(contexts.length));
    return { ...result, mask };
  }

  /** Generates after one prompt and returns the new ids only. */
  async generate(prompt: readonly number[], options: GenerateOptions): Promise<number[]> {
    const { onToken, ...rest } = options;
    const [tokens] = await this.generateBatch([prompt], {
      ...rest,
      onToken: onToken && ((id) => onToken(id)),
    });
    return tokens;
  }

  /**
   * Generates after each prompt in one batch. Rows stop independently at a stop token, and the batch runs until
   * every row has stopped or produced `maxNewTokens`. Returns the new ids of each row.
   */
  async generateBatch(
    prompts: readonly (readonly number[])[],
    options: BatchGenerateOptions,
  ): Promise<number[][]> {
    if (prompts.length === 0 || options.maxNewTokens <= 0) return prompts.map(() => []);
    const { blockSize } = this.config;
    const padTokenId = options.padTokenId ?? 0;
    const stop = new Set(options.stopTokens ?? []);
    const contexts = prompts.map((p) => [...p]);
    const generated: number[][] = prompts.map(() => []);
    const done = prompts.map(() => false);

    // The cache is valid while every context fits in blockSize. After that, each step recomputes.
    let state = await this.prefill(
      contexts.map((c) => c.slice(-blockSize)),
      padTokenId,
    );
    let cropped = contexts.some((c) => c.length > blockSize);
    for (let i = 0; i < options.maxNewTokens; i++) {
      const next = state.logits.map((logits, row) =>
        done[row] ? padTokenId : sampleToken(logits, options.rng, options),
      );
      next.forEach((id, row) => {
        if (done[row]) return;
        contexts[row].push(id);
        generated[row].push(id);
        options.onToken?.(id, row);
        if (stop.has(id)) done[row] = true;
      });
      if (done.every(Boolean) || i === options.maxNewTokens - 1) break;

      if (cropped || contexts.some((c) => c.length > blockSize)) {
        cropped = true;
        state = await this.prefill(
          contexts.map((c) => c.slice(-blockSize)),
          padTokenId,
        );
        continue;
      }
      const mask = state.mask.map((row) => [...row, 1]);
      const positions = contexts.map((c) => [c.length - 1]);
      const result = await this.step(
        next.map((id) => [id]),
        mask,
        positions,
        state.cache,
      );
      state = { ...result, mask };
    }
    return generated;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
