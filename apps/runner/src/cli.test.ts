import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CliIo, runCli } from './cli.js';
import { runGenerate } from './commands/generate.js';
import { runTrain } from './commands/train.js';

vi.mock('./commands/train.js', () => ({ runTrain: vi.fn(async () => 0) }));
vi.mock('./commands/generate.js', () => ({ runGenerate: vi.fn(async () => {}) }));

const runTrainMock = vi.mocked(runTrain);
const runGenerateMock = vi.mocked(runGenerate);

const APP_DIRECTORY = fileURLToPath(new URL('..', import.meta.url));

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'glassbox-cli-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => {
  runTrainMock.mockReset();
  runGenerateMock.mockReset();
});

/** Runs the CLI in this process and returns its exit status and output. */
async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  };
  const status = await runCli(argv, io);
  return { status, stdout, stderr };
}

describe('runCli', () => {
  it('reports an invalid option on one line', async () => {
    const result = await run(['train', '--n-head', 'abc']);
    expect(result).toEqual({
      status: 1,
      stdout: '',
      stderr: 'glassbox train: --n-head must be a positive integer, got "abc".\n',
    });
    expect(runTrainMock).not.toHaveBeenCalled();
  });

  it('lists the commands for an unknown one', async () => {
    const result = await run(['trian']);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'glassbox: unknown command "trian". Did you mean train? Valid commands: train, generate, inspect, export, tokenize, bpe-train, list, run, report, help.\n',
    );
  });

  it('rejects a missing command', async () => {
    const result = await run([]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'glassbox: missing command. Valid commands: train, generate, inspect, export, tokenize, bpe-train, list, run, report, help. Run glassbox help for usage.\n',
    );
  });

  it.each([[['help']], [['--help']], [['-h']], [['help', 'help']]])(
    'prints the main help for %j',
    async (argv) => {
      const result = await run(argv);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^Usage: glassbox <command> \[options\]\n/);
      expect(result.stdout).toContain('  train     train a GPT language model on a text corpus\n');
    },
  );

  it.each([
    [['help', 'train'], 'Usage: glassbox train [options]\n'],
    [['train', '--help'], 'Usage: glassbox train [options]\n'],
    [['help', 'generate'], 'Usage: glassbox generate --model DIR [options]\n'],
    [['generate', '-h'], 'Usage: glassbox generate --model DIR [options]\n'],
  ])('prints the help of %j', async (argv, firstLine) => {
    const result = await run(argv);
    expect(result.status).toBe(0);
    expect(result.stdout.startsWith(firstLine)).toBe(true);
    expect(runTrainMock).not.toHaveBeenCalled();
  });

  it('rejects help for an unknown command', async () => {
    const result = await run(['help', 'tokenise']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^glassbox: unknown command "tokenise"\./);
  });

  it('passes parsed options to runTrain', async () => {
    const corpusPath = join(directory, 'tiny.txt');
    await writeFile(corpusPath, 'to be or not to be\n');
    const result = await run([
      'train',
      '--corpus',
      corpusPath,
      '--steps',
      '3',
      '--out',
      join(directory, 'run'),
    ]);

    expect(result).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(runTrainMock).toHaveBeenCalledTimes(1);
    const [options] = runTrainMock.mock.calls[0];
    expect(options.steps).toBe(3);
    expect(options.out).toBe(join(directory, 'run'));
    expect(options.nHead).toBe(4);
    expect(options.corpus).toBe(corpusPath);
    expect([...options.given].sort()).toEqual(['corpus', 'out', 'steps']);
  });

  it('rejects a missing --resume directory', async () => {
    const missing = join(directory, 'no-such-run');
    const result = await run(['train', '--resume', missing]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `glassbox train: --resume directory ${JSON.stringify(missing)} not found. ` +
        'Pass a run directory written by glassbox train.\n',
    );
  });

  it('passes options to runGenerate', async () => {
    const result = await run(['generate', '--model', directory, '--prompt', 'Call me', '--top-k', '5']);
    expect(result).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(runGenerateMock).toHaveBeenCalledWith({
      model: directory,
      prompt: 'Call me',
      maxNewTokens: 200,
      temperature: 0.8,
      topK: 5,
      format: 'text',
      greedy: false,
    });
  });

  it('rejects a --model that is a file', async () => {
    const file = join(directory, 'model.txt');
    await writeFile(file, 'x');
    const result = await run(['generate', '--model', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `glassbox generate: --model ${JSON.stringify(file)} is not a directory. ` +
        'Pass a run directory written by glassbox train.\n',
    );
    expect(runGenerateMock).not.toHaveBeenCalled();
  });

  it('hints at GLASSBOX_DEBUG for an unexpected error', async () => {
    runGenerateMock.mockRejectedValueOnce(new Error('checkpoint is truncated\nat byte 12'));
    const result = await run(['generate', '--model', directory]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'glassbox generate: checkpoint is truncated at byte 12 (set GLASSBOX_DEBUG=1 to print the stack trace)\n',
    );
  });

  it('prints the stack trace with GLASSBOX_DEBUG=1', async () => {
    runGenerateMock.mockRejectedValueOnce(new Error('checkpoint is truncated'));
    const result = await run(['generate', '--model', directory], { GLASSBOX_DEBUG: '1' });
    expect(result.status).toBe(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('glassbox generate: checkpoint is truncated');
    expect(lines[1]).toBe('Error: checkpoint is truncated');
    expect(lines[2]).toMatch(/^ {4}at /);
  });

  it('reports a thrown non-Error value', async () => {
    runGenerateMock.mockRejectedValueOnce('plain string');
    const result = await run(['generate', '--model', directory]);
    expect(result.stderr).toBe(
      'glassbox generate: plain string (set GLASSBOX_DEBUG=1 to print the stack trace)\n',
    );
  });
});

describe('glassbox process', () => {
  const execFileAsync = promisify(execFile);

  /** Spawns the CLI from source the way the root `pnpm glassbox` script does. */
  async function spawnCli(argv: string[], env: Record<string, string> = {}) {
    const { GLASSBOX_DEBUG: _ignored, ...inherited } = process.env;
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        ['--conditions=development', '--import', 'tsx', 'src/cli.ts', ...argv],
        { cwd: APP_DIRECTORY, env: { ...inherited, ...env } },
      );
      return { status: 0, stdout, stderr };
    } catch (error) {
      const failure = error as { code: number; stdout: string; stderr: string };
      return { status: failure.code, stdout: failure.stdout, stderr: failure.stderr };
    }
  }

  it('exits 1 with one line and no stack trace', async () => {
    const result = await spawnCli(['train', '--n-head', 'abc']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('glassbox train: --n-head must be a positive integer, got "abc".\n');
  });

  it('prints the stack trace with GLASSBOX_DEBUG=1', async () => {
    const result = await spawnCli(['train', '--n-head', 'abc'], { GLASSBOX_DEBUG: '1' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('UsageError: --n-head must be a positive integer, got "abc".\n');
    expect(result.stderr).toMatch(/\n {4}at /);
  });

  it('exits 0 after printing help', async () => {
    const result = await spawnCli(['help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: glassbox <command> \[options\]\n/);
    expect(result.stderr).toBe('');
  });
});
