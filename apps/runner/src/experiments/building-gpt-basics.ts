import {
  argmax,
  countGptParameters,
  countParameters,
  embedding,
  GPT2_PRESETS,
  type Gpt2PresetName,
  gptParameterShapes,
  layerNorm,
  sampleToken,
  samplingProbabilities,
} from '@glassbox/gpt-core';
import { Graph, grad } from '@glassbox/graph';
import { z } from 'zod';
import {
  correlation,
  densityHistogramSpec,
  float32Feed,
  int64Feed,
  linspace,
  matrixRows,
  maxAbsDifference,
  mean,
  outputOf,
  round,
  runGraph,
  standardDeviation,
} from './building-gpt-graph.js';
import { barChartSpec, heatmapSpec } from './charts.js';
import { lineChartSpec } from './pretraining-charts.js';
import { defineExperiment } from './types.js';

const PRESET_NAMES = Object.keys(GPT2_PRESETS) as Gpt2PresetName[];

export const gpt2ParameterCounts = defineExperiment({
  id: 'gpt2-parameter-counts',
  title: 'How many parameters does GPT-2 have?',
  section: '73-74. CodeChallenge: How many parameters?',
  description:
    'Counts the parameters of the four published GPT-2 sizes from their shapes (no download): in total, as weights and biases, and per component (embeddings, attention, MLP, layer norms). The output head is tied to the token embedding and counted once, as sum(p.numel()) counts it.',
  needs: ['gpt-core'],
  typicalTime: '1 s',
  params: z.object({}),
  async run({ figure }) {
    const rows = PRESET_NAMES.map((name) => {
      const config = GPT2_PRESETS[name];
      const counts = countParameters(gptParameterShapes(config));
      return { name, config, counts, checkTotal: countGptParameters(config) };
    });
    const components = ['embeddings', 'attention', 'mlp', 'layerNorm'] as const;
    await figure(
      'components',
      barChartSpec({
        title: 'GPT-2 parameters per component (log scale)',
        xTitle: 'model',
        yTitle: 'parameters (millions)',
        yScale: 'log',
        bars: rows.flatMap((row) =>
          components.map((component) => ({
            label: row.name,
            value: row.counts.byComponent[component] / 1e6,
            group: component,
          })),
        ),
        grouped: true,
        width: 420,
      }),
    );
    await figure(
      'component-shares',
      barChartSpec({
        title: 'Share of all parameters per component',
        xTitle: 'model',
        yTitle: 'percent of all parameters',
        bars: rows.flatMap((row) =>
          components.map((component) => ({
            label: row.name,
            value: (100 * row.counts.byComponent[component]) / row.counts.total,
            group: component,
          })),
        ),
        grouped: true,
        width: 420,
      }),
    );
    return {
      results: {
        totals: Object.fromEntries(rows.map((row) => [row.name, row.counts.total])),
        totalsByFormula: Object.fromEntries(rows.map((row) => [row.name, row.checkTotal])),
        biases: Object.fromEntries(rows.map((row) => [row.name, row.counts.biases])),
        byComponent: Object.fromEntries(rows.map((row) => [row.name, { ...row.counts.byComponent }])),
        // torchinfo lists the tied head as its own module and so counts wte a second time.
        tiedHeadParameters: Object.fromEntries(
          rows.map((row) => [row.name, row.config.vocabSize * row.config.nEmbd]),
        ),
      },
      tables: [
        {
          title: 'Parameter counts',
          columns: ['model', 'layers', 'heads', 'width', 'total', 'biases', 'embeddings', 'attention', 'MLP'],
          rows: rows.map((row) => [
            row.name,
            row.config.nLayer,
            row.config.nHead,
            row.config.nEmbd,
            row.counts.total,
            row.counts.biases,
            row.counts.byComponent.embeddings,
            row.counts.byComponent.attention,
            row.counts.byComponent.mlp,
          ]),
        },
      ],
    };
  },
});

const numberList = z
  .string()
  .regex(
    /^\s*-?\d+(\.\d+)?(\s*,\s*-?\d+(\.\d+)?)*\s*$/,
    'expected numbers separated by commas, such as 1,2,3',
  );

export const samplingMethods = defineExperiment({
  id: 'sampling-methods',
  title: 'Multinomial, greedy, top-k and top-p sampling',
  section: '54. Other token sampling methods: greedy, top-k, and top-p',
  description:
    "Samples the next token from the same logits with four methods of @glassbox/gpt-core's sampleToken: plain multinomial sampling from the softmax, greedy decoding (argmax), top-k and top-p (nucleus) sampling. Compares the observed frequencies over many draws with each method's probabilities.",
  needs: ['gpt-core'],
  typicalTime: '1 s',
  params: z.object({
    logits: numberList
      .default('2.5,2,1.5,1,0.5,0,-0.5,-1')
      .describe('scores of the tokens, one per token id'),
    draws: z.number().int().min(1).max(1_000_000).default(10_000).describe('draws per method'),
    topK: z.number().int().min(1).default(3).describe('tokens kept by top-k sampling'),
    topP: z.number().gt(0).max(1).default(0.8).describe('cumulative probability kept by top-p sampling'),
    temperature: z.number().gt(0).default(1).describe('softmax temperature of the sampling methods'),
  }),
  async run({ params, rng, figure, progress }) {
    const logits = params.logits.split(',').map(Number);
    const methods = [
      { name: 'multinomial', options: { temperature: params.temperature } },
      { name: 'greedy', options: { temperature: 0 } },
      { name: `top-k (k = ${params.topK})`, options: { temperature: params.temperature, topK: params.topK } },
      { name: `top-p (p = ${params.topP})`, options: { temperature: params.temperature, topP: params.topP } },
    ];
    const rows = methods.map((method, index) => {
      progress.stage(`Sampling ${params.draws} tokens with ${method.name}`);
      const expected =
        method.options.temperature === 0
          ? logits.map((_, i) => (i === argmax(logits) ? 1 : 0))
          : Array.from(samplingProbabilities(logits, method.options));
      const counts = new Array<number>(logits.length).fill(0);
      for (let draw = 0; draw < params.draws; draw++) counts[sampleToken(logits, rng, method.options)]++;
      progress.advance(index + 1, methods.length);
      return {
        name: method.name,
        expectedPercent: expected.map((p) => 100 * p),
        observedPercent: counts.map((count) => (100 * count) / params.draws),
        tokensDrawn: counts.filter((count) => count > 0).length,
      };
    });
    await figure(
      'frequencies',
      barChartSpec({
        title: `Observed frequencies over ${params.draws} draws`,
        xTitle: 'token id (logit)',
        yTitle: 'frequency (%)',
        bars: rows.flatMap((row) =>
          logits.map((logit, i) => ({
            label: `${i} (${logit})`,
            value: row.observedPercent[i],
            group: row.name,
          })),
        ),
        grouped: true,
        width: 520,
      }),
    );
    return {
      results: {
        logits,
        methods: Object.fromEntries(rows.map((row) => [row.name, { ...row }])),
        maxFrequencyError: Math.max(
          ...rows.map((row) => maxAbsDifference(row.expectedPercent, row.observedPercent)),
        ),
      },
      tables: [
        {
          title: 'Observed frequency (%) against the expected one',
          columns: ['token', 'logit', ...rows.flatMap((row) => [`${row.name} observed`, 'expected'])],
          rows: logits.map((logit, i) => [
            i,
            logit,
            ...rows.flatMap((row) => [round(row.observedPercent[i]), round(row.expectedPercent[i])]),
          ]),
        },
      ],
    };
  },
});

export const layerNormExperiment = defineExperiment({
  id: 'layer-norm',
  title: 'Layer normalization with a scale and a shift',
  section: '56. What, why, when, and how to layernorm',
  description:
    "Normalizes each row of a random matrix (N(0, 1) times 2 plus 3) with the graph engine's layerNorm op on ONNX Runtime, first with the default scale 1 and shift 0, then with the scale gamma and shift beta. Each row then has mean beta and biased standard deviation gamma; the unbiased one that torch.std prints is larger by sqrt(n / (n - 1)).",
  needs: ['graph', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    rows: z.number().int().min(1).max(10_000).default(3).describe('rows of the matrix'),
    columns: z.number().int().min(2).max(10_000).default(10).describe('columns, the normalized axis'),
    gamma: z.number().default(3).describe('scale (weight) of the layer norm'),
    beta: z.number().default(5).describe('shift (bias) of the layer norm'),
  }),
  async run({ params, rng, figure }) {
    const { rows, columns } = params;
    const input = rng.fillNormal(new Float32Array(rows * columns), 3, 2) as Float32Array;
    const g = new Graph('layer-norm');
    const x = g.input('x', 'float32', [rows, columns]);
    const norm = layerNorm(g, 'ln', x, { dim: columns });
    g.output('normalized', norm.output);
    const normalize = async (gamma: number, beta: number) => {
      const outputs = await runGraph(g, {
        x: float32Feed(input, [rows, columns]),
        'ln.weight': float32Feed(new Float32Array(columns).fill(gamma), [columns]),
        'ln.bias': float32Feed(new Float32Array(columns).fill(beta), [columns]),
      });
      return outputOf(outputs, 'normalized').data;
    };
    const standard = await normalize(1, 0);
    const scaled = await normalize(params.gamma, params.beta);
    const rowStatistics = (data: Float32Array) =>
      matrixRows(data, rows, columns).map((row) => ({
        mean: mean(row),
        std: standardDeviation(row),
        unbiasedStd: standardDeviation(row, 1),
      }));
    const before = rowStatistics(input);
    const afterStandard = rowStatistics(standard);
    const afterScaled = rowStatistics(scaled);
    const low = Math.min(...input, ...scaled) - 0.5;
    const high = Math.max(...input, ...scaled) + 0.5;
    await figure(
      'histogram',
      densityHistogramSpec({
        title: `Values before and after layer norm (gamma ${params.gamma}, beta ${params.beta})`,
        xTitle: 'value',
        series: [
          { name: 'input', values: input },
          { name: 'gamma 1, beta 0', values: standard },
          { name: `gamma ${params.gamma}, beta ${params.beta}`, values: scaled },
        ],
        bins: 20,
        range: [low, high],
      }),
    );
    const flatInput = Array.from(input);
    return {
      results: {
        rowMeansBefore: before.map((row) => row.mean),
        rowStdsBefore: before.map((row) => row.std),
        rowMeansStandard: afterStandard.map((row) => row.mean),
        rowStdsStandard: afterStandard.map((row) => row.std),
        rowMeansScaled: afterScaled.map((row) => row.mean),
        rowStdsScaled: afterScaled.map((row) => row.std),
        rowUnbiasedStdsScaled: afterScaled.map((row) => row.unbiasedStd),
        correlationInputNormalized: correlation(flatInput, Array.from(standard)),
      },
      tables: [
        {
          title: 'Row statistics (std is biased, as layer norm computes it)',
          columns: ['row', 'mean before', 'std before', 'mean after', 'std after', 'unbiased std after'],
          rows: before.map((row, i) => [
            i,
            round(row.mean),
            round(row.std),
            round(afterScaled[i].mean),
            round(afterScaled[i].std),
            round(afterScaled[i].unbiasedStd),
          ]),
        },
      ],
    };
  },
});

export const causalAveraging = defineExperiment({
  id: 'causal-averaging',
  title: 'Averaging the past while ignoring the future',
  section: '58-59. Temporal causality via linear algebra; averaging the past while ignoring the future',
  description:
    'Averages each position of a random sequence with the positions before it in two ways: a lower-triangular matrix of ones divided by its row sums, and the softmax of zero scores with -Infinity above the diagonal (the causal mask of attention, run on ONNX Runtime). Both give weights 1, 1/2, 1/3, ... Masking with 0 instead of -Infinity lets the softmax weigh the future.',
  needs: ['graph', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    length: z.number().int().min(2).max(256).default(9).describe('sequence length in positions'),
    dim: z.number().int().min(1).max(1024).default(4).describe('features per position'),
  }),
  async run({ params, rng, figure }) {
    const t = params.length;
    const d = params.dim;
    const activations = rng.fillNormal(new Float32Array(t * d)) as Float32Array;
    const tril = Array.from({ length: t }, (_, i) =>
      Array.from({ length: t }, (_, j): number => (j <= i ? 1 : 0)),
    );
    const trilWeights = tril.map((row) => row.map((value) => value / row.reduce((a, b) => a + b, 0)));

    const g = new Graph('causal-averaging');
    const scores = g.input('scores', 'float32', [t, t]);
    const x = g.input('x', 'float32', [t, d]);
    const zeroMask = g.input('zero_mask', 'float32', [t, t]);
    const masked = g.softmax(g.causalMask(scores), -1);
    g.output('softmax_weights', masked);
    g.output('softmax_average', g.matmul(masked, x));
    // Masking by multiplying with the lower triangle sets future scores to 0, which exp() turns into weight 1.
    g.output('zero_masked_weights', g.softmax(g.mul(scores, zeroMask), -1));
    const outputs = await runGraph(g, {
      scores: float32Feed(new Float32Array(t * t), [t, t]),
      x: float32Feed(activations, [t, d]),
      zero_mask: float32Feed(Float32Array.from(tril.flat()), [t, t]),
    });
    const softmaxWeights = matrixRows(outputOf(outputs, 'softmax_weights').data, t, t);
    const zeroMaskedWeights = matrixRows(outputOf(outputs, 'zero_masked_weights').data, t, t);
    const trilAverage = trilWeights.map((row) =>
      Array.from({ length: d }, (_, k) => row.reduce((sum, w, j) => sum + w * activations[j * d + k], 0)),
    );
    const cumulativeMean = Array.from({ length: t }, (_, i) =>
      Array.from({ length: d }, (_, k) => {
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += activations[j * d + k];
        return sum / (i + 1);
      }),
    );
    const labels = Array.from({ length: t }, (_, i) => String(i));
    for (const [name, title, values] of [
      ['tril-weights', 'tril(ones) divided by its row sums', trilWeights],
      ['softmax-weights', 'softmax with -Infinity above the diagonal', softmaxWeights],
      ['zero-masked-weights', 'softmax with 0 above the diagonal (wrong)', zeroMaskedWeights],
    ] as const) {
      await figure(
        name,
        heatmapSpec({
          title,
          xTitle: 'averaged position',
          yTitle: 'position',
          xLabels: labels,
          yLabels: labels,
          values,
          colorTitle: 'weight',
          // One color scale for the three figures, which also keeps the wrong masking's weights, all
          // equal to 1/length, from collapsing the scale to a single value.
          domain: [0, 1],
          cellSize: 24,
        }),
      );
    }
    return {
      results: {
        trilWeightsLastRow: trilWeights[t - 1],
        softmaxWeightsDiagonal: softmaxWeights.map((row, i) => row[i]),
        maxDifferenceTrilSoftmax: maxAbsDifference(trilWeights.flat(), softmaxWeights.flat()),
        maxDifferenceAverages: maxAbsDifference(
          trilAverage.flat(),
          Array.from(outputOf(outputs, 'softmax_average').data),
        ),
        maxDifferenceCumulativeMean: maxAbsDifference(trilAverage.flat(), cumulativeMean.flat()),
        zeroMaskedFirstRow: zeroMaskedWeights[0],
        zeroMaskedFutureWeight: zeroMaskedWeights[0].slice(1).reduce((a, b) => a + b, 0),
      },
    };
  },
});

export const embeddingVsLinear = defineExperiment({
  id: 'embedding-vs-linear',
  title: 'An embedding is a one-hot matrix times a weight matrix',
  section: '50. Understanding nn.Embedding and nn.Linear',
  description:
    "Looks up token ids in an embedding table [vocab, dim] with the graph's gather op and multiplies their one-hot rows by the same table with matmul, both on ONNX Runtime, and compares the results. Reports the parameter counts of nn.Embedding(vocab, dim) and nn.Linear(dim, vocab) and the spread of their PyTorch initializations: N(0, 1) for the embedding, U(-1/sqrt(dim), 1/sqrt(dim)) for the linear layer.",
  needs: ['graph', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    vocabSize: z.number().int().min(2).max(100_000).default(5000).describe('vocabulary size in tokens'),
    dim: z
      .number()
      .int()
      .min(0)
      .max(4096)
      .default(0)
      .describe('embedding dimension; 0 uses int(sqrt(vocab size)), as the course does'),
    tokens: z.number().int().min(1).max(1000).default(20).describe('random token ids to look up'),
  }),
  async run({ params, rng, figure }) {
    const vocab = params.vocabSize;
    const dim = params.dim === 0 ? Math.floor(Math.sqrt(vocab)) : params.dim;
    const table = rng.fillNormal(new Float32Array(vocab * dim)) as Float32Array;
    const bound = 1 / Math.sqrt(dim);
    const linearWeight = rng.fillUniform(new Float32Array(vocab * dim), -bound, bound) as Float32Array;
    const ids = Array.from({ length: params.tokens }, () => rng.randint(0, vocab));
    const oneHot = new Float32Array(params.tokens * vocab);
    ids.forEach((id, row) => {
      oneHot[row * vocab + id] = 1;
    });

    const g = new Graph('embedding-vs-linear');
    const indices = g.input('ids', 'int64', [params.tokens]);
    const lookup = embedding(g, 'emb', indices, { numEmbeddings: vocab, embeddingDim: dim });
    const oneHotInput = g.input('one_hot', 'float32', [params.tokens, vocab]);
    g.output('lookup', lookup.output);
    g.output('product', g.matmul(oneHotInput, lookup.weight));
    const outputs = await runGraph(g, {
      ids: int64Feed(ids, [params.tokens]),
      one_hot: float32Feed(oneHot, [params.tokens, vocab]),
      'emb.weight': float32Feed(table, [vocab, dim]),
    });
    const lookupValues = outputOf(outputs, 'lookup').data;
    const productValues = outputOf(outputs, 'product').data;
    await figure(
      'init-distributions',
      densityHistogramSpec({
        title: 'PyTorch initializations of nn.Embedding and nn.Linear',
        xTitle: 'weight',
        series: [
          { name: 'Embedding, N(0, 1)', values: table },
          { name: `Linear, U(-${round(bound, 3)}, ${round(bound, 3)})`, values: linearWeight },
        ],
        // Bins of width 0.05, so that the narrow uniform spans several of them.
        bins: 160,
        range: [-4, 4],
      }),
    );
    return {
      results: {
        vocabSize: vocab,
        dim,
        embeddingShape: [vocab, dim],
        linearWeightShape: [vocab, dim],
        embeddingParameters: vocab * dim,
        linearParameters: vocab * dim + vocab,
        lookedUpIds: ids,
        maxDifferenceLookupOneHot: maxAbsDifference(lookupValues, productValues),
        embeddingStd: standardDeviation(table),
        linearStd: standardDeviation(linearWeight),
        linearExpectedStd: bound / Math.sqrt(3),
        linearBound: bound,
        xavierStd: Math.sqrt(2 / (vocab + dim)),
      },
    };
  },
});

/** The error function, by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
function erf(x: number): number {
  const sign = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}

/** Derivative of the exact GELU x Phi(x): Phi(x) + x phi(x). */
function geluDerivative(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

/** Derivative of the tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2 / pi) (x + 0.044715 x^3). */
function geluTanhDerivative(x: number): number {
  const c = Math.sqrt(2 / Math.PI);
  const u = c * (x + 0.044715 * x ** 3);
  const th = Math.tanh(u);
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * 0.044715 * x * x);
}

export const geluVsRelu = defineExperiment({
  id: 'gelu-vs-relu',
  title: 'GELU against ReLU, and their derivatives',
  section: '51. CodeChallenge: GELU vs. ReLU',
  description:
    "Evaluates ReLU, exact GELU x Phi(x) and its tanh approximation on evenly spaced points with the graph engine on ONNX Runtime, and their derivatives with the engine's reverse-mode autodiff (grad of the sum), where the course takes finite differences. Compares the derivatives with the closed-form ones.",
  needs: ['graph', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    points: z.number().int().min(3).max(100_001).default(101).describe('evenly spaced inputs'),
    range: z.number().gt(0).max(100).default(3).describe('inputs span [-range, range]'),
  }),
  async run({ params, figure }) {
    const xs = linspace(-params.range, params.range, params.points);
    const g = new Graph('gelu-vs-relu');
    const x = g.input('x', 'float32', [params.points]);
    const curves = {
      relu: g.relu(x),
      gelu: g.gelu(x, 'none'),
      'gelu-tanh': g.gelu(x, 'tanh'),
    };
    for (const [name, y] of Object.entries(curves)) {
      g.output(name, y);
      g.output(`d-${name}`, grad(g.reduceSum(y), [x])[0]);
    }
    const outputs = await runGraph(g, { x: float32Feed(Float32Array.from(xs), [params.points]) });

    const value = (name: string) => Array.from(outputOf(outputs, name).data);
    const gelu = value('gelu');
    const geluTanh = value('gelu-tanh');
    await figure(
      'activations',
      lineChartSpec({
        title: 'ReLU, GELU and tanh-approximated GELU',
        xTitle: 'x',
        yTitle: 'activation',
        points: Object.keys(curves).flatMap((name) =>
          value(name).map((y, i) => ({ x: xs[i], y, series: name })),
        ),
        // Dashed, so that the exact GELU shows through the approximation that covers it.
        dashed: ['gelu-tanh'],
        width: 480,
      }),
    );
    await figure(
      'derivatives',
      lineChartSpec({
        title: 'Derivatives by autodiff (the two GELU curves overlap)',
        xTitle: 'x',
        yTitle: 'derivative',
        points: Object.keys(curves).flatMap((name) =>
          value(`d-${name}`).map((y, i) => ({ x: xs[i], y, series: `d ${name} / dx` })),
        ),
        dashed: ['d gelu-tanh / dx'],
        width: 480,
      }),
    );

    const derivativeError = (name: string, exact: (x: number) => number) =>
      maxAbsDifference(
        value(`d-${name}`),
        xs.map((v) => exact(v)),
      );
    return {
      results: {
        maxDifferenceGeluTanh: maxAbsDifference(gelu, geluTanh),
        correlationGeluTanh: correlation(gelu, geluTanh),
        geluMinimum: Math.min(...gelu),
        reluDerivativeValues: [...new Set(value('d-relu'))].sort((a, b) => a - b),
        geluDerivativeAtZero: value('d-gelu')[xs.findIndex((v) => Math.abs(v) < 1e-12)] ?? null,
        maxErrorGeluDerivative: derivativeError('gelu', geluDerivative),
        maxErrorGeluTanhDerivative: derivativeError('gelu-tanh', geluTanhDerivative),
        maxErrorReluDerivative: maxAbsDifference(
          value('d-relu'),
          xs.map((v) => (v > 0 ? 1 : 0)),
        ),
      },
    };
  },
});

export const dropoutExperiment = defineExperiment({
  id: 'dropout',
  title: 'Dropout in training and in evaluation',
  section: '90. Dropout in theory and in Pytorch',
  description:
    "Applies the graph engine's inverted dropout op to a tensor of ones on ONNX Runtime, with uniform noise drawn from the seeded generator: in training it zeroes the elements whose noise is below p and scales the survivors by 1 / (1 - p), so the mean stays about 1. In evaluation the model is built without the op, so the values pass unchanged.",
  needs: ['graph', 'ONNX Runtime'],
  typicalTime: '1 s',
  params: z.object({
    p: z.number().min(0).lt(1).default(0.2).describe('dropout probability'),
    size: z.number().int().min(1).max(10_000_000).default(10_000).describe('elements of the tensor'),
  }),
  async run({ params, rng, figure }) {
    const ones = new Float32Array(params.size).fill(1);
    const noise = rng.fillUniform(new Float32Array(params.size)) as Float32Array;
    const build = (training: boolean) => {
      const g = new Graph(training ? 'dropout-train' : 'dropout-eval');
      const x = g.input('x', 'float32', [params.size]);
      if (training) {
        const noiseInput = g.input('noise', 'float32', [params.size]);
        g.output('y', g.dropout(x, noiseInput, params.p));
      } else {
        g.output('y', g.identity(x));
      }
      return g;
    };
    const train = outputOf(
      await runGraph(build(true), {
        x: float32Feed(ones, [params.size]),
        noise: float32Feed(noise, [params.size]),
      }),
      'y',
    ).data;
    const evaluation = outputOf(
      await runGraph(build(false), { x: float32Feed(ones, [params.size]) }),
      'y',
    ).data;
    const summarize = (values: Float32Array) => {
      const distinct = [...new Set(values)].sort((a, b) => a - b);
      const zeros = values.filter((v) => v === 0).length;
      return { distinct, zeroFraction: zeros / values.length, mean: mean(values) };
    };
    const trainSummary = summarize(train);
    const evalSummary = summarize(evaluation);
    const modes = [
      { group: 'training', values: train, distinct: trainSummary.distinct },
      { group: 'evaluation', values: evaluation, distinct: evalSummary.distinct },
    ];
    // The values in ascending order on the x axis, each with a bar for every mode that produces it.
    const allValues = [...new Set([...trainSummary.distinct, ...evalSummary.distinct])].sort((a, b) => a - b);
    await figure(
      'values',
      barChartSpec({
        title: `Values after dropout (p = ${params.p})`,
        xTitle: 'value',
        yTitle: 'share of elements (%)',
        bars: allValues.flatMap((v) =>
          modes
            .filter((mode) => mode.distinct.includes(v))
            .map((mode) => ({
              label: String(round(v)),
              value: (100 * mode.values.filter((t) => t === v).length) / params.size,
              group: mode.group,
            })),
        ),
        grouped: true,
      }),
    );
    return {
      results: {
        p: params.p,
        expectedSurvivorValue: 1 / (1 - params.p),
        trainingValues: trainSummary.distinct,
        trainingZeroFraction: trainSummary.zeroFraction,
        trainingMean: trainSummary.mean,
        evaluationValues: evalSummary.distinct,
        evaluationZeroFraction: evalSummary.zeroFraction,
      },
    };
  },
});
