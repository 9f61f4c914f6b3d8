import { mkdir, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { type GptConfig, GptInference, resolveGptConfig } from '@glassbox/gpt-core';
import { Graph, GraphSession, Rng, toOnnx } from '@glassbox/graph';
import { writeFileAtomic } from '@glassbox/graph/node';
import { CharTokenizer, type Tokenizer, trainBpe } from '@glassbox/tokenizers';
import { saveTokenizer } from '@glassbox/tokenizers/node';
import { GptTrainer, runTraining, type TrainerOptions } from '@glassbox/trainer';
import { saveCheckpoint } from '@glassbox/trainer/node';
import { checkCorpusLength, hashCorpusText, loadCorpus } from '../corpus.js';
import { METRICS_FILE, type MetricsRecord, MetricsWriter, readMetrics, truncateMetrics } from '../metrics.js';
import { GENERATE_DEFAULTS, resolvePrecision, type TrainOptions, UsageError } from '../options.js';
import { lineChartSpec, lossCurveSpec, renderChart } from '../plot.js';
import { createTrainingProgress } from '../progress.js';
import { CONFIG_FILE, huggingFaceConfig, TOKENIZER_FILE } from '../run-files.js';
import {
  changedOnResume,
  checkResumeDirectory,
  errorCode,
  loadResumeCheckpoint,
  loadResumeCorpus,
  loadRunTokenizer,
  type RunSettings,
  readRunSettings,
  recordedCorpusName,
} from './train-resume.js';

/** Length of the sample printed at the end of training, in tokens. */
const SAMPLE_TOKENS = 300;

/** Maximum number of steps at which `--plot-lr` samples the schedule, far more than a chart has pixels. */
const LR_PLOT_MAX_POINTS = 2000;

/**
 * Trains a model as `options` describe, writing the run to `options.out`, and returns the exit status: 0, or
 * 130 when Ctrl-C stopped training (after saving a checkpoint that `--resume` continues from).
 */
export async function runTrain(options: TrainOptions): Promise<number> {
  const out = options.out;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (options.device === 'cuda') await checkCuda();

  await checkOutDirectory(out);
  const resumingInPlace = options.resume !== undefined && resolve(options.resume) === resolve(out);
  if (!resumingInPlace && (await holdsRun(out))) {
    throw new UsageError(
      `--out ${out} already contains a training run; choose another --out, or continue that run with --resume ${out}.`,
    );
  }
  if (options.resume) await checkResumeDirectory(options.resume);
  const resumed = options.resume ? await loadResumeCheckpoint(options.resume) : undefined;
  const previous = options.resume ? await readRunSettings(options.resume) : undefined;
  if (resumed && previous) {
    const changed = changedOnResume(options, resumed.options, previous);
    if (changed) {
      const [flag, given, stored] = changed;
      throw new UsageError(
        `--${flag} ${given} differs from ${stored}, the value of the run in ${options.resume}; a resumed run keeps ` +
          'its model, data and optimizer settings. Drop the option, or start a new run without --resume.',
      );
    }
  }
  const corpus =
    options.resume && previous
      ? await loadResumeCorpus(options, previous, options.resume, log)
      : await loadCorpus(options.corpus);
  const tokenizer = options.resume
    ? await loadRunTokenizer(options.resume)
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
    ? {
        ...resumed.options,
        maxSteps: options.given.has('steps') ? options.steps : resumed.options.maxSteps,
        session: sessionOptions(options),
      }
    : {
        model,
        batchSize: options.batchSize,
        learningRate: options.lr,
        minLearningRate: options.minLr,
        warmupSteps: options.warmupSteps,
        maxSteps: options.steps,
        weightDecay: options.weightDecay,
        beta1: options.beta1,
        beta2: options.beta2,
        gradClip: options.gradClip,
        evalIters: options.evalIters,
        seed: options.seed,
        precision: resolvePrecision(options.precision, options.device),
        session: sessionOptions(options),
      };
  if (resumed && trainerOptions.maxSteps < resumed.state.step) {
    throw new UsageError(
      `--steps ${trainerOptions.maxSteps} is below the ${resumed.state.step} steps ${options.resume} already took; give a larger --steps.`,
    );
  }
  const bpeVocabSize = previous
    ? previous.bpeVocabSize
    : options.tokenizer === 'bpe'
      ? options.bpeVocabSize
      : undefined;
  const settings: RunSettings = {
    corpus: recordedCorpusName(corpus.name),
    corpusSha256: hashCorpusText(corpus.text),
    tokenizer: tokenizer.kind,
    ...(bpeVocabSize === undefined ? {} : { bpeVocabSize }),
    evalInterval:
      options.given.has('eval-interval') || !previous ? options.evalInterval : previous.evalInterval,
    valFraction: previous?.valFraction ?? options.valFraction,
  };
  checkMemory(model, trainerOptions.batchSize, tokenizer.kind);
  const sizes = checkCorpusLength(tokens.length, model.blockSize, settings.valFraction);
  const data = { train: tokens.subarray(0, sizes.train), validation: tokens.subarray(sizes.train) };

  // Everything is validated; only now does the run directory appear.
  try {
    await mkdir(out, { recursive: true });
  } catch (error) {
    throw new UsageError(
      `cannot create the run directory --out ${out} (${(error as Error).message}). Check the permissions of its parent directory or choose another --out.`,
    );
  }
  if (!resumingInPlace) await saveTokenizer(join(out, TOKENIZER_FILE), tokenizer);
  const { session: _session, ...persisted } = trainerOptions;
  await writeFileAtomic(
    join(out, CONFIG_FILE),
    `${JSON.stringify(huggingFaceConfig(model, { ...settings, training: persisted }), null, 2)}\n`,
  );

  let trainer: GptTrainer;
  try {
    trainer = await GptTrainer.create(trainerOptions, data, resumed?.state);
  } catch (error) {
    if (String((error as Error).message).includes('bad_alloc')) {
      throw new UsageError(
        `ONNX Runtime ran out of memory building the training graph for ${describeModelSize(model, trainerOptions.batchSize)}. ` +
          'Use a smaller --batch-size, --block-size, --n-embd or --n-layer.',
      );
    }
    throw error;
  }
  const startStep = trainer.step;
  const metricsPath = join(out, METRICS_FILE);
  let history: MetricsRecord[] = [];
  if (resumingInPlace) {
    history = await truncateMetrics(metricsPath, startStep);
  } else {
    // A new run directory starts empty, or with the history of the run it continues.
    if (options.resume) {
      history = (await readMetrics(join(options.resume, METRICS_FILE))).filter((r) => r.step <= startStep);
    }
    await writeFileAtomic(metricsPath, history.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
  if (options.plotLr) {
    const steps = learningRatePlotSteps(
      trainerOptions.maxSteps,
      trainerOptions.warmupSteps,
      LR_PLOT_MAX_POINTS,
    );
    await plotLearningRate(trainer, steps, history, join(out, 'lr'));
  }
  const metrics = await MetricsWriter.open(metricsPath);
  const previousSeconds = history.at(-1)?.elapsedSeconds ?? 0;

  log(
    `glassbox train: ${corpus.name}, ${tokens.length.toLocaleString('en-US')} tokens (${tokenizer.kind}, vocabulary ${tokenizer.vocabSize}), ` +
      `train ${sizes.train.toLocaleString('en-US')} / validation ${sizes.validation.toLocaleString('en-US')}; ` +
      `model ${model.nLayer} layers, ${model.nHead} heads, width ${model.nEmbd}, context ${model.blockSize}` +
      (resumed ? `; resuming at step ${startStep}` : ''),
  );

  // Ctrl-C stops after the current step; a second Ctrl-C exits at once.
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  // A scheduler or `docker stop` sends SIGTERM: stop the same way, so the checkpoint is saved.
  process.on('SIGTERM', onSigint);
  const progress = createTrainingProgress({ totalSteps: trainerOptions.maxSteps, startStep });
  const isEvaluated = (step: number) =>
    step % settings.evalInterval === 0 || step === trainerOptions.maxSteps;
  let result: Awaited<ReturnType<typeof runTraining>>;
  try {
    result = await runTraining(trainer, {
      maxSteps: trainerOptions.maxSteps,
      evalInterval: settings.evalInterval,
      signal: stop.signal,
      onStep: async (step) => {
        // A mixed-float16 step whose scaled gradients overflowed changed nothing; its number is retried.
        if (step.skipped) return;
        const record: MetricsRecord = {
          step: step.step,
          trainLoss: step.loss,
          lr: step.learningRate,
          gradNorm: step.gradNorm,
          tokensPerSecond: step.tokensPerSecond,
          elapsedSeconds: previousSeconds + step.elapsedSeconds,
        };
        history.push(record);
        // An evaluated step is written once its validation loss is known.
        if (!isEvaluated(step.step)) await metrics.append(record);
        progress.update({ step: step.step, loss: step.loss, tokensPerSecond: step.tokensPerSecond });
      },
      onEvaluate: async (evaluation) => {
        const record = history.at(-1)!;
        record.valLoss = evaluation.validation;
        await metrics.append(record);
        progress.log(
          `step ${evaluation.step}: train loss ${evaluation.train.toFixed(4)}, validation loss ${evaluation.validation.toFixed(4)}`,
        );
        await saveCheckpoint(out, trainer.state(), trainerOptions);
        await renderChart(lossCurveSpec(history, `Loss, ${corpus.name}`), join(out, 'loss'));
      },
    });
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await metrics.close();
  }

  await saveCheckpoint(out, trainer.state(), trainerOptions);
  await renderChart(lossCurveSpec(await readMetrics(metricsPath), `Loss, ${corpus.name}`), join(out, 'loss'));
  if (result.status === 'aborted') {
    await trainer.release();
    log(
      `glassbox train: interrupted at step ${trainer.step}; checkpoint saved in ${out}. Continue with --resume ${out}`,
    );
    return 130;
  }

  const parameters = trainer.parameters();
  await trainer.release();
  log(
    `glassbox train: wrote ${out} (model.safetensors, ${TOKENIZER_FILE}, ${CONFIG_FILE}, ${METRICS_FILE}, loss.svg, loss.png)`,
  );
  const sample = await generateSample(model, parameters, tokenizer, trainerOptions.seed);
  process.stdout.write(`\n--- sample ---\n${sample}\n`);
  return 0;
}

/** Checks whether `directory` already contains a training run's weights or state. */
async function holdsRun(directory: string): Promise<boolean> {
  for (const name of ['model.safetensors', 'trainer-state.json']) {
    try {
      await stat(join(directory, name));
      return true;
    } catch {
      // Not there.
    }
  }
  return false;
}

/** Rejects an `--out` path that exists but is not a directory, or that lies inside a file. */
async function checkOutDirectory(out: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(out)).isDirectory();
  } catch (error) {
    const code = errorCode(error);
    // A missing directory is created once every option is validated.
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') {
      throw new UsageError(
        `--out ${out} is not a valid directory path because part of it is a file. Choose an --out inside a directory.`,
      );
    }
    throw new UsageError(
      `cannot check --out ${out} (${(error as Error).message}). Check its permissions or choose another --out.`,
    );
  }
  if (!isDirectory) {
    throw new UsageError(
      `--out ${out} is an existing file, but the run needs a directory. Choose another --out for the run directory.`,
    );
  }
}

/**
 * Rejects a model and batch whose training activations would not fit in this machine's memory. The estimate
 * counts float32 activations kept for the backward pass: per layer about 30 values per position and channel
 * plus three attention matrices per head (scores, weights and their gradient), and three values per position
 * and vocabulary entry for the logits. The message names the options of the largest of these three terms.
 */
function checkMemory(model: GptConfig, batchSize: number, tokenizerKind: string): void {
  const positions = batchSize * model.blockSize;
  const widthValues = positions * model.nEmbd * 30 * model.nLayer;
  const attentionValues = 3 * batchSize * model.nHead * model.blockSize * model.blockSize * model.nLayer;
  const logitValues = positions * model.vocabSize * 3;
  const bytes = 4 * (widthValues + attentionValues + logitValues);
  const available = totalmem();
  if (bytes <= 0.75 * available) return;

  let driver = '--n-embd and --n-layer';
  let advice = 'a smaller --n-embd or --n-layer';
  if (attentionValues > widthValues && attentionValues >= logitValues) {
    driver = '--block-size squared, --n-head and --n-layer';
    advice = 'a smaller --block-size, --n-head or --n-layer';
  } else if (logitValues > widthValues && logitValues > attentionValues) {
    driver = 'the vocabulary size';
    advice =
      tokenizerKind === 'char'
        ? '--tokenizer bpe with a small --bpe-vocab-size'
        : 'a smaller --bpe-vocab-size';
  }
  const gib = (value: number) => (value / 2 ** 30).toFixed(1);
  throw new UsageError(
    `training needs about ${gib(bytes)} GiB of activations for ${describeModelSize(model, batchSize)}, ` +
      `more than the ${gib(0.75 * available)} GiB (75% of this machine's ${gib(available)} GiB) it may use. ` +
      `Most of it scales with ${driver}, so use ${advice}, or a smaller --batch-size.`,
  );
}

/** Lists the options that set the size of the training activations, with the values of this run. */
function describeModelSize(model: GptConfig, batchSize: number): string {
  return (
    `--n-embd ${model.nEmbd}, --n-layer ${model.nLayer}, --n-head ${model.nHead}, --block-size ${model.blockSize}, ` +
    `--batch-size ${batchSize} and a vocabulary of ${model.vocabSize} tokens`
  );
}

/**
 * Returns the 1-based steps at which `--plot-lr` samples the schedule of a `steps`-step run: every step when
 * there are at most `maxPoints`, else `maxPoints` evenly spaced steps plus the last warmup step (the peak).
 * The first and the last step are always included.
 */
export function learningRatePlotSteps(steps: number, warmupSteps: number, maxPoints: number): number[] {
  if (steps <= maxPoints) return Array.from({ length: steps }, (_, index) => index + 1);

  const picked = new Set<number>([1, steps]);
  for (let index = 1; index < maxPoints - 1; index++) {
    // Float arithmetic, because index * (steps - 1) can exceed Number.MAX_SAFE_INTEGER.
    picked.add(Math.min(steps, 1 + Math.round((index / (maxPoints - 1)) * (steps - 1))));
  }
  if (warmupSteps >= 1 && warmupSteps <= steps) picked.add(warmupSteps);
  return [...picked].sort((a, b) => a - b);
}

/**
 * Writes `<path>.svg` and `<path>.png`: the learning rate at each of `steps` (1-based, ascending). Steps in
 * `history` show the rate they were trained with, because a run resumed with another --steps changes the
 * cosine decay only from its first new step.
 */
async function plotLearningRate(
  trainer: GptTrainer,
  steps: readonly number[],
  history: readonly MetricsRecord[],
  path: string,
): Promise<void> {
  const recorded = new Map(history.map((record) => [record.step, record.lr]));
  const series = 'learning rate';
  const points = steps.map((step) => ({
    x: step,
    y: recorded.get(step) ?? trainer.learningRateAt(step - 1),
    series,
  }));
  await renderChart(
    lineChartSpec({
      title: 'Learning rate schedule',
      xTitle: 'step',
      yTitle: 'learning rate',
      points,
      integerX: true,
      // A line through one point draws nothing, so a one-step run gets a marker.
      markedSeries: steps.length === 1 ? [series] : undefined,
    }),
    path,
  );
}

/**
 * Raises a usage error, before anything is written, when ONNX Runtime cannot create a session on its CUDA
 * execution provider: the default onnxruntime-node package ships without it.
 */
async function checkCuda(): Promise<void> {
  const g = new Graph('cuda-check');
  const x = g.input('x', 'float32', [1]);
  g.output('y', g.add(x, x));
  let session: GraphSession;
  try {
    session = await GraphSession.create(toOnnx(g), { executionProviders: ['cuda', 'cpu'] });
  } catch (error) {
    const reason = (error as Error).message.replace(/^ONNX Runtime \(node\) rejected the model: /, '');
    throw new UsageError(
      `--device cuda: ONNX Runtime could not start its CUDA execution provider (${reason}). Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with an NVIDIA GPU and CUDA 12, or use --device cpu.`,
    );
  }
  await session.release();
}

function sessionOptions(options: TrainOptions) {
  return {
    ...(options.threads === undefined ? {} : { intraOpThreads: options.threads }),
    // ONNX Runtime runs the ops that CUDA lacks on the CPU provider listed after it.
    ...(options.device === 'cuda' ? { executionProviders: ['cuda', 'cpu'] } : {}),
  };
}

async function buildTokenizer(
  options: TrainOptions,
  text: string,
  log: (line: string) => void,
): Promise<Tokenizer> {
  if (options.tokenizer === 'char') return CharTokenizer.fromText(text);
  const started = performance.now();
  const tokenizer = trainBpe(text, { vocabSize: options.bpeVocabSize, preTokenizer: 'gpt2' });
  const seconds = (performance.now() - started) / 1000;
  log(
    `glassbox train: trained a byte-level BPE tokenizer with ${tokenizer.vocabSize} tokens in ${seconds.toFixed(1)} s`,
  );
  return tokenizer;
}

function encodeCorpus(tokenizer: Tokenizer, text: string, name: string): Int32Array {
  try {
    return Int32Array.from(tokenizer.encode(text));
  } catch (error) {
    throw new UsageError(`cannot tokenize ${name} with the run's tokenizer: ${(error as Error).message}`);
  }
}

/** Generates a sample from the trained model, starting from a newline as nanoGPT's sampler does. */
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
