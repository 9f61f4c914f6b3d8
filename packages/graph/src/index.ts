export { grad } from './autodiff.js';
export { attr, type Emitter, liveNodes, OPSET_VERSION, type OnnxAttribute, type SerializeOptions, toOnnx } from './emit.js';
export { type ConstantData, Graph, type GraphNode, Tensor, type TensorLike, type TensorRole } from './graph.js';
export { ModelProto, OnnxDataType } from './onnx-proto.js';
export { type GradientArgs, type OpDefinition, OPS, type TensorMeta, unbroadcast } from './ops.js';
export {
  addTrainingStep,
  type OptimizerConfig,
  type ParameterSettings,
  type PackedMember,
  type StateSlot,
  type TrainingGraphOptions,
  type TrainingStepSpec,
  updatedName,
} from './optim.js';
export { type BackendName, GraphSession, loadBackend, type OrtModule, type SessionOptions, type TensorData } from './runtime.js';
export {
  broadcastShapes,
  type DType,
  type Dim,
  dtypeByteSize,
  formatShape,
  isFloatDType,
  type Shape,
  staticSize,
} from './tensor.js';
export { type StepResult, TrainingSession } from './training.js';
export { Rng, type RngState } from './rng.js';
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
