import { DataFormatError } from './errors.js';
import type { ImageShape, Split } from './types.js';

/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte
 * magic number (two zero bytes, a data-type code, the number of dimensions), one big-endian
 * uint32 per dimension, then the values in row-major order. Pure functions on bytes: no Node
 * modules, usable in the browser. Gzip input is refused with a hint; see gunzip().
 */

const TYPE_NAMES = new Map<number, string>([
  [0x08, 'unsigned byte'],
  [0x09, 'signed byte'],
  [0x0b, 'int16'],
  [0x0c, 'int32'],
  [0x0d, 'float32'],
  [0x0e, 'float64'],
]);

/** A parsed IDX array of unsigned bytes. `data` is a view into the input, not a copy. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export interface IdxParseOptions {
  /** Name used in error messages (a path, a URL); default 'IDX data'. */
  file?: string;
}

/** byte / 255 for every byte value, so conversion is one table lookup per pixel. */
export const BYTE_TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

function describeMagic(bytes: Uint8Array): string {
  if (bytes.length < 4) return `${bytes.length} bytes`;
  const v = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  if (isGzip(bytes)) return `${hex(v)} (a gzip header)`;
  if (bytes[0] !== 0 || bytes[1] !== 0) return `${hex(v)} (not an IDX file)`;
  const type = TYPE_NAMES.get(bytes[2]!) ?? `unknown type 0x${bytes[2]!.toString(16)}`;
  return `${hex(v)} (IDX ${type}, ${bytes[3]} dimension${bytes[3] === 1 ? '' : 's'})`;
}

function gzipHint(bytes: Uint8Array): string | undefined {
  return isGzip(bytes)
    ? 'The bytes are gzip-compressed: gunzip them first (gunzip() here, node:zlib in Node)'
    : undefined;
}

/**
 * Parses an IDX file of unsigned bytes (type 0x08) with any number of dimensions. Checks the
 * magic number, that the header is complete and that the data length is exactly the product of
 * the dimensions (a truncated file, or trailing bytes, is refused).
 */
export function parseIdx(bytes: Uint8Array, options: IdxParseOptions = {}): IdxArray {
  return parseChecked(bytes, options.file ?? 'IDX data');
}

function parseChecked(
  bytes: Uint8Array,
  file: string,
  want?: { dims: number; magic: number; what: string },
): IdxArray {
  if (bytes.length < 4) {
    throw new DataFormatError({
      file,
      field: 'header',
      expected: 'at least 4 bytes (the IDX magic number)',
      found: `${bytes.length} bytes`,
      hint: 'The file is empty or truncated',
    });
  }
  const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  if (want != null && magic !== want.magic) {
    throw new DataFormatError({
      file,
      field: 'magic number',
      expected: `${hex(want.magic)} (IDX unsigned-byte ${want.what}, ${want.dims} dimension${want.dims === 1 ? '' : 's'})`,
      found: describeMagic(bytes),
      hint: gzipHint(bytes),
    });
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataFormatError({
      file,
      field: 'magic number',
      expected: 'two zero bytes, a type code and a dimension count',
      found: describeMagic(bytes),
      hint: gzipHint(bytes),
    });
  }
  if (bytes[2] !== 0x08) {
    throw new DataFormatError({
      file,
      field: 'data type',
      expected: '0x08 (unsigned byte)',
      found: `0x${bytes[2]!.toString(16).padStart(2, '0')} (${TYPE_NAMES.get(bytes[2]!) ?? 'unknown'})`,
    });
  }
  const ndims = bytes[3]!;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataFormatError({
      file,
      field: 'header',
      expected: `${headerBytes} bytes (magic number and ${ndims} dimension sizes)`,
      found: `${bytes.length} bytes`,
      hint: 'The file is truncated',
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerBytes;
  if (found !== expected) {
    const record = dims.slice(1).reduce((a, b) => a * b, 1);
    const what = ndims === 0 ? '' : ` (${dims[0]} records of ${record} bytes, as the header says)`;
    const foundRecords = record > 0 ? ` (${+(found / record).toFixed(2)} records)` : '';
    throw new DataFormatError({
      file,
      field: 'data length',
      expected: `${expected} bytes${what}`,
      found: `${found} bytes${foundRecords}`,
      hint:
        found < expected
          ? 'The file is truncated, or its header overstates the record count'
          : 'There are bytes after the last record: the header understates the record count, or the file is corrupt',
    });
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

function checkLimit(limit: number | undefined, count: number): number {
  if (limit == null) return count;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  return Math.min(limit, count);
}

export interface IdxImagesOptions extends IdxParseOptions {
  /** Keep only the first `limit` images (at most all of them). */
  limit?: number;
}

/**
 * IDX images (magic 0x00000803: count x rows x cols unsigned bytes) to NHWC float32 in [0, 1]
 * with one channel. Only the first `limit` images are converted.
 */
export function parseIdxImages(
  bytes: Uint8Array,
  options: IdxImagesOptions = {},
): { images: Float32Array; shape: ImageShape } {
  const file = options.file ?? 'IDX images';
  const { dims, data } = parseChecked(bytes, file, { dims: 3, magic: 0x803, what: 'images' });
  const [count, rows, cols] = dims as [number, number, number];
  const n = checkLimit(options.limit, count);
  const size = n * rows * cols;
  const images = new Float32Array(size);
  for (let i = 0; i < size; i++) images[i] = BYTE_TO_UNIT[data[i]!]!;
  return { images, shape: [n, rows, cols, 1] };
}

export interface IdxLabelsOptions extends IdxParseOptions {
  /** Keep only the first `limit` labels. */
  limit?: number;
  /** When given, every label must be below it (checked on all labels, not only the kept ones). */
  numClasses?: number;
}

/** IDX labels (magic 0x00000801: count unsigned bytes). Returns a copy. */
export function parseIdxLabels(bytes: Uint8Array, options: IdxLabelsOptions = {}): Uint8Array {
  const file = options.file ?? 'IDX labels';
  const { dims, data } = parseChecked(bytes, file, { dims: 1, magic: 0x801, what: 'labels' });
  if (options.numClasses != null) checkLabels(data, options.numClasses, file);
  return data.slice(0, checkLimit(options.limit, dims[0]!));
}

export function checkLabels(labels: Uint8Array, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= numClasses) {
      throw new DataFormatError({
        file,
        field: `label of record ${i}`,
        expected: `a class index in 0..${numClasses - 1}`,
        found: String(labels[i]),
      });
    }
  }
}

export interface IdxSplitOptions {
  /** Class names; labels must index into them. */
  classes: readonly string[];
  limit?: number;
  /** Names for error messages. */
  files?: { images?: string; labels?: string };
}

/**
 * An images file and a labels file (raw IDX bytes) to a Split. The two must hold the same
 * number of records, and every label must name a class.
 */
export function parseIdxSplit(
  images: Uint8Array,
  labels: Uint8Array,
  options: IdxSplitOptions,
): Split {
  const imagesFile = options.files?.images ?? 'IDX images';
  const labelsFile = options.files?.labels ?? 'IDX labels';
  // Headers first: both files are checked before any pixel is converted.
  const imageCount = parseChecked(images, imagesFile, { dims: 3, magic: 0x803, what: 'images' })
    .dims[0]!;
  const allLabels = parseIdxLabels(labels, {
    file: labelsFile,
    numClasses: options.classes.length,
  });
  if (allLabels.length !== imageCount) {
    throw new DataFormatError({
      file: labelsFile,
      field: 'record count',
      expected: `${imageCount} labels, one per image in ${imagesFile}`,
      found: `${allLabels.length} labels`,
    });
  }
  const parsed = parseIdxImages(images, { file: imagesFile, limit: options.limit });
  return {
    images: parsed.images,
    labels: allLabels.slice(0, parsed.shape[0]),
    shape: parsed.shape,
    classes: options.classes,
  };
}
