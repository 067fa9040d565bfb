import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttackInputError } from './errors.js';
import { type FabResult, fab, fabInfo } from './fab.js';
import { fabProjectionL2, fabProjectionLinf } from './fab-projections.js';
import { customGradient, modelGradient, ownGradient } from './gradient.js';
import {
  type LinearModel,
  linearLogits,
  linearModel,
  symmetric,
  twinModels,
  uniform,
} from './test-utils.js';
import type { Norm } from './types.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

// ---------------------------------------------------------------------------------------------
// Float64 references of the box-constrained hyperplane projections
// ---------------------------------------------------------------------------------------------

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const linfOf = (d: ArrayLike<number>) => Math.max(...Array.from(d, Math.abs));
const l2Of = (d: ArrayLike<number>) => Math.sqrt(dot(d, d));

/** The range of w . z over the box [lo, hi]^n intersected with [t - delta, t + delta]. */
function rangeOver(t: number[], w: number[], delta: number, lo: number, hi: number) {
  let min = 0;
  let max = 0;
  for (let i = 0; i < t.length; i++) {
    const a = Math.max(lo, t[i]! - delta);
    const b = Math.min(hi, t[i]! + delta);
    min += Math.min(w[i]! * a, w[i]! * b);
    max += Math.max(w[i]! * a, w[i]! * b);
  }
  return { min, max };
}

/** L-inf: the smallest delta whose box around t meets the hyperplane, by bisection; null if none in the box. */
function linfRadius(t: number[], w: number[], b: number, lo: number, hi: number): number | null {
  const meets = (delta: number) => {
    const { min, max } = rangeOver(t, w, delta, lo, hi);
    return min <= b && b <= max;
  };
  let high = hi - lo;
  if (!meets(high)) return null;
  let low = 0;
  for (let it = 0; it < 200; it++) {
    const mid = (low + high) / 2;
    if (meets(mid)) high = mid;
    else low = mid;
  }
  return high;
}

/** L2: Dykstra's alternating projections onto the hyperplane and the box converge to the projection onto their intersection. */
function dykstra(t: number[], w: number[], b: number, lo: number, hi: number): number[] {
  const n = t.length;
  const ww = dot(w, w);
  let xk = t.slice();
  let p = new Array(n).fill(0);
  let q = new Array(n).fill(0);
  for (let it = 0; it < 200000; it++) {
    const u = xk.map((v, i) => v + p[i]!);
    const c = (dot(w, u) - b) / ww;
    const yk = u.map((v, i) => v - c * w[i]!);
    p = u.map((v, i) => v - yk[i]!);
    const v2 = yk.map((v, i) => v + q[i]!);
    const next = v2.map((v) => Math.min(hi, Math.max(lo, v)));
    q = v2.map((v, i) => v - next[i]!);
    const change = Math.max(...next.map((v, i) => Math.abs(v - xk[i]!)));
    xk = next;
    if (change < 1e-15 && it > 10) break;
  }
  return xk.map((v, i) => v - t[i]!);
}

/** The step to the box corner that moves w . z furthest towards b (what FAB takes when the box cannot reach it). */
function cornerStep(t: number[], w: number[], b: number, lo: number, hi: number): number[] {
  const s = Math.sign(dot(w, t) - b);
  return t.map((v, i) => (w[i] === 0 ? 0 : s * w[i]! > 0 ? lo - v : hi - v));
}

interface Case {
  t: number[];
  w: number[];
  b: number;
  lo: number;
  hi: number;
}

/** Seeded cases: the plane near the point (unconstrained optimum in the box), far (box active), beyond the box, zeros in w. */
function cases(count: number, seed: number): Case[] {
  const out: Case[] = [];
  for (let c = 0; c < count; c++) {
    const n = 2 + (c % 7);
    const [lo, hi] = c % 3 === 0 ? [-1, 2] : [0, 1];
    const t = Array.from(uniform(n, seed + 3 * c), (v) => lo + (hi - lo) * v);
    const w = Array.from(symmetric(n, seed + 3 * c + 1, 2));
    if (c % 5 === 4) w[0] = 0;
    const spread = dot(
      w.map(Math.abs),
      w.map(() => hi - lo),
    );
    // Offsets from a hair to beyond what the box allows.
    const frac = [0.01, 0.1, 0.3, 0.6, 1.5][c % 5]!;
    const sign = c % 2 === 0 ? 1 : -1;
    out.push({ t, w, b: dot(w, t) + sign * frac * spread * 0.5, lo, hi });
  }
  return out;
}

describe('FAB projections onto a hyperplane within the box', () => {
  it('L-inf: on the plane, in the box, with the smallest L-inf norm (bisection reference); the corner when out of reach', () => {
    let reachable = 0;
    let active = 0;
    for (const { t, w, b, lo, hi } of cases(60, 100)) {
      const d = fabProjectionLinf(t, w, b, [lo, hi]);
      const z = t.map((v, i) => v + d[i]!);
      for (const v of z) {
        expect(v).toBeGreaterThanOrEqual(lo - 1e-12);
        expect(v).toBeLessThanOrEqual(hi + 1e-12);
      }
      const radius = linfRadius(t, w, b, lo, hi);
      if (radius == null) {
        expect(Array.from(d)).toEqual(
          cornerStep(t, w, b, lo, hi).map((v) => expect.closeTo(v, 12)),
        );
        continue;
      }
      reachable++;
      expect(dot(w, z)).toBeCloseTo(b, 9);
      expect(linfOf(d)).toBeCloseTo(radius, 9);
      const free =
        Math.abs(dot(w, t) - b) /
        dot(
          w.map(Math.abs),
          w.map(() => 1),
        );
      if (radius > free * (1 + 1e-9)) active++;
    }
    expect(reachable).toBeGreaterThan(20);
    expect(active).toBeGreaterThan(5); // the box mattered in some cases
  });

  it("L2: on the plane, in the box, equal to Dykstra's projection; the corner when out of reach", () => {
    let reachable = 0;
    let active = 0;
    for (const { t, w, b, lo, hi } of cases(60, 200)) {
      const d = fabProjectionL2(t, w, b, [lo, hi]);
      const z = t.map((v, i) => v + d[i]!);
      for (const v of z) {
        expect(v).toBeGreaterThanOrEqual(lo - 1e-12);
        expect(v).toBeLessThanOrEqual(hi + 1e-12);
      }
      if (linfRadius(t, w, b, lo, hi) == null) {
        expect(Array.from(d)).toEqual(
          cornerStep(t, w, b, lo, hi).map((v) => expect.closeTo(v, 12)),
        );
        continue;
      }
      reachable++;
      expect(dot(w, z)).toBeCloseTo(b, 9);
      const ref = dykstra(t, w, b, lo, hi);
      for (let i = 0; i < t.length; i++) expect(d[i]).toBeCloseTo(ref[i]!, 6);
      const free = Math.abs(dot(w, t) - b) / Math.sqrt(dot(w, w));
      if (l2Of(d) > free * (1 + 1e-9)) active++;
    }
    expect(reachable).toBeGreaterThan(20);
    expect(active).toBeGreaterThan(5);
  });

  it('without an active box: the closed forms c w / ||w||_2^2 (L2) and c sign(w) / ||w||_1 (L-inf)', () => {
    const t = [0.1, -0.4, 0.3, 0.05];
    const w = [1.5, -2, 0.5, 0];
    const b = 0.7;
    const c = dot(w, t) - b;
    const d2 = fabProjectionL2(t, w, b, [-100, 100]);
    const dinf = fabProjectionLinf(t, w, b, [-100, 100]);
    const ww = dot(w, w);
    const w1 = w.reduce((s, v) => s + Math.abs(v), 0);
    for (let i = 0; i < 4; i++) {
      expect(d2[i]).toBeCloseTo((-c * w[i]!) / ww, 14);
      expect(dinf[i]).toBeCloseTo((-c * Math.sign(w[i]!)) / w1, 14);
    }
    // on the plane already: no step
    for (const v of fabProjectionL2(t, w, dot(w, t), [-100, 100]))
      expect(Math.abs(v)).toBeLessThan(1e-15);
  });
});

// ---------------------------------------------------------------------------------------------
// FAB on linear models, where the minimal perturbation is known
// ---------------------------------------------------------------------------------------------

/**
 * Float64 distances to the boundaries f_k = f_y of a linear model, no box: |f_k - f_y| /
 * ||W_k - W_y||_q (q = 2 for L2, 1 for L-inf). Their minimum lower-bounds every misclassifying
 * perturbation; it is attained when the class k of the nearest boundary is the top class there.
 */
function closedForm(m: LinearModel, xv: Float32Array, i: number, y: number, norm: Norm) {
  const z = linearLogits(m, xv, i);
  let best = Number.POSITIVE_INFINITY;
  let arg = -1;
  for (let k = 0; k < m.k; k++) {
    if (k === y) continue;
    let q = 0;
    for (let p = 0; p < m.d; p++) {
      const v = m.W[p * m.k + k]! - m.W[p * m.k + y]!;
      q += norm === 'l2' ? v * v : Math.abs(v);
    }
    const dist = Math.abs(z[k]! - z[y]!) / (norm === 'l2' ? Math.sqrt(q) : q);
    if (dist < best) [best, arg] = [dist, k];
  }
  // The point just beyond that boundary, along the optimal direction: is class `arg` on top there?
  const xs = new Float64Array(m.d);
  for (let p = 0; p < m.d; p++) {
    const v = m.W[p * m.k + arg]! - m.W[p * m.k + y]!;
    const dir = norm === 'l2' ? v / Math.sqrt(sumSq(m, arg, y)) : Math.sign(v);
    xs[p] = xv[i * m.d + p]! + 1.001 * best * dir;
  }
  const zs = linearLogits(m, xs, 0);
  const attained = zs.indexOf(Math.max(...zs)) === arg;
  return { distance: best, cls: arg, attained };
}
function sumSq(m: LinearModel, k: number, y: number) {
  let s = 0;
  for (let p = 0; p < m.d; p++) s += (m.W[p * m.k + k]! - m.W[p * m.k + y]!) ** 2;
  return s;
}

const D = 16;
const K = 5;
const N = 6;
let m: LinearModel;
let xv: Float32Array;
let x: tf.Tensor2D;
let y: number[];

beforeAll(() => {
  m = linearModel(D, K, 31, 0.5);
  xv = Float32Array.from(uniform(N * D, 32), (v) => 0.3 + 0.4 * v);
  x = tf.tensor2d(xv, [N, D]);
  // labels = clean predictions, so that every example starts correct
  y = Array.from({ length: N }, (_, i) => {
    const z = linearLogits(m, xv, i);
    return z.indexOf(Math.max(...z));
  });
});
afterAll(() => {
  m.dispose();
  x.dispose();
});

/** Runs fab and checks tensors are not leaked (besides the adversarial, disposed here after reading it). */
async function run(
  options: Parameters<typeof fab>[3],
  model = m.model,
  input: tf.Tensor = x,
  labels = y,
) {
  const before = tf.memory().numTensors;
  const r = await fab(model, input, labels, options);
  const adv = Float32Array.from(await r.adversarial.data());
  r.adversarial.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return { r, adv };
}

/**
 * FAB's iterates along the segment from x to the nearest boundary of a linear model, as
 * fractions s of the minimal perturbation d* (no box: both projections point along d*):
 * d1 = (1 - s) d*, d2 = d*, alpha = min(|d1| / (|d1| + |d2|), alphaMax), s' = (1 - alpha)(s +
 * eta (1 - s)) + alpha eta, and s' > 1 fools, is recorded, and steps back to beta s'. With eta
 * > 1 the iterates cycle around the boundary: the best recorded s' is what FAB can reach.
 */
function predictedRatio(steps: number, alphaMax = 0.1, eta = 1.05, beta = 0.9): number {
  let s = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let t = 0; t < steps; t++) {
    const a1 = Math.max(1 - s, 1e-8);
    const alpha = Math.min(a1 / (a1 + 1), alphaMax);
    s = (1 - alpha) * (s + eta * (1 - s)) + alpha * eta;
    if (s > 1) {
      best = Math.min(best, s);
      s *= beta;
    }
  }
  return best;
}

const WIDE: [number, number] = [-1000, 1000]; // a box that never binds

describe('fab: the minimal perturbation on a linear model (closed form, no box)', () => {
  it.each(['l2', 'linf'] as const)(
    '%s: minNorm within 1%% of |f_k - f_y| / ||w_k - w_y||_q, never below; the adversarial crosses',
    async (norm) => {
      const { r, adv } = await run({ norm, epsilon: 100, bounds: WIDE, steps: 100 });
      const predicted = predictedRatio(100);
      const rows = [`predicted by the update rule: +${((predicted - 1) * 100).toFixed(4)}%`];
      for (let i = 0; i < N; i++) {
        const ref = closedForm(m, xv, i, y[i]!, norm);
        const found = r.minNorm[i]!;
        rows.push(
          `${i}: ${found.toPrecision(6)} vs ${ref.distance.toPrecision(6)} (+${((found / ref.distance - 1) * 100).toFixed(4)}%)`,
        );
        // a misclassified point crossed some boundary f_k = f_y: the closed form lower-bounds it
        expect(found).toBeGreaterThanOrEqual(ref.distance * (1 - 1e-4));
        if (ref.attained) {
          expect(found).toBeLessThanOrEqual(ref.distance * 1.01);
          // and exactly where the update rule's cycle says (0.52% above for the defaults)
          expect(found / ref.distance).toBeCloseTo(predicted, 4);
        }
        expect(r.success[i]).toBe(1);
        expect(r.predictions[i]).not.toBe(y[i]);
        const reached = norm === 'l2' ? r.l2[i]! : r.linf[i]!;
        expect(reached).toBeCloseTo(found, 5);
        // the returned point misclassifies in float64 too
        const z = linearLogits(m, adv, i);
        expect(z.indexOf(Math.max(...z))).not.toBe(y[i]);
      }
      console.info(`fab ${norm} minimality (found vs closed form):\n${rows.join('\n')}`);
      // the seeded model must exercise the closed form (the nearest boundary's class on top there)
      expect(
        Array.from({ length: N }, (_, i) => closedForm(m, xv, i, y[i]!, norm).attained).filter(
          Boolean,
        ).length,
      ).toBeGreaterThanOrEqual(4);
    },
  );

  it.each(['l2', 'linf'] as const)(
    '%s FAB-T over all wrong classes finds the same minimum',
    async (norm) => {
      const { r } = await run({ norm, epsilon: 100, bounds: WIDE, steps: 60, targetClasses: 9 });
      expect(r.targeted).toBe(false);
      for (let i = 0; i < N; i++) {
        const ref = closedForm(m, xv, i, y[i]!, norm);
        expect(r.minNorm[i]!).toBeGreaterThanOrEqual(ref.distance * (1 - 1e-4));
        if (ref.attained) expect(r.minNorm[i]!).toBeLessThanOrEqual(ref.distance * 1.01);
        expect(r.success[i]).toBe(1);
      }
      // 9 asked, at most K - 1 = 4 runs of 60 steps, 2 gradients each
      expect(r.gradientEvaluations).toBe(4 * 60 * 2);
      expect(r.iterations).toBe(4 * 60);
    },
  );
});

describe('fab: the box [0, 1] active (2 pixels, brute force over a grid)', () => {
  // z_0 = 0, z_1 = 3 x_1 + x_2 - 3.2: class 0 at x, and the unconstrained projection leaves the box.
  let W: tf.Tensor2D;
  let bias: tf.Tensor1D;
  beforeAll(() => {
    W = tf.tensor2d([0, 3, 0, 1], [2, 2]);
    bias = tf.tensor1d([0, -3.2]);
  });
  const model = (t: tf.Tensor) => tf.add(tf.matMul(t as tf.Tensor2D, W), bias);
  const points = [
    [0.93, 0.1],
    [0.96, 0.15],
    [0.98, 0.02],
  ];
  afterAll(() => tf.dispose([W, bias]));

  /** The smallest norm of a grid point of [0, 1]^2 (step 1/4000) classified 1. */
  function brute(p: number[], norm: Norm): number {
    let best = Number.POSITIVE_INFINITY;
    const g = 4000;
    for (let a = 0; a <= g; a++) {
      const u = a / g;
      // along each column the smallest v with 3u + v - 3.2 >= 0 is the nearest candidate
      const vmin = Math.max(0, 3.2 - 3 * u);
      if (vmin > 1) continue;
      for (const v of [Math.ceil(vmin * g) / g]) {
        const du = u - p[0]!;
        const dv = Math.max(v, p[1]!) - p[1]!;
        const size = norm === 'l2' ? Math.hypot(du, dv) : Math.max(Math.abs(du), Math.abs(dv));
        best = Math.min(best, size);
      }
    }
    return best;
  }

  it.each(['l2', 'linf'] as const)(
    '%s: minNorm matches the brute force (>= the unconstrained distance)',
    async (norm) => {
      const input = tf.tensor2d(points.flat(), [points.length, 2]);
      const { r, adv } = await run({ norm, epsilon: 1, steps: 100 }, model, input, [0, 0, 0]);
      input.dispose();
      for (let i = 0; i < points.length; i++) {
        const p = points[i]!;
        const ref = brute(p, norm);
        const free = Math.abs(3 * p[0]! + p[1]! - 3.2) / (norm === 'l2' ? Math.sqrt(10) : 4);
        expect(ref).toBeGreaterThan(free * 1.05); // the box binds
        expect(r.minNorm[i]!).toBeGreaterThanOrEqual(ref - 1e-3);
        expect(r.minNorm[i]!).toBeLessThanOrEqual(ref * 1.01 + 1e-3);
        expect(r.success[i]).toBe(1);
        for (const v of adv.subarray(2 * i, 2 * i + 2)) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        console.info(
          `fab ${norm} box [0, 1], x = (${p}): ${r.minNorm[i]} vs brute force ${ref} (unconstrained ${free})`,
        );
      }
    },
  );
});

describe('fab: the threat model and targets', () => {
  it.each(['l2', 'linf'] as const)(
    '%s: success only within epsilon; the clean input returned otherwise',
    async (norm) => {
      const refs = Array.from({ length: N }, (_, i) => closedForm(m, xv, i, y[i]!, norm).distance);
      const eps = [...refs].sort((a, b) => a - b)[Math.floor(N / 2)]!;
      const { r, adv } = await run({ norm, epsilon: eps, bounds: WIDE, steps: 50 });
      let some = [0, 0];
      for (let i = 0; i < N; i++) {
        const inBall = r.minNorm[i]! <= eps;
        expect(r.success[i]).toBe(inBall ? 1 : 0);
        some = [some[0]! + (inBall ? 1 : 0), some[1]! + (inBall ? 0 : 1)];
        if (inBall) {
          expect(norm === 'l2' ? r.l2[i]! : r.linf[i]!).toBeLessThanOrEqual(eps * (1 + 1e-6));
        } else {
          expect(Array.from(adv.subarray(i * D, (i + 1) * D))).toEqual(
            Array.from(xv.subarray(i * D, (i + 1) * D)),
          );
          expect(r.linf[i]).toBe(0);
          expect(Number.isFinite(r.minNorm[i]!)).toBe(true); // found, but outside the ball
        }
      }
      expect(some[0]).toBeGreaterThan(0);
      expect(some[1]).toBeGreaterThan(0);
    },
  );

  it.each(['l2', 'linf'] as const)(
    '%s targeted: success means predicting the target, inside epsilon',
    async (norm) => {
      const target = y.map((v) => (v + 2) % K);
      const eps = norm === 'l2' ? 3 : 1;
      const { r, adv } = await run({ norm, epsilon: eps, target, steps: 100 });
      expect(r.targeted).toBe(true);
      let hits = 0;
      for (let i = 0; i < N; i++) {
        if (!r.success[i]) continue;
        hits++;
        expect(r.predictions[i]).toBe(target[i]);
        const z = linearLogits(m, adv, i);
        expect(z.indexOf(Math.max(...z))).toBe(target[i]);
        expect(norm === 'l2' ? r.l2[i]! : r.linf[i]!).toBeLessThanOrEqual(eps * (1 + 1e-6));
        for (const v of adv.subarray(i * D, (i + 1) * D)) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
      }
      expect(hits).toBeGreaterThanOrEqual(N - 1);
    },
  );

  it('an example misclassified at x counts with norm 0 and is returned as x', async () => {
    const wrong = y.map((v, i) => (i === 0 ? (v + 1) % K : v));
    const { r, adv } = await run({ epsilon: 0.05, steps: 5 }, m.model, x, wrong);
    expect(r.minNorm[0]).toBe(0);
    expect(r.success[0]).toBe(1);
    expect(Array.from(adv.subarray(0, D))).toEqual(Array.from(xv.subarray(0, D)));
  });
});

describe('fab: gradient sources, restarts, cost, errors', () => {
  it('own, modelGradient and a closed-form customGradient give the same minimal norms', async () => {
    // d(-CE(z, t))/dx = (e_t - softmax(z)) W^T for a linear model z = x W + b
    const Wt = tf.tensor2d(m.W, [D, K]);
    let calls = 0;
    const closed = customGradient((t, objective) => {
      calls++;
      return tf.tidy(() => {
        const z = m.model(t);
        const onehot = tf.oneHot(objective.target ?? objective.labels, K);
        const coef = tf.sub(tf.cast(onehot, 'float32'), tf.softmax(z));
        const g = tf.matMul(coef as tf.Tensor2D, Wt, false, true);
        return objective.target ? g : tf.neg(g);
      });
    }, 'closed-form');
    const results: FabResult[] = [];
    for (const gradient of [
      undefined,
      ownGradient(m.model),
      modelGradient(m.model, 'twin'),
      closed,
    ]) {
      const { r } = await run({
        norm: 'l2',
        epsilon: 100,
        bounds: WIDE,
        steps: 40,
        ...(gradient ? { gradient } : {}),
      });
      results.push(r);
    }
    Wt.dispose();
    expect(calls).toBe(40 * K);
    expect(results.map((r) => r.gradientSource)).toEqual(['own', 'own', 'twin', 'closed-form']);
    for (const r of results.slice(1)) {
      for (let i = 0; i < N; i++) expect(r.minNorm[i]!).toBeCloseTo(results[0]!.minNorm[i]!, 4);
    }
  });

  it('a network whose own backward path is not its gradient (FA MLP): the attacked model decides, both sources run', async () => {
    const net = twinModels(D, 12, K, 5);
    const xs = tf.tensor2d(uniform(N * D, 9), [N, D]);
    const labels = Array.from((await tf.tidy(() => tf.argMax(net.bp(xs), 1)).data()) as Int32Array);
    const own = await run({ epsilon: 0.3, steps: 30 }, net.fa, xs, labels);
    const twin = await run(
      { epsilon: 0.3, steps: 30, gradient: modelGradient(net.bp, 'bp-twin') },
      net.fa,
      xs,
      labels,
    );
    for (const { r } of [own, twin]) {
      for (let i = 0; i < N; i++) {
        if (r.success[i]) {
          expect(r.predictions[i]).not.toBe(labels[i]);
          expect(r.linf[i]!).toBeLessThanOrEqual(0.3 + 1e-6);
        }
      }
    }
    // the true gradient finds every example's boundary
    expect(twin.r.minNorm.every((v) => Number.isFinite(v))).toBe(true);
    xs.dispose();
    net.dispose();
  });

  it('restarts from random starts: seeded, never worse than the first run', async () => {
    const one = await run({ epsilon: 0.5, steps: 20 });
    const a = await run({ epsilon: 0.5, steps: 20, restarts: 3, seed: 4 });
    const b = await run({ epsilon: 0.5, steps: 20, restarts: 3, seed: 4 });
    expect(Array.from(a.r.minNorm)).toEqual(Array.from(b.r.minNorm));
    expect(a.adv).toEqual(b.adv);
    for (let i = 0; i < N; i++) expect(a.r.minNorm[i]!).toBeLessThanOrEqual(one.r.minNorm[i]!);
  });

  it('cost() counts the gradient evaluations and forward passes made; registered', async () => {
    // loaded here, so the rest of this file runs while another attack's registry line waits for its file
    const { ATTACK_INFO } = await import('./registry.js');
    expect(ATTACK_INFO.fab).toBe(fabInfo);
    for (const o of [{ steps: 7 }, { steps: 5, restarts: 2 }, { steps: 4, targetClasses: 2 }]) {
      const { r } = await run({ epsilon: 0.1, ...o });
      const cost = fabInfo.cost({ ...o, classes: K });
      expect(r.gradientEvaluations).toBe(cost.gradients);
      expect(r.queries).toBe(cost.forwards);
    }
    expect(fabInfo.cost().gradients).toBe(100 * 10);
    expect(fabInfo.cost({ targetClasses: 9 })).toEqual({
      gradients: 9 * 100 * 2,
      forwards: 1 + 2 * 900,
    });
  });

  it('refuses bad options with typed errors', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ norm: 'l1' }, /options\.norm/],
      [{ targetClasses: 2, target: y }, /options\.targetClasses/],
      [{ targetClasses: 0 }, /options\.targetClasses/],
      [{ loss: 'dlr' }, /options\.loss/],
      [{ beta: 1.5 }, /options\.beta/],
      [{ alphaMax: -1 }, /options\.alphaMax/],
      [{ eta: 0 }, /options\.eta/],
    ];
    const before = tf.memory().numTensors;
    for (const [o, re] of bad) {
      await expect(fab(m.model, x, y, { epsilon: 0.1, ...o } as never)).rejects.toThrow(
        AttackInputError,
      );
      await expect(fab(m.model, x, y, { epsilon: 0.1, ...o } as never)).rejects.toThrow(re);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
