export { gptFromSafetensors, gptToSafetensors } from './checkpoint.js';
export {
  configFromMetadata,
  configToMetadata,
  countGptParameters,
  GPT_DEFAULTS,
  type GptConfig,
  gptParameterShapes,
  isDecayedParameter,
  resolveGptConfig,
} from './config.js';
export { type GenerateOptions, GptInference } from './inference.js';
export {
  buildGpt,
  type DropoutNoise,
  type GptGraph,
  type GptGraphOptions,
  initGptParameters,
} from './model.js';
export { argmax, type SamplingOptions, sampleToken, samplingProbabilities } from './sampling.js';
