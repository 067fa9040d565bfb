import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradientAlignment } from './alignment.js';
import { seededValues } from './test-utils.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('gradientAlignment', () => {
  it('gives the hand-computed angles: same 0, orthogonal 90, opposite 180, [1,0] vs [1,1] 45', () => {
    const a = [
      [1, 0],
      [1, 0],
      [2, -3],
      [1, 0],
      [3, 4],
    ];
    const b = [
      [5, 0], // same direction, other length
      [0, 2],
      [-4, 6],
      [1, 1],
      [4, 3], // cos = 24/25
    ];
    const r = gradientAlignment(a, b);
    expect(r.angle[0]).toBe(0);
    expect(r.angle[1]).toBeCloseTo(90, 12);
    expect(r.angle[2]).toBeCloseTo(180, 12);
    expect(r.angle[3]).toBeCloseTo(45, 12);
    expect(r.cosine[3]).toBeCloseTo(Math.SQRT1_2, 15);
    expect(r.cosine[4]).toBeCloseTo(24 / 25, 15);
    expect(r.angle[4]).toBeCloseTo((Math.acos(24 / 25) * 180) / Math.PI, 12);
    expect(r.zeroNorm).toBe(0);
    // sorted angles: 0, 16.26, 45, 90, 180
    expect(r.summary.angle.median).toBeCloseTo(45, 12);
    expect(r.summary.angle.mean).toBeCloseTo((16.260204708311967 + 45 + 90 + 180) / 5, 9);
    expect(r.summary.angle.max).toBeCloseTo(180, 12);
    expect(r.histogram.counts.reduce((x, y) => x + y, 0)).toBe(5);
    expect(r.histogram.counts[35]).toBe(1); // 180 lands in the last bin
  });

  it('resolves tiny angles that acos(cosine) rounds to 0', () => {
    const r = gradientAlignment([[1, 0]], [[1, 1e-9]]);
    expect(r.cosine[0]).toBe(1);
    expect(Math.acos(r.cosine[0]!)).toBe(0);
    expect(r.angle[0]).toBeCloseTo((Math.atan(1e-9) * 180) / Math.PI, 20);
    expect(r.angle[0]! / ((1e-9 * 180) / Math.PI)).toBeCloseTo(1, 6);
  });

  it('leaves zero gradients out of the summaries and counts them', () => {
    const r = gradientAlignment(
      Float32Array.of(1, 0, 0, 0, 0, 1),
      Float32Array.of(1, 1, 1, 1, 0, 1),
      { examples: 3 },
    );
    expect(r.zeroNorm).toBe(1);
    expect(r.angle[1]).toBeNaN();
    expect(r.summary.angle.n).toBe(2);
    expect(r.summary.angle.mean).toBeCloseTo(22.5, 12);
  });

  it('agrees with a cosine computed by tfjs ops on [n, h, w, c] gradients, creating no tensors', () => {
    const n = 6;
    const shape: [number, number, number, number] = [n, 4, 4, 3];
    const size = 4 * 4 * 3;
    const ga = tf.tensor4d(seededValues(n * size, 7), shape);
    const gb = tf.tensor4d(seededValues(n * size, 8), shape);
    // half the examples nearly aligned: b = a + small noise
    const mixed = tf.tidy(() =>
      tf.concat([
        tf.add(
          tf.slice(ga, [0, 0, 0, 0], [3, 4, 4, 3]),
          tf.mul(tf.slice(gb, [0, 0, 0, 0], [3, 4, 4, 3]), 0.1),
        ),
        tf.slice(gb, [3, 0, 0, 0], [3, 4, 4, 3]),
      ]),
    );
    const reference = tf.tidy(() => {
      const a2 = tf.reshape(ga, [n, size]);
      const b2 = tf.reshape(mixed, [n, size]);
      const dot = tf.sum(tf.mul(a2, b2), 1);
      return tf
        .div(dot, tf.mul(tf.norm(a2, 'euclidean', 1), tf.norm(b2, 'euclidean', 1)))
        .dataSync();
    });
    const before = tf.memory().numTensors;
    const r = gradientAlignment(ga, mixed);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < n; i++) {
      expect(r.cosine[i]).toBeCloseTo(reference[i]!, 5);
      expect(r.angle[i]).toBeCloseTo((Math.acos(reference[i]!) * 180) / Math.PI, 2);
    }
    expect(Math.max(...r.angle.slice(0, 3))).toBeLessThan(10);
    expect(Math.min(...r.angle.slice(3))).toBeGreaterThan(45);
    tf.dispose([ga, gb, mixed]);
  });

  it('refuses gradients of different shapes and non-finite values', () => {
    expect(() => gradientAlignment([[1, 2]], [[1, 2, 3]])).toThrow(
      'gradientAlignment: b: expected 1 examples of 2 values, like a, found 1 examples of 3',
    );
    expect(() => gradientAlignment([[1, Number.NaN]], [[1, 2]])).toThrow(
      /gradientAlignment: a: expected finite numbers, found NaN at flat index 1 \(example 0\)/,
    );
    expect(() => gradientAlignment([1, 2, 3], [1, 2, 3], { examples: 2 })).toThrow(
      /a length divisible by examples=2/,
    );
  });
});
