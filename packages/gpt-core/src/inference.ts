import { Graph, GraphSession, type Rng, type SessionOptions, toOnnx } from '@glassbox/graph';
import type * as ort from 'onnxruntime-common';
import { type GptConfig, gptParameterShapes } from './config.js';
import { buildGpt } from './model.js';
import { type SamplingOptions, sampleToken } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  rng: Rng;
  /** Generation stops after emitting any of these ids. */
  stopTokens?: readonly number[];
  /** Called with each new token id as soon as it is sampled. */
  onToken?: (id: number) => void;
}

/**
 * A GPT forward pass compiled for inference: one sequence at a time, any length up to `blockSize`, logits for
 * the last position. Parameters are fed as inputs from the given buffers, so updating them in place (during
 * training, say) is seen by the next call.
 */
export class GptInference {
  private readonly parameterFeeds: Record<string, ort.Tensor>;

  private constructor(
    readonly config: GptConfig,
    readonly session: GraphSession,
    parameters: ReadonlyMap<string, Float32Array>,
  ) {
    this.parameterFeeds = {};
    for (const [name, shape] of gptParameterShapes(config)) {
      const data = parameters.get(name);
      if (!data) throw new Error(`GptInference: missing parameter "${name}".`);
      const expected = shape.reduce((a, b) => a * b, 1);
      if (data.length !== expected) {
        throw new Error(
          `GptInference: parameter "${name}" has ${data.length} values, expected ${expected} for shape [${shape}].`,
        );
      }
      this.parameterFeeds[name] = session.tensor('float32', data, shape);
    }
  }

  static async create(
    config: GptConfig,
    parameters: ReadonlyMap<string, Float32Array>,
    options: SessionOptions = {},
  ): Promise<GptInference> {
    const g = new Graph('gpt-inference');
    const inputIds = g.input('input_ids', 'int64', [1, 'sequence']);
    const { logits } = buildGpt(g, config, { inputIds, lastPositionOnly: true });
    g.output('logits', logits);
    const session = await GraphSession.create(toOnnx(g), options);
    return new GptInference(config, session, parameters);
  }

  /** Logits of the token that follows `ids` (the last `blockSize` of them are used). */
  async nextTokenLogits(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0) throw new Error('GptInference: the context is empty; give at least one token id.');
    const context = ids.slice(-this.config.blockSize);
    for (const id of context) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new Error(
          `GptInference: token id ${id} is outside the vocabulary [0, ${this.config.vocabSize}).`,
        );
      }
    }
    const feeds = {
      ...this.parameterFeeds,
      input_ids: this.session.tensor(
        'int64',
        BigInt64Array.from(context, (v) => BigInt(v)),
        [1, context.length],
      ),
    };
    const result = await this.session.run(feeds, ['logits']);
    return result.logits.data as Float32Array;
  }

  /**
   * Samples up to `maxNewTokens` ids after `prompt`, cropping the context to the last `blockSize` tokens as
   * nanoGPT does. Returns the new ids only.
   */
  async generate(prompt: readonly number[], options: GenerateOptions): Promise<number[]> {
    const ids = [...prompt];
    const generated: number[] = [];
    const stop = new Set(options.stopTokens ?? []);
    for (let i = 0; i < options.maxNewTokens; i++) {
      const logits = await this.nextTokenLogits(ids);
      const next = sampleToken(logits, options.rng, options);
      ids.push(next);
      generated.push(next);
      options.onToken?.(next);
      if (stop.has(next)) break;
    }
    return generated;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
