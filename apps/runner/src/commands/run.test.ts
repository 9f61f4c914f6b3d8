import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../args.js';
import { runCli } from '../cli.js';
import { EXPERIMENTS } from '../experiments/registry.js';
import { populatedTestCache, TEST_CORPORA } from '../experiments/testing.js';
import { listExperiments } from './list.js';
import { parseRunArgs } from './run.js';

function captureIo(env: Record<string, string> = {}) {
  const io = { out: '', err: '' };
  return {
    io,
    cli: {
      stdout: { write: (text: string) => (io.out += text) },
      stderr: { write: (text: string) => (io.err += text) },
      env,
    },
  };
}

function usageMessage(argv: string[]): string {
  try {
    parseRunArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`parseRunArgs accepted ${argv.join(' ')}`);
}

describe('parseRunArgs', () => {
  it('types parameters and fills defaults', () => {
    const parsed = parseRunArgs(['bpe-steps', '--vocab-size', '20', '--seed=7', '--out', 'x'], new Date(0));
    expect(parsed.params).toEqual({ text: 'like liker love lovely hug hugs hugging hearts', vocabSize: 20 });
    expect(parsed.seed).toBe(7);
    expect(parsed.out).toBe('x');
    expect(parsed.offline).toBe(false);
  });

  it('defaults the run directory to the id and time', () => {
    const parsed = parseRunArgs(['softmax'], new Date('2026-01-02T03:04:05.678Z'));
    expect(parsed.out).toBe(join('runs', 'softmax-2026-01-02T03-04-05Z'));
    expect(parsed.seed).toBe(42);
  });

  it('accepts bare boolean flags and corpus lists', () => {
    const parsed = parseRunArgs(['clean-book', '--keep-license', '--offline', '--corpus', 'a.txt,b.txt']);
    expect(parsed.params.keepLicense).toBe(true);
    expect(parsed.offline).toBe(true);
    expect(parsed.corpus).toEqual(['a.txt', 'b.txt']);
  });

  it('rejects --model for experiments without a model', () => {
    expect(usageMessage(['softmax', '--model', 'runs/x'])).toBe(
      '--model is not used by experiment softmax, which reads no model. Remove --model; glassbox list shows what each experiment needs.',
    );
    expect(parseRunArgs(['do-we-need-q', '--model', 'runs/x']).model).toBe('runs/x');
  });

  it('rejects unknown and ill-typed parameters in one line', () => {
    const valid = 'Valid parameters: --text (string), --vocab-size (integer).';
    expect(usageMessage(['bpe-steps', '--vocab', '3'])).toBe(
      `unknown parameter --vocab for experiment bpe-steps. ${valid}`,
    );
    expect(usageMessage(['bpe-steps', '--vocab-size', 'abc'])).toBe(
      `--vocab-size must be an integer, got "abc". ${valid}`,
    );
    expect(usageMessage(['bpe-steps', '--vocab-size', '2.5'])).toContain('must be an integer');
    expect(usageMessage(['bpe-steps', '--vocab-size', '1'])).toMatch(
      /^invalid --vocab-size "1": .*>=2\. Valid/,
    );
    expect(usageMessage(['bpe-steps', '--vocab-size'])).toContain('--vocab-size requires a value');
    expect(usageMessage(['clean-book', '--keep-license', 'yes'])).toContain('unexpected argument "yes"');
    expect(usageMessage(['compression-ratios', '--encoding', 'p50k'])).toContain(
      '--encoding must be one of r50k_base, cl100k_base, o200k_base, got "p50k"',
    );
    expect(usageMessage(['bpe-steps', '--seed', '-1'])).toContain('--seed must be a non-negative integer');
    expect(usageMessage(['bpe-step'])).toContain('unknown experiment "bpe-step". Did you mean bpe-steps?');
    for (const argv of [['bpe-steps', '--vocab', '3'], ['bpe-stepz']])
      expect(usageMessage(argv)).not.toContain('\n');
  });
});

describe('glassbox list', () => {
  it('shows every experiment', () => {
    const table = listExperiments();
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id\s+title\s+section\s+needs\s+time$/);
    expect(lines).toHaveLength(EXPERIMENTS.length + 2);
    for (const experiment of EXPERIMENTS) expect(table).toContain(experiment.id);
    expect(new Set(EXPERIMENTS.map((experiment) => experiment.id)).size).toBe(EXPERIMENTS.length);
  });
});

describe('glassbox run and report', () => {
  let cache: string;
  beforeAll(async () => {
    cache = await populatedTestCache();
  });

  it('writes a run and reprints its report', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'glassbox-run-')), 'run');
    const run = captureIo({ GLASSBOX_CACHE: cache });
    const status = await runCli(
      ['run', 'bpe-steps', '--vocab-size', '18', '--seed', '3', '--out', out],
      run.cli,
    );
    expect(run.io.err).toContain('glassbox run bpe-steps: writing to');
    expect(status).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      'params.json',
      'report.md',
      'results.json',
      'tokens-per-merge.png',
      'tokens-per-merge.svg',
    ]);
    const params = JSON.parse(await readFile(join(out, 'params.json'), 'utf8'));
    expect(params).toMatchObject({ experiment: 'bpe-steps', seed: 3, params: { vocabSize: 18 } });
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.results.merges).toEqual([' h', ' l']);
    expect(run.io.out).toContain('# Byte pair encoding step by step');
    expect(run.io.out).toContain('![tokens-per-merge](tokens-per-merge.png)');

    const report = captureIo();
    expect(await runCli(['report', out], report.cli)).toBe(0);
    expect(report.io.out).toBe(run.io.out);

    const again = captureIo({ GLASSBOX_CACHE: cache });
    expect(await runCli(['run', 'bpe-steps', '--out', out], again.cli)).toBe(1);
    expect(again.io.err).toContain('is not empty; choose another --out');
  });

  it('ends offline without the book in one line', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'glassbox-empty-cache-'));
    const out = join(empty, 'run');
    const run = captureIo({ GLASSBOX_CACHE: empty });
    expect(await runCli(['run', 'clean-book', '--offline', '--out', out], run.cli)).toBe(1);
    const lines = run.io.err.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(
      /^glassbox run: The Time Machine \(Gutenberg #35\) is not in the cache .*--corpus PATH\.$/,
    );

    const local = captureIo({ GLASSBOX_CACHE: empty });
    const localOut = join(empty, 'local');
    expect(
      await runCli(
        ['run', 'clean-book', '--offline', '--corpus', TEST_CORPORA.timeMachine, '--out', localOut],
        local.cli,
      ),
    ).toBe(0);
    expect(local.io.out).toContain('- vocabularySize: 4585');
  });

  it('rejects a directory without a run', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'glassbox-no-run-'));
    const report = captureIo();
    expect(await runCli(['report', empty], report.cli)).toBe(1);
    expect(report.io.err).toContain('is not a finished run');
  });

  it('prints the parameters of an experiment', async () => {
    const help = captureIo();
    expect(await runCli(['run', 'bpe-steps', '--help'], help.cli)).toBe(0);
    expect(help.io.out).toContain(
      '--vocab-size integer: vocabulary size at which merging stops (default: 25)',
    );
    expect(help.io.out).toContain('$GLASSBOX_CACHE');
  });
});
