import * as tf from '@tensorflow/tfjs-core';
import { FeedbackOptionError } from './errors.js';

/** The optimizers train() makes by name: 'momentum' is SGD with momentum 0.9. */
export type OptimizerName = 'sgd' | 'momentum' | 'adam';

/** The learning rate a named optimizer gets when none is given. */
export function defaultLearningRate(name: OptimizerName): number {
  return name === 'adam' ? 1e-3 : 0.01;
}

/**
 * Makes the optimizer train() makes for `name`: `adam` (tfjs' defaults), `sgd`, or `momentum`
 * (0.9). Free it with {@link disposeOptimizer}, not `optimizer.dispose()` alone.
 */
export function createOptimizer(
  name: OptimizerName,
  learningRate: number = defaultLearningRate(name),
  where = 'createOptimizer',
): tf.Optimizer {
  if (typeof learningRate !== 'number' || !(learningRate > 0))
    throw new FeedbackOptionError(where, 'learningRate', 'a number > 0', learningRate);
  if (name === 'adam') return tf.train.adam(learningRate);
  if (name === 'sgd') return tf.train.sgd(learningRate);
  if (name === 'momentum') return tf.train.momentum(learningRate, 0.9);
  throw new FeedbackOptionError(
    where,
    'optimizer',
    "a tf.Optimizer, 'sgd', 'momentum' or 'adam'",
    name,
  );
}

/**
 * Frees an optimizer's state tensors, all of them: in tfjs 4.22, MomentumOptimizer.dispose()
 * forgets the learning-rate scalar its SGD base keeps, and one tensor leaks per optimizer.
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
}
