import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type GptConfig, GptInference, resolveGptConfig } from '@glassbox/gpt-core';
import { Rng } from '@glassbox/graph';
import { writeFileAtomic } from '@glassbox/graph/node';
import { CharTokenizer, type Tokenizer, trainBpe } from '@glassbox/tokenizers';
import { loadTokenizer, saveTokenizer } from '@glassbox/tokenizers/node';
import { GptTrainer, type TrainerOptions } from '@glassbox/trainer';
import { loadCheckpoint, saveCheckpoint } from '@glassbox/trainer/node';
import { type Corpus, checkCorpusLength } from '../corpus.js';
import { METRICS_FILE, type MetricsRecord, MetricsWriter, readMetrics, truncateMetrics } from '../metrics.js';
import { GENERATE_DEFAULTS, type TrainOptions, UsageError } from '../options.js';
import { lossCurveSpec, renderChart } from '../plot.js';
import { createTrainingProgress } from '../progress.js';
import { huggingFaceConfig, TOKENIZER_FILE } from '../run-files.js';

/** Length of the sample printed at the end of training, in tokens. */
const SAMPLE_TOKENS = 300;

/** Trains a model on `corpus` as `options` describe, writing the run to `options.out`. */
export async function runTrain(options: TrainOptions, corpus: Corpus): Promise<void> {
  const out = options.out;
  await mkdir(out, { recursive: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const resumed = options.resume ? await loadCheckpoint(options.resume) : undefined;
  const tokenizer = resumed
    ? await loadTokenizer(join(options.resume!, TOKENIZER_FILE))
    : await buildTokenizer(options, corpus.text, log);

  const tokens = encodeCorpus(tokenizer, corpus.text, corpus.name);
  const model: GptConfig = resumed
    ? resumed.options.model
    : resolveGptConfig({
        vocabSize: tokenizer.vocabSize,
        blockSize: options.blockSize,
        nLayer: options.nLayer,
        nHead: options.nHead,
        nEmbd: options.nEmbd,
        dropout: options.dropout,
      });
  if (resumed && tokenizer.vocabSize !== model.vocabSize) {
    throw new UsageError(
      `the tokenizer in ${options.resume} has ${tokenizer.vocabSize} tokens but the model expects ${model.vocabSize}; the checkpoint is inconsistent.`,
    );
  }
  const trainerOptions: TrainerOptions = resumed
    ? { ...resumed.options, session: sessionOptions(options) }
    : {
        model,
        batchSize: options.batchSize,
        learningRate: options.lr,
        minLearningRate: options.minLr,
        warmupSteps: options.warmupSteps,
        maxSteps: options.steps,
        weightDecay: options.weightDecay,
        beta1: 0.9,
        beta2: 0.95,
        gradClip: options.gradClip,
        evalIters: options.evalIters,
        seed: options.seed,
        session: sessionOptions(options),
      };
  const valFraction = options.valFraction;
  const sizes = checkCorpusLength(tokens.length, model.blockSize, valFraction);
  const data = { train: tokens.subarray(0, sizes.train), validation: tokens.subarray(sizes.train) };

  if (!resumed) {
    await saveTokenizer(join(out, TOKENIZER_FILE), tokenizer);
  }
  const { session: _session, ...persisted } = trainerOptions;
  await writeFileAtomic(
    join(out, 'config.json'),
    `${JSON.stringify(huggingFaceConfig(model, { corpus: corpus.name, tokenizer: tokenizer.kind, training: { ...persisted, valFraction } }), null, 2)}\n`,
  );

  const trainer = await GptTrainer.create(trainerOptions, data, resumed?.state);
  const startStep = trainer.step;
  const metricsPath = join(out, METRICS_FILE);
  const history: MetricsRecord[] = resumed ? await truncateMetrics(metricsPath, startStep) : [];
  if (!resumed) await writeFileAtomic(metricsPath, '');
  const metrics = await MetricsWriter.open(metricsPath);
  const previousSeconds = history.at(-1)?.elapsedSeconds ?? 0;

  log(
    `glassbox train: ${corpus.name}, ${tokens.length.toLocaleString('en-US')} tokens (${tokenizer.kind}, vocabulary ${tokenizer.vocabSize}), ` +
      `train ${sizes.train.toLocaleString('en-US')} / validation ${sizes.validation.toLocaleString('en-US')}; ` +
      `model ${model.nLayer} layers, ${model.nHead} heads, width ${model.nEmbd}, context ${model.blockSize}` +
      (resumed ? `; resuming at step ${startStep}` : ''),
  );

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const progress = createTrainingProgress({ totalSteps: trainerOptions.maxSteps, startStep });
  const started = performance.now();
  const evalInterval = options.evalInterval;
  try {
    while (trainer.step < trainerOptions.maxSteps && !interrupted) {
      const stepStart = performance.now();
      const step = await trainer.trainStep();
      const tokensPerSecond = step.tokens / ((performance.now() - stepStart) / 1000);
      const record: MetricsRecord = {
        step: step.step,
        trainLoss: step.loss,
        lr: step.learningRate,
        gradNorm: step.gradNorm,
        tokensPerSecond,
        elapsedSeconds: previousSeconds + (performance.now() - started) / 1000,
      };
      const isLast = step.step === trainerOptions.maxSteps;
      if (step.step % evalInterval === 0 || isLast) {
        const losses = await trainer.evaluate();
        record.valLoss = losses.validation;
        progress.log(
          `step ${step.step}: train loss ${losses.train.toFixed(4)}, validation loss ${losses.validation.toFixed(4)}`,
        );
      }
      history.push(record);
      await metrics.append(record);
      progress.update({ step: step.step, loss: step.loss, tokensPerSecond });
      if (record.valLoss !== undefined) {
        await saveCheckpoint(out, trainer.state(), trainerOptions);
        await renderChart(lossCurveSpec(history, `Loss, ${corpus.name}`), join(out, 'loss'));
      }
    }
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
    await metrics.close();
  }

  await saveCheckpoint(out, trainer.state(), trainerOptions);
  await renderChart(lossCurveSpec(await readMetrics(metricsPath), `Loss, ${corpus.name}`), join(out, 'loss'));
  if (interrupted) {
    await trainer.release();
    log(
      `glassbox train: interrupted at step ${trainer.step}; checkpoint saved in ${out}. Continue with --resume ${out}`,
    );
    process.exitCode = 130;
    return;
  }

  const parameters = trainer.parameters();
  await trainer.release();
  log(
    `glassbox train: wrote ${out} (model.safetensors, ${TOKENIZER_FILE}, config.json, ${METRICS_FILE}, loss.svg, loss.png)`,
  );
  const sample = await generateSample(model, parameters, tokenizer, options.seed);
  process.stdout.write(`\n--- sample ---\n${sample}\n`);
}

function sessionOptions(options: TrainOptions) {
  return options.threads === undefined ? {} : { intraOpThreads: options.threads };
}

async function buildTokenizer(
  options: TrainOptions,
  text: string,
  log: (line: string) => void,
): Promise<Tokenizer> {
  if (options.tokenizer === 'char') return CharTokenizer.fromText(text);
  const merges = options.bpeVocabSize - 256;
  const progress = createTrainingProgress({ totalSteps: Math.max(merges, 1) });
  log(`glassbox train: training a byte-level BPE tokenizer with ${options.bpeVocabSize} tokens`);
  try {
    return trainBpe(text, {
      vocabSize: options.bpeVocabSize,
      preTokenizer: 'gpt2',
      onProgress: (done) => progress.update({ step: done, loss: Number.NaN, tokensPerSecond: Number.NaN }),
    });
  } finally {
    progress.stop();
  }
}

function encodeCorpus(tokenizer: Tokenizer, text: string, name: string): Int32Array {
  try {
    return Int32Array.from(tokenizer.encode(text));
  } catch (error) {
    throw new UsageError(`cannot tokenize ${name} with the run's tokenizer: ${(error as Error).message}`);
  }
}

/** A sample from the trained model, starting from a newline as nanoGPT's sampler does. */
async function generateSample(
  config: GptConfig,
  parameters: Map<string, Float32Array>,
  tokenizer: Tokenizer,
  seed: number,
): Promise<string> {
  let prompt: number[];
  try {
    prompt = tokenizer.encode('\n');
  } catch {
    prompt = [0];
  }
  if (prompt.length === 0) prompt = [0];
  const inference = await GptInference.create(config, parameters);
  const ids = await inference.generate(prompt, {
    maxNewTokens: SAMPLE_TOKENS,
    rng: new Rng(seed),
    temperature: GENERATE_DEFAULTS.temperature,
    topK: GENERATE_DEFAULTS.topK,
  });
  await inference.release();
  return tokenizer.decode([...prompt, ...ids]);
}
