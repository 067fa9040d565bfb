export { type Conv2DLayerArgs, conv2d, type FaConv2DArgs, FaConv2D } from './conv2d.js';
export { type DenseLayerArgs, dense, type FaDenseArgs, FaDense } from './dense.js';
export { DfaSignalError, FeedbackOptionError, TrainDataError } from './errors.js';
export type { FeedbackArgs, Initializer, SerializedInitializer } from './feedback.js';
export { FEEDBACK_MATMUL, FEEDBACK_CONV2D } from './kernels.js';
export { FEEDBACK_MODES, type FeedbackMode, KP_DEFAULT_WEIGHT_DECAY } from './modes.js';
export { FA_LAYER_CLASSES, registerFaLayers } from './register.js';
