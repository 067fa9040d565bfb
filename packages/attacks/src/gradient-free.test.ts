import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { spsa } from './spsa.js';
import { square, squareFraction } from './square.js';
import { cosine, linearGradient, useBarTask } from './test-utils.js';

const H = 8;
const W = 8;
const K = 4;
const N = 8;
const bar = useBarTask(N, 1, H, W, K);

describe('gradient-free attacks', () => {
  it('the model is accurate on clean inputs (so success means fooling it)', async () => {
    const r = await square(bar.m.model, bar.x, bar.y, { epsilon: 0, steps: 1 });
    expect(Array.from(r.cleanPredictions)).toEqual(bar.y);
    expect(Array.from(r.success)).toEqual(new Array(N).fill(0));
    r.adversarial.dispose();
  });

  it('SPSA fools the undefended model, and its perturbation follows the true gradient', async () => {
    const r = await spsa(bar.m.model, bar.x, bar.y, {
      epsilon: 0.4,
      steps: 40,
      samples: 16,
      learningRate: 0.02,
      seed: 3,
    });
    expect(r.success.reduce((a, v) => a + v, 0)).toBeGreaterThanOrEqual(N - 1);
    expect(r.queries).toBe(40 * 2 * 16);
    expect(r.gradientSource).toBeNull();
    expect(r.zeroGradientSteps).toBeNull();
    // the estimate climbs the margin loss: the perturbation correlates with its true gradient
    const adv = r.adversarial.dataSync();
    const x0 = bar.x.dataSync();
    const d = H * W;
    for (let i = 0; i < N; i++) {
      const delta = Array.from({ length: d }, (_, p) => adv[i * d + p]! - x0[i * d + p]!);
      const g = linearGradient(bar.m, x0, i, bar.y[i]!, 'margin');
      expect(cosine(delta, g)).toBeGreaterThan(0.3);
    }
    r.adversarial.dispose();
  });

  it('Square Attack fools the undefended model with a few hundred queries', async () => {
    const r = await square(bar.m.model, bar.x, bar.y, {
      epsilon: 0.4,
      steps: 300,
      pInit: 0.3,
      seed: 5,
    });
    expect(r.success.reduce((a, v) => a + v, 0)).toBeGreaterThanOrEqual(N - 1);
    // one query to start, one per step; it stops once every example is fooled
    expect(r.queries).toBe(r.iterations + 1);
    expect(r.queries).toBeLessThanOrEqual(301);
    for (const v of r.linf) expect(v).toBeLessThanOrEqual(0.4 + 1e-6);
    r.adversarial.dispose();
  });

  it('Square Attack also works on flat vectors (segments instead of squares)', async () => {
    const flat = tf.reshape(bar.x, [N, H * W]);
    const r = await square(bar.m.model, flat, bar.y, {
      epsilon: 0.4,
      steps: 300,
      pInit: 0.3,
      seed: 5,
    });
    expect(r.adversarial.shape).toEqual([N, H * W]);
    expect(r.success.reduce((a, v) => a + v, 0)).toBeGreaterThanOrEqual(N - 1);
    tf.dispose([r.adversarial, flat]);
  });

  it('same seed, same result; another seed, another result', async () => {
    for (const attack of [
      (seed: number) =>
        spsa(bar.m.model, bar.x, bar.y, { epsilon: 0.1, steps: 3, samples: 8, seed }),
      (seed: number) => square(bar.m.model, bar.x, bar.y, { epsilon: 0.1, steps: 20, seed }),
    ]) {
      const a = await attack(1);
      const b = await attack(1);
      const c = await attack(2);
      expect(Array.from(b.adversarial.dataSync())).toEqual(Array.from(a.adversarial.dataSync()));
      expect(Array.from(c.adversarial.dataSync())).not.toEqual(
        Array.from(a.adversarial.dataSync()),
      );
      tf.dispose([a.adversarial, b.adversarial, c.adversarial]);
    }
  });

  it('the square size follows the schedule of Andriushchenko et al.', () => {
    expect(squareFraction(0.8, 0, 10000)).toBe(0.8);
    expect(squareFraction(0.8, 11, 10000)).toBe(0.4);
    expect(squareFraction(0.8, 51, 10000)).toBe(0.2);
    expect(squareFraction(0.8, 9999, 10000)).toBeCloseTo(0.8 / 512);
    // rescaled to shorter runs
    expect(squareFraction(0.8, 50, 100)).toBeCloseTo(0.8 / 128); // it = 5000: 4000 < it <= 6000
  });
});
