import { Rng } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import {
  CourseModelSession,
  countParameters,
  histogram,
  inspectForward,
  listIntermediates,
  parameterStatistics,
  replaceActivation,
  scaleActivation,
  scaleHead,
  tensorStatistics,
  zeroHead,
} from './inspect.js';
import {
  type CourseModelConfig,
  courseModelParameterShapes,
  initCourseModelParameters,
  type Model5Config,
} from './models.js';

const MODEL5: Model5Config = { model: 5, vocabSize: 19, nEmbd: 16, blockSize: 8, nLayer: 2, nHead: 4 };
const IDS = [
  [3, 1, 4, 1, 5, 9, 2, 6],
  [2, 7, 1, 8, 2, 8, 1, 8],
];

/** Model 5 parameters with randomized biases and layer norms, so that every parameter shapes the output. */
function model5Parameters(seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const parameters = initCourseModelParameters(MODEL5, rng);
  for (const [name, data] of parameters) {
    if (name.includes('ln_') || name.endsWith('.bias'))
      rng.fillNormal(data, name.endsWith('.weight') ? 1 : 0, 0.3);
    else for (let i = 0; i < data.length; i++) data[i] *= 10;
  }
  return parameters;
}

describe('countParameters', () => {
  it('splits GPT-2 small by component and module', () => {
    const gpt2: Model5Config = {
      model: 5,
      vocabSize: 50257,
      blockSize: 1024,
      nLayer: 12,
      nHead: 12,
      nEmbd: 768,
    };
    const counts = countParameters(courseModelParameterShapes(gpt2));
    expect(counts.total).toBe(124_439_808);
    expect(counts.byComponent).toEqual({
      embeddings: 50257 * 768 + 1024 * 768,
      attention: 12 * (768 * 2304 + 2304 + 768 * 768 + 768),
      mlp: 12 * (768 * 3072 + 3072 + 3072 * 768 + 768),
      layerNorm: 25 * 2 * 768,
      head: 0,
    });
    expect(counts.biases).toBe(12 * (2304 + 768 + 3072 + 768) + 25 * 768);
    expect(counts.weights + counts.biases).toBe(counts.total);
    expect(counts.byModule.get('h.3.attn.c_attn')).toBe(768 * 2304 + 2304);
    expect(counts.byModule.get('wte')).toBe(50257 * 768);
  });

  it('counts an untied head separately', () => {
    const counts = countParameters(courseModelParameterShapes({ ...MODEL5, tieWeights: false }));
    expect(counts.byComponent.head).toBe(19 * 16);
    expect(counts.byModule.get('lm_head')).toBe(19 * 16);
  });
});

describe('tensorStatistics and histogram', () => {
  it('summarizes values', () => {
    const stats = tensorStatistics(Float32Array.of(0, 1, -2, 3));
    expect(stats).toEqual({
      count: 4,
      mean: 0.5,
      std: Math.sqrt(3.25),
      min: -2,
      max: 3,
      absMean: 1.5,
      zeroFraction: 0.25,
      nonFinite: 0,
    });
    expect(() => tensorStatistics([])).toThrow(/empty/);
  });

  it('skips and counts non-finite values', () => {
    const stats = tensorStatistics([1, -1, 0, 2, Number.NaN]);
    expect(stats).toMatchObject({
      count: 4,
      mean: 0.5,
      min: -1,
      max: 2,
      absMean: 1,
      zeroFraction: 0.2,
      nonFinite: 1,
    });
    expect(stats.std).toBeCloseTo(Math.sqrt(1.25), 12);
  });

  it('summarizes every parameter', () => {
    const stats = parameterStatistics(initCourseModelParameters(MODEL5, new Rng(1)));
    expect(stats.get('h.0.ln_1.weight')).toMatchObject({ mean: 1, std: 0, zeroFraction: 0 });
    expect(stats.get('h.0.attn.c_attn.bias')?.zeroFraction).toBe(1);
    expect(stats.get('wte.weight')?.std).toBeGreaterThan(0.015);
    expect(stats.get('wte.weight')?.std).toBeLessThan(0.025);
  });

  it('bins as numpy.histogram does', () => {
    // numpy.histogram([1, 2, 1], bins=3) -> counts [2, 0, 1], edges [1, 4/3, 5/3, 2]
    const a = histogram([1, 2, 1], 3);
    expect(Array.from(a.counts)).toEqual([2, 0, 1]);
    expect(a.edges[1]).toBeCloseTo(4 / 3, 12);
    // numpy.histogram([0, 1, 2, 3, 4, 7, -1], bins=4, range=(0, 4)) -> [1, 1, 1, 2]
    expect(Array.from(histogram([0, 1, 2, 3, 4, 7, -1], 4, [0, 4]).counts)).toEqual([1, 1, 1, 2]);
    // numpy.histogram([5, 5], bins=2) -> counts [0, 2], edges [4.5, 5, 5.5]
    const flat = histogram([5, 5], 2);
    expect(Array.from(flat.counts)).toEqual([0, 2]);
    expect(Array.from(flat.edges)).toEqual([4.5, 5, 5.5]);
    // numpy.histogram([0.3, 0.7, 0.1], bins=10, range=(0, 1)) -> [0, 1, 1, 0, 0, 0, 1, 0, 0, 0]: numpy's edges
    // 0.30000000000000004 and 0.7000000000000001 lie just above 0.3 and 0.7, which fall into the bins below.
    expect(Array.from(histogram([0.3, 0.7, 0.1], 10, [0, 1]).counts)).toEqual([0, 1, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect(() => histogram([1], 0)).toThrow(/bins must be a positive integer/);
  });
});

describe('intermediates', () => {
  it('lists the sites of each model', () => {
    expect(listIntermediates({ model: 1, vocabSize: 5, nEmbd: 4 })).toEqual([
      'embeddings',
      'activation',
      'hidden',
      'logits',
    ]);
    const model4 = listIntermediates({ model: 4, vocabSize: 5, nEmbd: 4, blockSize: 4, nLayer: 2 });
    expect(model4).toContain('h.1.attn.weights');
    expect(model4).toContain('h.1.mlp.activation');
    expect(model4).toContain('h.0.output');
    const model5 = listIntermediates(MODEL5);
    expect(model5).toContain('h.1.attn.head.3.weights');
    expect(model5).toContain('h.0.mlp.pre_activation');
  });

  it('returns causal attention weights', async () => {
    const configs: CourseModelConfig[] = [
      MODEL5,
      { model: 4, vocabSize: 19, nEmbd: 16, blockSize: 8, nLayer: 2 },
    ];
    for (const config of configs) {
      const parameters = initCourseModelParameters(config, new Rng(3));
      const capture =
        config.model === 5 ? ['h.1.attn.weights', 'h.1.attn.head.2.weights'] : ['h.1.attn.weights'];
      const { intermediates } = await inspectForward(config, parameters, IDS, { capture });
      for (const name of capture) {
        const { data, shape } = intermediates.get(name)!;
        const seq = shape[shape.length - 1];
        expect(shape[0]).toBe(2);
        expect(shape[shape.length - 2]).toBe(seq);
        for (let row = 0; row < data.length / seq; row++) {
          const i = row % seq;
          let sum = 0;
          for (let j = 0; j < seq; j++) {
            const w = data[row * seq + j];
            if (j > i) expect(w, `${name} row ${row} column ${j}`).toBe(0);
            sum += w;
          }
          expect(sum).toBeCloseTo(1, 5);
        }
      }
    }
  });

  it('returns every intermediate with its shape', async () => {
    const parameters = initCourseModelParameters(MODEL5, new Rng(3));
    const result = await inspectForward(MODEL5, parameters, IDS, { capture: 'all' });
    expect(result.logits.shape).toEqual([2, 8, 19]);
    expect(result.intermediates.get('embeddings')?.shape).toEqual([2, 8, 16]);
    expect(result.intermediates.get('h.0.attn.weights')?.shape).toEqual([2, 4, 8, 8]);
    expect(result.intermediates.get('h.0.attn.head.1.output')?.shape).toEqual([2, 8, 4]);
    expect(result.intermediates.get('h.1.mlp.activation')?.shape).toEqual([2, 8, 64]);
    expect(result.intermediates.get('hidden')?.shape).toEqual([2, 8, 16]);
    expect(result.intermediates.has('logits')).toBe(false);
  });

  it('rejects an unknown intermediate with the available names', async () => {
    const parameters = initCourseModelParameters(MODEL5, new Rng(3));
    await expect(CourseModelSession.create(MODEL5, parameters, { capture: ['h.9.output'] })).rejects.toThrow(
      /no intermediate "h\.9\.output"; available: embeddings, /,
    );
    await expect(
      CourseModelSession.create(MODEL5, parameters, { interventions: [zeroHead('h.7.attn', 0)] }),
    ).rejects.toThrow(/no intermediate "h\.7\.attn\.heads" to intervene on/);
  });
});

describe('interventions', () => {
  const capture = ['h.0.output', 'h.1.attn.heads', 'h.1.attn.weights', 'h.1.attn.output'];

  it('zeroing a head removes exactly its share of the output projection', async () => {
    const parameters = model5Parameters(7);
    const clean = await inspectForward(MODEL5, parameters, IDS, { capture });
    const ablated = await inspectForward(MODEL5, parameters, IDS, {
      capture,
      interventions: [zeroHead('h.1.attn', 2)],
    });

    // Upstream of the head and its attention pattern are untouched.
    expect(ablated.intermediates.get('h.0.output')!.data).toEqual(
      clean.intermediates.get('h.0.output')!.data,
    );
    expect(ablated.intermediates.get('h.1.attn.weights')!.data).toEqual(
      clean.intermediates.get('h.1.attn.weights')!.data,
    );

    // By hand: the merged heads meet c_proj.weight [in, out] at rows h * d .. h * d + d - 1, so zeroing head 2
    // subtracts heads[:, 2] @ W[2d:3d, :] from the projection and changes nothing else.
    const [batch, nHead, seq, d] = clean.intermediates.get('h.1.attn.heads')!.shape;
    const width = nHead * d;
    const heads = clean.intermediates.get('h.1.attn.heads')!.data;
    const weight = parameters.get('h.1.attn.c_proj.weight')!;
    const before = clean.intermediates.get('h.1.attn.output')!.data;
    const after = ablated.intermediates.get('h.1.attn.output')!.data;
    let largestChange = 0;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < seq; t++) {
        for (let o = 0; o < width; o++) {
          let share = 0;
          for (let j = 0; j < d; j++)
            share += heads[((b * nHead + 2) * seq + t) * d + j] * weight[(2 * d + j) * width + o];
          const index = (b * seq + t) * width + o;
          expect(after[index]).toBeCloseTo(before[index] - share, 4);
          largestChange = Math.max(largestChange, Math.abs(share));
        }
      }
    }
    expect(largestChange).toBeGreaterThan(0.1);
    const recordedHeads = ablated.intermediates.get('h.1.attn.heads')!.data;
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < seq * d; i++)
        expect(Math.abs(recordedHeads[(b * nHead + 2) * seq * d + i])).toBe(0);
    }
  });

  it('scaling a head by 2 doubles its share', async () => {
    const parameters = model5Parameters(8);
    const zero = await inspectForward(MODEL5, parameters, IDS, {
      capture,
      interventions: [zeroHead('h.1.attn', 1)],
    });
    const clean = await inspectForward(MODEL5, parameters, IDS, { capture });
    const doubled = await inspectForward(MODEL5, parameters, IDS, {
      capture,
      interventions: [scaleHead('h.1.attn', 1, 2)],
    });
    const [z, c, s] = [zero, clean, doubled].map((r) => r.intermediates.get('h.1.attn.output')!.data);
    for (let i = 0; i < c.length; i++) expect(s[i] - z[i]).toBeCloseTo(2 * (c[i] - z[i]), 4);
  });

  it('replacing the residual stream carries another sequence downstream', async () => {
    const parameters = model5Parameters(9);
    const donor = await inspectForward(MODEL5, parameters, [IDS[1]], {
      capture: ['h.0.output', 'h.1.output'],
    });
    const clean = await inspectForward(MODEL5, parameters, [IDS[0]], {});
    const patched = await inspectForward(MODEL5, parameters, [IDS[0]], {
      interventions: [
        replaceActivation('h.0.output', donor.intermediates.get('h.0.output')!.data, [1, 8, 16]),
      ],
    });
    // Block 1 reads only the residual stream, so the logits become the donor's.
    expect(Array.from(patched.logits.data)).toEqual(Array.from(donor.logits.data));

    // Patching one position after the last block changes that position's logits only.
    const donorFinal = donor.intermediates.get('h.1.output')!.data;
    const position = 5;
    const onePosition = await inspectForward(MODEL5, parameters, [IDS[0]], {
      interventions: [
        replaceActivation('h.1.output', donorFinal.slice(position * 16, (position + 1) * 16), [1, 16], {
          position,
        }),
      ],
    });
    for (let t = 0; t < 8; t++) {
      const row = (r: { logits: { data: Float32Array } }) =>
        Array.from(r.logits.data.subarray(t * 19, (t + 1) * 19));
      expect(row(onePosition), `position ${t}`).toEqual(t === position ? row(donor) : row(clean));
    }
  });

  it('scaling MLP activations to 0 leaves only the output bias', async () => {
    const parameters = model5Parameters(10);
    const result = await inspectForward(MODEL5, parameters, IDS, {
      capture: ['h.0.mlp.output'],
      interventions: [scaleActivation('h.0.mlp.activation', 0)],
    });
    const bias = parameters.get('h.0.mlp.c_proj.bias')!;
    const output = result.intermediates.get('h.0.mlp.output')!.data;
    for (let i = 0; i < output.length; i++) expect(output[i]).toBe(bias[i % 16]);
  });
});

describe('CourseModelSession', () => {
  it('gives each sequence of a batch the logits it has alone', async () => {
    const parameters = model5Parameters(11);
    const session = await CourseModelSession.create(MODEL5, parameters);
    const batch = await session.forward(IDS);
    const second = await session.forward(IDS[1]);
    await session.release();
    expect(batch.logits.shape).toEqual([2, 8, 19]);
    expect(Array.from(batch.logits.data.subarray(8 * 19))).toEqual(Array.from(second.logits.data));
  });

  it('generates greedily at temperature 0 whatever the generator', async () => {
    const session = await CourseModelSession.create(MODEL5, model5Parameters(12));
    const prompt = [1, 2, 3];
    const a = await session.generate(prompt, { maxNewTokens: 12, rng: new Rng(1), temperature: 0 });
    const b = await session.generate(prompt, { maxNewTokens: 12, rng: new Rng(2), temperature: 0 });
    const first = await session.nextTokenLogits(prompt);
    await session.release();
    expect(a).toHaveLength(12);
    expect(b).toEqual(a);
    expect(a[0]).toBe(first.indexOf(Math.max(...first)));
  });

  it('names a missing parameter and a bad token id', async () => {
    const parameters = initCourseModelParameters(MODEL5, new Rng(1));
    parameters.delete('h.1.mlp.c_fc.bias');
    await expect(CourseModelSession.create(MODEL5, parameters)).rejects.toThrow(
      /missing parameter "h\.1\.mlp\.c_fc\.bias"/,
    );
    const session = await CourseModelSession.create(MODEL5, initCourseModelParameters(MODEL5, new Rng(1)));
    await expect(session.forward([1, 19])).rejects.toThrow(/token id 19 is outside the vocabulary \[0, 19\)/);
    await expect(session.forward([[1, 2], [3]])).rejects.toThrow(/sequence 1 has 1 ids, sequence 0 has 2/);
    await session.release();
  });

  it('rejects a head outside the block and values of the wrong size', async () => {
    const parameters = initCourseModelParameters(MODEL5, new Rng(1));
    await expect(
      CourseModelSession.create(MODEL5, parameters, { interventions: [zeroHead('h.0.attn', 4)] }),
    ).rejects.toThrow(/head 4 is outside \[0, 4\) at h\.0\.attn\.heads/);
    expect(() => replaceActivation('h.0.output', new Float32Array(5), [1, 2, 3])).toThrow(
      /5 values do not fill shape \[1,2,3\] at h\.0\.output/,
    );
  });
});
