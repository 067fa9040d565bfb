// The browser entry (the `browser` export condition): no Node module, no file routers; its
// setupBackend picks webgpu, webgl, wasm or cpu.
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
export type { BackendInfo, BackendRequest } from './setup.js';
export {
  BROWSER_ORDER,
  type BrowserBackend,
  type BrowserSetupOptions,
  setupBackend,
} from './setup-browser.js';
