export { BackendError, ModelFileError, UnsupportedKernelError } from './errors.js';
export { fileSystem, registerFileRouters } from './io.js';
export {
  type AddedKernelName,
  conv2DBackpropFilterViaConv2D,
  conv2DBackpropInputViaConv2D,
  cpuFallbackKernel,
  matMulUntransposed,
  maxPoolGradOnHeap,
  registerWasmTrainingKernels,
  sliceOnHeap,
  WASM_ADDED_KERNELS,
} from './kernels/index.js';
export {
  type BackendInfo,
  type BackendRequest,
  type SetupBackendOptions,
  setupBackend,
} from './setup.js';
