// Pure, browser-safe parts: formats, helpers, published file lists.
export { type Batch, type BatchOptions, batches, batchOf, numBatches } from './batches.js';
export {
  CIFAR10_IMAGE_BYTES,
  CIFAR10_RECORD_BYTES,
  type Cifar10ParseOptions,
  cifar10RecordCount,
  parseCifar10,
} from './cifar.js';
export {
  ArchiveError,
  ChecksumError,
  DataFormatError,
  DatasetError,
  type DownloadAttempt,
  DownloadError,
  type FormatErrorDetails,
  MissingDataError,
  type MissingFile,
} from './errors.js';
export { gunzip, gunzipIfNeeded } from './gzip.js';
export {
  type IdxArray,
  type IdxImagesOptions,
  type IdxLabelsOptions,
  type IdxParseOptions,
  type IdxSplitOptions,
  isGzip,
  parseIdx,
  parseIdxImages,
  parseIdxLabels,
  parseIdxSplit,
} from './idx.js';
// Node loaders: node: modules and tar are imported lazily inside them.
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
export {
  CIFAR10,
  CIFAR10_CLASSES,
  FASHION_MNIST,
  FASHION_MNIST_CLASSES,
  MNIST,
  MNIST_CLASSES,
} from './sources.js';
export { classCounts, mulberry32, permutation, shuffle, subset, take } from './split.js';
export type {
  Cifar10Spec,
  CifarBatchSpec,
  FileChecksum,
  IdxDatasetSpec,
  IdxFileSpec,
  ImageShape,
  Split,
  SplitName,
} from './types.js';
