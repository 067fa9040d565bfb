/**
 * The runner's data, batch by batch: in-memory arrays ({ x, y, shape } or { images, labels,
 * shape }) cut into tensors of batchSize examples, or an iterator's batches as they come.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AttackInputError, describe } from './errors.js';
import type { LabelsInput } from './model.js';
import type { DataBatch, DatasetArrays, DatasetImages, RunData } from './runner-types.js';

export function isIterable(d: unknown): d is Iterable<DataBatch> | AsyncIterable<DataBatch> {
  return (
    d != null &&
    (typeof (d as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (d as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}

const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export interface NormalisedBatch {
  x: tf.Tensor;
  owned: boolean;
  y: LabelsInput;
  target?: ArrayLike<number>;
}

export async function* batchesOf(
  data: RunData,
  batchSize: number,
  target: ArrayLike<number> | undefined,
): AsyncGenerator<NormalisedBatch> {
  const fn = 'runAttack';
  if (isIterable(data) && !('shape' in (data as object))) {
    let i = 0;
    for await (const b of data as AsyncIterable<DataBatch>) {
      if (b == null || typeof b !== 'object')
        throw new AttackInputError(fn, `data batch ${i}`, '{ x, y, shape? }', describe(b));
      if (b.x instanceof tf.Tensor) {
        yield { x: b.x, owned: false, y: b.y, target: b.target };
      } else if (b.x instanceof Float32Array) {
        const shape = b.shape;
        if (!shape || product(shape) !== b.x.length) {
          throw new AttackInputError(
            fn,
            `data batch ${i}: shape`,
            `[batch, ...] with ${b.x.length} values in all`,
            describe(shape),
          );
        }
        yield { x: tf.tensor(b.x, [...shape]), owned: true, y: b.y, target: b.target };
      } else {
        throw new AttackInputError(
          fn,
          `data batch ${i}: x`,
          'a Float32Array or a tf.Tensor',
          describe(b.x),
        );
      }
      i++;
    }
    return;
  }
  const d = data as Partial<DatasetArrays & DatasetImages>;
  const x = d.x ?? d.images;
  const y = d.y ?? d.labels;
  const shape = d.shape;
  if (!(x instanceof Float32Array))
    throw new AttackInputError(fn, 'data.x', 'a Float32Array (or data.images)', describe(x));
  if (!Array.isArray(shape) || shape.length < 2 || product(shape) !== x.length) {
    throw new AttackInputError(
      fn,
      'data.shape',
      `[examples, ...exampleShape] with ${x.length} values in all`,
      describe(shape),
    );
  }
  const n = shape[0]!;
  if (y == null || y.length !== n)
    throw new AttackInputError(fn, 'data.y', `${n} labels (shape[0])`, describe(y));
  if (target != null && target.length !== n)
    throw new AttackInputError(fn, 'target', `${n} target labels`, describe(target));
  const per = product(shape.slice(1));
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const xs = tf.tensor(x.subarray(start * per, end * per), [end - start, ...shape.slice(1)]);
    const slice = (a: ArrayLike<number>) => Array.prototype.slice.call(a, start, end) as number[];
    yield { x: xs, owned: true, y: slice(y), target: target ? slice(target) : undefined };
  }
}
