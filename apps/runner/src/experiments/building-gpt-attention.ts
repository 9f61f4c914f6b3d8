import {
  ActivationRecorder,
  causalAttention,
  linear,
  multiHeadAttention,
  transformerBlock,
} from '@glassbox/gpt-core';
import { Graph, type Rng } from '@glassbox/graph';
import { z } from 'zod';
import {
  type Feed,
  float32Feed,
  type GraphValue,
  matrixRows,
  maxAbsDifference,
  outputOf,
  runGraph,
} from './building-gpt-graph.js';
import { heatmapSpec } from './charts.js';
import type { ExperimentContext } from './types.js';
import { defineExperiment } from './types.js';

/**
 * Feeds for every parameter of `graph`: layer-norm scales 1, biases and shifts 0 unless `randomBiases`, and
 * other weights N(0, std), all drawn from `rng` in declaration order.
 */
function randomParameterFeeds(
  graph: Graph,
  rng: Rng,
  std: number,
  randomBiases = false,
): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const parameter of graph.parameters) {
    const shape = parameter.shape as number[];
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isLayerNorm = parameter.name.split('.').some((segment) => segment.startsWith('ln'));
    if (isLayerNorm && parameter.name.endsWith('.weight')) data.fill(1);
    else if (!parameter.name.endsWith('.bias') || (randomBiases && !isLayerNorm))
      rng.fillNormal(data, 0, std);
    feeds[parameter.name] = float32Feed(data, shape);
  }
  return feeds;
}

function feedData(feed: Feed): Float32Array {
  if (feed.dtype !== 'float32') throw new Error('expected a float32 feed');
  return feed.data;
}

const sizeParams = {
  batch: z.number().int().min(1).max(64).default(1).describe('sequences in the batch'),
  length: z.number().int().min(1).max(256).default(8).describe('tokens per sequence'),
  embedDim: z.number().int().min(1).max(1024).default(16).describe('embedding dimension C'),
  heads: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('attention heads, a divisor of the embedding dimension'),
  weightStd: z.number().gt(0).max(10).default(0.3).describe('standard deviation of the random weights'),
};

function checkHeads(embedDim: number, heads: number): void {
  if (embedDim % heads !== 0) {
    throw new Error(
      `--embed-dim ${embedDim} is not divisible by --heads ${heads}. Choose a number of heads that divides it.`,
    );
  }
}

async function headHeatmaps(
  figure: ExperimentContext<unknown>['figure'],
  weights: GraphValue,
  heads: number,
  length: number,
  titlePrefix: string,
): Promise<void> {
  const labels = Array.from({ length }, (_, i) => String(i));
  for (let h = 0; h < heads; h++) {
    await figure(
      `head-${h}-weights`,
      heatmapSpec({
        title: `${titlePrefix}: head ${h} of sequence 0`,
        xTitle: 'key position',
        yTitle: 'query position',
        xLabels: labels,
        yLabels: labels,
        values: matrixRows(weights.data, length, length, h * length * length),
        colorTitle: 'weight',
        domain: [0, 1],
        cellSize: 24,
      }),
    );
  }
}

/**
 * Causal multi-head attention with GPT-2's fused layout, written out in float64 loops: the projection
 * x W + b, the split into heads, q k^T / sqrt(d), the mask, the softmax, the weighted sum and the output
 * projection. Returns the output [B, T, C] and the weights [B, H, T, T].
 */
function attentionByHand(
  x: Float32Array,
  sizes: { batch: number; length: number; embedDim: number; heads: number },
  weights: {
    attnWeight: Float32Array;
    attnBias: Float32Array;
    projWeight: Float32Array;
    projBias: Float32Array;
  },
): { output: Float64Array; weights: Float64Array } {
  const { batch: b, length: t, embedDim: c, heads } = sizes;
  const d = c / heads;
  const output = new Float64Array(b * t * c);
  const attention = new Float64Array(b * heads * t * t);
  for (let n = 0; n < b; n++) {
    const qkv = Array.from({ length: t }, (_, pos) =>
      Array.from({ length: 3 * c }, (_, j) => {
        let sum = weights.attnBias[j];
        for (let i = 0; i < c; i++) sum += x[(n * t + pos) * c + i] * weights.attnWeight[i * 3 * c + j];
        return sum;
      }),
    );
    const merged = Array.from({ length: t }, () => new Float64Array(c));
    for (let h = 0; h < heads; h++) {
      for (let query = 0; query < t; query++) {
        const scores = new Float64Array(t).fill(Number.NEGATIVE_INFINITY);
        for (let key = 0; key <= query; key++) {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += qkv[query][h * d + e] * qkv[key][c + h * d + e];
          scores[key] = dot / Math.sqrt(d);
        }
        const max = Math.max(...scores);
        const exps = scores.map((score) => Math.exp(score - max));
        const total = exps.reduce((a, v) => a + v, 0);
        for (let key = 0; key < t; key++) {
          const weight = exps[key] / total;
          attention[((n * heads + h) * t + query) * t + key] = weight;
          for (let e = 0; e < d; e++) merged[query][h * d + e] += weight * qkv[key][2 * c + h * d + e];
        }
      }
    }
    for (let pos = 0; pos < t; pos++) {
      for (let j = 0; j < c; j++) {
        let sum = weights.projBias[j];
        for (let i = 0; i < c; i++) sum += merged[pos][i] * weights.projWeight[i * c + j];
        output[(n * t + pos) * c + j] = sum;
      }
    }
  }
  return { output, weights: attention };
}

export const attentionWrittenVsFused = defineExperiment({
  id: 'attention-written-vs-fused',
  title: 'Attention written out against the multi-head block',
  section: '61. CodeChallenge: Code Attention manually and in Pytorch',
  description:
    "Computes causal multi-head self-attention of random inputs twice with the same random weights: written out in float64 loops (fused QKV projection, scores q k^T / sqrt(d), -Infinity above the diagonal, softmax, weighted sum of the values, output projection), and with @glassbox/gpt-core's multiHeadAttention block on ONNX Runtime in float32. The results agree to float32 rounding but are not bit-identical, as the course finds for torch.equal and torch.allclose against scaled_dot_product_attention.",
  needs: ['gpt-core', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object(sizeParams),
  async run({ params, rng, figure }) {
    checkHeads(params.embedDim, params.heads);
    const { batch, length, embedDim, heads } = params;
    const g = new Graph('attention');
    const x = g.input('x', 'float32', [batch, length, embedDim]);
    const block = multiHeadAttention(g, 'attn', x, { embedDim, nHead: heads });
    g.output('output', block.output);
    g.output('weights', block.weights);
    const feeds = randomParameterFeeds(g, rng, params.weightStd, true);
    const input = rng.fillNormal(new Float32Array(batch * length * embedDim)) as Float32Array;
    const outputs = await runGraph(g, { ...feeds, x: float32Feed(input, [batch, length, embedDim]) });
    const byHand = attentionByHand(input, params, {
      attnWeight: feedData(feeds['attn.c_attn.weight']),
      attnBias: feedData(feeds['attn.c_attn.bias']),
      projWeight: feedData(feeds['attn.c_proj.weight']),
      projBias: feedData(feeds['attn.c_proj.bias']),
    });
    const blockOutput = outputOf(outputs, 'output').data;
    const blockWeights = outputOf(outputs, 'weights');
    await headHeatmaps(figure, blockWeights, heads, length, 'Attention weights');
    const upperTriangle: number[] = [];
    for (let row = 0; row < length; row++) {
      for (let column = row + 1; column < length; column++)
        upperTriangle.push(blockWeights.data[row * length + column]);
    }
    return {
      results: {
        outputShape: outputOf(outputs, 'output').shape,
        weightsShape: blockWeights.shape,
        maxDifferenceOutput: maxAbsDifference(byHand.output, blockOutput),
        maxDifferenceWeights: maxAbsDifference(byHand.weights, blockWeights.data),
        bitIdentical: byHand.output.every((value, i) => Math.fround(value) === blockOutput[i]),
        maxWeightAboveDiagonal: upperTriangle.length > 0 ? Math.max(...upperTriangle) : 0,
        firstQueryWeight: blockWeights.data[0],
      },
    };
  },
});

export const transformerBlockExperiment = defineExperiment({
  id: 'transformer-block',
  title: 'One transformer block, intermediate by intermediate',
  section: '63-64. The Transformer block',
  description:
    "Runs random inputs through one pre-LayerNorm transformer block of @glassbox/gpt-core (x + attention(ln_1(x)), then + MLP(ln_2(.)) with a 4x GELU expansion) on ONNX Runtime, returns every intermediate as a graph output and lists its shape. Checks both residual connections. With one head the block has separate bias-free Q, K and V projections, as the course's OneAttentionHead; with more it uses the fused multi-head attention of GPT-2.",
  needs: ['gpt-core', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    ...sizeParams,
    batch: sizeParams.batch.default(5),
    embedDim: sizeParams.embedDim.default(128),
    heads: sizeParams.heads.default(1),
    weightStd: sizeParams.weightStd.default(0.05),
  }),
  async run({ params, rng, figure }) {
    checkHeads(params.embedDim, params.heads);
    const { batch, length, embedDim, heads } = params;
    const g = new Graph('transformer-block');
    const x = g.input('x', 'float32', [batch, length, embedDim]);
    const recorder = new ActivationRecorder();
    transformerBlock(g, 'h.0', x, {
      embedDim,
      attention: heads === 1 ? { kind: 'single' } : { kind: 'multi', nHead: heads },
      attentionBias: heads !== 1,
      activation: 'gelu',
      recorder,
    });
    g.output('input', g.identity(x));
    for (const [site, tensor] of recorder.values) g.output(site, tensor);
    const input = rng.fillNormal(new Float32Array(batch * length * embedDim)) as Float32Array;
    const outputs = await runGraph(g, {
      ...randomParameterFeeds(g, rng, params.weightStd),
      x: float32Feed(input, [batch, length, embedDim]),
    });
    const value = (name: string) => outputOf(outputs, name).data;
    const sum = (a: Float32Array, b: Float32Array) => a.map((v, i) => v + b[i]);
    // [B, T, T] with one head, [B, H, T, T] with several: sequence 0 comes first in both.
    const headWeights = outputOf(outputs, 'h.0.attn.weights');
    await headHeatmaps(figure, headWeights, heads, length, 'Attention weights of the block');
    const shapes = Object.fromEntries([...outputs].map(([name, tensor]) => [name, tensor.shape]));
    const rowSums = matrixRows(headWeights.data, heads * length, length).map((row) =>
      row.reduce((a, b) => a + b, 0),
    );
    return {
      results: {
        shapes,
        maxDifferenceAttentionResidual: maxAbsDifference(
          value('h.0.after_attn'),
          sum(value('input'), value('h.0.attn.output')),
        ),
        maxDifferenceMlpResidual: maxAbsDifference(
          value('h.0.output'),
          sum(value('h.0.after_attn'), value('h.0.mlp.output')),
        ),
        maxRowSumError: Math.max(...rowSums.map((rowSum) => Math.abs(rowSum - 1))),
      },
      tables: [
        {
          title: 'Intermediates of the block',
          columns: ['intermediate', 'shape'],
          rows: [...outputs].map(([name, tensor]) => [name, `[${tensor.shape.join(', ')}]`]),
        },
      ],
    };
  },
});

export const multiHeadAttentionExperiment = defineExperiment({
  id: 'multi-head-attention',
  title: 'Multi-head attention, stage by stage',
  section: '66. Multihead attention: theory and implementation',
  description:
    "Builds multi-head attention as the course does, from separate bias-free Q, K and V projections: view [B, T, H, C/H], transpose to [B, H, T, C/H], causal attention per head, transpose back, reshape to [B, T, C] and the output projection W0. Prints the shape after each stage, draws each head's attention weights, and checks that @glassbox/gpt-core's fused multiHeadAttention block, given the three projections concatenated as its c_attn weight, computes the same output.",
  needs: ['gpt-core', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    ...sizeParams,
    batch: sizeParams.batch.default(5),
    embedDim: sizeParams.embedDim.default(128),
    weightStd: sizeParams.weightStd.default(0.1),
  }),
  async run({ params, rng, figure }) {
    checkHeads(params.embedDim, params.heads);
    const { batch, length, embedDim: c, heads } = params;
    const d = c / heads;
    const g = new Graph('multi-head-attention');
    const x = g.input('x', 'float32', [batch, length, c]);
    const stages: [string, ReturnType<Graph['input']>][] = [['input', x]];
    const project = (name: string) =>
      linear(g, name, x, { inFeatures: c, outFeatures: c, bias: false }).output;
    const q = project('q_proj');
    const k = project('k_proj');
    const v = project('v_proj');
    stages.push(['q = Q(x)', q]);
    const viewed = g.reshape(q, [0, 0, heads, d]);
    stages.push(['q.view(B, T, H, d)', viewed]);
    const toHeads = (t: ReturnType<Graph['input']>) =>
      g.transpose(g.reshape(t, [0, 0, heads, d]), [0, 2, 1, 3]);
    const qHeads = toHeads(q);
    stages.push(['q.transpose(1, 2)', qHeads]);
    const attention = causalAttention(g, 'attn', qHeads, toHeads(k), toHeads(v));
    stages.push(['attention weights', attention.weights]);
    stages.push(['weights @ v', attention.output]);
    const back = g.transpose(attention.output, [0, 2, 1, 3]);
    stages.push(['.transpose(1, 2)', back]);
    const merged = g.reshape(back, [0, 0, c]);
    stages.push(['.reshape(B, T, C)', merged]);
    const output = linear(g, 'W0', merged, { inFeatures: c, outFeatures: c, bias: false }).output;
    stages.push(['W0(y)', output]);
    stages.forEach(([, tensor], i) => {
      g.output(`stage_${i}`, tensor);
    });
    const fused = multiHeadAttention(g, 'fused', x, { embedDim: c, nHead: heads, bias: false });
    g.output('fused', fused.output);

    const feeds = randomParameterFeeds(g, rng, params.weightStd);
    // The fused layer's [C, 3C] weight contains the Q, K and V weights side by side, row by row.
    const fusedWeight = new Float32Array(c * 3 * c);
    ['q_proj', 'k_proj', 'v_proj'].forEach((name, part) => {
      const weight = feedData(feeds[`${name}.weight`]);
      for (let row = 0; row < c; row++)
        fusedWeight.set(weight.subarray(row * c, (row + 1) * c), row * 3 * c + part * c);
    });
    feeds['fused.c_attn.weight'] = float32Feed(fusedWeight, [c, 3 * c]);
    feeds['fused.c_proj.weight'] = feeds['W0.weight'];
    const input = rng.fillNormal(new Float32Array(batch * length * c)) as Float32Array;
    const outputs = await runGraph(g, { ...feeds, x: float32Feed(input, [batch, length, c]) });
    const weightsStage = stages.findIndex(([name]) => name === 'attention weights');
    await headHeatmaps(
      figure,
      outputOf(outputs, `stage_${weightsStage}`),
      heads,
      length,
      'Multi-head attention',
    );
    const shapes = stages.map(([name], i) => ({ stage: name, shape: outputOf(outputs, `stage_${i}`).shape }));
    return {
      results: {
        headDim: d,
        stageShapes: shapes.map((stage) => ({ stage: stage.stage, shape: stage.shape })),
        maxDifferenceFused: maxAbsDifference(
          outputOf(outputs, `stage_${stages.length - 1}`).data,
          outputOf(outputs, 'fused').data,
        ),
      },
      tables: [
        {
          title: 'Shapes through multi-head attention',
          columns: ['stage', 'shape'],
          rows: shapes.map((stage) => [stage.stage, `[${stage.shape.join(', ')}]`]),
        },
      ],
    };
  },
});
