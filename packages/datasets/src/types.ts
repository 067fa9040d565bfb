export type SplitName = 'train' | 'test';

/** [count, height, width, channels]. */
export type ImageShape = [number, number, number, number];

/**
 * One split of a dataset in memory, ready for tfjs: images NHWC, float32 in [0, 1]
 * (byte / 255), labels one byte per image.
 */
export interface Split {
  /** length = shape[0] * shape[1] * shape[2] * shape[3], NHWC order, values in [0, 1]. */
  images: Float32Array;
  /** length = shape[0], values in [0, classes.length). */
  labels: Uint8Array;
  shape: ImageShape;
  /** Class names, indexed by label. */
  classes: readonly string[];
}

/** Size and digests of a published file. Hex digests, lower case. */
export interface FileChecksum {
  bytes: number;
  md5: string;
  sha256?: string;
}

/** A file of an IDX dataset, with its published checksum. */
export interface IdxFileSpec extends FileChecksum {
  /** The published (gzip) name, e.g. 'train-images-idx3-ubyte.gz'. */
  name: string;
  /** The same file gunzipped, when its checksum is known: accepted in local folders. */
  raw?: FileChecksum & { name: string };
}

/** Everything a loader needs to know about an IDX dataset (MNIST and its look-alikes). */
export interface IdxDatasetSpec {
  /** Folder name under the data and cache folders, e.g. 'mnist'. */
  id: string;
  /** Human name, e.g. 'MNIST'. */
  title: string;
  classes: readonly string[];
  /** Base URLs tried in order; a file's URL is base + name. */
  mirrors: readonly string[];
  files: Record<SplitName, { images: IdxFileSpec; labels: IdxFileSpec }>;
  /** Images per split in the published files. */
  records: Record<SplitName, number>;
}

/** A CIFAR-10 binary batch file (10000 records of 1 + 3072 bytes). */
export interface CifarBatchSpec extends FileChecksum {
  name: string;
  records: number;
}

/** The CIFAR-10 binary release: an archive holding a folder of batch files. */
export interface Cifar10Spec {
  id: string;
  title: string;
  classes: readonly string[];
  /** Base URLs of the archive, tried in order; the URL is base + archive.name. */
  mirrors: readonly string[];
  archive: FileChecksum & { name: string };
  /** The folder inside the archive (and in data folders) holding the batches. */
  folder: string;
  batches: Record<SplitName, readonly CifarBatchSpec[]>;
}
