import { seededValues } from '@fa-robust/test-utils';
import * as tf from '@tensorflow/tfjs-core';

export { seededValues };

/** Runs `f` on the named backend and returns its outputs as plain arrays. */
export async function onBackend<T extends tf.Tensor | tf.Tensor[]>(
  name: string,
  f: () => T,
): Promise<Float32Array[]> {
  await tf.setBackend(name);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  return values;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}
