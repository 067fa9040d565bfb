// What the Node entry (index.ts) and the browser entry (browser.ts) both export.
export { BackendError, ModelFileError, UnsupportedKernelError } from './errors.js';
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
