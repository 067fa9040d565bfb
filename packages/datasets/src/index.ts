// The Node entry: everything the browser entry has, and the loaders that read data folders,
// caches and downloads (node: modules and tar are imported lazily inside them).
export * from './browser.js';
export { CACHE_DIR_ENV, DATA_DIR_ENV, defaultCacheDir } from './node/env.js';
export {
  type DatasetLocation,
  type FileSource,
  type LoadedDataset,
  type LoadOptions,
  type LoadProgress,
  type LocatedFile,
  type LocateOptions,
  loadCifar10,
  loadFashionMnist,
  loadIdxDataset,
  loadMnist,
  locateDataset,
} from './node/load.js';
export type { Check } from './node/verify.js';
