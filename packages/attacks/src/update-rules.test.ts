/**
 * The update rules, checked against independent float64 re-implementations of the equations
 * on a linear softmax model whose input gradient has a closed form.
 */

import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bim } from './bim.js';
import { fgsm } from './fgsm.js';
import { customGradient } from './gradient.js';
import { mifgsm } from './mifgsm.js';
import { pgd } from './pgd.js';
import {
  clampTo,
  type LinearModel,
  linearGradient,
  linearLogits,
  linearModel,
  uniform,
} from './test-utils.js';

let m: LinearModel;
const B = 4;
const D = 12;
const K = 4;
const y = [0, 1, 2, 3];
let xv: Float32Array;

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = linearModel(D, K, 7, 2);
  xv = uniform(B * D, 3).map((v) => 0.2 + 0.6 * v);
});
afterAll(() => m.dispose());

type Rule = (
  x: number[],
  g: number[],
  x0: number[],
  state: { t: number; mom?: number[] },
) => number[];

/** Runs an update rule in float64 on the linear model, per example. */
function reference(
  steps: number,
  rule: Rule,
  opts: { loss?: 'ce' | 'margin'; target?: number[] } = {},
): Float64Array {
  const out = new Float64Array(B * D);
  for (let i = 0; i < B; i++) {
    const x0 = Array.from(xv.subarray(i * D, (i + 1) * D));
    let x = x0.slice();
    const state: { t: number; mom?: number[] } = { t: 0 };
    for (let t = 0; t < steps; t++) {
      state.t = t;
      const flat = new Float64Array(B * D);
      flat.set(x, i * D);
      const g = linearGradient(m, flat, i, y[i]!, opts.loss ?? 'ce', opts.target?.[i]);
      x = rule(x, g, x0, state);
    }
    out.set(x, i * D);
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 2e-5) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++)
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(tol);
}

const x = () => tf.tensor2d(xv, [B, D]);

describe('update rules equal their equations (linear softmax model)', () => {
  it('FGSM: x + eps * sign(grad), clipped to the bounds; targeted steps down the target loss', async () => {
    const start = tf.memory().numTensors;
    const xs = x();
    for (const [eps, target] of [
      [0.1, undefined],
      [0.3, [1, 2, 3, 0]],
      [0.5, undefined],
    ] as const) {
      const r = await fgsm(m.model, xs, y, {
        epsilon: eps,
        target: target as number[] | undefined,
        keepBest: false,
      });
      const ref = reference(
        1,
        (xi, g) => xi.map((v, p) => clampTo(v + eps * Math.sign(g[p]!), 0, 1)),
        { target: target as number[] | undefined },
      );
      expectClose(r.adversarial.dataSync(), ref);
      expect(r.iterations).toBe(1);
      expect(r.gradientEvaluations).toBe(1);
      r.adversarial.dispose();
    }
    xs.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it("FGSM 'paper': the same step without pixel clipping, and the margin loss's closed form", async () => {
    const xs = x();
    const r = await fgsm(m.model, xs, y, {
      epsilon: 0.5,
      variant: 'paper',
      loss: 'margin',
      keepBest: false,
    });
    const ref = reference(1, (xi, g) => xi.map((v, p) => v + 0.5 * Math.sign(g[p]!)), {
      loss: 'margin',
    });
    expectClose(r.adversarial.dataSync(), ref);
    expect(r.clippedToBounds).toBe(false);
    expect(Math.min(...r.adversarial.dataSync())).toBeLessThan(0); // left the pixel range, as the equation does
    expect(Array.from(r.linf).every((v) => Math.abs(v - 0.5) < 1e-6)).toBe(true);
    tf.dispose([r.adversarial, xs]);
  });

  it('one BIM step and ten: clip_[x-eps, x+eps] then the bounds, alpha = eps / steps by default', async () => {
    const xs = x();
    const eps = 0.3;
    const one = await bim(m.model, xs, y, { epsilon: eps, steps: 1, alpha: 0.1, keepBest: false });
    expectClose(
      one.adversarial.dataSync(),
      reference(1, (xi, g, x0) =>
        xi.map((v, p) =>
          clampTo(clampTo(v + 0.1 * Math.sign(g[p]!), x0[p]! - eps, x0[p]! + eps), 0, 1),
        ),
      ),
    );
    const ten = await bim(m.model, xs, y, { epsilon: eps, keepBest: false });
    const alpha = eps / 10;
    expectClose(
      ten.adversarial.dataSync(),
      reference(10, (xi, g, x0) =>
        xi.map((v, p) =>
          clampTo(clampTo(v + alpha * Math.sign(g[p]!), x0[p]! - eps, x0[p]! + eps), 0, 1),
        ),
      ),
    );
    expect(ten.iterations).toBe(10);
    // a step larger than eps is projected back
    const big = await bim(m.model, xs, y, { epsilon: 0.05, steps: 3, alpha: 0.2, keepBest: false });
    expect(Math.max(...big.linf)).toBeLessThanOrEqual(0.05 + 1e-6);
    expectClose(
      big.adversarial.dataSync(),
      reference(3, (xi, g, x0) =>
        xi.map((v, p) =>
          clampTo(clampTo(v + 0.2 * Math.sign(g[p]!), x0[p]! - 0.05, x0[p]! + 0.05), 0, 1),
        ),
      ),
    );
    tf.dispose([one.adversarial, ten.adversarial, big.adversarial, xs]);
  });

  it("BIM 'paper': clipped to [x - eps, x + eps] only, not to the pixel range", async () => {
    const xs = x();
    const eps = 0.8;
    const r = await bim(m.model, xs, y, {
      epsilon: eps,
      steps: 4,
      variant: 'paper',
      keepBest: false,
    });
    expectClose(
      r.adversarial.dataSync(),
      reference(4, (xi, g, x0) =>
        xi.map((v, p) => clampTo(v + (eps / 4) * Math.sign(g[p]!), x0[p]! - eps, x0[p]! + eps)),
      ),
    );
    expect(r.clippedToBounds).toBe(false);
    const a = r.adversarial.dataSync();
    expect(Math.min(...a) < 0 || Math.max(...a) > 1).toBe(true);
    tf.dispose([r.adversarial, xs]);
  });

  it('MI-FGSM: g = mu g + grad / ||grad||_1, projected steps of eps / T', async () => {
    const xs = x();
    const eps = 0.3;
    const rule =
      (mu: number, alpha: number, project: boolean, clip: boolean): Rule =>
      (xi, g, x0, s) => {
        const l1 = g.reduce((a, v) => a + Math.abs(v), 0);
        s.mom = (s.mom ?? g.map(() => 0)).map((v, p) => mu * v + g[p]! / l1);
        return xi.map((v, p) => {
          let n = v + alpha * Math.sign(s.mom![p]!);
          if (project) n = clampTo(n, x0[p]! - eps, x0[p]! + eps);
          return clip ? clampTo(n, 0, 1) : n;
        });
      };
    const std = await mifgsm(m.model, xs, y, { epsilon: eps, keepBest: false });
    expectClose(std.adversarial.dataSync(), reference(10, rule(1.0, eps / 10, true, true)));
    const mu = await mifgsm(m.model, xs, y, {
      epsilon: eps,
      steps: 5,
      decay: 0.5,
      keepBest: false,
    });
    expectClose(mu.adversarial.dataSync(), reference(5, rule(0.5, eps / 5, true, true)));
    tf.dispose([std.adversarial, mu.adversarial, xs]);
  });

  it("MI-FGSM 'paper': a step of eps every iteration, mu 0.8, no projection: the perturbation reached exceeds eps", async () => {
    const xs = x();
    const eps = 0.1;
    const r = await mifgsm(m.model, xs, y, { epsilon: eps, variant: 'paper', keepBest: false });
    const ref = reference(10, (xi, g, _x0, s) => {
      const l1 = g.reduce((a, v) => a + Math.abs(v), 0);
      s.mom = (s.mom ?? g.map(() => 0)).map((v, p) => 0.8 * v + g[p]! / l1);
      return xi.map((v, p) => v + eps * Math.sign(s.mom![p]!));
    });
    expectClose(r.adversarial.dataSync(), ref);
    // the linear model's gradient sign does not change, so every pixel moves 10 * eps
    expect(Math.max(...r.linf)).toBeGreaterThan(eps * 5);
    expect(Math.max(...r.linf)).toBeLessThanOrEqual(10 * eps + 1e-5);
    tf.dispose([r.adversarial, xs]);
  });

  it('PGD without random start: L-inf sign steps and L2 normalised steps, each projected', async () => {
    const xs = x();
    const eps = 0.2;
    const linf = await pgd(m.model, xs, y, {
      epsilon: eps,
      steps: 5,
      alpha: 0.07,
      randomStart: false,
      keepBest: false,
    });
    expectClose(
      linf.adversarial.dataSync(),
      reference(5, (xi, g, x0) =>
        xi.map((v, p) =>
          clampTo(clampTo(v + 0.07 * Math.sign(g[p]!), x0[p]! - eps, x0[p]! + eps), 0, 1),
        ),
      ),
    );
    const e2 = 0.5;
    const l2 = await pgd(m.model, xs, y, {
      epsilon: e2,
      norm: 'l2',
      steps: 5,
      alpha: 0.2,
      randomStart: false,
      keepBest: false,
    });
    const ref = reference(5, (xi, g, x0) => {
      const gn = Math.sqrt(g.reduce((a, v) => a + v * v, 0));
      const stepped = xi.map((v, p) => v + (0.2 * g[p]!) / gn);
      const d = stepped.map((v, p) => v - x0[p]!);
      const dn = Math.sqrt(d.reduce((a, v) => a + v * v, 0));
      const f = Math.min(1, e2 / dn);
      return d.map((v, p) => clampTo(x0[p]! + v * f, 0, 1));
    });
    expectClose(l2.adversarial.dataSync(), ref);
    for (const v of l2.l2) expect(v).toBeLessThanOrEqual(e2 + 1e-5);
    tf.dispose([linf.adversarial, l2.adversarial, xs]);
  });

  it('success and predictions come from a fresh prediction on the returned adversarial', async () => {
    const xs = x();
    const r = await bim(m.model, xs, y, { epsilon: 0.25 });
    const adv = r.adversarial.dataSync();
    for (let i = 0; i < B; i++) {
      const z = linearLogits(m, adv, i);
      const pred = z.indexOf(Math.max(...z));
      expect(r.predictions[i]).toBe(pred);
      expect(r.success[i]).toBe(pred !== y[i] ? 1 : 0);
    }
    expect(r.success.some((s) => s === 1)).toBe(true);
    tf.dispose([r.adversarial, xs]);
  });
});

describe('best so far', () => {
  // Class 1 wins only while mean(x) is within 0.1 of 0.45: walking up from 0.3 in steps of
  // 0.04, the iterate fools the model at steps 2-6 and no longer from step 7 on.
  const band = (xi: tf.Tensor) =>
    tf.tidy(() => {
      const s = tf.mean(tf.reshape(xi, [xi.shape[0]!, -1]), 1, true);
      const z1 = tf.sub(1, tf.mul(100, tf.square(tf.sub(s, 0.45))));
      return tf.concat([tf.zerosLike(z1), z1], 1);
    });
  const up = customGradient((xi) => tf.onesLike(xi), 'up');

  it('an example fooled at an intermediate step stays fooled, returned as the latest iterate that fooled it', async () => {
    const xs = tf.fill([2, 8], 0.3);
    const kept = await bim(band, xs, [0, 0], {
      epsilon: 0.5,
      steps: 10,
      alpha: 0.04,
      gradient: up,
    });
    expect(Array.from(kept.success)).toEqual([1, 1]);
    for (const v of kept.linf) expect(v).toBeCloseTo(0.24, 5);
    const last = await bim(band, xs, [0, 0], {
      epsilon: 0.5,
      steps: 10,
      alpha: 0.04,
      gradient: up,
      keepBest: false,
    });
    expect(Array.from(last.success)).toEqual([0, 0]);
    for (const v of last.linf) expect(v).toBeCloseTo(0.4, 5);
    expect(kept.gradientSource).toBe('up');
    tf.dispose([kept.adversarial, last.adversarial, xs]);
  });

  it('PGD restarts keep, per example, a run that fooled it', async () => {
    const xs = tf.fill([3, 8], 0.3);
    // with alpha 0.04 and 10 steps each run ends past the band; the best of the runs must still fool
    const r = await pgd(band, xs, [0, 0, 0], {
      epsilon: 0.5,
      steps: 10,
      alpha: 0.04,
      gradient: up,
      restarts: 3,
      randomStart: false,
    });
    expect(Array.from(r.success)).toEqual([1, 1, 1]);
    expect(r.iterations).toBe(30);
    tf.dispose([r.adversarial, xs]);
  });
});
