import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// End-to-end tests: each case starts `glassbox` as a child process, as `pnpm glassbox` does, and trains
// a tiny model (1 layer, width 16, context 16) on a generated corpus of about 19 KB.

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI_PATH = fileURLToPath(new URL('./cli.ts', import.meta.url));

/** Per-test limit. A child process is killed a little earlier, so that the test reports its output. */
const TEST_TIMEOUT_MS = 120_000;
const CHILD_TIMEOUT_MS = 110_000;

const TINY_MODEL = [
  '--n-layer',
  '1',
  '--n-head',
  '2',
  '--n-embd',
  '16',
  '--block-size',
  '16',
  '--batch-size',
  '4',
  '--eval-iters',
  '2',
  '--threads',
  '1',
];

const SAMPLE_HEADER = '\n--- sample ---\n';

/** Length of the sample that `glassbox train` prints, in tokens, after its one-token newline prompt. */
const SAMPLE_TOKENS = 300;

const RUN_FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'metrics.jsonl',
  'loss.svg',
  'loss.png',
  'optimizer.safetensors',
  'trainer-state.json',
];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface MetricsLine {
  step: number;
  trainLoss: number;
  valLoss?: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
}

/** Starts the CLI from source with the repository root as working directory, without GLASSBOX_DEBUG. */
function startCli(argv: readonly string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const { GLASSBOX_DEBUG: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', CLI_PATH, ...argv], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: CHILD_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { child, done };
}

function runCli(argv: readonly string[]): Promise<CliResult> {
  return startCli(argv).done;
}

/** Generates a corpus of 200 lines from a fixed set of sentences, so every run trains on the same text. */
function corpusText(): string {
  const sentences = [
    'the whale rose from the grey sea at dawn.',
    'a small ship sailed north before the storm.',
    'call me when the harpoons are ready, said the mate.',
    'ropes and barrels rolled across the wet deck.',
    'the captain watched the horizon for a white shape.',
    'sailors sang while they mended the torn sails.',
    'old charts showed islands that nobody had seen.',
  ];
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    lines.push(`${sentences[(i * 3) % sentences.length]} ${sentences[(i * 5 + 1) % sentences.length]}`);
  }
  return `${lines.join('\n')}\n`;
}

async function readMetricsLines(runDirectory: string): Promise<MetricsLine[]> {
  const text = await readFile(join(runDirectory, 'metrics.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as MetricsLine);
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** Rewrites the run's config.json with `change` applied to its `glassbox` section. */
async function editRunSettings(runDirectory: string, change: (settings: Record<string, unknown>) => void) {
  const path = join(runDirectory, 'config.json');
  const config = await readJson(path);
  change(config.glassbox as Record<string, unknown>);
  await writeFile(path, JSON.stringify(config, null, 2));
}

async function readCheckpointStep(runDirectory: string): Promise<unknown> {
  return (await readJson(join(runDirectory, 'trainer-state.json'))).step;
}

/** Resolves once `metrics.jsonl` in `runDirectory` has `count` lines, and rejects if `done` settles first. */
async function waitForMetricsLines(runDirectory: string, count: number, done: Promise<CliResult>) {
  let exitReport: string | undefined;
  done.then(
    (result) => {
      exitReport = `status ${result.status}, stderr: ${result.stderr}`;
    },
    (error: unknown) => {
      exitReport = String(error);
    },
  );
  for (;;) {
    if (exitReport !== undefined) {
      throw new Error(`glassbox train exited before ${count} metrics lines (${exitReport})`);
    }
    const text = await readFile(join(runDirectory, 'metrics.jsonl'), 'utf8').catch(() => '');
    if (text.split('\n').filter((line) => line !== '').length >= count) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Checks the invalid-input contract: status 1 and one stderr line that contains `names`, no stack trace. */
function expectOneLineError(result: CliResult, command: string, names: readonly string[]) {
  expect(result.status).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr.startsWith(`glassbox ${command}: `)).toBe(true);
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  for (const name of names) {
    expect(result.stderr).toContain(name);
  }
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

let directory: string;
let corpusPath: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-e2e-'));
  corpusPath = join(directory, 'corpus.txt');
  await writeFile(corpusPath, corpusText());
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('glassbox train run', () => {
  const steps = 25;
  const evalInterval = 10;
  let runDirectory: string;
  let result: CliResult;

  beforeAll(async () => {
    runDirectory = join(directory, 'short-run');
    result = await runCli([
      'train',
      '--corpus',
      corpusPath,
      '--steps',
      String(steps),
      '--eval-interval',
      String(evalInterval),
      '--out',
      runDirectory,
      '--plot-lr',
      ...TINY_MODEL,
    ]);
  }, TEST_TIMEOUT_MS);

  it('exits 0 after a short run', () => {
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.status).toBe(0);
  });

  it('writes every run file', async () => {
    const files = await readdir(runDirectory);
    for (const file of RUN_FILES) {
      expect(files).toContain(file);
      expect((await stat(join(runDirectory, file))).size).toBeGreaterThan(0);
    }
  });

  it('plots the learning rate with --plot-lr', async () => {
    const svg = await readFile(join(runDirectory, 'lr.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Learning rate schedule');
    const png = await readFile(join(runDirectory, 'lr.png'));
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  });

  it('writes the configuration', async () => {
    const config = await readJson(join(runDirectory, 'config.json'));
    expect(config.model_type).toBe('gpt2');
    expect(config.n_layer).toBe(1);
    expect(config.n_head).toBe(2);
    expect(config.n_embd).toBe(16);
    expect(config.n_positions).toBe(16);
    expect(config.vocab_size).toBe(new Set(corpusText()).size);
    expect(config.glassbox).toMatchObject({ corpus: corpusPath, tokenizer: 'char' });
  });

  it('writes one metrics line per step', async () => {
    const lines = await readMetricsLines(runDirectory);
    expect(lines.map((line) => line.step)).toEqual(Array.from({ length: steps }, (_, index) => index + 1));
    for (const line of lines) {
      for (const key of ['trainLoss', 'lr', 'gradNorm', 'tokensPerSecond', 'elapsedSeconds'] as const) {
        expect(Number.isFinite(line[key]), `${key} at step ${line.step}`).toBe(true);
      }
      expect(line.trainLoss).toBeGreaterThan(0);
      expect(line.tokensPerSecond).toBeGreaterThan(0);
    }
  });

  it('evaluates on interval and last steps', async () => {
    const lines = await readMetricsLines(runDirectory);
    const evaluated = lines.filter((line) => line.valLoss !== undefined).map((line) => line.step);
    expect(evaluated).toEqual([10, 20, 25]);
    for (const line of lines.filter((candidate) => candidate.valLoss !== undefined)) {
      expect(Number.isFinite(line.valLoss)).toBe(true);
    }
  });

  it('writes charts and the checkpoint step', async () => {
    const png = await readFile(join(runDirectory, 'loss.png'));
    expect(png.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)).toBe(true);
    const svg = await readFile(join(runDirectory, 'loss.svg'), 'utf8');
    expect(svg).toMatch(/^<svg[\s>]/);
    expect(await readCheckpointStep(runDirectory)).toBe(steps);
  });

  it('prints a sample at the end', () => {
    expect(result.stdout.startsWith(SAMPLE_HEADER)).toBe(true);
    expect(result.stdout.endsWith('\n')).toBe(true);
    // The char tokenizer decodes each token to one character: the newline prompt, then the sample.
    const sample = [...result.stdout.slice(SAMPLE_HEADER.length, -1)];
    expect(sample).toHaveLength(1 + SAMPLE_TOKENS);
    expect(sample[0]).toBe('\n');
    const alphabet = new Set(corpusText());
    expect(sample.filter((character) => !alphabet.has(character))).toEqual([]);
  });

  it('reports the run directory', () => {
    expect(result.stderr).toContain(`glassbox train: wrote ${runDirectory} (`);
  });
});

describe('glassbox train interrupt', () => {
  // Enough steps that the run is still going when the test sends SIGINT after 3 metrics lines.
  const steps = 2000;
  const trainOptions = () => ['--corpus', corpusPath, '--steps', String(steps), '--eval-interval', '500'];
  let interruptedDirectory: string;
  let fullDirectory: string;
  let interrupted: CliResult;
  let resumed: CliResult;
  let uninterrupted: CliResult;
  let checkpointStep: unknown;
  let interruptedMetrics: MetricsLine[];

  beforeAll(async () => {
    interruptedDirectory = join(directory, 'interrupted');
    fullDirectory = join(directory, 'uninterrupted');

    const { child, done } = startCli([
      'train',
      ...trainOptions(),
      ...TINY_MODEL,
      '--out',
      interruptedDirectory,
    ]);
    await waitForMetricsLines(interruptedDirectory, 3, done);
    child.kill('SIGINT');
    interrupted = await done;
    checkpointStep = await readCheckpointStep(interruptedDirectory);
    interruptedMetrics = await readMetricsLines(interruptedDirectory);

    resumed = await runCli(['train', '--resume', interruptedDirectory]);
    uninterrupted = await runCli(['train', ...trainOptions(), ...TINY_MODEL, '--out', fullDirectory]);
  }, TEST_TIMEOUT_MS);

  it('exits 130 on Ctrl-C', () => {
    expect(interrupted.status).toBe(130);
  });

  it('stops before the last step', () => {
    expect(interrupted.signal).toBe(null);
    expect(interrupted.stdout).toBe('');
    expect(interruptedMetrics.length).toBeGreaterThanOrEqual(3);
    expect(interruptedMetrics.length).toBeLessThan(steps);
  });

  it('saves a checkpoint on Ctrl-C', async () => {
    expect(checkpointStep).toBe(interruptedMetrics.at(-1)?.step);
    const files = await readdir(interruptedDirectory);
    for (const file of RUN_FILES) {
      expect(files).toContain(file);
    }
  });

  it('tells how to resume', () => {
    const lines = interrupted.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(
      `glassbox train: interrupted at step ${checkpointStep}; checkpoint saved in ${interruptedDirectory}. ` +
        `Continue with --resume ${interruptedDirectory}`,
    );
  });

  it('resumes to the last step', async () => {
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain(`; resuming at step ${checkpointStep}\n`);
    expect(resumed.stdout.startsWith(SAMPLE_HEADER)).toBe(true);
    const lines = await readMetricsLines(interruptedDirectory);
    expect(lines.map((line) => line.step)).toEqual(Array.from({ length: steps }, (_, index) => index + 1));
    expect(await readCheckpointStep(interruptedDirectory)).toBe(steps);
  });

  it('matches uninterrupted train losses', async () => {
    expect(uninterrupted.status).toBe(0);
    const resumedLines = await readMetricsLines(interruptedDirectory);
    const fullLines = await readMetricsLines(fullDirectory);
    expect(fullLines).toHaveLength(steps);
    expect(resumedLines.map((line) => line.trainLoss)).toEqual(fullLines.map((line) => line.trainLoss));
    expect(resumedLines.map((line) => line.lr)).toEqual(fullLines.map((line) => line.lr));
    expect(resumedLines.map((line) => line.gradNorm)).toEqual(fullLines.map((line) => line.gradNorm));
  });

  it('matches uninterrupted model bytes', async () => {
    const resumedModel = await readFile(join(interruptedDirectory, 'model.safetensors'));
    const fullModel = await readFile(join(fullDirectory, 'model.safetensors'));
    expect(resumedModel.equals(fullModel)).toBe(true);
    const resumedOptimizer = await readFile(join(interruptedDirectory, 'optimizer.safetensors'));
    const fullOptimizer = await readFile(join(fullDirectory, 'optimizer.safetensors'));
    expect(resumedOptimizer.equals(fullOptimizer)).toBe(true);
  });

  it('matches the uninterrupted sample', () => {
    expect(resumed.stdout).toBe(uninterrupted.stdout);
  });

  it('matches uninterrupted validation losses', async () => {
    const resumedLines = await readMetricsLines(interruptedDirectory);
    const fullLines = await readMetricsLines(fullDirectory);
    const evaluations = (lines: MetricsLine[]) =>
      lines.filter((line) => line.valLoss !== undefined).map((line) => [line.step, line.valLoss]);
    expect(evaluations(resumedLines)).toEqual(evaluations(fullLines));
  });
});

describe('glassbox train resume options', () => {
  const steps = 10;
  let finishedDirectory: string;

  beforeAll(async () => {
    finishedDirectory = join(directory, 'finished');
    const result = await runCli([
      'train',
      '--corpus',
      corpusPath,
      '--steps',
      String(steps),
      '--out',
      finishedDirectory,
      ...TINY_MODEL,
    ]);
    expect(result.status).toBe(0);
  }, TEST_TIMEOUT_MS);

  it(
    'extends a run with --steps',
    async () => {
      const extended = join(directory, 'extended');
      await cp(finishedDirectory, extended, { recursive: true });
      const result = await runCli(['train', '--resume', extended, '--steps', '15']);
      expect(result.status).toBe(0);
      expect(await readCheckpointStep(extended)).toBe(15);
      expect(await readMetricsLines(extended)).toHaveLength(15);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'continues a run into another directory',
    async () => {
      const target = join(directory, 'continued-elsewhere');
      const result = await runCli(['train', '--resume', finishedDirectory, '--out', target, '--steps', '14']);
      expect(result.status).toBe(0);
      expect(await readMetricsLines(target)).toHaveLength(14);
      const generated = await runCli(['generate', '--model', target, '--max-new-tokens', '5', '--seed', '1']);
      expect(generated.status).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'resumes without repeating --corpus',
    async () => {
      const copy = join(directory, 'resumed-without-corpus');
      await cp(finishedDirectory, copy, { recursive: true });
      const result = await runCli(['train', '--resume', copy]);
      expect(result.stderr).not.toContain('cannot tokenize');
      expect(result.status).toBe(0);
      const config = await readJson(join(copy, 'config.json'));
      expect(config.glassbox).toMatchObject({ corpus: corpusPath });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects a run without tokenizer.json',
    async () => {
      const copy = join(directory, 'without-tokenizer');
      await cp(finishedDirectory, copy, { recursive: true });
      await rm(join(copy, 'tokenizer.json'));
      const result = await runCli(['train', '--resume', copy]);
      expectOneLineError(result, 'train', [`--resume ${copy} is missing tokenizer.json;`, '--resume.']);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox train resume with a moved corpus', () => {
  let run: string;
  let originalPath: string;
  let movedPath: string;
  let editedPath: string;

  /** Copies the trained run, so that each case resumes its own directory. */
  const copyRun = async (name: string) => {
    const copy = join(directory, name);
    await cp(run, copy, { recursive: true });
    return copy;
  };

  beforeAll(async () => {
    run = join(directory, 'moved-corpus-run');
    originalPath = join(directory, 'original-corpus.txt');
    movedPath = join(directory, 'moved-corpus.txt');
    editedPath = join(directory, 'edited-corpus.txt');
    await writeFile(originalPath, corpusText());
    // Swapping two words keeps the characters, so the char tokenizer still encodes the edited text.
    await writeFile(editedPath, corpusText().replace('whale rose', 'rose whale'));
    const result = await runCli([
      'train',
      '--corpus',
      originalPath,
      '--steps',
      '4',
      '--out',
      run,
      ...TINY_MODEL,
    ]);
    expect(result.status).toBe(0);
    await rename(originalPath, movedPath);
  }, TEST_TIMEOUT_MS);

  it('records the corpus hash', async () => {
    const settings = (await readJson(join(run, 'config.json'))).glassbox as Record<string, unknown>;
    const { hashCorpusText } = await import('./corpus.js');
    expect(settings.corpusSha256).toBe(hashCorpusText(corpusText()));
  });

  it(
    'asks for --corpus when moved',
    async () => {
      const copy = await copyRun('moved-without-option');
      const result = await runCli(['train', '--resume', copy, '--steps', '5']);
      expectOneLineError(result, 'train', [`corpus file ${originalPath}`, 'not found', 'with --corpus']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'accepts the moved file by hash',
    async () => {
      const copy = await copyRun('moved-with-option');
      const result = await runCli(['train', '--resume', copy, '--corpus', movedPath, '--steps', '5']);
      expect(result.status).toBe(0);
      expect(result.stderr).toContain(`from ${movedPath} in place of ${originalPath}; its text matches`);
      const settings = (await readJson(join(copy, 'config.json'))).glassbox as Record<string, unknown>;
      expect(settings.corpus).toBe(movedPath);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects --corpus with other text',
    async () => {
      const copy = await copyRun('moved-to-edited');
      const result = await runCli(['train', '--resume', copy, '--corpus', editedPath, '--steps', '5']);
      expectOneLineError(result, 'train', [
        `--corpus ${editedPath}`,
        originalPath,
        'changed since the checkpoint',
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects edited text in place',
    async () => {
      const copy = await copyRun('edited-in-place');
      // The recorded path now contains other text, as if the file had been edited after the checkpoint.
      await editRunSettings(copy, (settings) => {
        settings.corpus = editedPath;
      });
      const result = await runCli(['train', '--resume', copy, '--steps', '5']);
      expectOneLineError(result, 'train', [`corpus file ${editedPath}`, 'changed since the checkpoint']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'accepts moved files of unhashed runs',
    async () => {
      const copy = await copyRun('unhashed-moved');
      await editRunSettings(copy, (settings) => {
        delete settings.corpusSha256;
      });
      const result = await runCli(['train', '--resume', copy, '--corpus', movedPath, '--steps', '5']);
      expect(result.status).toBe(0);
      expect(result.stderr).toContain('records no corpus hash');
      const settings = (await readJson(join(copy, 'config.json'))).glassbox as Record<string, unknown>;
      expect(settings.corpus).toBe(movedPath);
      expect(typeof settings.corpusSha256).toBe('string');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects other files for unhashed runs',
    async () => {
      const copy = await copyRun('unhashed-other');
      // The recorded file exists, so a run without a hash keeps it.
      await editRunSettings(copy, (settings) => {
        delete settings.corpusSha256;
        settings.corpus = movedPath;
      });
      const result = await runCli(['train', '--resume', copy, '--corpus', corpusPath, '--steps', '5']);
      expectOneLineError(result, 'train', [`--corpus ${corpusPath} differs from ${movedPath}`]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox train bpe resume', () => {
  // The generated corpus has few distinct words, so BPE runs out of pairs long before 2000 tokens.
  const requested = '2000';
  let run: string;
  let trainedSize: unknown;

  beforeAll(async () => {
    run = join(directory, 'bpe-early-stop');
    const result = await runCli([
      'train',
      '--corpus',
      corpusPath,
      '--tokenizer',
      'bpe',
      '--bpe-vocab-size',
      requested,
      '--steps',
      '2',
      '--out',
      run,
      ...TINY_MODEL,
    ]);
    expect(result.status).toBe(0);
    trainedSize = (await readJson(join(run, 'config.json'))).vocab_size;
  }, TEST_TIMEOUT_MS);

  const resume = (copy: string, size: string) =>
    runCli(['train', '--resume', copy, '--tokenizer', 'bpe', '--bpe-vocab-size', size, '--steps', '3']);

  it('records the requested vocabulary size', async () => {
    expect(trainedSize).toBeLessThan(Number(requested));
    const settings = (await readJson(join(run, 'config.json'))).glassbox as Record<string, unknown>;
    expect(settings.bpeVocabSize).toBe(Number(requested));
  });

  it(
    'accepts the requested size',
    async () => {
      const copy = join(directory, 'bpe-resume-requested');
      await cp(run, copy, { recursive: true });
      const result = await resume(copy, requested);
      expect(result.stderr).not.toContain('differs');
      expect(result.status).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'accepts the trained size',
    async () => {
      const copy = join(directory, 'bpe-resume-trained');
      await cp(run, copy, { recursive: true });
      const result = await resume(copy, String(trainedSize));
      expect(result.stderr).not.toContain('differs');
      expect(result.status).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects another size',
    async () => {
      const result = await resume(run, '1500');
      expectOneLineError(result, 'train', [`--bpe-vocab-size 1500 differs from ${requested}`]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'accepts the trained size without record',
    async () => {
      const copy = join(directory, 'bpe-resume-unrecorded');
      await cp(run, copy, { recursive: true });
      await editRunSettings(copy, (settings) => {
        delete settings.bpeVocabSize;
      });
      const result = await resume(copy, String(trainedSize));
      expect(result.stderr).not.toContain('differs');
      expect(result.status).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox train --plot-lr', () => {
  it(
    'plots the longest possible run',
    async () => {
      const run = join(directory, 'plot-max-steps');
      const { child, done } = startCli([
        'train',
        '--corpus',
        corpusPath,
        '--steps',
        String(Number.MAX_SAFE_INTEGER),
        '--eval-interval',
        '1000000',
        '--plot-lr',
        '--out',
        run,
        ...TINY_MODEL,
      ]);
      // The chart is written before the first step, so one metrics line means that plotting finished.
      await waitForMetricsLines(run, 1, done);
      child.kill('SIGINT');
      const result = await done;
      expect(result.status).toBe(130);
      const svg = await readFile(join(run, 'lr.svg'), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      const png = await readFile(join(run, 'lr.png'));
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox train bpe', () => {
  it(
    'writes a BPE tokenizer.json',
    async () => {
      const runDirectory = join(directory, 'bpe-run');
      const result = await runCli([
        'train',
        '--corpus',
        corpusPath,
        '--tokenizer',
        'bpe',
        '--bpe-vocab-size',
        '300',
        '--steps',
        '5',
        '--out',
        runDirectory,
        ...TINY_MODEL,
      ]);
      expect(result.status).toBe(0);

      const tokenizer = await readJson(join(runDirectory, 'tokenizer.json'));
      const model = tokenizer.model as { type: string; vocab: Record<string, number>; merges: unknown[] };
      expect(model.type).toBe('BPE');
      expect(Object.keys(model.vocab)).toHaveLength(300);
      // A byte-level BPE vocabulary starts with the 256 bytes, and each merge adds one token.
      expect(model.merges).toHaveLength(300 - 256);
      const config = await readJson(join(runDirectory, 'config.json'));
      expect(config.vocab_size).toBe(300);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox generate', () => {
  let runDirectory: string;

  beforeAll(async () => {
    runDirectory = join(directory, 'generate-run');
    const result = await runCli([
      'train',
      '--corpus',
      corpusPath,
      '--steps',
      '20',
      '--out',
      runDirectory,
      ...TINY_MODEL,
    ]);
    expect(result.status).toBe(0);
  }, TEST_TIMEOUT_MS);

  const generate = (seed: number) =>
    runCli([
      'generate',
      '--model',
      runDirectory,
      '--prompt',
      'the whale',
      '--max-new-tokens',
      '20',
      '--seed',
      String(seed),
    ]);

  it(
    'continues the prompt',
    async () => {
      const result = await generate(3);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout.startsWith('the whale')).toBe(true);
      expect(result.stdout.endsWith('\n')).toBe(true);
      // One character per token with the char tokenizer.
      expect([...result.stdout.slice('the whale'.length, -1)]).toHaveLength(20);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'repeats output for one seed',
    async () => {
      const first = await generate(3);
      const second = await generate(3);
      const otherSeed = await generate(4);
      expect(first.status).toBe(0);
      expect(second.stdout).toBe(first.stdout);
      expect(otherSeed.stdout).not.toBe(first.stdout);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects an empty model directory',
    async () => {
      const empty = join(directory, 'empty-model');
      await mkdir(empty);
      const result = await runCli(['generate', '--model', empty, '--prompt', 'the whale']);
      expectOneLineError(result, 'generate', [join(empty, 'config.json')]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox train invalid input', () => {
  const occupied = () => join(directory, 'occupied-run');
  const regularFile = () => join(directory, 'regular-file');
  const tooManyThreads = String(availableParallelism() + 1);
  const cases: { name: string; argv: () => string[]; names: () => string[] }[] = [
    {
      name: 'missing corpus file',
      argv: () => ['--corpus', join(directory, 'missing.txt')],
      names: () => [JSON.stringify(join(directory, 'missing.txt')), 'not found'],
    },
    {
      name: 'empty corpus file',
      argv: () => ['--corpus', join(directory, 'empty.txt')],
      names: () => [JSON.stringify(join(directory, 'empty.txt')), 'is empty'],
    },
    {
      name: 'corpus shorter than context',
      argv: () => ['--corpus', join(directory, 'ten.txt')],
      names: () => ['--block-size 16', 'Its 10 tokens'],
    },
    { name: 'non-numeric --steps', argv: () => ['--steps', 'abc'], names: () => ['--steps', '"abc"'] },
    {
      name: 'indivisible --n-embd',
      argv: () => ['--n-embd', '30', '--n-head', '4'],
      names: () => ['--n-embd 30', '--n-head 4'],
    },
    { name: 'unknown option', argv: () => ['--stepz', '3'], names: () => ['--stepz'] },
    {
      name: 'too small --bpe-vocab-size',
      argv: () => ['--tokenizer', 'bpe', '--bpe-vocab-size', '100'],
      names: () => ['--bpe-vocab-size', '100'],
    },
    {
      name: 'context too large for memory',
      argv: () => ['--block-size', '200000', '--batch-size', '64'],
      names: () => ['--block-size 200000', '--batch-size 64', 'GiB'],
    },
    {
      // By the memory estimate, 64 positions of width 1e9 need about 7 TiB of activations.
      name: 'too wide a model for memory',
      argv: () => ['--n-embd', '1000000000'],
      names: () => ['--n-embd 1000000000', '--n-layer 1', 'GiB', 'smaller --n-embd'],
    },
    {
      name: 'an --out that holds a run',
      argv: () => ['--out', occupied()],
      names: () => [`--out ${occupied()}`, `--resume ${occupied()}`],
    },
    {
      name: 'an --out that is a file',
      argv: () => ['--out', regularFile()],
      names: () => [`--out ${regularFile()} is an existing file`, 'another --out'],
    },
    {
      name: 'more --threads than CPUs',
      argv: () => ['--threads', tooManyThreads],
      names: () => ['--threads', `at most ${availableParallelism()}`, `got ${tooManyThreads}`],
    },
  ];

  beforeAll(async () => {
    await mkdir(occupied(), { recursive: true });
    await writeFile(join(occupied(), 'model.safetensors'), 'not replaced');
    await writeFile(join(directory, 'empty.txt'), '');
    await writeFile(regularFile(), 'not a directory');
    await writeFile(join(directory, 'ten.txt'), '0123456789');
  });

  it('leaves an existing run untouched', async () => {
    const result = await runCli(['train', '--corpus', corpusPath, ...TINY_MODEL, '--out', occupied()]);
    expect(result.status).toBe(1);
    expect(await readFile(join(occupied(), 'model.safetensors'), 'utf8')).toBe('not replaced');
  });

  it.each(cases)(
    'rejects $name',
    async ({ argv, names }) => {
      // The tiny model comes first so that each case's own options override it.
      const out = join(directory, 'invalid-run');
      const result = await runCli(['train', '--corpus', corpusPath, ...TINY_MODEL, '--out', out, ...argv()]);
      expectOneLineError(result, 'train', names());
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox generate with a Hugging Face directory', () => {
  const hfModel = fileURLToPath(new URL('../../../../shared/data/models/hf-tiny-gpt2', import.meta.url));

  it(
    'prints greedy ids that match the library',
    async () => {
      const result = await runCli([
        'generate',
        '--model',
        hfModel,
        '--prompt-ids',
        '3,17,5',
        '--format',
        'ids',
        '--greedy',
        '--max-new-tokens',
        '8',
      ]);
      expect(result.status).toBe(0);
      const ids = result.stdout.trim().split(' ').map(Number);
      expect(ids).toHaveLength(8);
      const { loadGpt2Directory } = await import('@glassbox/gpt-core/node');
      const { GptInference } = await import('@glassbox/gpt-core');
      const { Rng } = await import('@glassbox/graph');
      const { config, parameters } = await loadGpt2Directory(hfModel);
      const inference = await GptInference.create(config, parameters);
      const expected = await inference.generate([3, 17, 5], {
        maxNewTokens: 8,
        rng: new Rng(0),
        temperature: 0,
      });
      await inference.release();
      expect(ids).toEqual(expected);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports a tokenizer it cannot load',
    async () => {
      // This test model's vocab.json lacks most single bytes, so it cannot encode text.
      const result = await runCli(['generate', '--model', hfModel, '--prompt', 'Hello world']);
      expectOneLineError(result, 'generate', ['vocab.json', '--prompt-ids']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects prompt ids outside the vocabulary',
    async () => {
      const result = await runCli([
        'generate',
        '--model',
        hfModel,
        '--prompt-ids',
        '1,999999',
        '--format',
        'ids',
      ]);
      expectOneLineError(result, 'generate', ['--prompt-ids', '999999']);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox inspect and export', () => {
  it(
    'prints the parameter count of a run',
    async () => {
      const run = join(directory, 'inspected');
      const trained = await runCli([
        'train',
        '--corpus',
        corpusPath,
        ...TINY_MODEL,
        '--steps',
        '2',
        '--out',
        run,
      ]);
      expect(trained.status).toBe(0);
      const result = await runCli(['inspect', '--model', run]);
      expect(result.status).toBe(0);
      const config = (await readJson(join(run, 'config.json'))) as Record<string, number>;
      const { countGptParameters, resolveGptConfig } = await import('@glassbox/gpt-core');
      const total = countGptParameters(
        resolveGptConfig({
          vocabSize: config.vocab_size,
          blockSize: config.n_positions,
          nLayer: config.n_layer,
          nHead: config.n_head,
          nEmbd: config.n_embd,
        }),
      );
      expect(result.stdout).toContain(`parameters ${total.toLocaleString('en-US')}`);
      expect(result.stdout).toMatch(/h\.0\.attn\.c_attn\.weight +\[16, 48\]/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'exports a BPE run in the transformers.js layout',
    async () => {
      const run = join(directory, 'export-source');
      const trained = await runCli([
        'train',
        '--corpus',
        corpusPath,
        ...TINY_MODEL,
        '--tokenizer',
        'bpe',
        '--bpe-vocab-size',
        '280',
        '--steps',
        '2',
        '--out',
        run,
      ]);
      expect(trained.status).toBe(0);
      const out = join(directory, 'exported');
      const result = await runCli(['export', '--model', run, '--out', out]);
      expect(result.status).toBe(0);
      const { GraphSession } = await import('@glassbox/graph');
      const session = await GraphSession.create(await readFile(join(out, 'onnx', 'model.onnx')));
      expect(session.inputNames).toEqual(
        expect.arrayContaining(['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key']),
      );
      expect(session.outputNames).toEqual(expect.arrayContaining(['logits', 'present.0.value']));
      await session.release();
      const tokenizer = (await readJson(join(out, 'tokenizer.json'))) as { model: { type: string } };
      expect(tokenizer.model.type).toBe('BPE');
      const again = await runCli(['export', '--model', run, '--out', out]);
      expectOneLineError(again, 'export', [`--out ${out}`, 'not empty']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects exporting a character tokenizer',
    async () => {
      const run = join(directory, 'inspected');
      const result = await runCli(['export', '--model', run, '--out', join(directory, 'char-export')]);
      expectOneLineError(result, 'export', ['character tokenizer', '--tokenizer bpe']);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('glassbox train --device cuda', () => {
  it(
    'fails before writing unless CUDA is available',
    async () => {
      const out = join(await mkdtemp(join(tmpdir(), 'glassbox-cuda-')), 'run');
      const corpus = join(await mkdtemp(join(tmpdir(), 'glassbox-cuda-corpus-')), 'text.txt');
      await writeFile(corpus, 'to be or not to be, that is the question. '.repeat(40));
      const result = await runCli([
        'train',
        '--device',
        'cuda',
        '--corpus',
        corpus,
        '--steps',
        '2',
        '--out',
        out,
        ...TINY_MODEL,
      ]);
      if (result.status === 0) {
        // A machine with CUDA and onnxruntime-node's CUDA provider trains in mixed-float16 by default.
        const state = JSON.parse(await readFile(join(out, 'trainer-state.json'), 'utf8'));
        expect(state.options.precision).toBe('mixed-float16');
        return;
      }
      expect(result.stderr).toContain(
        '--device cuda: ONNX Runtime could not start its CUDA execution provider',
      );
      expect(result.stderr).toContain('or use --device cpu');
      await expect(stat(out)).rejects.toThrow(/ENOENT/);
    },
    TEST_TIMEOUT_MS,
  );
});
