import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Test-only: reads a slice of the canonical MNIST IDX .gz files from
 * $FA_ROBUST_DATA_DIR/mnist (CI sets FA_ROBUST_DATA_DIR=../shared/data relative to the repo
 * root). Never downloads anything; the tests that use it skip where the files are absent.
 */

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export function mnistDir(): string | null {
  const env = process.env.FA_ROBUST_DATA_DIR;
  if (!env) return null;
  const dir = join(isAbsolute(env) ? env : resolve(REPO_ROOT, env), 'mnist');
  const files = [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ];
  return files.every((f) => existsSync(join(dir, f))) ? dir : null;
}

/** Why the MNIST tests are skipped, or null when the data is there. */
export function mnistSkipReason(): string | null {
  if (!process.env.FA_ROBUST_DATA_DIR)
    return 'FA_ROBUST_DATA_DIR is not set (CI sets it to ../shared/data)';
  return mnistDir() == null
    ? `no MNIST .gz files under ${process.env.FA_ROBUST_DATA_DIR}/mnist`
    : null;
}

function idx(path: string, magic: number): { dims: number[]; bytes: Uint8Array } {
  const buf = gunzipSync(readFileSync(path));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0) !== magic)
    throw new Error(`${path}: magic ${view.getUint32(0)}, expected ${magic}`);
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, bytes: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * rank) };
}

/** The first `count` images ([count, 28, 28, 1] in [0, 1]) and labels ([count] int32) of a split. */
export function loadMnist(
  split: 'train' | 't10k',
  count: number,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const dir = mnistDir();
  if (dir == null) throw new Error(`MNIST not available: ${mnistSkipReason()}`);
  const images = idx(join(dir, `${split}-images-idx3-ubyte.gz`), 0x00000803);
  const labels = idx(join(dir, `${split}-labels-idx1-ubyte.gz`), 0x00000801);
  const n = Math.min(count, images.dims[0]!);
  const px = new Float32Array(n * 784);
  for (let i = 0; i < px.length; i++) px[i] = images.bytes[i]! / 255;
  return {
    x: tf.tensor4d(px, [n, 28, 28, 1]),
    y: tf.tensor1d(Int32Array.from(labels.bytes.subarray(0, n)), 'int32'),
  };
}
