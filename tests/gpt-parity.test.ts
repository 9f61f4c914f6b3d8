import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildGpt,
  gptFromSafetensors,
  gptToSafetensors,
  initGptParameters,
  isDecayedParameter,
  resolveGptConfig,
} from '@glassbox/gpt-core';
import {
  addTrainingStep,
  Graph,
  GraphSession,
  grad,
  parseSafetensors,
  Rng,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorEntry,
  TrainingSession,
  toFloat32,
  toOnnx,
} from '@glassbox/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  maxAbsDifference,
  pythonScript,
  relativeMaxError,
  runPython,
  TORCH_SKIP_REASON,
  torchAvailable,
} from './src/python.js';

const SCRIPT = pythonScript('gpt_reference.py');
const BATCH = 3;
const SEQ = 16;
const ADAMW = { steps: 10, lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 1.0 };

describe.skipIf(!torchAvailable())(`GPT matches a PyTorch GPT-2 (${TORCH_SKIP_REASON})`, () => {
  let directory: string;
  /** Weights with large activations, for the forward and gradient comparison. */
  let largeWeights: SafetensorsFile;
  let largeReference: SafetensorsFile;
  /** Weights at GPT-2's initialization scale, for the AdamW comparison. */
  let initWeights: SafetensorsFile;
  let initReference: SafetensorsFile;
  let x: BigInt64Array;
  let y: BigInt64Array;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'glassbox-parity-'));
    const config = resolveGptConfig({ vocabSize: 37, blockSize: SEQ, nLayer: 2, nHead: 4, nEmbd: 32 });
    const rng = new Rng(3);
    // Large weights (ten times GPT-2's initialization) push activations into the ranges where
    // approximations differ, GELU's tanh form for one. Biases and layer norms are randomized so they matter.
    const large = initGptParameters(config, rng);
    const init = initGptParameters(config, rng);
    for (const [name, data] of large) {
      if (name.includes('ln_')) rng.fillNormal(data, name.endsWith('.weight') ? 1 : 0, 0.3);
      else if (name.endsWith('.bias')) rng.fillNormal(data, 0, 0.2);
      else for (let i = 0; i < data.length; i++) data[i] *= 10;
    }
    // AdamW divides by sqrt(v), so it turns float rounding noise in gradients that are zero in exact
    // arithmetic (the key bias cannot change a softmax) into full-size steps. At GPT-2's initialization
    // scale that noise is far below eps; with the large weights it is not, so AdamW is compared here.
    for (const [name, data] of init) {
      if (name.includes('ln_') || name.endsWith('.bias')) {
        for (let i = 0; i < data.length; i++) data[i] += rng.normal(0, 0.1);
      }
    }

    const batchPath = join(directory, 'batch.safetensors');
    const batchTensors = new Map<string, TensorEntry>();
    const ids = Array.from({ length: BATCH * SEQ }, (_, i) => (i * 7 + 3) % 37);
    x = BigInt64Array.from(ids, (v) => BigInt(v));
    // One target is ignored (-100), as padding would be.
    y = BigInt64Array.from(ids, (v, i) => BigInt(i === 5 ? -100 : (v * 5 + 1) % 37));
    batchTensors.set('x', { dtype: 'I64', shape: [BATCH, SEQ], data: x });
    batchTensors.set('y', { dtype: 'I64', shape: [BATCH, SEQ], data: y });
    await writeFile(batchPath, serializeSafetensors(batchTensors));

    const reference = async (name: string, parameters: Map<string, Float32Array>, adamwSteps: number) => {
      const weightsPath = join(directory, `${name}.safetensors`);
      const outPath = join(directory, `${name}.reference.safetensors`);
      await writeFile(weightsPath, gptToSafetensors(config, parameters));
      runPython([
        SCRIPT,
        '--weights',
        weightsPath,
        '--batch',
        batchPath,
        '--out',
        outPath,
        '--adamw-steps',
        String(adamwSteps),
        '--lr',
        String(ADAMW.lr),
        '--betas',
        String(ADAMW.beta1),
        String(ADAMW.beta2),
        '--eps',
        String(ADAMW.eps),
        '--weight-decay',
        String(ADAMW.weightDecay),
        '--grad-clip',
        String(ADAMW.clip),
        '--threads',
        '1',
      ]);
      return [
        parseSafetensors(await readFile(weightsPath), weightsPath),
        parseSafetensors(await readFile(outPath), outPath),
      ] as const;
    };
    [largeWeights, largeReference] = await reference('large', large, 0);
    [initWeights, initReference] = await reference('init', init, ADAMW.steps);
  });

  afterAll(async () => {
    if (directory) await rm(directory, { recursive: true });
  });

  const ref = (name: string, reference = largeReference) => {
    const entry = reference.tensors.get(name);
    if (!entry) throw new Error(`the reference output has no tensor "${name}"`);
    return toFloat32(entry);
  };

  it('gives the same loss, logits and parameter gradients', async () => {
    const { config, parameters } = gptFromSafetensors(largeWeights, 'large.safetensors');
    const g = new Graph('parity');
    const inputIds = g.input('input_ids', 'int64', [BATCH, SEQ]);
    const targets = g.input('targets', 'int64', [BATCH, SEQ]);
    const model = buildGpt(g, config, { inputIds });
    const loss = g.crossEntropy(model.logits, targets);
    g.output('loss', loss);
    g.output('logits', model.logits);
    const names = [...model.parameters.keys()];
    grad(loss, [...model.parameters.values()]).forEach((t, i) => {
      g.output(`grad.${names[i]}`, t);
    });
    const session = await GraphSession.create(toOnnx(g), { intraOpThreads: 1 });
    const feeds = Object.fromEntries(
      names.map((name) => [
        name,
        session.tensor('float32', parameters.get(name)!, model.parameters.get(name)!.shape as number[]),
      ]),
    );
    feeds.input_ids = session.tensor('int64', x, [BATCH, SEQ]);
    feeds.targets = session.tensor('int64', y, [BATCH, SEQ]);
    const result = await session.run(feeds);
    await session.release();

    const ourLoss = result.loss.data[0] as number;
    const refLoss = ref('loss')[0];
    expect(Math.abs(ourLoss - refLoss) / Math.abs(refLoss)).toBeLessThan(1e-5);
    expect(relativeMaxError(result.logits.data as Float32Array, ref('logits'))).toBeLessThan(1e-4);
    for (const name of names) {
      const error = relativeMaxError(result[`grad.${name}`].data as Float32Array, ref(`grad.${name}`));
      expect(error, `gradient of ${name}`).toBeLessThan(1e-4);
    }
  });

  it('gives the same parameters after ten AdamW steps with clipping', async () => {
    const { config, parameters } = gptFromSafetensors(initWeights, 'init.safetensors');
    const g = new Graph('parity-adamw');
    const inputIds = g.input('input_ids', 'int64', [BATCH, SEQ]);
    const targets = g.input('targets', 'int64', [BATCH, SEQ]);
    const loss = g.crossEntropy(buildGpt(g, config, { inputIds }).logits, targets);
    const spec = addTrainingStep(g, loss, {
      optimizer: { type: 'adamw', beta1: ADAMW.beta1, beta2: ADAMW.beta2, eps: ADAMW.eps },
      maxGradNorm: ADAMW.clip,
      parameterSettings: (p) => ({
        weightDecay: isDecayedParameter(p.name, p.shape as number[]) ? ADAMW.weightDecay : 0,
      }),
    });
    const session = await TrainingSession.create(g, spec, { intraOpThreads: 1 });
    session.load(parameters);
    (session.inputBuffer('input_ids') as BigInt64Array).set(x);
    (session.inputBuffer('targets') as BigInt64Array).set(y);
    for (let k = 0; k < ADAMW.steps; k++) {
      const { loss: stepLoss, gradNorm } = await session.runStep(ADAMW.lr);
      expect(Math.abs(stepLoss - ref(`step${k}.loss`, initReference)[0]), `loss of step ${k}`).toBeLessThan(
        1e-4,
      );
      expect(
        Math.abs(gradNorm - ref(`step${k}.gradNorm`, initReference)[0]) /
          ref(`step${k}.gradNorm`, initReference)[0],
        `grad norm of step ${k}`,
      ).toBeLessThan(1e-4);
    }
    for (const [name, value] of session.parameters()) {
      expect(maxAbsDifference(value, ref(`final.${name}`, initReference)), `parameter ${name}`).toBeLessThan(
        1e-5,
      );
    }
    await session.release();
  });
});
