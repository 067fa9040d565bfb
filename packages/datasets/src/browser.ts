// The browser entry (the package's "browser" export condition, which bundlers pick): parsers,
// helpers, the published file lists and the URL loaders, nothing that imports a Node module.
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
export {
  loadCifar10FromUrl,
  loadFashionMnistFromUrl,
  loadIdxFromUrl,
  loadMnistFromUrl,
  type UrlLoadedDataset,
  type UrlLoadOptions,
  type UrlLoadProgress,
} from './url.js';
