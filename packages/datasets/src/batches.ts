import * as tf from '@tensorflow/tfjs-core';
import { imageSize, permutation } from './split.js';
import type { Split } from './types.js';

/** One batch as tensors. The caller owns (and disposes) x and y. */
export interface Batch {
  /** [batch, height, width, channels], float32 in [0, 1]. */
  x: tf.Tensor4D;
  /** [batch], int32 class indices (tf.oneHot(y, classes.length) for one-hot targets). */
  y: tf.Tensor1D;
  /** Which images of the split this batch holds, in order. */
  indices: Uint32Array;
}

export interface BatchOptions {
  batchSize: number;
  /** Visit the images in a seeded random order (default false: in order). */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0). Use a different seed per epoch for new orders. */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropRemainder?: boolean;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

/** How many batches batches(split, options) yields. */
export function numBatches(split: Split, options: BatchOptions): number {
  checkBatchSize(options.batchSize);
  const n = split.shape[0];
  return options.dropRemainder
    ? Math.floor(n / options.batchSize)
    : Math.ceil(n / options.batchSize);
}

/**
 * The images at `indices` as tensors: only this batch is copied into tfjs.
 */
export function batchOf(split: Split, indices: ArrayLike<number>): Batch {
  const size = imageSize(split);
  const count = split.shape[0];
  const n = indices.length;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  const idx = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw new RangeError(`index ${i} at position ${k} is outside the split (0..${count - 1})`);
    }
    x.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    y[k] = split.labels[i]!;
    idx[k] = i;
  }
  return {
    x: tf.tensor4d(x, [n, split.shape[1], split.shape[2], split.shape[3]], 'float32'),
    y: tf.tensor1d(y, 'int32'),
    indices: idx,
  };
}

/**
 * Batches of a split, made one at a time as the generator is advanced, so the whole set never
 * sits in tfjs memory at once. Each batch's tensors belong to the caller: dispose them (or make
 * them inside tf.tidy) before asking for the next.
 *
 * @example
 * for (const { x, y } of batches(train, { batchSize: 64, shuffle: true, seed: epoch })) {
 *   const loss = optimizer.minimize(() => lossFn(model, x, y), true);
 *   tf.dispose([x, y, loss]);
 * }
 */
export function* batches(split: Split, options: BatchOptions): Generator<Batch, void, undefined> {
  checkBatchSize(options.batchSize);
  const n = split.shape[0];
  const order = options.shuffle ? permutation(n, options.seed ?? 0) : null;
  const count = numBatches(split, options);
  for (let b = 0; b < count; b++) {
    const start = b * options.batchSize;
    const end = Math.min(start + options.batchSize, n);
    const indices = new Uint32Array(end - start);
    for (let k = 0; k < indices.length; k++) indices[k] = order ? order[start + k]! : start + k;
    yield batchOf(split, indices);
  }
}
