import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { closestMatch, POSITIVE_INTEGER, parseNumber, UsageError } from './args.js';
import {
  defaultRunDirectory,
  GENERATE_DEFAULTS,
  GENERATE_FLAGS,
  type GenerateOptions,
  generateUsage,
  parseGenerateOptions,
  parseTrainOptions,
  resolvePrecision,
  TRAIN_DEFAULTS,
  TRAIN_FLAGS,
  type TrainOptions,
  trainUsage,
} from './options.js';

const NOW = new Date('2025-03-04T05:06:07.890Z');

function train(argv: string[]): TrainOptions {
  const parsed = parseTrainOptions(argv, { now: NOW });
  if (parsed.help) {
    throw new Error('unexpected help request');
  }
  return parsed.options;
}

function generate(argv: string[]): GenerateOptions {
  const parsed = parseGenerateOptions(argv);
  if (parsed.help) {
    throw new Error('unexpected help request');
  }
  return parsed.options;
}

/** Returns the message of the UsageError that `action` raises. */
function usageErrorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error('expected a UsageError, but nothing was raised');
}

describe('parseTrainOptions', () => {
  it('applies every default', () => {
    expect(train([])).toEqual({
      corpus: 'moby-dick',
      tokenizer: 'char',
      bpeVocabSize: 512,
      steps: 2000,
      out: 'runs/2025-03-04T05-06-07Z',
      nLayer: 4,
      nHead: 4,
      nEmbd: 128,
      blockSize: 64,
      batchSize: 12,
      lr: 1e-3,
      minLr: 1e-4,
      warmupSteps: 100,
      weightDecay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      gradClip: 1.0,
      dropout: 0,
      precision: 'auto',
      device: 'cpu',
      evalInterval: 250,
      evalIters: 20,
      valFraction: 0.1,
      seed: 1337,
      plotLr: false,
      given: new Set(),
    });
  });

  it('keeps defaults in TRAIN_DEFAULTS', () => {
    const { out: _out, given: _given, ...rest } = train([]);
    expect(rest).toEqual(TRAIN_DEFAULTS);
  });

  it('parses every option', () => {
    const options = train([
      '--corpus',
      'data/tiny.txt',
      '--tokenizer',
      'bpe',
      '--bpe-vocab-size',
      '300',
      '--steps',
      '10',
      '--out',
      'runs/x',
      '--n-layer',
      '2',
      '--n-head',
      '2',
      '--n-embd',
      '32',
      '--block-size',
      '16',
      '--batch-size',
      '3',
      '--lr',
      '3e-4',
      '--min-lr',
      '0',
      '--warmup-steps',
      '0',
      '--weight-decay',
      '0',
      '--beta1',
      '0.8',
      '--beta2',
      '0.99',
      '--grad-clip',
      '0',
      '--dropout',
      '0.2',
      '--precision',
      'mixed-float16',
      '--device',
      'cuda',
      '--eval-interval',
      '5',
      '--eval-iters',
      '2',
      '--val-fraction',
      '0.25',
      '--seed',
      '0',
      '--resume',
      'runs/old',
      '--threads',
      '2',
      '--plot-lr',
    ]);
    expect(options).toEqual({
      corpus: 'data/tiny.txt',
      tokenizer: 'bpe',
      bpeVocabSize: 300,
      steps: 10,
      out: 'runs/x',
      nLayer: 2,
      nHead: 2,
      nEmbd: 32,
      blockSize: 16,
      batchSize: 3,
      lr: 3e-4,
      minLr: 0,
      warmupSteps: 0,
      weightDecay: 0,
      beta1: 0.8,
      beta2: 0.99,
      gradClip: 0,
      dropout: 0.2,
      precision: 'mixed-float16',
      device: 'cuda',
      evalInterval: 5,
      evalIters: 2,
      valFraction: 0.25,
      seed: 0,
      resume: 'runs/old',
      threads: 2,
      plotLr: true,
      given: new Set([
        'corpus',
        'tokenizer',
        'bpe-vocab-size',
        'steps',
        'out',
        'n-layer',
        'n-head',
        'n-embd',
        'block-size',
        'batch-size',
        'lr',
        'min-lr',
        'warmup-steps',
        'weight-decay',
        'beta1',
        'beta2',
        'grad-clip',
        'dropout',
        'precision',
        'device',
        'eval-interval',
        'eval-iters',
        'val-fraction',
        'seed',
        'resume',
        'threads',
        'plot-lr',
      ]),
    });
  });

  it('accepts --flag=value and keeps the last repeat', () => {
    const options = train(['--steps=50', '--lr', '0.01', '--steps', '60']);
    expect(options.steps).toBe(60);
    expect(options.lr).toBe(0.01);
  });

  it('accepts integers in exponent notation', () => {
    expect(train(['--steps', '1e3']).steps).toBe(1000);
  });

  it('defaults --out to the --resume directory', () => {
    expect(train(['--resume', 'runs/a']).out).toBe('runs/a');
    expect(train(['--resume', 'runs/a', '--out', 'runs/b']).out).toBe('runs/b');
  });

  it('returns a help request', () => {
    expect(parseTrainOptions(['--help'])).toEqual({ help: true });
    expect(parseTrainOptions(['--steps', '5', '-h'])).toEqual({ help: true });
  });

  it.each([
    [['--n-head', 'abc'], '--n-head must be a positive integer, got "abc".'],
    [['--n-head', '0'], '--n-head must be a positive integer, got "0".'],
    [['--n-layer', '-2'], '--n-layer must be a positive integer, got "-2".'],
    [['--n-embd', '12.5'], '--n-embd must be a positive integer, got "12.5".'],
    [['--block-size', ''], '--block-size must be a positive integer, got "".'],
    [['--batch-size', '0x10'], '--batch-size must be a positive integer, got "0x10".'],
    [['--steps', 'Infinity'], '--steps must be a positive integer, got "Infinity".'],
    [['--steps', '1e400'], '--steps must be a positive integer, got "1e400".'],
    [
      ['--bpe-vocab-size', '0', '--tokenizer', 'bpe'],
      '--bpe-vocab-size must be a positive integer, got "0".',
    ],
    [['--eval-interval', '0'], '--eval-interval must be a positive integer, got "0".'],
    [['--eval-iters', 'x'], '--eval-iters must be a positive integer, got "x".'],
    [['--threads', '0'], '--threads must be a positive integer, got "0".'],
    [['--warmup-steps', '-1'], '--warmup-steps must be a non-negative integer, got "-1".'],
    [['--seed', '1.5'], '--seed must be a non-negative integer, got "1.5".'],
    [['--lr', '0'], '--lr must be a positive number, got "0".'],
    [['--lr', 'fast'], '--lr must be a positive number, got "fast".'],
    [['--min-lr', '-1e-5'], '--min-lr must be a non-negative number, got "-1e-5".'],
    [['--weight-decay', '-0.1'], '--weight-decay must be a non-negative number, got "-0.1".'],
    [['--grad-clip', 'off'], '--grad-clip must be a non-negative number, got "off".'],
    [['--dropout', '1'], '--dropout must be a number from 0 up to but excluding 1, got "1".'],
    [['--val-fraction', '0'], '--val-fraction must be a number between 0 and 1 (both excluded), got "0".'],
    [['--val-fraction', '1'], '--val-fraction must be a number between 0 and 1 (both excluded), got "1".'],
    [['--tokenizer', 'word'], '--tokenizer must be one of char, bpe, got "word".'],
    [['--precision', 'bfloat16'], '--precision must be one of auto, float32, mixed-float16, got "bfloat16".'],
    [['--device', 'tpu'], '--device must be one of cpu, cuda, got "tpu".'],
    [['--out', ' '], '--out must be a path, got an empty value.'],
  ])('rejects %j', (argv, message) => {
    expect(usageErrorOf(() => parseTrainOptions(argv))).toBe(message);
  });

  it('rejects --threads above the CPU count', () => {
    const limit = availableParallelism();
    const message = usageErrorOf(() => parseTrainOptions(['--threads', String(limit + 1)]));
    expect(message).toBe(
      `--threads must be at most ${limit}, the CPU threads available to this process ` +
        `(os.availableParallelism()), got ${limit + 1}. Choose a smaller --threads, or drop it to let ONNX Runtime choose.`,
    );
  });

  it('accepts --threads equal to the CPU count', () => {
    const limit = availableParallelism();
    expect(train(['--threads', String(limit)]).threads).toBe(limit);
  });

  it('rejects --n-embd that --n-head does not divide', () => {
    const message = usageErrorOf(() => parseTrainOptions(['--n-embd', '100', '--n-head', '3']));
    expect(message).toBe(
      '--n-embd must be divisible by --n-head, got --n-embd 100 and --n-head 3. ' +
        'Choose an --n-embd that is a multiple of --n-head.',
    );
  });

  it('checks divisibility against the default --n-head', () => {
    const message = usageErrorOf(() => parseTrainOptions(['--n-embd', '66']));
    expect(message).toContain('got --n-embd 66 and --n-head 4');
  });

  it('rejects --min-lr above --lr', () => {
    const message = usageErrorOf(() => parseTrainOptions(['--lr', '1e-4', '--min-lr', '1e-3']));
    expect(message).toBe(
      '--min-lr must not exceed --lr, got --min-lr 0.001 and --lr 0.0001. Lower --min-lr or raise --lr.',
    );
  });

  it('accepts --min-lr equal to --lr', () => {
    expect(train(['--lr', '0.002', '--min-lr', '0.002']).minLr).toBe(0.002);
  });

  it('rejects --bpe-vocab-size without the bpe tokenizer', () => {
    const message = usageErrorOf(() => parseTrainOptions(['--bpe-vocab-size', '300']));
    expect(message).toBe(
      '--bpe-vocab-size only applies to --tokenizer bpe, got --tokenizer char. ' +
        'Add --tokenizer bpe or drop --bpe-vocab-size.',
    );
  });

  it('lists the valid options for an unknown one', () => {
    const message = usageErrorOf(() => parseTrainOptions(['--learning-rate', '1']));
    expect(message).toMatch(/^unknown option --learning-rate for glassbox train\. Valid options: /);
    for (const flag of [...TRAIN_FLAGS, 'help']) {
      expect(message).toContain(`--${flag}`);
    }
    expect(message).not.toContain('\n');
  });

  it('suggests the closest option', () => {
    const message = usageErrorOf(() => parseTrainOptions(['--n-heads', '4']));
    expect(message).toContain('Did you mean --n-head?');
  });

  it('rejects an unknown short option', () => {
    expect(usageErrorOf(() => parseTrainOptions(['-x']))).toMatch(/^unknown option -x for glassbox train\./);
  });

  it('rejects a positional argument', () => {
    expect(usageErrorOf(() => parseTrainOptions(['moby-dick']))).toBe(
      'unexpected argument "moby-dick". Options start with --, run glassbox train --help to list them.',
    );
  });

  it('rejects an option without its value', () => {
    const expected =
      '--steps requires a value (--steps N). Write a value that starts with -- as --steps=VALUE.';
    expect(usageErrorOf(() => parseTrainOptions(['--steps']))).toBe(expected);
    expect(usageErrorOf(() => parseTrainOptions(['--steps', '--lr', '1']))).toBe(expected);
  });

  it('rejects a value for --help', () => {
    expect(usageErrorOf(() => parseTrainOptions(['--help=yes']))).toBe('--help takes no value, got "yes".');
  });
});

describe('parseGenerateOptions', () => {
  it('applies defaults', () => {
    expect(generate(['--model', 'runs/a'])).toEqual({
      model: 'runs/a',
      prompt: '\n',
      maxNewTokens: 200,
      temperature: 0.8,
      topK: 40,
      format: 'text',
      greedy: false,
    });
    expect(GENERATE_DEFAULTS).toEqual({
      prompt: '\n',
      maxNewTokens: 200,
      temperature: 0.8,
      topK: 40,
      format: 'text',
      greedy: false,
    });
  });

  it('parses every option', () => {
    const options = generate([
      '--model',
      'runs/a',
      '--prompt',
      'Call me',
      '--max-new-tokens',
      '5',
      '--temperature',
      '1.5',
      '--top-k',
      '0',
      '--seed',
      '7',
    ]);
    expect(options).toEqual({
      model: 'runs/a',
      prompt: 'Call me',
      maxNewTokens: 5,
      temperature: 1.5,
      topK: 0,
      seed: 7,
      format: 'text',
      greedy: false,
    });
  });

  it('parses prompt ids, the ids format and greedy decoding', () => {
    const options = generate([
      '--model',
      'runs/a',
      '--prompt-ids',
      '464, 2068,7586',
      '--format',
      'ids',
      '--greedy',
    ]);
    expect(options.promptIds).toEqual([464, 2068, 7586]);
    expect(options.format).toBe('ids');
    expect(options.greedy).toBe(true);
  });

  it('rejects malformed prompt ids', () => {
    expect(() => generate(['--model', 'runs/a', '--prompt-ids', '1,,2'])).toThrow(
      /--prompt-ids must be comma-separated/,
    );
    expect(() => generate(['--model', 'runs/a', '--prompt-ids', '1,-2'])).toThrow(/"1,-2"/);
  });

  it('takes a prompt that starts with -- in = form', () => {
    expect(generate(['--model', 'm', '--prompt=--hello']).prompt).toBe('--hello');
  });

  it('requires --model', () => {
    expect(usageErrorOf(() => parseGenerateOptions(['--prompt', 'x']))).toBe(
      '--model is required. Pass the run directory that glassbox train wrote, e.g. --model runs/<timestamp>.',
    );
  });

  it.each([
    [['--temperature', '0'], '--temperature must be a positive number, got "0".'],
    [['--temperature', '-1'], '--temperature must be a positive number, got "-1".'],
    [['--max-new-tokens', '0'], '--max-new-tokens must be a positive integer, got "0".'],
    [['--top-k', '-1'], '--top-k must be a non-negative integer, got "-1".'],
    [['--seed', 'abc'], '--seed must be a non-negative integer, got "abc".'],
  ])('rejects %j', (argv, message) => {
    expect(usageErrorOf(() => parseGenerateOptions(['--model', 'm', ...argv]))).toBe(message);
  });

  it('rejects train options', () => {
    const message = usageErrorOf(() => parseGenerateOptions(['--model', 'm', '--steps', '3']));
    expect(message).toMatch(/^unknown option --steps for glassbox generate\. Valid options: --model, /);
  });

  it('returns a help request', () => {
    expect(parseGenerateOptions(['--help'])).toEqual({ help: true });
  });
});

describe('usage text', () => {
  it('lists each train option with its default', () => {
    const text = trainUsage();
    for (const flag of TRAIN_FLAGS) {
      expect(text).toContain(`--${flag} `);
    }
    expect(text).toMatch(/--n-head N +attention heads per block, a divisor of --n-embd \(default: 4\)/);
    expect(text).toMatch(/--block-size N +context length in tokens \(default: 64\)/);
    expect(text).toContain('(default: 0.001)');
  });

  it('lists each generate option', () => {
    const text = generateUsage();
    for (const flag of GENERATE_FLAGS) {
      expect(text).toContain(`--${flag} `);
    }
    expect(text).toMatch(/--top-k K +sample only from the K most likely tokens, 0 turns the filter off/);
  });

  it('wraps lines at 100 columns', () => {
    for (const line of [...trainUsage().split('\n'), ...generateUsage().split('\n')]) {
      expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});

describe('defaultRunDirectory', () => {
  it('formats UTC time without colons', () => {
    expect(defaultRunDirectory(NOW)).toBe('runs/2025-03-04T05-06-07Z');
  });
});

describe('parseNumber', () => {
  it('rejects forms that Number() accepts', () => {
    for (const raw of ['', ' 1', '1 ', '0b1', '1_000', 'NaN']) {
      expect(parseNumber(raw, POSITIVE_INTEGER)).toBeUndefined();
    }
  });

  it('rejects integers beyond 2^53', () => {
    expect(parseNumber('9007199254740993', POSITIVE_INTEGER)).toBeUndefined();
  });
});

describe('closestMatch', () => {
  it('finds near misses only', () => {
    expect(closestMatch('trian', ['train', 'generate', 'help'])).toBe('train');
    expect(closestMatch('evaluate', ['train', 'generate', 'help'])).toBeUndefined();
  });
});

describe('resolvePrecision', () => {
  it('picks float16 products on cuda only', () => {
    expect(resolvePrecision('auto', 'cpu')).toBe('float32');
    expect(resolvePrecision('auto', 'cuda')).toBe('mixed-float16');
    expect(resolvePrecision('float32', 'cuda')).toBe('float32');
    expect(resolvePrecision('mixed-float16', 'cpu')).toBe('mixed-float16');
  });
});
