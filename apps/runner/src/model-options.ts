import { z } from 'zod';
import {
  formatOptionList,
  type OptionDescriptor,
  pathOption,
  readRawOptions,
  UsageError,
  validateOptions,
} from './args.js';
import type { ParsedCommand } from './options.js';

/** Options of `glassbox inspect`. */
export interface InspectOptions {
  /** A run directory of `glassbox train`, or a Hugging Face GPT-2 directory. */
  model: string;
}

/** Options of `glassbox export`. */
export interface ExportOptions {
  model: string;
  /** Directory for the transformers.js model; it must not exist yet or be empty. */
  out: string;
}

const MODEL_DESCRIPTOR: OptionDescriptor = {
  flag: 'model',
  valueName: 'DIR',
  description: 'run directory written by glassbox train, or a Hugging Face GPT-2 directory (required)',
};

const INSPECT_DESCRIPTORS: readonly OptionDescriptor[] = [MODEL_DESCRIPTOR];
const EXPORT_DESCRIPTORS: readonly OptionDescriptor[] = [
  MODEL_DESCRIPTOR,
  { flag: 'out', valueName: 'DIR', description: 'directory for the exported model (required)' },
];

const inspectSchema = z.object({ model: pathOption('model').optional() });
const exportSchema = z.object({ model: pathOption('model').optional(), out: pathOption('out').optional() });

function required<T>(value: T | undefined, flag: string, example: string): T {
  if (value === undefined) throw new UsageError(`--${flag} is required, e.g. --${flag} ${example}.`);
  return value;
}

/** Parses the arguments of `glassbox inspect`. */
export function parseInspectOptions(argv: readonly string[]): ParsedCommand<InspectOptions> {
  const raw = readRawOptions('inspect', argv, INSPECT_DESCRIPTORS);
  if (raw.help) return { help: true };
  const parsed = validateOptions(inspectSchema, raw.values);
  return { help: false, options: { model: required(parsed.model, 'model', 'runs/<timestamp>') } };
}

/** Parses the arguments of `glassbox export`. */
export function parseExportOptions(argv: readonly string[]): ParsedCommand<ExportOptions> {
  const raw = readRawOptions('export', argv, EXPORT_DESCRIPTORS);
  if (raw.help) return { help: true };
  const parsed = validateOptions(exportSchema, raw.values);
  return {
    help: false,
    options: {
      model: required(parsed.model, 'model', 'runs/<timestamp>'),
      out: required(parsed.out, 'out', 'exported/my-gpt'),
    },
  };
}

export function inspectUsage(): string {
  return [
    'Usage: glassbox inspect --model DIR',
    '',
    "Print a model's configuration, parameter counts per module and in total, and per-tensor statistics.",
    '',
    'Options:',
    formatOptionList(INSPECT_DESCRIPTORS),
    '',
  ].join('\n');
}

export function exportUsage(): string {
  return [
    'Usage: glassbox export --model DIR --out DIR',
    '',
    'Write the model as config.json, generation_config.json, tokenizer.json and onnx/model.onnx with a KV',
    'cache, the layout that transformers.js loads with local_files_only.',
    '',
    'Options:',
    formatOptionList(EXPORT_DESCRIPTORS),
    '',
  ].join('\n');
}
