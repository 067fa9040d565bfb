import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bim } from './bim.js';
import { AttackAbortedError, AttackInputError, ModelOutputError } from './errors.js';
import { fgsm } from './fgsm.js';
import { ownGradient } from './gradient.js';
import { pgd } from './pgd.js';
import { spsa } from './spsa.js';
import { type LinearModel, linearModel, uniform } from './test-utils.js';

let m: LinearModel;
let x: tf.Tensor;
const y = [0, 1, 2];

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = linearModel(6, 3, 5);
  x = tf.tensor2d(uniform(18, 9), [3, 6]);
});
afterAll(() => {
  m.dispose();
  x.dispose();
});

describe('input validation', () => {
  it('refuses a negative, NaN or infinite epsilon, naming the option and what was found', async () => {
    const start = tf.memory().numTensors;
    for (const [eps, found] of [
      [-0.1, '-0.1'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ] as const) {
      const call = fgsm(m.model, x, y, { epsilon: eps });
      await expect(call).rejects.toThrow(AttackInputError);
      await expect(fgsm(m.model, x, y, { epsilon: eps })).rejects.toThrow(
        `fgsm: options.epsilon must be a finite number >= 0; found ${found}`,
      );
    }
    // @ts-expect-error missing epsilon
    await expect(bim(m.model, x, y, {})).rejects.toThrow(/options.epsilon .* found undefined/);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses pixels outside the bounds, and NaN pixels', async () => {
    const start = tf.memory().numTensors;
    const big = tf.mul(x, 255);
    await expect(fgsm(m.model, big, y, { epsilon: 0.1 })).rejects.toThrow(
      /x must be pixels within options.bounds \[0, 1\]; found values in \[\d.*, \d.*\]/,
    );
    // the same data is fine with the right bounds
    const ok = await fgsm(m.model, big, y, { epsilon: 5, bounds: [0, 255] });
    ok.adversarial.dispose();
    const nan = tf.tensor2d([Number.NaN, 0, 0, 0, 0, 0], [1, 6]);
    await expect(fgsm(m.model, nan, [0], { epsilon: 0.1 })).rejects.toThrow(
      /finite pixel values; found 1 NaN/,
    );
    await expect(fgsm(m.model, x, y, { epsilon: 0.1, bounds: [1, 0] })).rejects.toThrow(
      /options.bounds/,
    );
    tf.dispose([big, nan]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses labels that do not match the batch or the classes', async () => {
    const start = tf.memory().numTensors;
    await expect(fgsm(m.model, x, [0, 1], { epsilon: 0.1 })).rejects.toThrow(
      'fgsm: y must be one label per example (3, the batch size of x); found 2 labels',
    );
    await expect(fgsm(m.model, x, [0, 1.5, 2], { epsilon: 0.1 })).rejects.toThrow(
      /y\[1\] must be a class index/,
    );
    await expect(fgsm(m.model, x, [0, 1, 7], { epsilon: 0.1 })).rejects.toThrow(
      /y\[2\] must be a class index < 3/,
    );
    await expect(fgsm(m.model, x, y, { epsilon: 0.1, target: [0] })).rejects.toThrow(
      /options.target must be one label per example/,
    );
    expect(tf.memory().numTensors).toBe(start);
  });

  it('accepts one-hot labels and gives the same result as class indices', async () => {
    const oneHot = tf.oneHot(tf.tensor1d(y, 'int32'), 3);
    const a = await fgsm(m.model, x, y, { epsilon: 0.2 });
    const b = await fgsm(m.model, x, oneHot, { epsilon: 0.2 });
    expect(Array.from(b.adversarial.dataSync())).toEqual(Array.from(a.adversarial.dataSync()));
    expect(Array.from(b.labels)).toEqual(y);
    tf.dispose([a.adversarial, b.adversarial, oneHot]);
  });

  it('detects a model that returns probabilities instead of logits', async () => {
    const start = tf.memory().numTensors;
    const probs = (xi: tf.Tensor) => tf.softmax(m.model(xi));
    await expect(fgsm(probs, x, y, { epsilon: 0.1 })).rejects.toThrow(ModelOutputError);
    await expect(fgsm(probs, x, y, { epsilon: 0.1 })).rejects.toThrow(
      /remove the final softmax.*found probabilities/,
    );
    // log-probabilities are fine: the losses are shift-invariant per row
    const logProbs = (xi: tf.Tensor) => tf.logSoftmax(m.model(xi));
    const r = await fgsm(logProbs, x, y, { epsilon: 0.1 });
    r.adversarial.dispose();
    const vector = (xi: tf.Tensor) => tf.sum(xi, 1);
    await expect(fgsm(vector, x, y, { epsilon: 0.1 })).rejects.toThrow(
      /logits of shape \[3, classes >= 2\]/,
    );
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses unknown options values with the allowed ones', async () => {
    await expect(
      fgsm(m.model, x, y, { epsilon: 0.1, variant: 'kurakin' as never }),
    ).rejects.toThrow(/options.variant must be 'standard' or 'paper'; found 'kurakin'/);
    await expect(fgsm(m.model, x, y, { epsilon: 0.1, loss: 'hinge' as never })).rejects.toThrow(
      /options.loss must be one of 'ce', 'margin', 'dlr'/,
    );
    const two = linearModel(6, 2, 3);
    await expect(fgsm(two.model, x, [0, 1, 0], { epsilon: 0.1, loss: 'dlr' })).rejects.toThrow(
      /'dlr' needs 3/,
    );
    two.dispose();
    await expect(pgd(m.model, x, y, { epsilon: 0.1, norm: 'l1' as never })).rejects.toThrow(
      /'linf' or 'l2'/,
    );
    await expect(pgd(m.model, x, y, { epsilon: 0.1, steps: 0 })).rejects.toThrow(
      /options.steps must be an integer >= 1/,
    );
    await expect(
      pgd(m.model, x, y, { epsilon: 0.1, restarts: 2, keepBest: false }),
    ).rejects.toThrow(/keepBest/);
    await expect(
      spsa(m.model, x, y, { epsilon: 0.1, gradient: ownGradient(m.model) } as never),
    ).rejects.toThrow(/spsa: options.gradient must be absent: spsa is gradient-free/);
    await expect(fgsm({} as never, x, y, { epsilon: 0.1 })).rejects.toThrow(
      /model must be a tf.LayersModel or a function/,
    );
    // an async factory's result passed without await (e.g. a model-building promise)
    await expect(fgsm(Promise.resolve(m.model) as never, x, y, { epsilon: 0.1 })).rejects.toThrow(
      /found a Promise \(missing await\?\)/,
    );
  });

  it('stops on an AbortSignal with an AbortError and leaks nothing', async () => {
    const start = tf.memory().numTensors;
    const done = new AbortController();
    done.abort();
    await expect(bim(m.model, x, y, { epsilon: 0.1, signal: done.signal })).rejects.toThrow(
      AttackAbortedError,
    );
    const ctl = new AbortController();
    let steps = 0;
    const counting = (xi: tf.Tensor) => {
      steps++;
      if (steps === 20) setImmediate(() => ctl.abort(new Error('enough')));
      return m.model(xi);
    };
    const err = await bim(counting, x, y, { epsilon: 0.1, steps: 1000, signal: ctl.signal }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(AttackAbortedError);
    expect(err.name).toBe('AbortError');
    expect(steps).toBeLessThan(100);
    expect(tf.memory().numTensors).toBe(start);
  });
});
