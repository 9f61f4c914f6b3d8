import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../args.js';
import { RUN_FILES } from '../experiments/run-experiment.js';

export function reportUsage(): string {
  return [
    'Usage: glassbox report DIR',
    '',
    'Prints the report.md of a run written by glassbox run.',
    '',
  ].join('\n');
}

/** Returns the report of the finished run in `dir`, raising a UsageError when `dir` contains no finished run. */
export async function readRunReport(argv: readonly string[]): Promise<string> {
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    throw new UsageError(
      `expected one run directory: glassbox report DIR, got ${argv.length === 0 ? 'none' : argv.join(' ')}.`,
    );
  }
  const dir = argv[0];
  try {
    await readFile(join(dir, RUN_FILES.results));
    return await readFile(join(dir, RUN_FILES.report), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(
        `${JSON.stringify(dir)} is not a finished run: ${RUN_FILES.results} or ${RUN_FILES.report} is missing. Pass a directory written by glassbox run.`,
      );
    }
    throw error;
  }
}
