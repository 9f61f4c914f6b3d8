/**
 * Copies special tokens given as a Map or a plain object into a new Map, checking that each string
 * is non-empty and that each id is a non-negative integer used by one special token only.
 */
export function toSpecialTokenMap(
  specialTokens: ReadonlyMap<string, number> | Readonly<Record<string, number>> | undefined,
): Map<string, number> {
  const entries =
    specialTokens === undefined
      ? []
      : specialTokens instanceof Map
        ? [...specialTokens]
        : Object.entries(specialTokens);
  const result = new Map<string, number>();
  const tokensById = new Map<number, string>();
  for (const [token, id] of entries) {
    if (typeof token !== 'string' || token.length === 0) {
      throw new Error(`Invalid special token ${JSON.stringify(token)}: expected a non-empty string`);
    }
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new Error(`Invalid id ${JSON.stringify(id)} for special token ${JSON.stringify(token)}`);
    }
    const other = tokensById.get(id);
    if (other !== undefined) {
      throw new Error(
        `Special tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} have the same id ${id}`,
      );
    }
    tokensById.set(id, token);
    result.set(token, id);
  }
  return result;
}

/** Checks a list of special-token strings: each non-empty and none repeated. */
export function checkSpecialTokenList(tokens: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (typeof token !== 'string' || token.length === 0) {
      throw new Error(`Invalid special token ${JSON.stringify(token)}: expected a non-empty string`);
    }
    if (seen.has(token)) throw new Error(`Special token ${JSON.stringify(token)} is listed twice`);
    seen.add(token);
  }
  return [...tokens];
}
