// The Node loaders, one module each; this one gathers them for the package index.
export type {
  FileSource,
  LoadedDataset,
  LoadOptions,
  LoadProgress,
} from './context.js';
export { loadCifar10 } from './load-cifar.js';
export { loadFashionMnist, loadIdxDataset, loadMnist } from './load-idx.js';
export {
  type DatasetLocation,
  type LocatedFile,
  type LocateOptions,
  locateDataset,
} from './locate.js';
