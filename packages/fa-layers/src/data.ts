import { mulberry32, shuffleInPlace } from '@fa-robust/internal';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { TrainDataError } from './errors.js';

/**
 * Training data: what a batch is, where batches come from, how tensor data is checked,
 * shuffled and cut into batches.
 */

/** One batch: images and labels (int class ids [n], or one-hot [n, classes]). */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
}

/**
 * Where batches come from. An Iterable or AsyncIterable that can be iterated again (an array, a
 * tf.data.Dataset's iterator factory...) serves every epoch; a function is called once per
 * epoch and returns that epoch's batches. train() never disposes the tensors it is given.
 */
export type BatchSource =
  | Iterable<Batch>
  | AsyncIterable<Batch>
  | ((epoch: number) => Iterable<Batch> | AsyncIterable<Batch>);

const WHERE = 'train';

/**
 * A seeded permutation of 0..n-1: Fisher-Yates over mulberry32 (the helpers every @fa-robust
 * package shares), the same numbers on every platform.
 */
export function shuffledIndices(n: number, seed: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return shuffleInPlace(idx, mulberry32(seed));
}

export function checkBatch(field: string, b: Batch, classes: number): void {
  if (b == null || !(b.x instanceof tf.Tensor) || !(b.y instanceof tf.Tensor)) {
    throw new TrainDataError(
      WHERE,
      field,
      '{ x: tf.Tensor, y: tf.Tensor }',
      b == null ? b : Object.keys(b),
    );
  }
  const n = b.x.shape[0];
  if (b.y.shape[0] !== n) {
    throw new TrainDataError(
      WHERE,
      `${field}.y`,
      `${n} labels (one per image of ${field}.x [${b.x.shape}])`,
      `shape [${b.y.shape}]`,
    );
  }
  if (!(b.y.rank === 1 || (b.y.rank === 2 && b.y.shape[1] === classes))) {
    throw new TrainDataError(
      WHERE,
      `${field}.y`,
      `class ids [n] or one-hot [n, ${classes}]`,
      `shape [${b.y.shape}]`,
    );
  }
}

/** One-hot float labels from class ids or one-hot labels. */
export function oneHot(y: tf.Tensor, classes: number): tf.Tensor {
  return tf.tidy(() =>
    y.rank === 2 ? tf.cast(y, 'float32') : tf.oneHot(tf.cast(y, 'int32'), classes),
  );
}

export function outputClasses(model: tfl.LayersModel): number {
  const shape = model.outputs[0]?.shape;
  const classes = shape?.[shape.length - 1];
  if (shape == null || shape.length !== 2 || classes == null) {
    throw new TrainDataError(
      WHERE,
      'model',
      'a model with one output of shape [batch, classes] (logits)',
      shape ?? null,
    );
  }
  return classes;
}

export function isTensorData(data: unknown): data is Batch {
  return typeof data === 'object' && data != null && (data as Batch).x instanceof tf.Tensor;
}

export async function* tensorBatches(
  data: Batch,
  batchSize: number,
  order: Int32Array | null,
): AsyncGenerator<Batch> {
  const n = data.x.shape[0]!;
  const idx = order == null ? null : tf.tensor1d(order, 'int32');
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = tf.tidy(() => {
        if (idx == null)
          return { x: tf.slice(data.x, start, size), y: tf.slice(data.y, start, size) };
        const take = tf.slice(idx, start, size);
        return { x: tf.gather(data.x, take), y: tf.gather(data.y, take) };
      });
      try {
        yield batch;
      } finally {
        tf.dispose([batch.x, batch.y]);
      }
    }
  } finally {
    idx?.dispose();
  }
}

export function epochSource(
  source: BatchSource,
  epoch: number,
  epochs: number,
): Iterable<Batch> | AsyncIterable<Batch> {
  const it = typeof source === 'function' ? source(epoch) : source;
  const sync = (it as Iterable<Batch>)?.[Symbol.iterator];
  const async = (it as AsyncIterable<Batch>)?.[Symbol.asyncIterator];
  if (typeof sync !== 'function' && typeof async !== 'function') {
    throw new TrainDataError(
      WHERE,
      'data',
      '{ x, y } tensors, an iterable of batches or a function returning one per epoch',
      typeof it,
    );
  }
  if (typeof source !== 'function' && epochs > 1) {
    // A generator (an iterator that is its own iterable) runs once: refuse it for several epochs.
    const self = (typeof sync === 'function' ? sync.call(it) : async.call(it)) === (it as unknown);
    if (self) {
      throw new TrainDataError(
        WHERE,
        'data',
        `re-iterable for ${epochs} epochs (an array, or a function returning each epoch's batches)`,
        'a one-shot iterator',
      );
    }
  }
  return it;
}
