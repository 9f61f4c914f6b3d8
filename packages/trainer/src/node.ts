import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSafetensors } from '@glassbox/graph';
import { writeFileAtomic } from '@glassbox/graph/node';
import { CHECKPOINT_FILES, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import type { TrainerOptions, TrainerState } from './trainer.js';

/**
 * Writes a checkpoint directory: the model (Hugging Face GPT-2 names), the optimizer state and the trainer
 * state. Each file is written to a temporary name and renamed, so an interrupted save leaves the previous
 * file intact. The state file is written last, because its step marks the checkpoint as complete.
 */
export async function saveCheckpoint(
  directory: string,
  state: TrainerState,
  options: TrainerOptions,
): Promise<void> {
  const files = encodeCheckpoint(state, options);
  await writeFileAtomic(join(directory, CHECKPOINT_FILES.model), files.model);
  await writeFileAtomic(join(directory, CHECKPOINT_FILES.optimizer), files.optimizer);
  await writeFileAtomic(join(directory, CHECKPOINT_FILES.state), files.state);
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
