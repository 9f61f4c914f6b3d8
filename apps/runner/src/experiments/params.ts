import { z } from 'zod';
import { UsageError } from '../args.js';
import type { Experiment, JsonValue } from './types.js';

/** One parameter of an experiment, as shown by `glassbox run <id> --help`. */
export interface ParameterInfo {
  /** Key in the schema, such as `vocabSize`. */
  key: string;
  /** Option name without dashes, such as `vocab-size`. */
  flag: string;
  type: 'integer' | 'number' | 'string' | 'boolean';
  /** Allowed values of a string parameter with a fixed set of values. */
  choices?: string[];
  description: string;
  defaultValue: JsonValue | undefined;
}

interface JsonSchemaProperty {
  type?: string;
  enum?: string[];
  description?: string;
  default?: JsonValue;
  items?: JsonSchemaProperty;
}

/** Converts `vocabSize` to `vocab-size`. */
export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Lists the parameters of an experiment from its zod schema. */
export function parameterInfo(experiment: Experiment): ParameterInfo[] {
  const schema = z.toJSONSchema(experiment.params, { io: 'input' }) as {
    properties?: Record<string, JsonSchemaProperty>;
  };
  return Object.entries(schema.properties ?? {}).map(([key, property]) => {
    const type = property.type;
    if (type !== 'integer' && type !== 'number' && type !== 'string' && type !== 'boolean') {
      throw new Error(`Experiment ${experiment.id}: parameter ${key} has unsupported type ${String(type)}`);
    }
    return {
      key,
      flag: kebabCase(key),
      type,
      choices: property.enum,
      description: property.description ?? '',
      defaultValue: property.default,
    };
  });
}

/** A decimal number as people type it: optional sign, digits, optional fraction and exponent. */
const DECIMAL_PATTERN = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Converts the raw text of `--flag` to the parameter's type, or returns an error message. */
function convertValue(info: ParameterInfo, raw: string): { value: unknown } | { error: string } {
  const quoted = JSON.stringify(raw);
  switch (info.type) {
    case 'integer': {
      const value = Number(raw);
      if (!DECIMAL_PATTERN.test(raw) || !Number.isSafeInteger(value)) {
        return { error: `--${info.flag} must be an integer, got ${quoted}` };
      }
      return { value };
    }
    case 'number': {
      const value = Number(raw);
      if (!DECIMAL_PATTERN.test(raw) || !Number.isFinite(value)) {
        return { error: `--${info.flag} must be a number, got ${quoted}` };
      }
      return { value };
    }
    case 'boolean':
      if (raw === 'true') return { value: true };
      if (raw === 'false') return { value: false };
      return { error: `--${info.flag} must be true or false, got ${quoted}` };
    case 'string':
      if (info.choices !== undefined && !info.choices.includes(raw)) {
        return { error: `--${info.flag} must be one of ${info.choices.join(', ')}, got ${quoted}` };
      }
      return { value: raw };
  }
}

/** Formats the list of valid parameters for error messages. */
export function validParameterList(infos: readonly ParameterInfo[]): string {
  if (infos.length === 0) return 'This experiment has no parameters.';
  return `Valid parameters: ${infos.map((info) => `--${info.flag} (${describeType(info)})`).join(', ')}.`;
}

function describeType(info: ParameterInfo): string {
  return info.choices === undefined ? info.type : info.choices.join('|');
}

/**
 * Validates raw parameter values (flag without dashes mapped to text) against the experiment's
 * schema and fills in the defaults. Raises a one-line UsageError that lists the valid parameters
 * for an unknown, ill-typed or out-of-range value.
 */
export function parseExperimentParams(
  experiment: Experiment,
  raw: ReadonlyMap<string, string>,
): Record<string, unknown> {
  const infos = parameterInfo(experiment);
  const byFlag = new Map(infos.map((info) => [info.flag, info]));
  const input: Record<string, unknown> = {};
  for (const [flag, text] of raw) {
    const info = byFlag.get(flag);
    if (info === undefined) {
      throw new UsageError(
        `unknown parameter --${flag} for experiment ${experiment.id}. ${validParameterList(infos)}`,
      );
    }
    const converted = convertValue(info, text);
    if ('error' in converted) {
      throw new UsageError(`${converted.error}. ${validParameterList(infos)}`);
    }
    input[info.key] = converted.value;
  }
  const result = experiment.params.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue.path[0] ?? '');
    const flag = byFlag.get(kebabCase(key))?.flag ?? kebabCase(key);
    throw new UsageError(
      `invalid --${flag} ${JSON.stringify(raw.get(flag) ?? '')}: ${issue.message}. ${validParameterList(infos)}`,
    );
  }
  return result.data as Record<string, unknown>;
}
