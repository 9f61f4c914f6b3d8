import {
  CourseModelSession,
  countCourseModelParameters,
  histogram,
  initCourseModelParameters,
  type Model5Config,
  tensorStatistics,
} from '@glassbox/gpt-core';
import { loadGpt2Directory } from '@glassbox/gpt-core/node';
import { z } from 'zod';
import { lineChartSpec, type SeriesPoint } from '../plot.js';
import { mean, round } from './building-gpt-graph.js';
import { barChartSpec } from './charts.js';
import { gpt2Directory } from './pretrained-gpt2.js';
import { defineExperiment } from './types.js';

export const cpuVsGpu = defineExperiment({
  id: 'cpu-vs-gpu',
  title: 'Time a forward pass of Model 5 on the CPU and the GPU',
  section: '67-69. Working on the GPU; time Model 5 on CPU and GPU',
  description:
    "Times forward passes of a GPT-2-shaped Model 5 with random weights on random token ids with ONNX Runtime's CPU execution provider, after one untimed warm-up pass. Then asks ONNX Runtime for its CUDA execution provider; the onnxruntime-node package that pnpm installs here is the CPU build, so the results record why no GPU session could be created instead of a GPU time.",
  needs: ['gpt-core', 'ONNX Runtime', 'a CUDA build of onnxruntime-node for the GPU part'],
  typicalTime: '4 s',
  params: z.object({
    vocabSize: z.number().int().min(2).max(100_000).default(50257).describe('vocabulary size in tokens'),
    nEmbd: z.number().int().min(1).max(2048).default(256).describe('embedding dimension'),
    nLayer: z.number().int().min(1).max(48).default(4).describe('transformer blocks'),
    nHead: z.number().int().min(1).max(64).default(4).describe('attention heads'),
    blockSize: z.number().int().min(1).max(2048).default(256).describe('tokens per sequence'),
    batch: z.number().int().min(1).max(64).default(4).describe('sequences per forward pass'),
    repeats: z.number().int().min(1).max(100).default(5).describe('timed forward passes'),
  }),
  async run({ params, rng, progress, figure }) {
    if (params.nEmbd % params.nHead !== 0) {
      throw new Error(
        `--n-embd ${params.nEmbd} is not divisible by --n-head ${params.nHead}. Choose a number of heads that divides it.`,
      );
    }
    const config: Model5Config = {
      model: 5,
      vocabSize: params.vocabSize,
      nEmbd: params.nEmbd,
      blockSize: params.blockSize,
      nLayer: params.nLayer,
      nHead: params.nHead,
    };
    progress.stage('Initializing the weights');
    const parameters = initCourseModelParameters(config, rng);
    const ids = Array.from({ length: params.batch }, () =>
      Array.from({ length: params.blockSize }, () => rng.randint(0, params.vocabSize)),
    );
    const time = async (provider: string) => {
      const createStart = performance.now();
      const session = await CourseModelSession.create(config, parameters, {
        session: { executionProviders: [provider] },
      });
      const createMs = performance.now() - createStart;
      try {
        await session.forward(ids);
        const times: number[] = [];
        for (let i = 0; i < params.repeats; i++) {
          const start = performance.now();
          await session.forward(ids);
          times.push(performance.now() - start);
          progress.advance(i + 1, params.repeats);
        }
        return { createMs, times };
      } finally {
        await session.release();
      }
    };
    progress.stage(`Timing ${params.repeats} forward passes on the CPU`);
    const cpu = await time('cpu');
    progress.stage('Requesting the CUDA execution provider');
    let gpu: { createMs: number; times: number[] } | undefined;
    let gpuError: string | undefined;
    try {
      gpu = await time('cuda');
    } catch (error) {
      gpuError = (error as Error).message.split('\n')[0];
    }
    const bars = [
      ...cpu.times.map((ms, i) => ({ label: `pass ${i + 1}`, value: ms, group: 'CPU' })),
      ...(gpu?.times ?? []).map((ms, i) => ({ label: `pass ${i + 1}`, value: ms, group: 'CUDA' })),
    ];
    await figure(
      'forward-times',
      barChartSpec({
        title: gpu
          ? 'Forward pass times on the CPU and with CUDA'
          : 'Forward pass times on the CPU (no GPU provider)',
        xTitle: 'forward pass',
        yTitle: 'time (ms)',
        bars,
        grouped: gpu !== undefined,
      }),
    );
    const tokens = params.batch * params.blockSize;
    return {
      results: {
        parameters: countCourseModelParameters(config),
        tokensPerPass: tokens,
        cpuSessionCreateMs: cpu.createMs,
        cpuForwardMs: cpu.times,
        cpuMeanForwardMs: mean(cpu.times),
        cpuTokensPerSecond: tokens / (mean(cpu.times) / 1000),
        gpuAvailable: gpu !== undefined,
        gpuForwardMs: gpu?.times ?? null,
        gpuMeanForwardMs: gpu ? mean(gpu.times) : null,
        gpuError: gpuError ?? null,
      },
      notes: [
        `CPU: ${round(mean(cpu.times))} ms per forward pass of ${params.batch} x ${params.blockSize} tokens.`,
        gpu
          ? `CUDA: ${round(mean(gpu.times))} ms per forward pass.`
          : `No GPU time: ONNX Runtime could not create a CUDA session (${gpuError}). Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with an NVIDIA GPU to compare.`,
      ],
    };
  },
});

/** Density curve of `values` over `bins` equal bins of `range`, as chart points of one series. */
function densityCurve(
  values: ArrayLike<number>,
  bins: number,
  range: readonly [number, number],
  series: string,
): SeriesPoint[] {
  const { edges, counts } = histogram(values, bins, range);
  const width = edges[1] - edges[0];
  return Array.from(counts, (count, i) => ({
    x: (edges[i] + edges[i + 1]) / 2,
    y: count / (values.length * width),
    series,
  }));
}

function concatenate(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Splits a Conv1D `c_attn` weight [C, 3C] into its Q, K and V column blocks, each [C, C]. */
function splitQkv(weight: Float32Array, c: number): [Float32Array, Float32Array, Float32Array] {
  const parts: [Float32Array, Float32Array, Float32Array] = [
    new Float32Array(c * c),
    new Float32Array(c * c),
    new Float32Array(c * c),
  ];
  for (let row = 0; row < c; row++) {
    for (let part = 0; part < 3; part++) {
      parts[part].set(weight.subarray(row * 3 * c + part * c, row * 3 * c + (part + 1) * c), row * c);
    }
  }
  return parts;
}

function statistics(values: Float32Array) {
  const stats = tensorStatistics(values);
  return { count: values.length, mean: stats.mean, std: stats.std, min: stats.min, max: stats.max };
}

export const gpt2WeightDistributions = defineExperiment({
  id: 'gpt2-weight-distributions',
  title: 'Distributions of trained GPT-2 weights',
  section: '75. CodeChallenge: GPT2 trained weights distributions',
  description:
    "Loads a trained GPT-2 (OpenAI's gpt2 from the Hugging Face Hub, about 550 MB, or a local Hugging Face GPT-2 directory or glassbox run with --model DIR) and draws density histograms of the token and position embeddings, of the attention c_attn and MLP (c_fc and c_proj) weights of each layer, and of the Q, K and V blocks of c_attn pooled over all layers.",
  needs: ['gpt-core', 'GPT-2 model.safetensors (download) or --model DIR'],
  typicalTime: '1 s for a tiny model; gpt2 adds the download of model.safetensors (about 550 MB)',
  params: z.object({
    bins: z.number().int().min(2).max(1000).default(71).describe('histogram bins'),
    range: z
      .number()
      .min(0)
      .default(0.6)
      .describe('histograms span [-range, range]; 0 spans the values of each figure'),
  }),
  async run({ params, assets, progress, figure }) {
    const { config, parameters } = await loadGpt2Directory(await gpt2Directory(assets, progress));
    const c = config.nEmbd;
    const get = (name: string): Float32Array => {
      const value = parameters.get(name);
      if (value === undefined) throw new Error(`the model has no parameter ${name}`);
      return value;
    };
    const rangeOf = (groups: readonly Float32Array[]): [number, number] => {
      if (params.range > 0) return [-params.range, params.range];
      let low = Number.POSITIVE_INFINITY;
      let high = Number.NEGATIVE_INFINITY;
      for (const values of groups) {
        const stats = tensorStatistics(values);
        low = Math.min(low, stats.min);
        high = Math.max(high, stats.max);
      }
      return [low, high];
    };
    const draw = async (name: string, title: string, groups: [string, Float32Array][], byLayer = false) => {
      const range = rangeOf(groups.map(([, values]) => values));
      await figure(
        name,
        lineChartSpec({
          title,
          xTitle: 'weight value',
          yTitle: 'density',
          points: groups.flatMap(([series, values]) => densityCurve(values, params.bins, range, series)),
          sequentialColors: byLayer,
          width: 520,
        }),
      );
    };

    progress.stage('Drawing the histograms');
    const wte = get('wte.weight');
    const wpe = get('wpe.weight');
    await draw('embeddings', 'Token (wte) and position (wpe) embeddings', [
      ['wte', wte],
      ['wpe', wpe],
    ]);
    const layers = Array.from({ length: config.nLayer }, (_, i) => i);
    const attention = layers.map((i) => get(`h.${i}.attn.c_attn.weight`));
    const mlp = layers.map((i) =>
      concatenate([get(`h.${i}.mlp.c_fc.weight`), get(`h.${i}.mlp.c_proj.weight`)]),
    );
    await draw(
      'attention-by-layer',
      'Attention c_attn weights by layer',
      attention.map((values, i) => [`layer ${i}`, values]),
      true,
    );
    await draw(
      'mlp-by-layer',
      'MLP c_fc and c_proj weights by layer',
      mlp.map((values, i) => [`layer ${i}`, values]),
      true,
    );
    const split = attention.map((weight) => splitQkv(weight, c));
    const pooled = ['Q', 'K', 'V'].map((name, part) => [
      name,
      concatenate(split.map((qkv) => qkv[part])),
    ]) as [string, Float32Array][];
    const layerCount = config.nLayer === 1 ? '1 layer' : `${config.nLayer} layers`;
    await draw('qkv', `Q, K and V weights pooled over ${layerCount}`, pooled);

    return {
      results: {
        nLayer: config.nLayer,
        nHead: config.nHead,
        nEmbd: c,
        vocabSize: config.vocabSize,
        wte: statistics(wte),
        wpe: statistics(wpe),
        qkv: Object.fromEntries(pooled.map(([name, values]) => [name, statistics(values)])),
        attentionStdByLayer: attention.map((values) => tensorStatistics(values).std),
        mlpStdByLayer: mlp.map((values) => tensorStatistics(values).std),
      },
      tables: [
        {
          title: 'Weight statistics',
          columns: ['weights', 'count', 'mean', 'std', 'min', 'max'],
          rows: [['wte', wte] as const, ['wpe', wpe] as const, ...pooled].map(([name, values]) => {
            const stats = statistics(values);
            return [
              name,
              stats.count,
              round(stats.mean),
              round(stats.std),
              round(stats.min),
              round(stats.max),
            ];
          }),
        },
      ],
    };
  },
});
