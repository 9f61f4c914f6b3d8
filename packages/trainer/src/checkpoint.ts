import { gptFromSafetensors, gptToSafetensors } from '@glassbox/gpt-core';
import {
  fromFloat32,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorEntry,
  toFloat32,
} from '@glassbox/graph';
import type { TrainerOptions, TrainerState } from './trainer.js';

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  model: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
  state: 'trainer-state.json',
} as const;

/** The JSON part of a checkpoint: step, random generator states and the options of the run. */
export interface TrainerStateJson {
  format: 'glassbox-trainer-state';
  version: 1;
  step: number;
  batchRng: TrainerState['batchRng'];
  dropoutRng: TrainerState['dropoutRng'];
  evalRng: TrainerState['evalRng'];
  /** Present for `mixed-float16` runs. */
  lossScaler?: TrainerState['lossScaler'];
  options: Omit<TrainerOptions, 'session'>;
}

/** Encodes a trainer state as the three files of a checkpoint directory. */
export function encodeCheckpoint(
  state: TrainerState,
  options: TrainerOptions,
): { model: Uint8Array; optimizer: Uint8Array; state: string } {
  const optimizerTensors = new Map<string, TensorEntry>();
  for (const [name, data] of state.optimizerState)
    optimizerTensors.set(name, fromFloat32(data, [data.length]));
  const { session: _session, ...persisted } = options;
  const json: TrainerStateJson = {
    format: 'glassbox-trainer-state',
    version: 1,
    step: state.step,
    batchRng: state.batchRng,
    dropoutRng: state.dropoutRng,
    evalRng: state.evalRng,
    ...(state.lossScaler ? { lossScaler: state.lossScaler } : {}),
    options: persisted,
  };
  return {
    model: gptToSafetensors(options.model, state.parameters, { step: String(state.step) }),
    optimizer: serializeSafetensors(optimizerTensors, { step: String(state.step) }),
    state: `${JSON.stringify(json, null, 2)}\n`,
  };
}

/** Decodes checkpoint files; errors name the file that is wrong. */
export function decodeCheckpoint(
  model: SafetensorsFile,
  optimizer: SafetensorsFile,
  stateText: string,
  directory: string,
): { state: TrainerState; options: Omit<TrainerOptions, 'session'> } {
  let json: TrainerStateJson;
  const statePath = `${directory}/${CHECKPOINT_FILES.state}`;
  try {
    json = JSON.parse(stateText) as TrainerStateJson;
  } catch (error) {
    throw new Error(`${statePath}: invalid JSON (${(error as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(
      `${statePath}: expected a JSON object written by saveCheckpoint, got ${JSON.stringify(json)}.`,
    );
  }
  if (json.format !== 'glassbox-trainer-state' || json.version !== 1) {
    throw new Error(
      `${statePath}: not a Glassbox trainer state (format ${json.format}, version ${json.version}).`,
    );
  }
  if (typeof json.options !== 'object' || json.options === null) {
    throw new Error(
      `${statePath}: "options" is missing; the file is damaged. Resume from another checkpoint.`,
    );
  }
  // saveCheckpoint renames the state file last, so a save interrupted between its renames leaves tensor
  // files from a newer step than the state file.
  for (const [file, metadata] of [
    [CHECKPOINT_FILES.model, model.metadata],
    [CHECKPOINT_FILES.optimizer, optimizer.metadata],
  ] as const) {
    const saved = metadata.step;
    if (saved !== undefined && saved !== String(json.step)) {
      throw new Error(
        `${directory}: ${file} is from step ${saved} but ${CHECKPOINT_FILES.state} from step ${json.step}, so a save was interrupted. Resume from another checkpoint.`,
      );
    }
  }
  const { parameters } = gptFromSafetensors(
    model,
    `${directory}/${CHECKPOINT_FILES.model}`,
    json.options.model,
  );
  const optimizerState = new Map<string, Float32Array>();
  for (const [name, entry] of optimizer.tensors)
    optimizerState.set(name, Float32Array.from(toFloat32(entry)));
  return {
    state: {
      step: json.step,
      parameters,
      optimizerState,
      batchRng: json.batchRng,
      dropoutRng: json.dropoutRng,
      evalRng: json.evalRng,
      ...(json.lossScaler ? { lossScaler: json.lossScaler } : {}),
    },
    options: json.options,
  };
}
