export * from './common.js';
export { fileSystem, registerFileRouters } from './io.js';
export {
  type BackendInfo,
  type BackendRequest,
  type SetupBackendOptions,
  setupBackend,
} from './setup.js';
