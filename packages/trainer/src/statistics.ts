/** Finds the first tensor (in map order) with a NaN or infinite element, and that element's index and value. */
export function firstNonFinite(
  tensors: ReadonlyMap<string, ArrayLike<number>>,
): { name: string; index: number; value: number } | undefined {
  for (const [name, data] of tensors) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) return { name, index: i, value: data[i] };
    }
  }
  return undefined;
}
