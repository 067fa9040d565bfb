import { DataFormatError } from './errors.js';
import { BYTE_TO_UNIT } from './idx.js';
import { CIFAR10_CLASSES } from './sources.js';
import type { Split } from './types.js';

/**
 * The CIFAR-10 binary format (https://www.cs.toronto.edu/~kriz/cifar.html): records of one
 * label byte then 3072 pixel bytes, 1024 red, 1024 green, 1024 blue, each a row-major 32x32
 * plane. Converted to NHWC float32 in [0, 1]. Pure functions on bytes, usable in the browser.
 */

export const CIFAR10_IMAGE_BYTES = 32 * 32 * 3;
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;

/** Number of records in a batch file of `length` bytes; refuses a length that is not whole records. */
export function cifar10RecordCount(length: number, file: string): number {
  if (length === 0 || length % CIFAR10_RECORD_BYTES !== 0) {
    const whole = Math.floor(length / CIFAR10_RECORD_BYTES);
    throw new DataFormatError({
      file,
      field: 'data length',
      expected: `a positive multiple of ${CIFAR10_RECORD_BYTES} bytes (records of 1 label byte + 3072 pixel bytes)`,
      found: `${length} bytes (${whole} whole records and ${length - whole * CIFAR10_RECORD_BYTES} bytes more)`,
      hint:
        length === 0
          ? 'The file is empty'
          : 'The file is truncated or is not a CIFAR-10 binary batch',
    });
  }
  return length / CIFAR10_RECORD_BYTES;
}

/**
 * Decodes the first `count` records of one batch into `images`/`labels` starting at record
 * `offset`. Checks every label of the batch (not only the decoded ones) so a corrupt file is
 * refused whatever the limit.
 */
export function decodeCifar10Into(
  bytes: Uint8Array,
  file: string,
  count: number,
  images: Float32Array,
  labels: Uint8Array,
  offset: number,
): void {
  const records = cifar10RecordCount(bytes.length, file);
  for (let r = 0; r < records; r++) {
    const label = bytes[r * CIFAR10_RECORD_BYTES]!;
    if (label >= 10) {
      throw new DataFormatError({
        file,
        field: `label of record ${r}`,
        expected: 'a class index in 0..9',
        found: String(label),
        hint: 'The file is corrupt or is not a CIFAR-10 batch (CIFAR-100 records have two label bytes)',
      });
    }
  }
  const n = Math.min(count, records);
  for (let r = 0; r < n; r++) {
    const src = r * CIFAR10_RECORD_BYTES + 1;
    const dst = (offset + r) * CIFAR10_IMAGE_BYTES;
    labels[offset + r] = bytes[src - 1]!;
    for (let p = 0; p < 1024; p++) {
      const o = dst + 3 * p;
      images[o] = BYTE_TO_UNIT[bytes[src + p]!]!;
      images[o + 1] = BYTE_TO_UNIT[bytes[src + 1024 + p]!]!;
      images[o + 2] = BYTE_TO_UNIT[bytes[src + 2048 + p]!]!;
    }
  }
}

export interface Cifar10ParseOptions {
  /** Names for error messages, one per batch (or one for a single batch). */
  files?: string | readonly string[];
  /** Keep only the first `limit` records over the batches in order. */
  limit?: number;
}

/**
 * One or more CIFAR-10 binary batches (e.g. data_batch_1..5.bin, in order) to one Split.
 * Every batch is checked whole (length, labels) before anything is returned.
 */
export function parseCifar10(
  batches: Uint8Array | readonly Uint8Array[],
  options: Cifar10ParseOptions = {},
): Split {
  const list = batches instanceof Uint8Array ? [batches] : batches;
  const names = typeof options.files === 'string' ? [options.files] : (options.files ?? []);
  const fileName = (i: number) =>
    names[i] ?? (list.length === 1 ? 'CIFAR-10 batch' : `CIFAR-10 batch ${i + 1}`);
  const counts = list.map((b, i) => cifar10RecordCount(b.length, fileName(i)));
  const total = counts.reduce((a, b) => a + b, 0);
  const limit = options.limit;
  if (limit != null && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  const n = Math.min(limit ?? total, total);
  const images = new Float32Array(n * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  let offset = 0;
  list.forEach((bytes, i) => {
    const take = Math.min(counts[i]!, n - offset);
    decodeCifar10Into(bytes, fileName(i), take, images, labels, offset);
    offset += take;
  });
  return { images, labels, shape: [n, 32, 32, 3], classes: CIFAR10_CLASSES };
}
