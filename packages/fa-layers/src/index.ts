export {
  alignment,
  currentFeedback,
  type GradientAngleOptions,
  type GradientAngles,
  type GradientReduction,
  type InputGradientOptions,
  inputGradientAngles,
  inputGradients,
  type LayerAlignment,
} from './alignment.js';
export { type Conv2DLayerArgs, conv2d, FaConv2D, type FaConv2DArgs } from './conv2d.js';
export { type Batch, type BatchSource, shuffledIndices } from './data.js';
export { type DenseLayerArgs, dense, FaDense, type FaDenseArgs } from './dense.js';
export { DfaSignalError, FeedbackOptionError, TrainDataError } from './errors.js';
export type {
  FeedbackArgs,
  FeedbackState,
  Initializer,
  SerializedInitializer,
} from './feedback.js';
export { FEEDBACK_CONV2D, FEEDBACK_MATMUL } from './kernels.js';
export {
  LENET_CLASSES,
  type LenetDataset,
  type LenetOptions,
  type LenetVariant,
  lenet,
} from './lenet.js';
export { FEEDBACK_MODES, type FeedbackMode, KP_DEFAULT_WEIGHT_DECAY } from './modes.js';
export {
  createOptimizer,
  defaultLearningRate,
  disposeOptimizer,
  type OptimizerName,
} from './optimizers.js';
export { FA_LAYER_CLASSES, feedbackLayers, registerFaLayers } from './register.js';
export {
  type AllReduceReplica,
  allReduceReplica,
  type GradientReplica,
  type OptimizerState,
  optimizerState,
  type ReplicaJob,
  type ReplicaResult,
  type ReplicaState,
  restoreOptimizer,
  type ShardJob,
  shardGradients,
  type UpdateJob,
} from './replicas.js';
export { evaluate } from './scores.js';
export {
  type BatchLog,
  type EpochLog,
  type LearningRateSchedule,
  scheduledRate,
  type TrainOptions,
  type TrainResult,
  train,
} from './train.js';
export { backpropTwin } from './twin.js';
