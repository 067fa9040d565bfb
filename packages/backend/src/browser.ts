// The browser entry (the `browser` export condition): no Node module, no file routers; its
// setupBackend picks webgpu, webgl, wasm or cpu.
export * from './common.js';
export type { BackendInfo, BackendRequest } from './setup.js';
export {
  BROWSER_ORDER,
  type BrowserBackend,
  type BrowserSetupOptions,
  setupBackend,
} from './setup-browser.js';
