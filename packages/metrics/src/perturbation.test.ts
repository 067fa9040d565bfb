import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { perturbationStats } from './perturbation.js';
import { seededValues } from './test-utils.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('perturbationStats', () => {
  it('gives the hand-computed L-inf, L2 and L0 per example', () => {
    const x = [
      [0, 0, 0],
      [0.5, 0.5, 0.5],
    ];
    const adv = [
      [0.1, -0.2, 0],
      [0.5, 0.5, 0.8],
    ];
    const p = perturbationStats(x, adv, { bounds: [0, 1] });
    expect(p.linf[0]).toBeCloseTo(0.2, 15);
    expect(p.linf[1]).toBeCloseTo(0.3, 15);
    expect(p.l2[0]).toBeCloseTo(Math.sqrt(0.05), 15);
    expect(p.l2[1]).toBeCloseTo(0.3, 15);
    expect([...p.l0]).toEqual([2, 1]);
    expect(p.outOfBounds).toBe(1); // -0.2 in the first
    expect(p.summary.linf.max).toBeCloseTo(0.3, 15);
    expect(p.summary.l2.n).toBe(2);
  });

  it('matches tfjs norms on image tensors and creates no tensors', () => {
    const shape: [number, number, number, number] = [5, 6, 6, 1];
    const x = tf.tensor4d(
      seededValues(180, 3).map((v) => (v + 1) / 2),
      shape,
    );
    const adv = tf.tidy(() =>
      tf.clipByValue(
        tf.add(x, tf.mul(tf.sign(tf.tensor4d(seededValues(180, 4), shape)), 0.1)),
        0,
        1,
      ),
    );
    const [linfRef, l2Ref] = tf.tidy(() => {
      const d = tf.reshape(tf.sub(adv, x), [5, 36]);
      return [tf.max(tf.abs(d), 1).dataSync(), tf.sqrt(tf.sum(tf.square(d), 1)).dataSync()];
    });
    const before = tf.memory().numTensors;
    const p = perturbationStats(x, adv, { bounds: [0, 1] });
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < 5; i++) {
      expect(p.linf[i]).toBeCloseTo(linfRef![i]!, 6);
      expect(p.l2[i]).toBeCloseTo(l2Ref![i]!, 5);
      expect(p.linf[i]).toBeLessThanOrEqual(0.1 + 1e-6);
    }
    expect(p.outOfBounds).toBe(0);
    tf.dispose([x, adv]);
  });

  it('refuses mismatched shapes and bad bounds', () => {
    expect(() => perturbationStats([[0, 0]], [[0, 0, 0]])).toThrow(
      /perturbationStats: adversarial: expected 1 examples of 2 values/,
    );
    expect(() => perturbationStats([[0]], [[0]], { bounds: [1, 0] })).toThrow(/options.bounds/);
  });
});
