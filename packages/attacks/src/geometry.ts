/**
 * Per-example tensor geometry: broadcasting a per-example vector, blending by a mask, the
 * per-example norms, and the projections onto the L-inf and L2 balls. Pure functions of
 * tensors (call them inside tf.tidy).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Reshapes a per-example vector [B] to [B, 1, 1, ...] so it broadcasts against x. */
export function perExample(v: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(v, [v.shape[0]!, ...new Array(rank - 1).fill(1)]);
}

/**
 * Per-example choice: a where the mask (bool [B], or float 0/1 broadcastable to a) is true,
 * else b. Computed as a * m + b * (1 - m), exact for finite values (x * 1 = x, x * 0 = 0):
 * on wasm, tf.where with a broadcast condition tiles a bool tensor, which is ~40x slower.
 */
export function blend(mask: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m =
      mask.rank === 1 && a.rank > 1
        ? perExample(tf.cast(mask, 'float32'), a.rank)
        : tf.cast(mask, 'float32');
    return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m)));
  });
}

/** The non-batch axes of a tensor. */
export function exampleAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i + 1);
}

/** Per-example L2 norm, shaped [B, 1, 1, ...] for broadcasting. */
export function l2Norm(t: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(t), exampleAxes(t.rank), true));
}

/** Per-example L1 norm, shaped [B, 1, 1, ...]. */
export function l1Norm(t: tf.Tensor): tf.Tensor {
  return tf.sum(tf.abs(t), exampleAxes(t.rank), true);
}

/** Projection onto the L-inf ball of radius eps around x0. */
export function projectLinf(x: tf.Tensor, x0: tf.Tensor, eps: number): tf.Tensor {
  return tf.minimum(tf.maximum(x, tf.sub(x0, eps)), tf.add(x0, eps));
}

/** Projection onto the L2 ball of radius eps around x0 (per example). */
export function projectL2(x: tf.Tensor, x0: tf.Tensor, eps: number): tf.Tensor {
  const d = tf.sub(x, x0);
  const factor = tf.minimum(1, tf.div(eps, tf.maximum(l2Norm(d), 1e-12)));
  return tf.add(x0, tf.mul(d, factor));
}
