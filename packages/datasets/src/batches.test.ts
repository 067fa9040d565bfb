import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { batches, batchOf, numBatches } from './batches.js';
import { parseCifar10 } from './cifar.js';
import { cifarBatch } from './test-utils.js';

const split = parseCifar10(cifarBatch(10, 5));
const SIZE = 32 * 32 * 3;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('a split as tensors', () => {
  it('goes straight into tf.tensor4d with its own shape (a mutable tuple, as tfjs types it)', () => {
    const split = parseCifar10(cifarBatch(3, 7));
    const x = tf.tensor4d(split.images, split.shape);
    expect(x.shape).toEqual([3, 32, 32, 3]);
    expect(x.dataSync()[0]).toBeCloseTo(split.images[0]!, 6);
    x.dispose();
  });
});

describe('batches', () => {
  it('yields the split in order, batch by batch, the last one short', () => {
    const start = tf.memory().numTensors;
    const sizes: number[] = [];
    const xs: number[] = [];
    const ys: number[] = [];
    for (const { x, y, indices } of batches(split, { batchSize: 4 })) {
      // Only this batch lives in tfjs.
      expect(tf.memory().numTensors).toBe(start + 2);
      expect(x.shape.slice(1)).toEqual([32, 32, 3]);
      expect(x.dtype).toBe('float32');
      expect(y.dtype).toBe('int32');
      sizes.push(x.shape[0]);
      xs.push(...x.dataSync());
      ys.push(...y.dataSync());
      expect(Array.from(indices)).toEqual(
        Array.from({ length: x.shape[0] }, (_, k) => sizes.length * 4 - 4 + k),
      );
      tf.dispose([x, y]);
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(Float32Array.from(xs)).toEqual(split.images);
    expect(ys).toEqual(Array.from(split.labels));
    expect(tf.memory().numTensors).toBe(start);
    expect(numBatches(split, { batchSize: 4 })).toBe(3);
    expect(numBatches(split, { batchSize: 4, dropRemainder: true })).toBe(2);
    const kept: number[] = [];
    for (const b of batches(split, { batchSize: 4, dropRemainder: true })) {
      kept.push(b.x.shape[0]);
      tf.dispose([b.x, b.y]);
    }
    expect(kept).toEqual([4, 4]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('shuffles with a seed: every image once, each with its own label, reproducibly', () => {
    const start = tf.memory().numTensors;
    const run = (seed: number) => {
      const order: number[] = [];
      for (const { x, y, indices } of batches(split, { batchSize: 3, shuffle: true, seed })) {
        const xd = x.dataSync();
        const yd = y.dataSync();
        indices.forEach((i, k) => {
          expect(xd.subarray(k * SIZE, (k + 1) * SIZE)).toEqual(
            split.images.subarray(i * SIZE, (i + 1) * SIZE),
          );
          expect(yd[k]).toBe(split.labels[i]);
        });
        order.push(...indices);
        tf.dispose([x, y]);
      }
      return order;
    };
    const a = run(1);
    expect([...a].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('batchOf gathers given indices; bad sizes and indices are refused', () => {
    const start = tf.memory().numTensors;
    const { x, y } = batchOf(split, [7, 7, 0]);
    expect(Array.from(y.dataSync())).toEqual([split.labels[7], split.labels[7], split.labels[0]]);
    expect(x.dataSync().subarray(2 * SIZE)).toEqual(split.images.subarray(0, SIZE));
    tf.dispose([x, y]);
    expect(() => batchOf(split, [10])).toThrow(RangeError);
    expect(() => [...batches(split, { batchSize: 0 })]).toThrow(
      /batchSize must be a positive integer/,
    );
    expect(tf.memory().numTensors).toBe(start);
  });
});
