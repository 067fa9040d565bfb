/**
 * Input validation of an attack call: the arguments (before any tensor op), then the clean
 * forward pass (shape, classes, labels in range, pixels in bounds, logits not probabilities).
 * Every failure is a typed error naming the attack, the field, what was expected and found.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AttackAbortedError, AttackInputError, describe, ModelOutputError } from './errors.js';
import { type GradientSource, ownGradient } from './gradient.js';
import {
  checkLabelClasses,
  type LabelsInput,
  type LogitsFunction,
  labelColumns,
  logitsFunction,
  type Model,
  readLabels,
} from './model.js';
import { LOSS_NAMES, type LossName } from './objective.js';
import type { AttackName, GradientAttackOptions } from './types.js';

/** What an attack file tells the validation about itself. */
export interface SetupDefaults {
  loss: LossName;
  /** Gradient-free attacks take no gradient source. */
  gradientFree?: boolean;
}

/** The arguments of one call, checked and with their defaults filled in. */
export interface CheckedCall {
  forward: LogitsFunction;
  epsilon: number;
  bounds: readonly [number, number];
  loss: LossName;
  source: GradientSource | null;
  labels: Int32Array;
  target: Int32Array | null;
  /** The width of one-hot `y` and `target` (null: class indices), checked against the model's classes. */
  columns: { labels: number | null; target: number | null };
}

/** Checks the arguments of an attack call; no tensor op, no data read. */
export function checkCall(
  fn: AttackName,
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: GradientAttackOptions,
  defaults: SetupDefaults,
): CheckedCall {
  if (options == null || typeof options !== 'object') {
    throw new AttackInputError(
      fn,
      'options',
      'an object with at least { epsilon }',
      describe(options),
    );
  }
  const forward = logitsFunction(fn, model);
  if (!(x instanceof tf.Tensor))
    throw new AttackInputError(fn, 'x', 'a tf.Tensor batch of inputs', describe(x));
  if (x.isDisposed) throw new AttackInputError(fn, 'x', 'a live tensor', 'a disposed tensor');
  if (x.dtype !== 'float32')
    throw new AttackInputError(fn, 'x', 'a float32 tensor', `dtype '${x.dtype}'`);
  if (x.rank < 2 || x.shape[0] === 0) {
    throw new AttackInputError(fn, 'x', 'a batch of shape [batch >= 1, ...features]', describe(x));
  }
  const epsilon = options.epsilon;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) {
    throw new AttackInputError(fn, 'options.epsilon', 'a finite number >= 0', describe(epsilon));
  }
  const bounds = options.bounds ?? ([0, 1] as const);
  if (
    !Array.isArray(bounds) ||
    bounds.length !== 2 ||
    !bounds.every((b) => typeof b === 'number' && Number.isFinite(b)) ||
    !(bounds[0] < bounds[1])
  ) {
    throw new AttackInputError(
      fn,
      'options.bounds',
      '[low, high] with finite low < high',
      describe(bounds),
    );
  }
  const loss = options.loss ?? defaults.loss;
  if (!LOSS_NAMES.includes(loss)) {
    throw new AttackInputError(
      fn,
      'options.loss',
      `one of ${LOSS_NAMES.map((l) => `'${l}'`).join(', ')}`,
      describe(loss),
    );
  }
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new AttackInputError(fn, 'options.seed', 'a finite number', describe(seed));
  }
  if (options.signal?.aborted) throw new AttackAbortedError(fn, { cause: options.signal.reason });
  let source: GradientSource | null = null;
  if (!defaults.gradientFree) {
    source = options.gradient ?? ownGradient(model);
    if (typeof source?.evaluate !== 'function') {
      throw new AttackInputError(
        fn,
        'options.gradient',
        'a GradientSource (ownGradient, modelGradient, customGradient)',
        describe(source),
      );
    }
  } else if (options.gradient != null) {
    throw new AttackInputError(
      fn,
      'options.gradient',
      `absent: ${fn} is gradient-free`,
      'a gradient source',
    );
  }
  const batch = x.shape[0]!;
  const labels = readLabels(fn, 'y', y, batch);
  const target =
    options.target != null ? readLabels(fn, 'options.target', options.target, batch) : null;
  const columns = {
    labels: labelColumns(y),
    target: options.target != null ? labelColumns(options.target) : null,
  };
  return { forward, epsilon, bounds, loss, source, labels, target, columns };
}

/**
 * Checks the model's output on the clean input: [batch, classes >= 2] logits, labels and
 * targets below the class count (one-hot ones exactly as wide), and (unless `validate` is false, one data read) finite pixels
 * inside the bounds and finite logits that are not probabilities.
 */
export async function checkCleanPass(
  fn: AttackName,
  x: tf.Tensor,
  cleanLogits: tf.Tensor,
  call: CheckedCall,
  validate: boolean,
): Promise<void> {
  const { bounds, loss, labels, target } = call;
  const batch = x.shape[0]!;
  if (
    !(cleanLogits instanceof tf.Tensor) ||
    cleanLogits.rank !== 2 ||
    cleanLogits.shape[0] !== batch ||
    cleanLogits.shape[1]! < 2
  ) {
    throw new ModelOutputError(
      fn,
      `logits of shape [${batch}, classes >= 2]`,
      describe(cleanLogits),
    );
  }
  const k = cleanLogits.shape[1]!;
  const minClasses = loss === 'dlr' ? (target ? 4 : 3) : 2;
  if (k < minClasses) {
    throw new AttackInputError(
      fn,
      'options.loss',
      `a loss the model's ${k} classes allow ('dlr' needs ${minClasses})`,
      `'${loss}'`,
    );
  }
  checkLabelClasses(fn, 'y', labels, call.columns.labels, k);
  if (target) checkLabelClasses(fn, 'options.target', target, call.columns.target, k);
  if (!validate) return;
  const stats = tf.tidy(() => {
    const finiteX = tf.isFinite(x);
    const xs = tf.where(finiteX, x, tf.zerosLike(x));
    const rowDev = tf.max(tf.abs(tf.sub(tf.sum(cleanLogits, 1), 1)));
    return tf.stack([
      tf.min(xs),
      tf.max(xs),
      tf.sum(tf.cast(tf.logicalNot(finiteX), 'float32')),
      tf.sum(tf.cast(tf.logicalNot(tf.isFinite(cleanLogits)), 'float32')),
      tf.min(cleanLogits),
      tf.max(cleanLogits),
      rowDev,
    ]);
  });
  const [xmin, xmax, xBad, zBad, zmin, zmax, dev] = Array.from(await stats.data());
  stats.dispose();
  if (xBad! > 0)
    throw new AttackInputError(fn, 'x', 'finite pixel values', `${xBad} NaN or infinite values`);
  const tol = 1e-6 * Math.max(1, Math.abs(bounds[0]), Math.abs(bounds[1]));
  if (xmin! < bounds[0] - tol || xmax! > bounds[1] + tol) {
    throw new AttackInputError(
      fn,
      'x',
      `pixels within options.bounds [${bounds[0]}, ${bounds[1]}]`,
      `values in [${xmin}, ${xmax}]`,
    );
  }
  if (zBad! > 0)
    throw new ModelOutputError(
      fn,
      'finite logits on the clean input',
      `${zBad} NaN or infinite values`,
    );
  if (zmin! >= 0 && zmax! <= 1 && dev! < 1e-3) {
    throw new ModelOutputError(
      fn,
      'logits (remove the final softmax: the losses and gradients here assume logits)',
      'probabilities: every value in [0, 1] and every row summing to 1',
    );
  }
}
