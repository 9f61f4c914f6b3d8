import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  choiceOption,
  formatOptionList,
  NON_NEGATIVE_INTEGER,
  NON_NEGATIVE_NUMBER,
  type NumberRule,
  numberOption,
  type OptionDescriptor,
  POSITIVE_INTEGER,
  POSITIVE_NUMBER,
  pathOption,
  readRawOptions,
  UsageError,
  validateOptions,
} from './args.js';

export { UsageError } from './args.js';

export const TOKENIZER_KINDS = ['char', 'bpe'] as const;
export const PRECISIONS = ['auto', 'float32', 'mixed-float16'] as const;
export const DEVICES = ['cpu', 'cuda'] as const;

/** Resolves `auto` to mixed-float16 on `cuda`, whose GPUs have float16 units, and to float32 on `cpu`. */
export function resolvePrecision(
  precision: (typeof PRECISIONS)[number],
  device: (typeof DEVICES)[number],
): 'float32' | 'mixed-float16' {
  if (precision !== 'auto') return precision;
  return device === 'cuda' ? 'mixed-float16' : 'float32';
}
export type TokenizerKind = (typeof TOKENIZER_KINDS)[number];

/** Validated options of `glassbox train`. */
export interface TrainOptions {
  corpus: string;
  tokenizer: TokenizerKind;
  bpeVocabSize: number;
  steps: number;
  out: string;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  gradClip: number;
  dropout: number;
  /**
   * `float32`, `mixed-float16` (float16 matrix products with float32 weights and dynamic loss scaling), or
   * `auto`: mixed-float16 on `cuda`, float32 on `cpu`.
   */
  precision: (typeof PRECISIONS)[number];
  /** ONNX Runtime execution provider of training: `cpu`, or `cuda` (NVIDIA GPUs, with CPU fallback per op). */
  device: (typeof DEVICES)[number];
  evalInterval: number;
  evalIters: number;
  valFraction: number;
  seed: number;
  /** Run directory to continue training from. */
  resume?: string;
  /**
   * Intra-op thread count for ONNX Runtime, at most `os.availableParallelism()`, or undefined to let ONNX
   * Runtime choose.
   */
  threads?: number;
  /** Writes `lr.svg` and `lr.png`: the learning rate of every step of the run. */
  plotLr: boolean;
  /**
   * The options given on the command line, without the leading dashes (`steps`, `n-layer`, ...). A resumed
   * run keeps the checkpoint's settings except for these.
   */
  given: ReadonlySet<string>;
}

/** Defaults of `glassbox train`: a small model that trains on a laptop CPU in minutes. */
export const TRAIN_DEFAULTS = Object.freeze({
  /** Training text: `moby-dick` for the novel bundled with the CLI, or a path to a UTF-8 text file. */
  corpus: 'moby-dick',
  /** Tokenizer trained on the corpus: `char` (one token per character) or `bpe` (byte pair encoding). */
  tokenizer: 'char',
  /** Vocabulary size of the BPE tokenizer, in tokens. Only used with `tokenizer: 'bpe'`. */
  bpeVocabSize: 512,
  /** Total optimizer steps of the run. A resumed run continues until it reaches this step. */
  steps: 2000,
  /** Number of transformer blocks. */
  nLayer: 4,
  /** Attention heads per block. `nEmbd` must be a multiple of it. */
  nHead: 4,
  /** Width of the token embeddings and the residual stream, in dimensions. */
  nEmbd: 128,
  /** Context length, in tokens. */
  blockSize: 64,
  /** Sequences per optimizer step, each `blockSize` tokens long. */
  batchSize: 12,
  /** Peak learning rate, reached at the end of warmup. */
  lr: 1e-3,
  /** Learning rate that the schedule decays to by the last step. */
  minLr: 1e-4,
  /** Steps of linear warmup from 0 to `lr`. */
  warmupSteps: 100,
  /** AdamW weight decay coefficient (decoupled, per step it scales weights by 1 - lr * weightDecay). */
  weightDecay: 0.1,
  /** AdamW's decay rate of the first-moment (mean) estimate. */
  beta1: 0.9,
  /** AdamW's decay rate of the second-moment estimate; nanoGPT uses 0.99 for small character models. */
  beta2: 0.95,
  /** Maximum global L2 norm of the gradients. 0 disables clipping. */
  gradClip: 1.0,
  /** Dropout probability during training, from 0 (off) up to but excluding 1. */
  dropout: 0,
  /**
   * Arithmetic of the training step: `float32`, `mixed-float16` (float16 matrix products on float32 weights
   * with dynamic loss scaling, which pays off on GPUs and is slower on CPUs), or `auto` for mixed-float16 on
   * `cuda` and float32 on `cpu`.
   */
  precision: 'auto',
  /** Execution provider: `cpu`, or `cuda` for onnxruntime-node installed with CUDA support. */
  device: 'cpu',
  /** Steps between evaluations of the training and validation loss. */
  evalInterval: 250,
  /** Batches averaged per loss evaluation. */
  evalIters: 20,
  /** Fraction of the corpus, taken from its end, held out as the validation split. */
  valFraction: 0.1,
  /** Seed for weight initialization, batch sampling and dropout. */
  seed: 1337,
  /** Whether to plot the learning rate schedule into the run directory. */
  plotLr: false,
} satisfies Omit<TrainOptions, 'out' | 'resume' | 'threads' | 'given'>);

/** Validated options of `glassbox generate`. */
export interface GenerateOptions {
  /** Run directory written by `glassbox train`, or a Hugging Face GPT-2 directory. */
  model: string;
  prompt: string;
  /** Token ids to continue instead of `prompt`; with them no tokenizer is needed. */
  promptIds?: number[];
  /** `text` prints the prompt and the continuation; `ids` prints the generated ids only. */
  format: 'text' | 'ids';
  /** Picks the most likely token at every step instead of sampling. */
  greedy: boolean;
  maxNewTokens: number;
  temperature: number;
  /** Number of most likely tokens to sample from. 0 samples from the whole vocabulary. */
  topK: number;
  /** Sampling seed, or undefined for a random one. */
  seed?: number;
}

/** Defaults of `glassbox generate`. */
export const GENERATE_DEFAULTS = Object.freeze({
  /** Text that generation continues. A newline starts the sample at the beginning of a line. */
  prompt: '\n',
  /** Tokens to generate after the prompt. */
  maxNewTokens: 200,
  /** Softmax temperature: below 1 sharpens the distribution, above 1 flattens it. */
  temperature: 0.8,
  /** Number of most likely tokens to sample from. 0 turns top-k filtering off. */
  topK: 40,
  format: 'text',
  greedy: false,
} satisfies Omit<GenerateOptions, 'model' | 'seed' | 'promptIds'>);

/** The result of parsing a subcommand's arguments: either a help request or validated options. */
export type ParsedCommand<T> = { help: true } | { help: false; options: T };

const VAL_FRACTION_RULE: NumberRule = {
  integer: false,
  min: 0,
  exclusiveMin: true,
  max: 1,
  exclusiveMax: true,
  expected: 'a number between 0 and 1 (both excluded)',
};
const DROPOUT_RULE: NumberRule = {
  integer: false,
  min: 0,
  max: 1,
  exclusiveMax: true,
  expected: 'a number from 0 up to but excluding 1',
};
/** Adam's beta1 and beta2 have the same range as a dropout probability: [0, 1). */
const BETA_RULE: NumberRule = DROPOUT_RULE;

const TRAIN_OPTION_DESCRIPTORS: readonly OptionDescriptor[] = [
  {
    flag: 'corpus',
    valueName: 'moby-dick|PATH',
    description: 'training text: the bundled Moby-Dick, or a UTF-8 text file',
    defaultText: TRAIN_DEFAULTS.corpus,
  },
  {
    flag: 'tokenizer',
    valueName: 'char|bpe',
    description: 'tokenizer trained on the corpus: one token per character, or byte pair encoding',
    defaultText: TRAIN_DEFAULTS.tokenizer,
  },
  {
    flag: 'bpe-vocab-size',
    valueName: 'N',
    description: 'BPE vocabulary size in tokens (at least 257), only with --tokenizer bpe',
    defaultText: String(TRAIN_DEFAULTS.bpeVocabSize),
  },
  {
    flag: 'steps',
    valueName: 'N',
    description:
      'total optimizer steps, including those before a --resume; the cosine decay spans all of them, so a larger --steps on resume raises the learning rate again',
    defaultText: String(TRAIN_DEFAULTS.steps),
  },
  {
    flag: 'out',
    valueName: 'DIR',
    description: 'run directory for checkpoints and metrics',
    defaultText: 'the --resume directory, else runs/<UTC timestamp>',
  },
  {
    flag: 'n-layer',
    valueName: 'N',
    description: 'transformer blocks',
    defaultText: String(TRAIN_DEFAULTS.nLayer),
  },
  {
    flag: 'n-head',
    valueName: 'N',
    description: 'attention heads per block, a divisor of --n-embd',
    defaultText: String(TRAIN_DEFAULTS.nHead),
  },
  {
    flag: 'n-embd',
    valueName: 'N',
    description: 'embedding width in dimensions',
    defaultText: String(TRAIN_DEFAULTS.nEmbd),
  },
  {
    flag: 'block-size',
    valueName: 'N',
    description: 'context length in tokens',
    defaultText: String(TRAIN_DEFAULTS.blockSize),
  },
  {
    flag: 'batch-size',
    valueName: 'N',
    description: 'sequences per optimizer step',
    defaultText: String(TRAIN_DEFAULTS.batchSize),
  },
  {
    flag: 'lr',
    valueName: 'RATE',
    description: 'peak learning rate, reached after warmup',
    defaultText: String(TRAIN_DEFAULTS.lr),
  },
  {
    flag: 'min-lr',
    valueName: 'RATE',
    description: 'learning rate at the last step, at most --lr',
    defaultText: String(TRAIN_DEFAULTS.minLr),
  },
  {
    flag: 'warmup-steps',
    valueName: 'N',
    description: 'steps of linear learning rate warmup from 0',
    defaultText: String(TRAIN_DEFAULTS.warmupSteps),
  },
  {
    flag: 'weight-decay',
    valueName: 'X',
    description: 'AdamW weight decay coefficient',
    defaultText: String(TRAIN_DEFAULTS.weightDecay),
  },
  {
    flag: 'beta1',
    valueName: 'X',
    description: "AdamW's first-moment decay rate, in [0, 1)",
    defaultText: String(TRAIN_DEFAULTS.beta1),
  },
  {
    flag: 'beta2',
    valueName: 'X',
    description: "AdamW's second-moment decay rate, in [0, 1)",
    defaultText: String(TRAIN_DEFAULTS.beta2),
  },
  {
    flag: 'grad-clip',
    valueName: 'NORM',
    description: 'maximum global L2 norm of the gradients, 0 disables clipping',
    defaultText: String(TRAIN_DEFAULTS.gradClip),
  },
  {
    flag: 'dropout',
    valueName: 'P',
    description: 'dropout probability in [0, 1)',
    defaultText: String(TRAIN_DEFAULTS.dropout),
  },
  {
    flag: 'precision',
    valueName: 'P',
    description:
      'float32, mixed-float16 (float16 matrix products on float32 weights with dynamic loss scaling; faster on GPUs, slower on CPUs), or auto: mixed-float16 on cuda, float32 on cpu',
    defaultText: TRAIN_DEFAULTS.precision,
  },
  {
    flag: 'device',
    valueName: 'cpu|cuda',
    description:
      'ONNX Runtime execution provider; cuda needs an NVIDIA GPU and onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12',
    defaultText: TRAIN_DEFAULTS.device,
  },
  {
    flag: 'eval-interval',
    valueName: 'N',
    description: 'steps between loss evaluations',
    defaultText: String(TRAIN_DEFAULTS.evalInterval),
  },
  {
    flag: 'eval-iters',
    valueName: 'N',
    description: 'batches averaged per loss evaluation',
    defaultText: String(TRAIN_DEFAULTS.evalIters),
  },
  {
    flag: 'val-fraction',
    valueName: 'F',
    description: 'fraction of the corpus, from its end, held out for validation, in (0, 1)',
    defaultText: String(TRAIN_DEFAULTS.valFraction),
  },
  {
    flag: 'seed',
    valueName: 'N',
    description: 'seed for initialization, batch sampling and dropout',
    defaultText: String(TRAIN_DEFAULTS.seed),
  },
  { flag: 'resume', valueName: 'DIR', description: 'continue training from the run in DIR' },
  {
    flag: 'threads',
    valueName: 'N',
    description: 'intra-op CPU threads for ONNX Runtime, at most the CPU threads available to the process',
    defaultText: "ONNX Runtime's choice",
  },
  { flag: 'plot-lr', description: 'also write lr.svg and lr.png: the learning rate of every step' },
];

const trainSchema = z
  .object({
    corpus: pathOption('corpus').default(TRAIN_DEFAULTS.corpus),
    tokenizer: choiceOption('tokenizer', TOKENIZER_KINDS).default(TRAIN_DEFAULTS.tokenizer),
    bpeVocabSize: numberOption('bpe-vocab-size', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.bpeVocabSize),
    steps: numberOption('steps', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.steps),
    out: pathOption('out').optional(),
    nLayer: numberOption('n-layer', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.nLayer),
    nHead: numberOption('n-head', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.nHead),
    nEmbd: numberOption('n-embd', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.nEmbd),
    blockSize: numberOption('block-size', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.blockSize),
    batchSize: numberOption('batch-size', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.batchSize),
    lr: numberOption('lr', POSITIVE_NUMBER).default(TRAIN_DEFAULTS.lr),
    minLr: numberOption('min-lr', NON_NEGATIVE_NUMBER).default(TRAIN_DEFAULTS.minLr),
    warmupSteps: numberOption('warmup-steps', NON_NEGATIVE_INTEGER).default(TRAIN_DEFAULTS.warmupSteps),
    weightDecay: numberOption('weight-decay', NON_NEGATIVE_NUMBER).default(TRAIN_DEFAULTS.weightDecay),
    beta1: numberOption('beta1', BETA_RULE).default(TRAIN_DEFAULTS.beta1),
    beta2: numberOption('beta2', BETA_RULE).default(TRAIN_DEFAULTS.beta2),
    gradClip: numberOption('grad-clip', NON_NEGATIVE_NUMBER).default(TRAIN_DEFAULTS.gradClip),
    dropout: numberOption('dropout', DROPOUT_RULE).default(TRAIN_DEFAULTS.dropout),
    precision: choiceOption('precision', PRECISIONS).default(TRAIN_DEFAULTS.precision),
    device: choiceOption('device', DEVICES).default(TRAIN_DEFAULTS.device),
    evalInterval: numberOption('eval-interval', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.evalInterval),
    evalIters: numberOption('eval-iters', POSITIVE_INTEGER).default(TRAIN_DEFAULTS.evalIters),
    valFraction: numberOption('val-fraction', VAL_FRACTION_RULE).default(TRAIN_DEFAULTS.valFraction),
    seed: numberOption('seed', NON_NEGATIVE_INTEGER).default(TRAIN_DEFAULTS.seed),
    resume: pathOption('resume').optional(),
    threads: numberOption('threads', POSITIVE_INTEGER).optional(),
    plotLr: z
      .string()
      .transform((value) => value === 'true')
      .default(TRAIN_DEFAULTS.plotLr),
  })
  .superRefine((options, context) => {
    if (options.nEmbd % options.nHead !== 0) {
      context.addIssue({
        code: 'custom',
        message:
          `--n-embd must be divisible by --n-head, got --n-embd ${options.nEmbd} and --n-head ${options.nHead}. ` +
          'Choose an --n-embd that is a multiple of --n-head.',
      });
    }
    if (options.bpeVocabSize < 257) {
      context.addIssue({
        code: 'custom',
        message:
          `--bpe-vocab-size must be at least 257 (the 256 byte tokens plus one merge), got ${options.bpeVocabSize}. ` +
          'Choose a larger vocabulary.',
      });
    }
    // More intra-op threads than the process has CPU threads cannot run at once.
    const cpuThreads = availableParallelism();
    if (options.threads !== undefined && options.threads > cpuThreads) {
      context.addIssue({
        code: 'custom',
        message:
          `--threads must be at most ${cpuThreads}, the CPU threads available to this process ` +
          `(os.availableParallelism()), got ${options.threads}. Choose a smaller --threads, or drop it to let ONNX Runtime choose.`,
      });
    }
    if (options.minLr > options.lr) {
      context.addIssue({
        code: 'custom',
        message:
          `--min-lr must not exceed --lr, got --min-lr ${options.minLr} and --lr ${options.lr}. ` +
          'Lower --min-lr or raise --lr.',
      });
    }
  });

const GENERATE_OPTION_DESCRIPTORS: readonly OptionDescriptor[] = [
  {
    flag: 'model',
    valueName: 'DIR',
    description:
      'run directory written by glassbox train, or a Hugging Face GPT-2 directory (config.json, model.safetensors, and tokenizer.json or vocab.json + merges.txt) (required)',
  },
  {
    flag: 'prompt',
    valueName: 'TEXT',
    description: 'text that the model continues',
    defaultText: 'a newline',
  },
  {
    flag: 'prompt-ids',
    valueName: 'IDS',
    description: 'comma-separated token ids to continue instead of --prompt; needs no tokenizer',
  },
  {
    flag: 'format',
    valueName: 'text|ids',
    description: 'print the prompt and the generated text, or only the generated ids separated by spaces',
    defaultText: GENERATE_DEFAULTS.format,
  },
  { flag: 'greedy', description: 'pick the most likely token at every step instead of sampling' },
  {
    flag: 'max-new-tokens',
    valueName: 'N',
    description: 'tokens to generate after the prompt',
    defaultText: String(GENERATE_DEFAULTS.maxNewTokens),
  },
  {
    flag: 'temperature',
    valueName: 'T',
    description: 'softmax temperature above 0, lower values sample more greedily',
    defaultText: String(GENERATE_DEFAULTS.temperature),
  },
  {
    flag: 'top-k',
    valueName: 'K',
    description: 'sample only from the K most likely tokens, 0 turns the filter off',
    defaultText: String(GENERATE_DEFAULTS.topK),
  },
  { flag: 'seed', valueName: 'N', description: 'sampling seed', defaultText: 'random' },
];

const generateSchema = z.object({
  model: pathOption('model').optional(),
  prompt: z.string().default(GENERATE_DEFAULTS.prompt),
  promptIds: z
    .string()
    .transform((text, context) => {
      const parts = text.split(',').map((part) => part.trim());
      const ids = parts.map(Number);
      const bad = parts.findIndex((part, i) => part === '' || !Number.isInteger(ids[i]) || ids[i] < 0);
      if (bad >= 0) {
        context.addIssue({
          code: 'custom',
          message: `--prompt-ids must be comma-separated non-negative integers, got ${JSON.stringify(text)}. Write it as --prompt-ids 464,2068,7586.`,
        });
        return z.NEVER;
      }
      return ids;
    })
    .optional(),
  format: choiceOption('format', ['text', 'ids'] as const).default(GENERATE_DEFAULTS.format),
  greedy: z
    .string()
    .transform((value) => value === 'true')
    .default(GENERATE_DEFAULTS.greedy),
  maxNewTokens: numberOption('max-new-tokens', POSITIVE_INTEGER).default(GENERATE_DEFAULTS.maxNewTokens),
  temperature: numberOption('temperature', POSITIVE_NUMBER).default(GENERATE_DEFAULTS.temperature),
  topK: numberOption('top-k', NON_NEGATIVE_INTEGER).default(GENERATE_DEFAULTS.topK),
  seed: numberOption('seed', NON_NEGATIVE_INTEGER).optional(),
});

/** Returns the default run directory, `runs/<UTC time>` with `-` in place of `:` so it is a valid name on Windows. */
export function defaultRunDirectory(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
  return `runs/${stamp}`;
}

/**
 * Parses and validates the arguments of `glassbox train` (without the subcommand itself).
 * Raises a UsageError that names the option and the invalid value.
 */
export function parseTrainOptions(
  argv: readonly string[],
  settings: { now?: Date } = {},
): ParsedCommand<TrainOptions> {
  const raw = readRawOptions('train', argv, TRAIN_OPTION_DESCRIPTORS);
  if (raw.help) {
    return { help: true };
  }
  const parsed = validateOptions(trainSchema, raw.values);
  if (raw.values.has('bpe-vocab-size') && parsed.tokenizer !== 'bpe') {
    throw new UsageError(
      `--bpe-vocab-size only applies to --tokenizer bpe, got --tokenizer ${parsed.tokenizer}. ` +
        'Add --tokenizer bpe or drop --bpe-vocab-size.',
    );
  }
  const out = parsed.out ?? parsed.resume ?? defaultRunDirectory(settings.now ?? new Date());
  return { help: false, options: { ...parsed, out, given: new Set(raw.values.keys()) } };
}

/**
 * Parses and validates the arguments of `glassbox generate` (without the subcommand itself).
 * Raises a UsageError that names the option and the invalid value.
 */
export function parseGenerateOptions(argv: readonly string[]): ParsedCommand<GenerateOptions> {
  const raw = readRawOptions('generate', argv, GENERATE_OPTION_DESCRIPTORS);
  if (raw.help) {
    return { help: true };
  }
  const parsed = validateOptions(generateSchema, raw.values);
  if (parsed.model === undefined) {
    throw new UsageError(
      '--model is required. Pass the run directory that glassbox train wrote, e.g. --model runs/<timestamp>.',
    );
  }
  return { help: false, options: { ...parsed, model: parsed.model } };
}

/** Returns the help text of `glassbox train`. */
export function trainUsage(): string {
  return [
    'Usage: glassbox train [options]',
    '',
    'Train a GPT language model on a text corpus.',
    '',
    'Options:',
    formatOptionList(TRAIN_OPTION_DESCRIPTORS),
    '',
  ].join('\n');
}

/** Returns the help text of `glassbox generate`. */
export function generateUsage(): string {
  return [
    'Usage: glassbox generate --model DIR [options]',
    '',
    'Generate text with a model trained by glassbox train.',
    '',
    'Options:',
    formatOptionList(GENERATE_OPTION_DESCRIPTORS),
    '',
  ].join('\n');
}

/** Flags of each subcommand, in help order, without `--help`. */
export const TRAIN_FLAGS: readonly string[] = TRAIN_OPTION_DESCRIPTORS.map((descriptor) => descriptor.flag);
export const GENERATE_FLAGS: readonly string[] = GENERATE_OPTION_DESCRIPTORS.map(
  (descriptor) => descriptor.flag,
);
