import { randomBytes } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSafetensors } from '@glassbox/graph';
import { writeFileAtomic } from '@glassbox/graph/node';
import { CHECKPOINT_FILES, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { firstNonFinite } from './statistics.js';
import type { TrainerOptions, TrainerState } from './trainer.js';

/**
 * Writes a checkpoint directory: the model (Hugging Face GPT-2 names), the optimizer state and the trainer
 * state. All three files are written under temporary names first and then renamed, the state file last, so
 * an interrupted save leaves the previous checkpoint complete. A crash between the renames leaves files of
 * two steps, which `loadCheckpoint` detects from the step each file records.
 *
 * A state with a NaN or infinite parameter or optimizer value is refused, so that a diverged run does not
 * replace its last good checkpoint.
 */
export async function saveCheckpoint(
  directory: string,
  state: TrainerState,
  options: TrainerOptions,
): Promise<void> {
  const bad = firstNonFinite(state.parameters) ?? firstNonFinite(state.optimizerState);
  if (bad) {
    throw new Error(
      `saveCheckpoint rejected step ${state.step} for ${directory}: ${bad.name} is ${bad.value} at index ${bad.index}. ` +
        'The previous checkpoint is kept. Lower the learning rate and resume from it.',
    );
  }
  const files = encodeCheckpoint(state, options);
  const staged: { temporary: string; final: string }[] = [];
  try {
    for (const [name, data] of [
      [CHECKPOINT_FILES.model, files.model],
      [CHECKPOINT_FILES.optimizer, files.optimizer],
      [CHECKPOINT_FILES.state, files.state],
    ] as const) {
      const final = join(directory, name);
      const temporary = join(directory, `.${name}.${randomBytes(6).toString('hex')}.partial`);
      await writeFileAtomic(temporary, data);
      staged.push({ temporary, final });
    }
  } catch (error) {
    await Promise.all(staged.map(({ temporary }) => rm(temporary, { force: true })));
    throw error;
  }
  for (const { temporary, final } of staged) await rename(temporary, final);
}

/** Reads a checkpoint directory written by `saveCheckpoint`. */
export async function loadCheckpoint(
  directory: string,
): Promise<{ state: TrainerState; options: Omit<TrainerOptions, 'session'> }> {
  const read = async (name: string) => {
    const path = join(directory, name);
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'ENOENT'
          ? `${path} not found; ${directory} is not a complete checkpoint directory.`
          : `${path}: ${(error as Error).message}`,
      );
    }
  };
  const model = parseSafetensors(await read(CHECKPOINT_FILES.model), join(directory, CHECKPOINT_FILES.model));
  const optimizer = parseSafetensors(
    await read(CHECKPOINT_FILES.optimizer),
    join(directory, CHECKPOINT_FILES.optimizer),
  );
  const stateText = (await read(CHECKPOINT_FILES.state)).toString('utf8');
  return decodeCheckpoint(model, optimizer, stateText, directory);
}
