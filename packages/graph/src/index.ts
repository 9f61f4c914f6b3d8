export { grad } from './autodiff.js';
export {
  attr,
  type Emitter,
  liveNodes,
  type OnnxAttribute,
  OPSET_VERSION,
  type SerializeOptions,
  toOnnx,
} from './emit.js';
export { float16Bits, float16Value } from './float16.js';
export {
  type ConstantData,
  Graph,
  type GraphNode,
  Tensor,
  type TensorLike,
  type TensorRole,
} from './graph.js';
export { ModelProto, OnnxDataType } from './onnx-proto.js';
export { type GradientArgs, OPS, type OpDefinition, type TensorMeta, unbroadcast } from './ops.js';
export {
  addTrainingStep,
  type OptimizerConfig,
  type PackedMember,
  type ParameterSettings,
  type StateSlot,
  type TrainingGraphOptions,
  type TrainingStepSpec,
  updatedName,
  validateOptimizer,
} from './optim.js';
export { Rng, type RngState } from './rng.js';
export {
  type BackendName,
  GraphSession,
  loadBackend,
  type OrtModule,
  type SessionOptions,
  type TensorData,
} from './runtime.js';
export {
  fromFloat32,
  parseSafetensors,
  type SafetensorsDtype,
  SafetensorsError,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorEntry,
  toFloat32,
} from './safetensors.js';
export {
  broadcastShapes,
  type Dim,
  type DType,
  dtypeByteSize,
  formatShape,
  isFloatDType,
  type Shape,
  staticSize,
} from './tensor.js';
export {
  LossScaler,
  type LossScalerOptions,
  type LossScalerState,
  type StepResult,
  TrainingSession,
} from './training.js';
