import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { GradientError } from './errors.js';
import { customGradient, modelGradient, ownGradient } from './gradient.js';
import { type LossName, type Objective, objectiveLoss } from './objective.js';
import {
  cosine,
  linearGradient,
  linearModel,
  symmetric,
  twinModels,
  uniform,
} from './test-utils.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

function objective(loss: LossName, labels: number[], k: number, target?: number[]): Objective {
  return {
    loss,
    labels: tf.tensor1d(labels, 'int32'),
    target: target ? tf.tensor1d(target, 'int32') : null,
    numClasses: k,
  };
}

function disposeObjective(o: Objective) {
  tf.dispose([o.labels, ...(o.target ? [o.target] : [])]);
}

describe('gradient sources', () => {
  it('ownGradient of a linear softmax model equals the closed form, for ce, targeted ce and margin', () => {
    const start = tf.memory().numTensors;
    const m = linearModel(12, 4, 7, 2);
    const xv = uniform(3 * 12, 3);
    const x = tf.tensor2d(xv, [3, 12]);
    const y = [0, 2, 3];
    const t = [1, 1, 0];
    const cases: [LossName, number[] | undefined][] = [
      ['ce', undefined],
      ['ce', t],
      ['margin', undefined],
      ['margin', t],
    ];
    for (const [loss, target] of cases) {
      const obj = objective(loss, y, 4, target);
      const { gradient, logits } = ownGradient(m.model).evaluate(x, obj);
      const g = gradient.dataSync();
      for (let i = 0; i < 3; i++) {
        const ref = linearGradient(m, xv, i, y[i]!, loss as 'ce' | 'margin', target?.[i]);
        for (let p = 0; p < 12; p++) expect(g[i * 12 + p]).toBeCloseTo(ref[p]!, 5);
      }
      // the logits ride along with the gradient and equal a plain forward pass
      const z = tf.tidy(() => m.model(x));
      expect(Array.from(logits!.dataSync())).toEqual(Array.from(z.dataSync()));
      tf.dispose([gradient, logits!, z]);
      disposeObjective(obj);
    }
    x.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('matches central finite differences of the loss along random directions, for every loss (twin MLP)', () => {
    const models = twinModels(20, 16, 5, 11);
    const x = tf.tensor2d(uniform(4 * 20, 5), [4, 20]);
    const cases: [LossName, number[] | undefined][] = [
      ['ce', undefined],
      ['ce', [4, 3, 2, 1]],
      ['margin', undefined],
      ['dlr', undefined],
      ['dlr', [4, 3, 2, 1]],
    ];
    for (const [loss, target] of cases) {
      const obj = objective(loss, [0, 1, 2, 3], 5, target);
      const { gradient, logits } = modelGradient(models.bp).evaluate(x, obj);
      for (let trial = 0; trial < 3; trial++) {
        const v = tf.tensor2d(symmetric(4 * 20, 100 + trial), [4, 20]);
        const h = 1e-3;
        const fd = tf.tidy(() => {
          const lp = tf.sum(objectiveLoss(models.bp(tf.add(x, tf.mul(h, v))), obj));
          const lm = tf.sum(objectiveLoss(models.bp(tf.sub(x, tf.mul(h, v))), obj));
          return tf.div(tf.sub(lp, lm), 2 * h);
        });
        const analytic = tf.tidy(() => tf.sum(tf.mul(gradient, v)));
        const a = analytic.dataSync()[0]!;
        const f = fd.dataSync()[0]!;
        expect(Math.abs(a - f)).toBeLessThan(2e-2 * Math.max(1, Math.abs(a)));
        tf.dispose([v, fd, analytic]);
      }
      tf.dispose([gradient, logits!]);
      disposeObjective(obj);
    }
    x.dispose();
    models.dispose();
  });

  it('a model with a custom backward path gives its own gradient, not its twin’s, and each source follows its model', () => {
    const models = twinModels(30, 24, 6, 21);
    const x = tf.tensor2d(uniform(5 * 30, 8), [5, 30]);
    const obj = objective('ce', [0, 1, 2, 3, 4], 6);
    // same forward function
    const zfa = tf.tidy(() => models.fa(x));
    const zbp = tf.tidy(() => models.bp(x));
    expect(
      Math.max(...Array.from(zfa.dataSync()).map((v, i) => Math.abs(v - zbp.dataSync()[i]!))),
    ).toBeLessThan(1e-5);
    const own = ownGradient(models.fa).evaluate(x, obj);
    const twin = modelGradient(models.bp, 'bp-twin').evaluate(x, obj);
    // reference FA gradient written out by hand from dL/dz = softmax(z) - onehot(y)
    const ref = tf.tidy(() => {
      const dz = tf.sub(tf.softmax(zfa), tf.oneHot(obj.labels, 6));
      return models.faBackward(x, dz);
    });
    // reference BP gradient: plain tf.grad of the twin's loss
    const bpRef = tf.grad((xi: tf.Tensor) => tf.sum(objectiveLoss(models.bp(xi), obj)))(x);
    const g = own.gradient.dataSync();
    const r = ref.dataSync();
    for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(r[i]!, 5);
    const gb = twin.gradient.dataSync();
    const rb = bpRef.dataSync();
    for (let i = 0; i < gb.length; i++) expect(gb[i]).toBeCloseTo(rb[i]!, 5);
    // and the two paths disagree: random feedback is not W^T
    expect(cosine(g, gb)).toBeLessThan(0.8);
    tf.dispose([zfa, zbp, own.gradient, own.logits!, twin.gradient, twin.logits!, ref, bpRef, x]);
    disposeObjective(obj);
    models.dispose();
  });

  it('customGradient passes through a user function, and refuses a wrong shape', () => {
    const x = tf.tensor2d(uniform(6, 1), [2, 3]);
    const obj = objective('ce', [0, 1], 2);
    const src = customGradient((xi) => tf.mul(xi, 2), 'double');
    expect(src.kind).toBe('custom');
    const { gradient } = src.evaluate(x, obj);
    expect(Array.from(gradient.dataSync())).toEqual(Array.from(x.dataSync()).map((v) => v * 2));
    gradient.dispose();
    const bad = customGradient(() => tf.zeros([2]), 'bad');
    expect(() => bad.evaluate(x, obj)).toThrow(GradientError);
    expect(() => bad.evaluate(x, obj)).toThrow(/'bad'.*shape \[2, 3\].*found shape \[2\]/);
    x.dispose();
    disposeObjective(obj);
  });

  it('explains a kernel without a registered gradient', () => {
    const x = tf.tensor2d(uniform(8, 2), [2, 4]);
    const obj = objective('ce', [0, 1], 2);
    const model = (xi: tf.Tensor) => tf.topk(xi, 2).values;
    expect(() => ownGradient(model).evaluate(x, obj)).toThrow(
      /no gradient registered for kernel TopK/,
    );
    x.dispose();
    disposeObjective(obj);
  });
});
