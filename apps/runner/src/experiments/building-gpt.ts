import {
  attentionWrittenVsFused,
  multiHeadAttentionExperiment,
  transformerBlockExperiment,
} from './building-gpt-attention.js';
import {
  causalAveraging,
  dropoutExperiment,
  embeddingVsLinear,
  geluVsRelu,
  gpt2ParameterCounts,
  layerNormExperiment,
  samplingMethods,
} from './building-gpt-basics.js';
import { cpuVsGpu, gpt2WeightDistributions } from './building-gpt-gpt2.js';
import { models1To5, trainWithoutQ } from './building-gpt-models.js';
import { doWeNeedQ } from './building-gpt-query-noise.js';
import type { Experiment } from './types.js';

/** The experiments of the "Build a GPT" part of the course, in the order of its exercises. */
export const BUILDING_GPT_EXPERIMENTS: readonly Experiment[] = [
  gpt2ParameterCounts,
  models1To5,
  samplingMethods,
  layerNormExperiment,
  causalAveraging,
  attentionWrittenVsFused,
  embeddingVsLinear,
  geluVsRelu,
  transformerBlockExperiment,
  multiHeadAttentionExperiment,
  doWeNeedQ,
  trainWithoutQ,
  dropoutExperiment,
  cpuVsGpu,
  gpt2WeightDistributions,
] as unknown as Experiment[];
