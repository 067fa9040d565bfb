import { seededValues } from '@fa-robust/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { conv2d } from './conv2d.js';
import type { Batch } from './data.js';
import { dense } from './dense.js';
import type { FeedbackMode } from './modes.js';

export { seededValues };

export function seededTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    seededValues(n, seed).map((v) => v * scale),
    shape,
  );
}

export function values(t: tf.Tensor | tf.Variable): Float32Array {
  return t.dataSync() as Float32Array;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** a [n, k] · b [k, m] (or b^T when b is [m, k] and transposeB), in float64, in plain JS. */
export function jsMatMul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  m: number,
  transposeB = false,
): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * (transposeB ? b[j * k + p]! : b[p * m + j]!);
      out[i * m + j] = s;
    }
  return out;
}

/** a^T · b for a [n, k] and b [n, m], in float64. */
export function jsMatMulTA(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  m: number,
): Float64Array {
  const out = new Float64Array(k * m);
  for (let p = 0; p < k; p++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += a[i * k + p]! * b[i * m + j]!;
      out[p * m + j] = s;
    }
  return out;
}

/**
 * Central finite differences of a scalar function of one tensor, element by element, in
 * float32 (the forward pass is tfjs): fine for small tensors and smooth functions.
 */
export function finiteDifferences(
  f: (x: tf.Tensor) => tf.Scalar,
  x: tf.Tensor,
  eps = 1e-2,
): Float64Array {
  const base = Float32Array.from(values(x));
  const out = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const at = (delta: number) =>
      tf.tidy(() => {
        const v = Float32Array.from(base);
        v[i] = v[i]! + delta;
        return f(tf.tensor(v, x.shape)).dataSync()[0]!;
      });
    out[i] = (at(eps) - at(-eps)) / (2 * eps);
  }
  return out;
}

/** The angle in degrees between two flattened arrays. */
export function angleDegrees(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  const c = Math.min(1, Math.max(-1, ab / Math.sqrt(aa * bb)));
  return (Math.acos(c) * 180) / Math.PI;
}

/** Two separable classes of 8x8 images (bright top half vs bright bottom half), with noise. */
export function blobs(n: number, seed: number): Batch {
  return tf.tidy(() => {
    const labels = Array.from({ length: n }, (_, i) => i % 2);
    const rows = tf.reshape(tf.range(0, 8), [1, 8, 1, 1]);
    const top = tf.cast(tf.less(rows, 4), 'float32');
    const cls = tf.reshape(tf.tensor1d(labels, 'float32'), [n, 1, 1, 1]);
    const img = tf.add(
      tf.add(tf.mul(top, tf.sub(1, cls)), tf.mul(tf.sub(1, top), cls)),
      tf.mul(seededTensor([n, 8, 8, 1], seed), 0.3),
    );
    return { x: img, y: tf.tensor1d(labels, 'int32') };
  });
}

export function smallNet(
  feedback: FeedbackMode,
  seed = 1,
  extra: Record<string, unknown> = {},
): tfl.Sequential {
  const dfa = feedback === 'dfa';
  return tfl.sequential({
    layers: [
      conv2d({
        inputShape: [8, 8, 1],
        filters: 4,
        kernelSize: 3,
        activation: 'relu',
        feedback,
        seed,
        ...(dfa ? { dfaOutputUnits: 2 } : {}),
        ...extra,
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      dense({
        units: 8,
        activation: 'relu',
        feedback,
        seed: seed + 1,
        ...(dfa ? { dfaOutputUnits: 2 } : {}),
        ...extra,
      }),
      dense({
        units: 2,
        feedback,
        seed: seed + 2,
        ...(dfa ? { dfaOutput: true } : {}),
        ...extra,
      }),
    ],
  });
}
