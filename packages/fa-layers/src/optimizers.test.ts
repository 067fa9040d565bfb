import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FeedbackOptionError } from './errors.js';
import { createOptimizer, defaultLearningRate, disposeOptimizer } from './optimizers.js';

beforeAll(async () => {
  await setupBackend();
});

/** One minimize step of f(w) = sum(w^2) / 2 from w0: its gradient is w itself. */
function step(name: 'sgd' | 'momentum' | 'adam', lr: number, w0: number[], steps: number) {
  const init = tf.tensor1d(w0);
  const w = tf.variable(init);
  init.dispose();
  const optimizer = createOptimizer(name, lr);
  for (let i = 0; i < steps; i++)
    optimizer.minimize(() => tf.mul(0.5, tf.sum(tf.square(w))) as tf.Scalar);
  const out = Array.from(w.dataSync());
  disposeOptimizer(optimizer);
  w.dispose();
  return out;
}

describe('createOptimizer / disposeOptimizer', () => {
  it('makes the update rules train() documents, against their closed forms', () => {
    // SGD: w <- w - lr w
    expect(step('sgd', 0.1, [2, -1], 1)).toEqual([2 * 0.9, -0.9].map(Math.fround));
    // momentum 0.9: v1 = g1 = w0, w1 = w0 - lr v1; v2 = 0.9 v1 + w1, w2 = w1 - lr v2
    const w1 = 2 - 0.1 * 2;
    const w2 = w1 - 0.1 * (0.9 * 2 + w1);
    expect(step('momentum', 0.1, [2], 2)[0]).toBeCloseTo(w2, 6);
    // Adam's first step moves every weight by lr against its gradient's sign
    const a = step('adam', 0.01, [3, -0.5], 1);
    expect(a[0]).toBeCloseTo(3 - 0.01, 5);
    expect(a[1]).toBeCloseTo(-0.5 + 0.01, 5);
  });

  it('uses the default learning rates of train()', () => {
    expect(defaultLearningRate('adam')).toBe(1e-3);
    expect(defaultLearningRate('sgd')).toBe(0.01);
    expect(step('sgd', defaultLearningRate('sgd'), [1], 1)[0]).toBeCloseTo(0.99, 6);
  });

  it('frees every tensor an optimizer made, momentum included', () => {
    for (const name of ['sgd', 'momentum', 'adam'] as const) {
      const before = tf.memory().numTensors;
      step(name, 0.05, [1, 2, 3], 3);
      expect({ name, leaked: tf.memory().numTensors - before }).toEqual({ name, leaked: 0 });
    }
  });

  it('refuses unknown names and learning rates that are not > 0, naming what it takes', () => {
    expect(() => createOptimizer('rmsprop' as 'sgd')).toThrow(FeedbackOptionError);
    expect(() => createOptimizer('rmsprop' as 'sgd')).toThrow(/'sgd', 'momentum' or 'adam'/);
    for (const lr of [0, -1, Number.NaN]) {
      expect(() => createOptimizer('adam', lr)).toThrow(/learningRate.*a number > 0/);
    }
  });
});
