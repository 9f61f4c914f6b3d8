// Checks of plain-object settings (schedules, init schemes) shared by the validators of this package.

/** Formats a value for an error message: numbers as written (NaN too), others as JSON. */
export function describeValue(value: unknown): string {
  return typeof value === 'number' || value === undefined ? String(value) : JSON.stringify(value);
}

/** A rule for one option of a settings object: the values it accepts, described for error messages. */
export interface OptionRule {
  test: (value: unknown) => boolean;
  expected: string;
  optional?: boolean;
}

/**
 * Checks a settings object tagged by `type`: an object, a type from `types`, no option that the rules of
 * that type lack, every required option present and every value accepted by its rule. Errors start with
 * `label`, such as `schedule`. Returns the type.
 */
export function checkTypedOptions<Type extends string>(
  label: string,
  config: unknown,
  types: readonly Type[],
  rulesByType: Record<Type, Record<string, OptionRule>>,
): Type {
  if (typeof config !== 'object' || config === null) {
    throw new Error(`${label}: expected an object with a type, got ${describeValue(config)}.`);
  }
  const type = (config as { type: unknown }).type;
  if (!(types as readonly unknown[]).includes(type)) {
    throw new Error(`${label}: type must be one of ${types.join(', ')}, got ${describeValue(type)}.`);
  }

  const rules = rulesByType[type as Type];
  const names = Object.keys(rules);
  for (const key of Object.keys(config)) {
    if (key !== 'type' && !names.includes(key)) {
      const known = ['type', ...names].join(', ');
      throw new Error(`${label} ${type}: unknown option ${JSON.stringify(key)}, expected only ${known}.`);
    }
  }

  const values = config as Record<string, unknown>;
  for (const [name, rule] of Object.entries(rules)) {
    const value = values[name];
    if (value === undefined) {
      if (rule.optional) continue;
      throw new Error(`${label} ${type}: ${name} is missing, expected ${rule.expected}.`);
    }
    if (!rule.test(value)) {
      throw new Error(`${label} ${type}: ${name} must be ${rule.expected}, got ${describeValue(value)}.`);
    }
  }
  return type as Type;
}
