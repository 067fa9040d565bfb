import * as tf from '@tensorflow/tfjs-core';

import { seededValues } from '@fa-robust/test-utils';

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
