import * as tf from '@tensorflow/tfjs-core';

/**
 * The loss an attack maximises, per example, computed on logits:
 * - 'ce': cross-entropy. Untargeted: CE(z, y). Targeted: -CE(z, t).
 * - 'margin': the Carlini-Wagner logit margin. Untargeted: max_{j != y} z_j - z_y.
 *   Targeted: z_t - max_{j != t} z_j. Positive exactly when the attack has succeeded.
 * - 'dlr': Croce & Hein's difference of logits ratio (scale-invariant margin). Untargeted:
 *   (max_{j != y} z_j - z_y) / (z_pi1 - z_pi3); targeted: (z_t - z_y) / (z_pi1 - (z_pi3 + z_pi4) / 2),
 *   z_pi the logits sorted in decreasing order. Needs at least 3 (untargeted) or 4 (targeted) classes.
 */
export type LossName = 'ce' | 'margin' | 'dlr';

export const LOSS_NAMES: readonly LossName[] = ['ce', 'margin', 'dlr'];

/** What an attack is after, handed to gradient sources: the loss, the true labels, the target labels. */
export interface Objective {
  readonly loss: LossName;
  /** True labels, int32 [batch]. */
  readonly labels: tf.Tensor1D;
  /** Target labels, int32 [batch], in targeted mode; null when untargeted. */
  readonly target: tf.Tensor1D | null;
  /** Number of classes of the attacked model's logits. */
  readonly numClasses: number;
}

/**
 * One-hot masks of the k largest logits per row, stacked as [k, batch, classes], with a zero
 * gradient. They are computed inside a customGrad forward pass, which tfjs does not record on
 * the tape, so the sort (TopK, which has no gradient in tfjs) never enters backpropagation.
 */
function topMasks(z: tf.Tensor2D, k: number): tf.Tensor2D[] {
  const masks = tf.customGrad((input, save) => {
    const logits = input as tf.Tensor2D;
    (save as tf.GradSaveFunc)([logits]);
    const { indices } = tf.topk(logits, k);
    const value = tf.stack(
      Array.from({ length: k }, (_, i) =>
        tf.cast(
          tf.oneHot(
            tf.reshape(tf.slice(indices, [0, i], [-1, 1]), [-1]) as tf.Tensor1D,
            logits.shape[1],
          ),
          'float32',
        ),
      ),
    );
    return { value, gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => tf.zerosLike(saved[0]!) };
  })(z);
  return tf.unstack(masks, 0) as tf.Tensor2D[];
}

function pick(z: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.mul(z, mask), 1) as tf.Tensor1D;
}

function maxExcept(z: tf.Tensor2D, oneHotMask: tf.Tensor2D): tf.Tensor1D {
  const masked = tf.where(
    tf.cast(oneHotMask, 'bool'),
    tf.fill(z.shape, Number.NEGATIVE_INFINITY),
    z,
  );
  return tf.max(masked, 1) as tf.Tensor1D;
}

/** The attack loss per example (shape [batch]); larger is better for the attacker. Differentiable in z. */
export function objectiveLoss(logits: tf.Tensor, objective: Objective): tf.Tensor1D {
  return tf.tidy((): tf.Tensor1D => {
    const z = logits as tf.Tensor2D;
    const k = z.shape[1];
    const yMask = tf.cast(tf.oneHot(objective.labels, k), 'float32') as tf.Tensor2D;
    const tMask = objective.target
      ? (tf.cast(tf.oneHot(objective.target, k), 'float32') as tf.Tensor2D)
      : null;
    switch (objective.loss) {
      case 'ce': {
        const lse = tf.logSumExp(z, 1) as tf.Tensor1D;
        if (tMask) return tf.neg(tf.sub(lse, pick(z, tMask))) as tf.Tensor1D;
        return tf.sub(lse, pick(z, yMask)) as tf.Tensor1D;
      }
      case 'margin': {
        if (tMask) return tf.sub(pick(z, tMask), maxExcept(z, tMask)) as tf.Tensor1D;
        return tf.sub(maxExcept(z, yMask), pick(z, yMask)) as tf.Tensor1D;
      }
      case 'dlr': {
        if (tMask) {
          const [p1, , p3, p4] = topMasks(z, 4);
          const denom = tf.sub(pick(z, p1!), tf.mul(0.5, tf.add(pick(z, p3!), pick(z, p4!))));
          return tf.div(
            tf.sub(pick(z, tMask), pick(z, yMask)),
            tf.add(denom, 1e-12),
          ) as tf.Tensor1D;
        }
        const [p1, , p3] = topMasks(z, 3);
        const denom = tf.sub(pick(z, p1!), pick(z, p3!));
        return tf.div(
          tf.sub(maxExcept(z, yMask), pick(z, yMask)),
          tf.add(denom, 1e-12),
        ) as tf.Tensor1D;
      }
    }
  });
}

/** Per example (bool [batch]): untargeted, the prediction differs from the label; targeted, it equals the target. */
export function fooledMask(logits: tf.Tensor, objective: Objective): tf.Tensor1D {
  return tf.tidy(() => {
    const pred = tf.argMax(logits, 1);
    return (
      objective.target ? tf.equal(pred, objective.target) : tf.notEqual(pred, objective.labels)
    ) as tf.Tensor1D;
  });
}
