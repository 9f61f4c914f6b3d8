#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { closestMatch, UsageError } from './args.js';
import { runBpeTrain } from './commands/bpe-train.js';
import { runExport } from './commands/export.js';
import { runGenerate } from './commands/generate.js';
import { runInspect } from './commands/inspect.js';
import { listExperiments, listUsage } from './commands/list.js';
import { readRunReport, reportUsage } from './commands/report.js';
import { runRunCommand, runUsage } from './commands/run.js';
import { runTokenize } from './commands/tokenize.js';
import { runTrain } from './commands/train.js';
import { exportUsage, inspectUsage, parseExportOptions, parseInspectOptions } from './model-options.js';
import { generateUsage, parseGenerateOptions, parseTrainOptions, trainUsage } from './options.js';
import {
  bpeTrainUsage,
  parseBpeTrainOptions,
  parseTokenizeOptions,
  tokenizeUsage,
} from './tokenize-options.js';

export const COMMANDS = [
  'train',
  'generate',
  'inspect',
  'export',
  'tokenize',
  'bpe-train',
  'list',
  'run',
  'report',
  'help',
] as const;
type Command = (typeof COMMANDS)[number];

/** Output streams and environment variables of the CLI, replaced by tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

const DEBUG_VARIABLE = 'GLASSBOX_DEBUG';

/** Returns the help text of the `glassbox` command. */
export function mainUsage(): string {
  return [
    'Usage: glassbox <command> [options]',
    '',
    'Commands:',
    '  train     train a GPT language model on a text corpus',
    '  generate  generate text with a model trained by glassbox train or a Hugging Face GPT-2',
    "  inspect   print a model's configuration, parameter counts and tensor statistics",
    '  export    write a model in the ONNX layout that transformers.js loads',
    '  tokenize  split text into tokens with GPT-2, cl100k, o200k, BERT, Claude or a tokenizer.json',
    '  bpe-train train a byte-level BPE tokenizer and save it as tokenizer.json',
    '  list      list the course experiments',
    '  run       run a course experiment: glassbox run <id> [--param value ...]',
    '  report    print the report of a finished experiment run: glassbox report DIR',
    '  help      print this help, or the help of a command (glassbox help train)',
    '',
    'Run glassbox <command> --help for the options of a command.',
    `Set ${DEBUG_VARIABLE}=1 to print the stack trace of an error.`,
    '',
  ].join('\n');
}

/**
 * Runs the `glassbox` command with `argv` (the arguments after the program name) and returns the exit
 * status. Errors are reported on one line of stderr, `glassbox <command>: <message>`, with status 1. The
 * stack trace follows only when GLASSBOX_DEBUG=1.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  const command = isCommand(first) ? first : undefined;
  try {
    if (first === undefined) {
      throw new UsageError(
        `missing command. Valid commands: ${COMMANDS.join(', ')}. Run glassbox help for usage.`,
      );
    }
    if (first === '--help' || first === '-h') {
      io.stdout.write(mainUsage());
      return 0;
    }
    if (command === undefined) {
      throw unknownCommandError(first);
    }
    switch (command) {
      case 'help':
        io.stdout.write(helpText(rest));
        return 0;
      case 'train':
        return await trainCommand(rest, io);
      case 'generate':
        await generateCommand(rest, io);
        return 0;
      case 'inspect': {
        const parsed = parseInspectOptions(rest);
        if (parsed.help) io.stdout.write(inspectUsage());
        else await runInspect(parsed.options);
        return 0;
      }
      case 'export': {
        const parsed = parseExportOptions(rest);
        if (parsed.help) io.stdout.write(exportUsage());
        else await runExport(parsed.options);
        return 0;
      }
      case 'tokenize': {
        const parsed = parseTokenizeOptions(rest);
        if (parsed.help) io.stdout.write(tokenizeUsage());
        else await runTokenize(parsed.options, io);
        return 0;
      }
      case 'bpe-train': {
        const parsed = parseBpeTrainOptions(rest);
        if (parsed.help) io.stdout.write(bpeTrainUsage());
        else await runBpeTrain(parsed.options, io);
        return 0;
      }
      case 'list':
        io.stdout.write(rest.includes('--help') || rest.includes('-h') ? listUsage() : listExperiments());
        return 0;
      case 'run':
        if (rest[0] === '--help' || rest[0] === '-h') io.stdout.write(runUsage());
        else await runRunCommand(rest, io);
        return 0;
      case 'report':
        io.stdout.write(rest[0] === '--help' || rest[0] === '-h' ? reportUsage() : await readRunReport(rest));
        return 0;
    }
  } catch (error) {
    reportError(error, command === 'help' ? undefined : command, io);
    return 1;
  }
}

function isCommand(value: string | undefined): value is Command {
  return (COMMANDS as readonly (string | undefined)[]).includes(value);
}

function unknownCommandError(name: string): UsageError {
  const suggestion = closestMatch(name, COMMANDS);
  const hint = suggestion === undefined ? '' : ` Did you mean ${suggestion}?`;
  return new UsageError(
    `unknown command ${JSON.stringify(name)}.${hint} Valid commands: ${COMMANDS.join(', ')}.`,
  );
}

function helpText(args: readonly string[]): string {
  const [topic, ...extra] = args;
  if (extra.length > 0) {
    throw new UsageError(`help takes at most one command, got ${args.length}: ${args.join(' ')}.`);
  }
  switch (topic) {
    case undefined:
    case 'help':
      return mainUsage();
    case 'train':
      return trainUsage();
    case 'generate':
      return generateUsage();
    case 'inspect':
      return inspectUsage();
    case 'export':
      return exportUsage();
    case 'tokenize':
      return tokenizeUsage();
    case 'bpe-train':
      return bpeTrainUsage();
    case 'list':
      return listUsage();
    case 'run':
      return runUsage();
    case 'report':
      return reportUsage();
    default:
      throw unknownCommandError(topic);
  }
}

/** Runs `glassbox train` and returns its exit status: 0, or 130 when Ctrl-C stopped it after a checkpoint. */
async function trainCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseTrainOptions(argv);
  if (parsed.help) {
    io.stdout.write(trainUsage());
    return 0;
  }
  const options = parsed.options;
  if (options.resume !== undefined) {
    await requireDirectory('resume', options.resume);
  }
  return runTrain(options);
}

async function generateCommand(argv: readonly string[], io: CliIo): Promise<void> {
  const parsed = parseGenerateOptions(argv);
  if (parsed.help) {
    io.stdout.write(generateUsage());
    return;
  }
  await requireDirectory('model', parsed.options.model);
  await runGenerate(parsed.options);
}

/** Raises a UsageError unless `path`, the value of `--flag`, is an existing directory. */
async function requireDirectory(flag: string, path: string): Promise<void> {
  const quoted = JSON.stringify(path);
  const advice = 'Pass a run directory written by glassbox train.';
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      throw new UsageError(`--${flag} directory ${quoted} not found. ${advice}`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`--${flag} directory ${quoted} cannot be opened (${reason}). ${advice}`);
  }
  if (!isDirectory) {
    throw new UsageError(`--${flag} ${quoted} is not a directory. ${advice}`);
  }
}

/**
 * Writes `error` to stderr as one line. A UsageError is the user's to fix, so its message is printed alone.
 * Any other error gets a hint about GLASSBOX_DEBUG, which adds the stack trace.
 */
function reportError(error: unknown, command: Command | undefined, io: CliIo): void {
  const debug = io.env[DEBUG_VARIABLE] === '1';
  const prefix = command === undefined ? 'glassbox' : `glassbox ${command}`;
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ').trim();
  const hint =
    error instanceof UsageError || debug ? '' : ` (set ${DEBUG_VARIABLE}=1 to print the stack trace)`;
  io.stderr.write(`${prefix}: ${message}${hint}\n`);
  if (debug && error instanceof Error && error.stack !== undefined) {
    io.stderr.write(`${error.stack}\n`);
  }
}

function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Returns true when this file is the program that Node started, directly or through the bin symlink. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) {
    return false;
  }
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await runCli(process.argv.slice(2));
}
