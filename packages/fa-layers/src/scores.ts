import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type Batch, checkBatch, oneHot, outputClasses } from './data.js';

/** What training minimises and reports: cross-entropy and accuracy of logits, and evaluate(). */

/** Cross-entropy (sum over the batch) and number correct of logits against one-hot labels. */
export function scores(
  logits: tf.Tensor,
  labels: tf.Tensor,
): { lossSum: tf.Scalar; correct: tf.Scalar } {
  return tf.tidy(() => {
    const lossSum = tf.mul(
      tf.losses.softmaxCrossEntropy(labels, logits),
      logits.shape[0]!,
    ) as tf.Scalar;
    const correct = tf.sum(
      tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(labels, 1)), 'float32'),
    ) as tf.Scalar;
    return { lossSum, correct };
  });
}

/**
 * Loss and accuracy of a model on data, in batches (no training flag: brsf draws nothing).
 * Returns plain numbers.
 */
export async function evaluate(
  model: tfl.LayersModel,
  data: Batch,
  batchSize = 256,
): Promise<{ loss: number; accuracy: number }> {
  const classes = outputClasses(model);
  checkBatch('data', data, classes);
  const n = data.x.shape[0]!;
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [l, c] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const y = oneHot(tf.slice(data.y, start, size), classes);
      const s = scores(model.predict(x) as tf.Tensor, y);
      return [tf.add(lossSum, s.lossSum), tf.add(correct, s.correct)];
    });
    tf.dispose([lossSum, correct]);
    lossSum = l as tf.Scalar;
    correct = c as tf.Scalar;
  }
  const [loss, acc] = [(await lossSum.data())[0]!, (await correct.data())[0]!];
  tf.dispose([lossSum, correct]);
  return { loss: loss / n, accuracy: acc / n };
}

/**
 * `loss` plus the model's regularisation penalties (its layers' kernelRegularizer,
 * biasRegularizer..., nested models included), added one by one as model.fit adds them; `loss`
 * itself when the model has none. (A Sequential model has them once it is built, i.e. once it
 * has run: call it after the forward pass.)
 */
export function withPenalties(model: tfl.LayersModel, loss: tf.Scalar): tf.Scalar {
  let total = loss;
  for (const penalty of model.calculateLosses()) total = tf.add(total, penalty) as tf.Scalar;
  return total;
}

/**
 * The gradients of the model's regularisation penalties with respect to `vars`, in order (null
 * for a variable no penalty reads); null when the model has no penalty.
 */
export function penaltyGradients(
  model: tfl.LayersModel,
  vars: readonly tf.Variable[],
): (tf.Tensor | null)[] | null {
  let count = 0;
  const { value, grads } = tf.engine().gradients(
    () => {
      const penalties = model.calculateLosses();
      count = penalties.length;
      let total = tf.scalar(0);
      for (const penalty of penalties) total = tf.add(total, penalty) as tf.Scalar;
      return total;
    },
    vars as tf.Variable[],
    undefined,
    true,
  );
  value.dispose();
  if (count > 0) return grads;
  tf.dispose(grads.filter((g) => g != null));
  return null;
}
