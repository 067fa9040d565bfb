import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accuracy,
  adversarialAccuracy,
  correctMask,
  maskAccuracy,
  robustAccuracy,
  successRate,
} from './accuracy.js';
import { MetricsInputError } from './errors.js';
import { wilsonInterval } from './stats.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('correctMask and accuracy', () => {
  it('compares class indices, argmax of score rows and one-hot labels alike', () => {
    const labels = [2, 0, 1, 1];
    const logits = [
      [0.1, 0.2, 3.0], // 2 right
      [1.0, 0.5, -1], // 0 right
      [0.0, 0.0, 0.4], // 2 wrong
      [0.3, 0.3, 0.1], // tie: first max (0) wrong
    ];
    const oneHot = labels.map((c) => [0, 1, 2].map((j) => (j === c ? 1 : 0)));
    expect([...correctMask(logits, labels)]).toEqual([1, 1, 0, 0]);
    expect([...correctMask(logits, oneHot)]).toEqual([1, 1, 0, 0]);
    expect([...correctMask(Int32Array.of(2, 0, 1, 0), labels)]).toEqual([1, 1, 1, 0]);
    const a = accuracy(logits, labels);
    expect(a).toMatchObject({ count: 2, n: 4, value: 0.5, confidence: 0.95 });
    expect([a.lower, a.upper]).toEqual(Object.values(wilsonInterval(2, 4)));
  });

  it('reads tfjs tensors without creating any', () => {
    const logits = tf.tensor2d([0.1, 0.9, 0.8, 0.2, 0.3, 0.7], [3, 2]);
    const labels = tf.tensor1d([1, 0, 0], 'int32');
    const oneHot = tf.oneHot(labels, 2);
    const before = tf.memory().numTensors;
    expect([...correctMask(logits, labels)]).toEqual([1, 1, 0]);
    expect(accuracy(logits, oneHot).count).toBe(2);
    expect(maskAccuracy(tf.tensor1d([true, false, true, true], 'bool')).value).toBe(0.75);
    // the bool tensor above is the only new one
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([logits, labels, oneHot]);
  });

  it('counts examples wrong before the attack in adversarial accuracy, as the paper does', () => {
    const labels = [0, 1, 2, 3];
    const clean = [0, 1, 0, 3]; // example 2 already wrong
    const adv = [1, 1, 0, 3]; // example 0 fooled
    expect(accuracy(clean, labels).value).toBe(0.75);
    expect(adversarialAccuracy(adv, labels).value).toBe(0.5);
    // success rate only looks at the 3 initially correct examples
    const s = successRate(correctMask(clean, labels), correctMask(adv, labels));
    expect(s).toMatchObject({ count: 1, n: 3, value: 1 / 3 });
  });

  it('refuses malformed input with the function, argument and value', () => {
    expect(() => correctMask([0, 1], [0, 1, 1])).toThrow(MetricsInputError);
    expect(() => correctMask([0, 1], [0, 1, 1])).toThrow(
      'correctMask: labels: expected 2 examples, as many as predictions, found 3',
    );
    expect(() => accuracy([0, 1.5], [0, 1])).toThrow(
      /correctMask: predictions\[1\]: expected a class index .*found 1.5/,
    );
    expect(() => accuracy([[0, 1], [1]], [0, 1])).toThrow(
      /predictions\[1\]: expected an array of length 2/,
    );
    expect(() => maskAccuracy([1, 2])).toThrow(
      'maskAccuracy: correct[1]: expected true/false or 1/0, found 2',
    );
    expect(() => accuracy('abc' as never, [0])).toThrow(
      /expected an array, typed array or tensor, found "abc"/,
    );
    const t = tf.tensor1d([0, 1], 'int32');
    t.dispose();
    expect(() => accuracy(t, [0, 1])).toThrow(
      'correctMask: predictions: expected a live tensor, found a disposed tensor',
    );
  });
});

describe("a model's predict output", () => {
  // tfjs-layers' `model.predict(x)` is typed `Tensor | Tensor[]`; this must compile and work.
  const predict = (x: tf.Tensor, outputs: number): tf.Tensor | tf.Tensor[] => {
    const logits = tf.tensor2d([0.1, 0.9, 0.8, 0.2, 0.3, 0.7], [3, 2]);
    if (outputs === 0) return logits;
    return Array.from({ length: outputs }, (_, i) => (i === 0 ? logits : x.clone()));
  };

  it('takes a tensor or a list of one tensor, as predict returns them', () => {
    const x = tf.zeros([3, 2]);
    const y = [1, 0, 0];
    const single = predict(x, 0);
    const list = predict(x, 1);
    expect(accuracy(single, y).count).toBe(2);
    expect(accuracy(list, y).count).toBe(2);
    expect(correctMask(list, y)).toEqual(new Uint8Array([1, 1, 0]));
    tf.dispose([x, single, list as tf.Tensor[]]);
  });

  it('refuses a list of several outputs, saying which to pass', () => {
    const x = tf.zeros([3, 2]);
    const two = predict(x, 2);
    expect(() => accuracy(two, [1, 0, 1])).toThrow(MetricsInputError);
    expect(() => accuracy(two, [1, 0, 1])).toThrow(
      /a list of 2 tensors.*predict\(x\)\[0\]|predict\(x\)\[0\].*a list of 2 tensors/,
    );
    tf.dispose([x, two as tf.Tensor[]]);
  });
});

describe('robustAccuracy', () => {
  it('counts an example only if every attack leaves it correct', () => {
    const r = robustAccuracy({
      fgsm: [1, 1, 0, 1, 1, 0],
      pgd: [1, 0, 1, 1, 1, 0],
      spsa: [true, true, true, false, true, false],
    });
    expect([...r.robust]).toEqual([1, 0, 0, 0, 1, 0]);
    expect(r).toMatchObject({ count: 2, n: 6, value: 2 / 6 });
    expect(r.brokenBy).toEqual({ fgsm: 2, pgd: 2, spsa: 2 });
    // example 5 is broken by all three: no attack alone is responsible for it
    expect(r.onlyBrokenBy).toEqual({ fgsm: 1, pgd: 1, spsa: 1 });
    // never above the weakest single attack's accuracy
    expect(r.value).toBeLessThanOrEqual(Math.min(4 / 6, 4 / 6, 4 / 6));
    expect(robustAccuracy([[1, 0, 1]]).count).toBe(2);
  });

  it('refuses no attacks and masks of different lengths', () => {
    expect(() => robustAccuracy({})).toThrow(
      'robustAccuracy: correct: expected at least one attack, found none',
    );
    expect(() => robustAccuracy({ a: [1, 1], b: [1] })).toThrow(
      'robustAccuracy: correct.b: expected 2 examples, as many as correct.a, found 1',
    );
  });
});
