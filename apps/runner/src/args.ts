import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * An error caused by the command line or the files it names. The CLI prints its message on one line,
 * without a stack trace, and exits with status 1.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** One `--flag` of a subcommand, as shown in its help text. */
export interface OptionDescriptor {
  /** Option name without the leading `--`, e.g. `n-head`. */
  flag: string;
  /** Placeholder for the value in help text, e.g. `N`. Absent for a flag that takes no value. */
  valueName?: string;
  /** Help text that says what the option sets, and in what unit. */
  description: string;
  /** Default shown in help text, or absent when the option has none. */
  defaultText?: string;
}

/** The options of one invocation, before validation: each given flag mapped to its last raw value. */
export interface RawOptions {
  help: boolean;
  values: Map<string, string>;
}

export const HELP_OPTION: OptionDescriptor = { flag: 'help', description: 'print this help and exit' };

/**
 * Splits `argv` into flags and raw string values, rejecting unknown options, positional arguments and
 * options without their value. `-h` and `--help` set `help`. A repeated option keeps its last value.
 *
 * `util.parseArgs` runs in non-strict mode so that this function, not Node, words the errors. A value
 * may start with a single dash (`--seed -1`) so that validation can name it, but a separate value that
 * starts with `--` is taken as a missing value, because it is almost always the next option.
 */
export function readRawOptions(
  command: string,
  argv: readonly string[],
  descriptors: readonly OptionDescriptor[],
): RawOptions {
  const known = new Map(descriptors.map((descriptor) => [descriptor.flag, descriptor]));
  known.set(HELP_OPTION.flag, HELP_OPTION);

  const parseArgsOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const descriptor of known.values()) {
    parseArgsOptions[descriptor.flag] = { type: descriptor.valueName === undefined ? 'boolean' : 'string' };
  }
  parseArgsOptions.help = { type: 'boolean', short: 'h' };

  const { tokens } = parseArgs({
    args: [...argv],
    options: parseArgsOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const result: RawOptions = { help: false, values: new Map() };
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      continue;
    }
    if (token.kind === 'positional') {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(token.value)}. ` +
          `Options start with --, run glassbox ${command} --help to list them.`,
      );
    }

    const descriptor = known.get(token.name);
    if (descriptor === undefined) {
      throw unknownOptionError(command, token.rawName, [...known.keys()]);
    }
    if (descriptor.valueName === undefined) {
      if (token.value !== undefined) {
        throw new UsageError(`--${descriptor.flag} takes no value, got ${JSON.stringify(token.value)}.`);
      }
      if (descriptor.flag === HELP_OPTION.flag) {
        result.help = true;
      } else {
        result.values.set(descriptor.flag, 'true');
      }
      continue;
    }

    const missing = token.value === undefined || (!token.inlineValue && token.value.startsWith('--'));
    if (missing) {
      throw new UsageError(
        `--${descriptor.flag} requires a value (--${descriptor.flag} ${descriptor.valueName}). ` +
          `Write a value that starts with -- as --${descriptor.flag}=VALUE.`,
      );
    }
    result.values.set(descriptor.flag, token.value as string);
  }
  return result;
}

function unknownOptionError(command: string, rawName: string, validFlags: readonly string[]): UsageError {
  const name = rawName.replace(/^-+/, '');
  const suggestion = closestMatch(name, validFlags);
  const hint = suggestion === undefined ? '' : ` Did you mean --${suggestion}?`;
  const list = validFlags.map((flag) => `--${flag}`).join(', ');
  return new UsageError(`unknown option ${rawName} for glassbox ${command}.${hint} Valid options: ${list}.`);
}

/** Returns the candidate closest to `name` within edit distance 2, for "Did you mean" hints. */
export function closestMatch(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance with unit costs. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/** A decimal number as people type it: optional sign, digits, optional fraction and exponent. */
const DECIMAL_PATTERN = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Bounds and wording for a numeric option. */
export interface NumberRule {
  integer: boolean;
  min?: number;
  /** Whether `min` itself is rejected. */
  exclusiveMin?: boolean;
  max?: number;
  /** Whether `max` itself is rejected. */
  exclusiveMax?: boolean;
  /** The expected value in words, completing "--flag must be ...", e.g. `a positive integer`. */
  expected: string;
}

export const POSITIVE_INTEGER: NumberRule = { integer: true, min: 1, expected: 'a positive integer' };
export const NON_NEGATIVE_INTEGER: NumberRule = { integer: true, min: 0, expected: 'a non-negative integer' };
export const POSITIVE_NUMBER: NumberRule = {
  integer: false,
  min: 0,
  exclusiveMin: true,
  expected: 'a positive number',
};
export const NON_NEGATIVE_NUMBER: NumberRule = { integer: false, min: 0, expected: 'a non-negative number' };

/** Converts a raw option value to a number, or returns undefined when it breaks `rule`. */
export function parseNumber(raw: string, rule: NumberRule): number | undefined {
  if (!DECIMAL_PATTERN.test(raw)) {
    return undefined;
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    return undefined;
  }
  if (rule.integer && !Number.isSafeInteger(value)) {
    return undefined;
  }
  if (rule.min !== undefined && (rule.exclusiveMin ? value <= rule.min : value < rule.min)) {
    return undefined;
  }
  if (rule.max !== undefined && (rule.exclusiveMax ? value >= rule.max : value > rule.max)) {
    return undefined;
  }
  return value;
}

/** Returns a zod schema that turns the raw value of `--flag` into a number obeying `rule`. */
export function numberOption(flag: string, rule: NumberRule) {
  return z.string().transform((raw, context) => {
    const value = parseNumber(raw, rule);
    if (value === undefined) {
      context.addIssue({
        code: 'custom',
        message: `--${flag} must be ${rule.expected}, got ${JSON.stringify(raw)}.`,
      });
      return z.NEVER;
    }
    return value;
  });
}

/** Returns a zod schema for an option whose value is one of `choices`. */
export function choiceOption<const T extends readonly [string, ...string[]]>(flag: string, choices: T) {
  return z.string().transform((raw, context) => {
    if (!(choices as readonly string[]).includes(raw)) {
      context.addIssue({
        code: 'custom',
        message: `--${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(raw)}.`,
      });
      return z.NEVER;
    }
    return raw as T[number];
  });
}

/** Returns a zod schema for an option that names a file or directory. */
export function pathOption(flag: string) {
  return z.string().transform((raw, context) => {
    if (raw.trim() === '') {
      context.addIssue({ code: 'custom', message: `--${flag} must be a path, got an empty value.` });
      return z.NEVER;
    }
    return raw;
  });
}

/**
 * Validates raw values with `schema`, whose keys are the camelCase forms of the flags, and raises a
 * UsageError with the message of the first issue.
 */
export function validateOptions<T>(schema: z.ZodType<T>, values: ReadonlyMap<string, string>): T {
  const input: Record<string, string> = {};
  for (const [flag, value] of values) {
    input[camelCase(flag)] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new UsageError(result.error.issues[0].message);
  }
  return result.data;
}

/** Converts `n-head` to `nHead`. */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Formats the option list of a help text: one option per line, descriptions aligned and wrapped. */
export function formatOptionList(descriptors: readonly OptionDescriptor[], lineWidth = 100): string {
  const all = [...descriptors, HELP_OPTION];
  const labels = all.map((descriptor) =>
    descriptor.valueName === undefined
      ? `--${descriptor.flag}`
      : `--${descriptor.flag} ${descriptor.valueName}`,
  );
  const indent = Math.max(...labels.map((label) => label.length)) + 4;
  const lines: string[] = [];
  all.forEach((descriptor, index) => {
    const defaultText = descriptor.defaultText === undefined ? '' : ` (default: ${descriptor.defaultText})`;
    const wrapped = wrapWords(descriptor.description + defaultText, Math.max(lineWidth - indent, 30));
    lines.push(`  ${labels[index].padEnd(indent - 2)}${wrapped[0]}`);
    for (const continuation of wrapped.slice(1)) {
      lines.push(' '.repeat(indent) + continuation);
    }
  });
  return lines.join('\n');
}

/** Splits `text` at spaces into lines of at most `width` characters, except for longer single words. */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
