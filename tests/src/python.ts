import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Debian's interpreter, where apt's python3-torch installs; not the python3 that happens to be first on PATH. */
export const PYTHON = process.env.GLASSBOX_PYTHON ?? '/usr/bin/python3';

let torchVersion: string | null | undefined;

/** The installed PyTorch version, or null when `PYTHON` cannot import torch. */
export function torchAvailable(): string | null {
  if (torchVersion === undefined) {
    const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    torchVersion = probe.status === 0 ? probe.stdout.trim() : null;
  }
  return torchVersion;
}

/** Why PyTorch tests are skipped, shown in the test name. */
export const TORCH_SKIP_REASON = `needs PyTorch under ${PYTHON} (apt-get install python3-torch)`;

/** Absolute path of a script in tests/python. */
export function pythonScript(name: string): string {
  return fileURLToPath(new URL(`../python/${name}`, import.meta.url));
}

/** Runs a Python script or `-c` code and returns its standard output; a non-zero exit throws with stderr. */
export function runPython(args: string[], input?: string): string {
  const result = spawnSync(PYTHON, args, { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${PYTHON} ${args.join(' ')} failed with status ${result.status}:\n${result.stderr}`);
  }
  return result.stdout;
}

/** Largest absolute difference divided by the largest absolute reference value (0 when both are 0). */
export function relativeMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < actual.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

export function maxAbsDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDiff = 0;
  for (let i = 0; i < actual.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  return maxDiff;
}
