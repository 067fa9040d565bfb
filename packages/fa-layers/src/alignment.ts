import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { FaConv2D } from './conv2d.js';
import type { FaDense } from './dense.js';
import { TrainDataError } from './errors.js';
import type { FeedbackMode } from './modes.js';
import { feedbackLayers } from './register.js';
import { backpropTwin } from './twin.js';

export interface LayerAlignment {
  /** The layer name. */
  layer: string;
  feedback: FeedbackMode;
  /**
   * The angle in degrees between W and B (the matrix the layer sends the error back through,
   * in W's shape: the angle between W^T and B^T is the same). 0 means backprop; about 90 an
   * unrelated random B. null in dfa, whose B_dfa has another shape, and when W or B is exactly
   * zero (no direction: e.g. a zero-initialised kernel), or holds non-finite values.
   */
  angle: number | null;
}

/**
 * B in the kernel's shape, as the layer's backward pass uses it now (the mode table's `matrix`,
 * as in the kernels), a new tensor; null in dfa.
 */
export function currentFeedback(layer: FaDense | FaConv2D): tf.Tensor | null {
  return layer.feedbackState.feedbackMatrix(layer.kernel!.read());
}

/**
 * The device's angle (acos of the cosine clipped to [-1, 1]) when it is defined, else NaN: when
 * either norm is 0 (a zero vector has no direction) or the cosine is not finite (NaN or infinite
 * values, an overflowing norm). Tested here, in JS, so that every backend agrees: wasm's
 * `clipByValue(NaN, -1, 1)` is -1, which made such a pair 180 degrees.
 */
function definedAngle(angle: number, normA: number, normB: number, cos: number): number {
  return normA > 0 && normB > 0 && Number.isFinite(cos) ? angle : Number.NaN;
}

/** [angle in degrees, |a|, |b|, cos before clipping] of two tensors, flattened. */
function angleOf(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const [na, nb] = [tf.norm(a), tf.norm(b)];
    const cos = tf.div(tf.sum(tf.mul(a, b)), tf.mul(na, nb));
    const angle = tf.mul(tf.acos(tf.clipByValue(cos, -1, 1)), 180 / Math.PI);
    return tf.stack([angle, na, nb, cos]) as tf.Tensor1D;
  });
}

/**
 * Per feedback layer, the angle between its forward weights W and the feedback B its backward
 * pass uses (BioTorch's layer alignment). Reads the device once per layer.
 *
 * @example
 * for (const a of alignment(model)) console.log(a.layer, a.angle?.toFixed(1));
 */
export function alignment(model: tfl.LayersModel): LayerAlignment[] {
  return feedbackLayers(model).map((layer) => {
    const b = currentFeedback(layer);
    if (b == null) return { layer: layer.name, feedback: layer.feedbackState.mode, angle: null };
    const parts = angleOf(layer.kernel!.read(), b);
    const [angle, normW, normB, cos] = parts.dataSync() as Float32Array;
    tf.dispose([parts, b]);
    const value = definedAngle(angle!, normW!, normB!, cos!);
    return {
      layer: layer.name,
      feedback: layer.feedbackState.mode,
      angle: Number.isNaN(value) ? null : value,
    };
  });
}

export interface GradientAngleOptions {
  /** The true-gradient model. Default: backpropTwin(model), made and disposed by this call. */
  twin?: tfl.LayersModel;
  /** Images per gradient computation. Default 128. */
  batchSize?: number;
}

export interface GradientAngles {
  /**
   * Per image, the angle in degrees between the input gradient of the cross-entropy along the
   * model's backward path (what a gradient attack on the model sees) and the true input
   * gradient (the backprop twin's). NaN for an image where either gradient is exactly zero (a
   * saturated softmax, dead ReLUs) or not finite, on every backend.
   */
  angles: Float32Array;
  /** The mean over the images whose angle is defined (not NaN); NaN when none is. */
  mean: number;
}

/**
 * Per-row [angle in degrees, |a|, |b|, cos before clipping] of two [n, ...] tensors, as a
 * [4, n] tensor (one device read per batch); definedAngle() makes the angle of a zero row NaN.
 */
function rowAngles(a: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const n = a.shape[0]!;
    const a2 = tf.reshape(a, [n, -1]);
    const b2 = tf.reshape(b, [n, -1]);
    const dot = tf.sum(tf.mul(a2, b2), 1);
    const [na, nb] = [tf.norm(a2, 'euclidean', 1), tf.norm(b2, 'euclidean', 1)];
    const rawCos = tf.div(dot, tf.mul(na, nb));
    const angle = tf.mul(tf.acos(tf.clipByValue(rawCos, -1, 1)), 180 / Math.PI);
    return tf.stack([angle, na, nb, rawCos]) as tf.Tensor2D;
  });
}

/** How a batch's cross-entropies are combined before differentiating. */
export type GradientReduction = 'sum' | 'mean';

export interface InputGradientOptions {
  /** The model's backprop twin, if built already (otherwise one is built, used and disposed). */
  twin?: tfl.LayersModel;
  /**
   * 'sum' (default): each image's gradient is that of its own loss. 'mean': tf.losses' default
   * reduction, every gradient divided by the batch size (the same directions, other roundings).
   */
  reduction?: GradientReduction;
}

/** Labels as one-hot rows for `model`'s classes (class ids [n] or one-hot [n, classes]). */
function oneHotFor(model: tfl.LayersModel, y: tf.Tensor): tf.Tensor {
  if (y.rank === 2) return y;
  return tf.oneHot(tf.cast(y, 'int32'), model.outputs[0]!.shape.at(-1)!);
}

/** Both input gradients of one batch (inside the caller's tidy). */
function gradientPair(
  model: tfl.LayersModel,
  twin: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  reduction: GradientReduction,
): { own: tf.Tensor; true: tf.Tensor } {
  const oneHot = oneHotFor(model, y);
  const r = reduction === 'sum' ? tf.Reduction.SUM : tf.Reduction.SUM_BY_NONZERO_WEIGHTS;
  const lossOf = (m: tfl.LayersModel) => (xi: tf.Tensor) =>
    tf.losses.softmaxCrossEntropy(oneHot, m.apply(xi) as tf.Tensor, undefined, undefined, r);
  return { own: tf.grad(lossOf(model))(x), true: tf.grad(lossOf(twin))(x) };
}

/**
 * The input gradient of the cross-entropy along `model`'s own backward path (what a gradient
 * attack on it follows: for fa, through the feedback matrices) and its true input gradient
 * (through the backprop twin), for one batch. The caller disposes both.
 *
 * @param y class ids [n] or one-hot [n, classes].
 * @example
 * const g = await inputGradients(faModel, x, y, { twin });
 * const angles = gradientAlignment(g.own.dataSync(), g.true.dataSync()); // @fa-robust/metrics
 */
export async function inputGradients(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  options: InputGradientOptions = {},
): Promise<{ own: tf.Tensor; true: tf.Tensor }> {
  const n = x.shape[0]!;
  if (y.shape[0] !== n)
    throw new TrainDataError(
      'inputGradients',
      'y',
      `${n} labels (one per image of x)`,
      `shape [${y.shape}]`,
    );
  const twin = options.twin ?? (await backpropTwin(model));
  try {
    return tf.tidy(() => gradientPair(model, twin, x, y, options.reduction ?? 'sum'));
  } finally {
    if (options.twin == null) twin.dispose();
  }
}

/**
 * How far a model's backward-path input gradient is from its true input gradient, per image:
 * the gradient-masking question in one number. 0 for bp; large for fa, whose attacks then follow
 * a direction unrelated to the loss.
 *
 * @param y class ids [n] or one-hot [n, classes].
 * @example
 * const { mean } = await inputGradientAngles(faModel, x, y);
 */
export async function inputGradientAngles(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  options: GradientAngleOptions = {},
): Promise<GradientAngles> {
  const where = 'inputGradientAngles';
  const n = x.shape[0]!;
  if (y.shape[0] !== n)
    throw new TrainDataError(where, 'y', `${n} labels (one per image of x)`, `shape [${y.shape}]`);
  const batchSize = options.batchSize ?? 128;
  const twin = options.twin ?? (await backpropTwin(model));
  const angles = new Float32Array(n);
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batchAngles = tf.tidy(() => {
        const xb = tf.slice(x, start, size);
        // Summed (not averaged) so that each image's gradient is its own loss's gradient.
        const g = gradientPair(model, twin, xb, tf.slice(y, start, size), 'sum');
        return rowAngles(g.own, g.true);
      });
      const parts = (await batchAngles.data()) as Float32Array;
      batchAngles.dispose();
      for (let i = 0; i < size; i++) {
        angles[start + i] = definedAngle(
          parts[i]!,
          parts[size + i]!,
          parts[2 * size + i]!,
          parts[3 * size + i]!,
        );
      }
    }
  } finally {
    if (options.twin == null) twin.dispose();
  }
  let sum = 0;
  let count = 0;
  for (const a of angles) {
    if (Number.isFinite(a)) {
      sum += a;
      count++;
    }
  }
  return { angles, mean: count > 0 ? sum / count : Number.NaN };
}
