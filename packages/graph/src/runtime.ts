import type * as ort from 'onnxruntime-common';
import type { DType } from './tensor.js';

/** The ONNX Runtime package a session runs on. */
export type BackendName = 'node' | 'web';

/** The part of an ONNX Runtime JavaScript package that Glassbox uses; onnxruntime-node and onnxruntime-web both provide it. */
export interface OrtModule {
  InferenceSession: typeof ort.InferenceSession;
  Tensor: typeof ort.Tensor;
  env: ort.Env;
}

export interface SessionOptions {
  /** `node` (onnxruntime-node, native) is the default in Node.js; `web` runs the WASM build. */
  backend?: BackendName;
  /** Execution providers in order of preference, e.g. `['cuda', 'cpu']`; defaults to CPU (WASM for `web`). */
  executionProviders?: string[];
  /** Threads for one op (intra-op); defaults to ONNX Runtime's choice, one per physical core. */
  intraOpThreads?: number;
  /** ONNX Runtime's graph optimization level; `all` fuses ops such as GELU and layer norm. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * ONNX Runtime's memory pattern: after the first run it reserves one block laid out for every intermediate
   * of a run, instead of reusing freed blocks from its arena. On by default, as in ONNX Runtime. Training
   * sessions turn it off: for them the block holds every activation that the backward pass keeps and every
   * gradient at once. Without it, a 6-layer, width-384 training step peaked at 1.3 GiB instead of 1.9 GiB,
   * at the same speed.
   */
  memoryPattern?: boolean;
  /** Writes the optimized model here (Node backend only), to see what ONNX Runtime did to the graph. */
  optimizedModelFilePath?: string;
  /** Writes an ONNX Runtime profile (Chrome trace JSON) with this file name prefix, for finding slow ops. */
  profileFilePrefix?: string;
}

const modules = new Map<BackendName, Promise<OrtModule>>();

/** Loads an ONNX Runtime package once. onnxruntime-node is imported only when asked for, so browsers never see it. */
export function loadBackend(name: BackendName): Promise<OrtModule> {
  let loading = modules.get(name);
  if (!loading) {
    const specifier = name === 'node' ? 'onnxruntime-node' : 'onnxruntime-web';
    loading = (import(/* @vite-ignore */ specifier) as Promise<OrtModule & { default?: OrtModule }>).then(
      (m) => {
        const module = m.InferenceSession ? m : m.default!;
        // Errors reach callers as exceptions with ONNX Runtime's message. Its own log would repeat them on
        // stderr, with terminal colour codes, and add warnings such as an unknown CPU vendor.
        module.env.logLevel = 'fatal';
        return module;
      },
      (error: unknown) => {
        throw new Error(
          `could not load ${specifier}: ${(error as Error).message}. Install it or choose another backend.`,
        );
      },
    );
    modules.set(name, loading);
  }
  return loading;
}

function defaultBackend(): BackendName {
  const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
  return isNode ? 'node' : 'web';
}

/** Typed arrays that a session accepts and returns, by dtype. */
export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

/** A compiled ONNX model on one backend. */
export class GraphSession {
  private constructor(
    readonly ort: OrtModule,
    readonly session: ort.InferenceSession,
    readonly backend: BackendName,
  ) {}

  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<GraphSession> {
    const backend = options.backend ?? defaultBackend();
    const ortModule = await loadBackend(backend);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: options.executionProviders ?? [backend === 'node' ? 'cpu' : 'wasm'],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      logSeverityLevel: 4,
    };
    if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
    if (options.memoryPattern !== undefined) sessionOptions.enableMemPattern = options.memoryPattern;
    if (options.optimizedModelFilePath)
      sessionOptions.optimizedModelFilePath = options.optimizedModelFilePath;
    if (options.profileFilePrefix) {
      sessionOptions.enableProfiling = true;
      sessionOptions.profileFilePrefix = options.profileFilePrefix;
    }
    if (backend === 'web' && options.intraOpThreads !== undefined)
      ortModule.env.wasm.numThreads = options.intraOpThreads;
    let session: ort.InferenceSession;
    try {
      session = await ortModule.InferenceSession.create(model, sessionOptions);
    } catch (error) {
      throw new Error(`ONNX Runtime (${backend}) rejected the model: ${(error as Error).message}`);
    }
    return new GraphSession(ortModule, session, backend);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Wraps a typed array as a tensor of this backend without copying it. */
  tensor(dtype: DType, data: TensorData, dims: readonly number[]): ort.Tensor {
    return new this.ort.Tensor(dtype as 'float32', data as Float32Array, dims);
  }

  /** Runs the model. `fetches` names the outputs to compute, or gives preallocated tensors to write them into. */
  async run(
    feeds: Record<string, ort.Tensor>,
    fetches?: readonly string[] | Record<string, ort.Tensor | null>,
  ): Promise<Record<string, ort.Tensor>> {
    // biome-ignore lint/suspicious/noExplicitAny: onnxruntime-common's overloads do not accept the union type.
    return (await this.session.run(feeds, fetches as any)) as Record<string, ort.Tensor>;
  }

  /** Ends profiling started with `profileFilePrefix` and writes the profile file. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
