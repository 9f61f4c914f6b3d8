import {
  fromFloat32,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorEntry,
  toFloat32,
} from '@glassbox/graph';
import { configFromMetadata, configToMetadata, type GptConfig, gptParameterShapes } from './config.js';

/**
 * Serializes GPT parameters as Hugging Face's `save_pretrained` writes a tied GPT-2: names without the
 * `transformer.` prefix, no `lm_head.weight`, `format: pt` in `__metadata__`, plus the Glassbox config
 * (`nLayer`, ...) so that `gptFromSafetensors` reads the file without `config.json`. `metadata` adds
 * entries of the caller's own, such as a training step.
 */
export function gptToSafetensors(
  config: GptConfig,
  parameters: ReadonlyMap<string, Float32Array>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const tensors = new Map<string, TensorEntry>();
  for (const [name, shape] of gptParameterShapes(config)) {
    const data = parameters.get(name);
    if (!data) throw new Error(`gptToSafetensors: missing parameter "${name}".`);
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(
        `gptToSafetensors: parameter "${name}" has ${data.length} values, expected ${expected} for shape [${shape}].`,
      );
    }
    tensors.set(name, fromFloat32(data, shape));
  }
  return serializeSafetensors(tensors, { ...metadata, format: 'pt', ...configToMetadata(config) });
}

/**
 * Reads GPT parameters from a parsed safetensors file. Names may carry Hugging Face's `transformer.` prefix;
 * `lm_head.weight` is ignored because the head is tied to `wte.weight`. A missing tensor or a shape mismatch
 * raises an error that names the tensor and both shapes.
 */
export function gptFromSafetensors(
  file: SafetensorsFile,
  source: string,
  config: GptConfig = configFromMetadata(file.metadata, source),
): { config: GptConfig; parameters: Map<string, Float32Array> } {
  const parameters = new Map<string, Float32Array>();
  for (const [name, shape] of gptParameterShapes(config)) {
    const entry = file.tensors.get(name) ?? file.tensors.get(`transformer.${name}`);
    if (!entry) throw new Error(`${source}: tensor "${name}" is missing; expected shape [${shape}].`);
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${source}: tensor "${name}" has shape [${entry.shape}], expected [${shape}].`);
    }
    parameters.set(name, Float32Array.from(toFloat32(entry)));
  }
  return { config, parameters };
}
