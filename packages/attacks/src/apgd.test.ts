/**
 * APGD and APGD-T: the defining property (never a worse point than the start, inside the ball
 * and the bounds), the update rule and step-size schedule against a float64 re-implementation
 * on a linear softmax model, targeted success, every gradient source, and strength against
 * PGD with restarts on a small trained net.
 */

import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApgdOptions, apgd, apgdCheckpoints, apgdInfo } from './apgd.js';
import { AttackInputError } from './errors.js';
import { customGradient, modelGradient, ownGradient } from './gradient.js';
import { fooledMask, type LossName, objectiveLoss } from './objective.js';
import {
  barImages,
  barModel,
  clampTo,
  type LinearModel,
  linearGradient,
  linearLogits,
  linearModel,
  type TwinModels,
  twinModels,
  uniform,
} from './test-utils.js';
import type { AttackResult } from './types.js';

const B = 6;
const D = 12;
const K = 5;
const y = [0, 1, 2, 3, 4, 0];
let m: LinearModel;
let tw: TwinModels;
let xv: Float32Array;

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = linearModel(D, K, 7, 2);
  tw = twinModels(D, 16, K, 5);
  xv = uniform(B * D, 3).map((v) => 0.1 + 0.8 * v);
});
afterAll(() => {
  m.dispose();
  tw.dispose();
});

const rows = (a: ArrayLike<number>, i: number) => Array.from(a).slice(i * D, (i + 1) * D);

/** The attack loss and fooled mask per example of `model` at x, read back. */
function lossAndFooled(
  model: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  loss: LossName,
  target?: number[],
): { loss: Float32Array; fooled: Uint8Array } {
  return tf.tidy(() => {
    const objective = {
      loss,
      labels: tf.tensor1d(y, 'int32'),
      target: target ? tf.tensor1d(target, 'int32') : null,
      numClasses: K,
    };
    const z = model(x);
    return {
      loss: objectiveLoss(z, objective).dataSync() as Float32Array,
      fooled: Uint8Array.from(fooledMask(z, objective).dataSync()),
    };
  });
}

describe('apgd: the defining property', () => {
  it.each([
    ['linf', 'ce', 0.05],
    ['linf', 'dlr', 0.05],
    ['l2', 'ce', 0.3],
    ['l2', 'dlr', 0.3],
  ] as const)(
    '%s %s: per example no worse than x, no lower than any iterate, inside the ball and the bounds',
    async (norm, loss, eps) => {
      const start = tf.memory().numTensors;
      const x = tf.tensor2d(xv, [B, D]);
      // a gradient source that records the attack loss at every point it is asked about
      const seen: Float32Array[] = [];
      const inner = ownGradient(tw.bp);
      const gradient = customGradient((t, objective) => {
        const { gradient: g, logits } = inner.evaluate(t, objective);
        seen.push(tf.tidy(() => objectiveLoss(logits!, objective).dataSync() as Float32Array));
        logits!.dispose();
        return g;
      });
      const r = await apgd(tw.bp, x, y, {
        epsilon: eps,
        norm,
        loss,
        steps: 30,
        restarts: 2,
        gradient,
      });
      const clean = lossAndFooled(tw.bp, x, loss);
      const adv = lossAndFooled(tw.bp, r.adversarial, loss);
      const a = r.adversarial.dataSync();
      for (let i = 0; i < B; i++) {
        // a fooling point first; else (or among fooling points) the highest loss
        if (adv.fooled[i] === clean.fooled[i])
          expect(adv.loss[i]!).toBeGreaterThanOrEqual(clean.loss[i]!);
        else expect(adv.fooled[i]).toBe(1);
        if (!adv.fooled[i])
          for (const l of seen) expect(adv.loss[i]!).toBeGreaterThanOrEqual(l[i]! - 1e-6);
        expect(r.success[i]).toBe(adv.fooled[i]);
        const d = rows(a, i).map((v, p) => v - xv[i * D + p]!);
        if (norm === 'linf') expect(Math.max(...d.map(Math.abs))).toBeLessThanOrEqual(eps + 1e-6);
        else expect(Math.hypot(...d)).toBeLessThanOrEqual(eps * (1 + 1e-5));
      }
      expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...a)).toBeLessThanOrEqual(1);
      expect(r.attack).toBe('apgd');
      expect(r.norm).toBe(norm);
      expect(r.iterations).toBe(60);
      expect(r.gradientEvaluations).toBe(60);
      expect(seen.length).toBe(60);
      // the attack did something: the loss rose on most examples
      expect(adv.loss.filter((l, i) => l > clean.loss[i]! + 1e-4).length).toBeGreaterThanOrEqual(
        B - 1,
      );
      tf.dispose([r.adversarial, x]);
      expect(tf.memory().numTensors).toBe(start);
    },
  );

  it('is deterministic for a seed; another seed draws another start', async () => {
    const x = tf.tensor2d(xv, [B, D]);
    const o: ApgdOptions = { epsilon: 0.05, steps: 10, seed: 3 };
    const [r1, r2, r3] = [
      await apgd(tw.bp, x, y, o),
      await apgd(tw.bp, x, y, o),
      await apgd(tw.bp, x, y, { ...o, seed: 4 }),
    ];
    expect(Array.from(r1.adversarial.dataSync())).toEqual(Array.from(r2.adversarial.dataSync()));
    expect(Array.from(r1.adversarial.dataSync())).not.toEqual(
      Array.from(r3.adversarial.dataSync()),
    );
    tf.dispose([r1.adversarial, r2.adversarial, r3.adversarial, x]);
  });
});

describe('apgd: the update rule and the step-size schedule (float64 re-implementation)', () => {
  // labels: the linear model's own predictions, so every example starts correctly classified
  let ly: number[];
  beforeAll(() => {
    ly = Array.from({ length: B }, (_, i) => {
      const z = linearLogits(m, rows(xv, i), 0);
      return z.indexOf(Math.max(...z));
    });
  });
  it('checkpoints: p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)', () => {
    const p = [0, 0.22];
    while (p.length < 12) p.push(p.at(-1)! + Math.max(p.at(-1)! - p.at(-2)! - 0.03, 0.06));
    const paper = p
      .slice(1)
      .map((v) => Math.ceil(v * 100 - 1e-9))
      .filter((w) => w < 100);
    expect(apgdCheckpoints(100)).toEqual(paper);
    expect(apgdCheckpoints(100)).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
    expect(apgdCheckpoints(10)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(apgdCheckpoints(1)).toEqual([]);
  });

  /** d loss / dx and the loss of the linear model in float64, for 'ce' and untargeted 'dlr'. */
  function lossGrad(x: number[], i: number, loss: 'ce' | 'dlr'): { l: number; g: number[] } {
    const z = linearLogits(m, x, 0);
    const c = ly[i]!;
    if (loss === 'ce') {
      const mx = Math.max(...z);
      const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
      return { l: lse - z[c]!, g: linearGradient(m, x, 0, c, 'ce') };
    }
    const order = z.map((_, j) => j).sort((a, b) => z[b]! - z[a]!);
    const j = order.find((k) => k !== c)!;
    const [p1, , p3] = order as [number, number, number];
    const num = z[j]! - z[c]!;
    const den = z[p1]! - z[p3]! + 1e-12;
    const col = (k: number) => Array.from({ length: D }, (_, q) => m.W[q * K + k]!);
    const [wj, wc, w1, w3] = [col(j), col(c), col(p1), col(p3)];
    return {
      l: num / den,
      g: wj.map((_, q) => (wj[q]! - wc[q]!) / den - (num * (w1[q]! - w3[q]!)) / (den * den)),
    };
  }

  /** APGD from x (no random start) in float64, per example: every iterate, the halvings, the result. */
  function reference(
    i: number,
    o: { norm: 'linf' | 'l2'; loss: 'ce' | 'dlr'; eps: number; steps: number },
  ) {
    const { eps, steps } = o;
    const x0 = rows(xv, i);
    const project = (v: number[]) => {
      let p = v;
      if (o.norm === 'linf') p = v.map((u, q) => clampTo(u, x0[q]! - eps, x0[q]! + eps));
      else {
        const n = Math.hypot(...v.map((u, q) => u - x0[q]!));
        const f = Math.min(1, eps / Math.max(n, 1e-12));
        p = v.map((u, q) => x0[q]! + (u - x0[q]!) * f);
      }
      return p.map((u) => clampTo(u, 0, 1));
    };
    const unit = (g: number[]) => {
      if (o.norm === 'linf') return g.map(Math.sign);
      const n = Math.max(Math.hypot(...g), 1e-12);
      return g.map((v) => v / n);
    };
    const fooled = (v: number[]) => {
      const z = linearLogits(m, v, 0);
      return z.indexOf(Math.max(...z)) !== ly[i];
    };
    let x = x0.slice();
    let { l, g } = lossGrad(x, i, o.loss);
    let [xBest, gBest, lBest, lPrev] = [x, g, l, l];
    let xPrev = x;
    let eta = 2 * eps;
    let increases = 0;
    let lAtCheck = l;
    let halvedLast = true;
    let window = Math.max(Math.floor(0.22 * steps), 1);
    const checks = apgdCheckpoints(steps);
    const iterates = [x];
    /**
     * DLR is 1 wherever the label is the third largest logit (numerator = denominator): its
     * gradient there is rounding noise, whose sign float32 and float64 draw apart.
     */
    const flat = (v: number[]) => {
      const z = linearLogits(m, v, 0);
      return o.loss === 'dlr' && z.filter((u) => u > z[ly[i]!]!).length === 2;
    };
    let flatFrom = flat(x) ? 0 : Number.POSITIVE_INFINITY;
    const halvings: number[] = [];
    let restarts = 0;
    const candidates: { x: number[]; l: number; f: boolean }[] = [{ x, l, f: fooled(x) }];
    for (let k = 0; k < steps; k++) {
      const a = k > 0 ? 0.75 : 1;
      const d = unit(g);
      const z = project(x.map((v, q) => v + eta * d[q]!));
      const next = project(x.map((v, q) => v + a * (z[q]! - v) + (1 - a) * (v - xPrev[q]!)));
      xPrev = x;
      x = next;
      if (k === steps - 1) break;
      ({ l, g } = lossGrad(x, i, o.loss));
      iterates.push(x);
      if (flatFrom === Number.POSITIVE_INFINITY && flat(x)) flatFrom = iterates.length - 1;
      candidates.push({ x, l, f: fooled(x) });
      if (l > lPrev) increases++;
      lPrev = l;
      if (l > lBest) [xBest, gBest, lBest] = [x, g, l];
      if (checks.includes(k + 1)) {
        const halve: boolean = increases <= window * 0.75 || (!halvedLast && lAtCheck >= lBest);
        if (halve) {
          if (x.some((v, q) => v !== xBest[q])) restarts++;
          eta /= 2;
          x = xBest;
          g = gBest;
          halvings.push(k + 1);
        }
        halvedLast = halve;
        lAtCheck = lBest;
        increases = 0;
        window = Math.max(
          window - Math.max(Math.floor(0.03 * steps), 1),
          Math.max(Math.floor(0.06 * steps), 1),
        );
      }
    }
    const fin = lossGrad(x, i, o.loss).l;
    candidates.push({ x, l: fin, f: fooled(x) });
    // keep-best: a fooling point first, else the highest loss (earlier on ties)
    let best = candidates[0]!;
    for (const c of candidates.slice(1))
      if ((c.f && !best.f) || (c.l > best.l && (c.f || !best.f))) best = c;
    // keepBest false: the run's own best, x_max (the final iterate if higher)
    const runBest = fin > lBest ? x : xBest;
    return { iterates, flatFrom, halvings, restarts, best: best.x, runBest };
  }

  it.each([
    ['linf', 'ce', 0.1, 30],
    ['l2', 'ce', 0.5, 30],
    ['linf', 'dlr', 0.1, 25],
  ] as const)(
    '%s %s: iterates, halvings and restarts from the best point, the point returned',
    async (norm, loss, eps, steps) => {
      const start = tf.memory().numTensors;
      const x = tf.tensor2d(xv, [B, D]);
      const seen: Float32Array[] = [];
      const inner = modelGradient(m.model);
      const gradient = customGradient((t, objective) => {
        seen.push(t.dataSync() as Float32Array);
        const { gradient: g, logits } = inner.evaluate(t, objective);
        logits?.dispose();
        return g;
      });
      const o = { epsilon: eps, norm, loss, steps, randomStart: false, gradient };
      const r = await apgd(m.model, x, ly, o);
      const own = await apgd(m.model, x, ly, { ...o, keepBest: false, gradient: undefined });
      expect(seen.length).toBe(steps);
      const tol = norm === 'l2' ? 1e-4 : 2e-5;
      let worst = 0;
      let halved = 0;
      let restarted = 0;
      let compared = 0;
      const adv = r.adversarial.dataSync();
      const mine = own.adversarial.dataSync();
      for (let i = 0; i < B; i++) {
        const ref = reference(i, { norm, loss, eps, steps });
        halved += ref.halvings.length;
        restarted += ref.restarts;
        // up to the first iterate where DLR is flat (its gradient noise): equal, else from there
        const upTo = Math.min(steps - 1, ref.flatFrom);
        for (let t = 0; t <= upTo; t++) {
          const got = rows(seen[t]!, i);
          for (let q = 0; q < D; q++)
            worst = Math.max(worst, Math.abs(got[q]! - ref.iterates[t]![q]!));
        }
        if (ref.flatFrom < steps) continue;
        compared++;
        const [a, b] = [rows(adv, i), rows(mine, i)];
        for (let q = 0; q < D; q++) {
          worst = Math.max(
            worst,
            Math.abs(a[q]! - ref.best[q]!),
            Math.abs(b[q]! - ref.runBest[q]!),
          );
        }
      }
      expect(compared).toBeGreaterThanOrEqual(B / 2);
      expect(worst).toBeLessThan(tol);
      // the schedule was exercised: halvings, and restarts that moved an iterate to the best point
      expect(halved).toBeGreaterThan(0);
      console.log(
        `apgd float64 ${norm} ${loss}: ${halved} halvings, ${restarted} restarts that moved, ${compared} of ${B} compared to the end, worst ${worst.toExponential(1)}`,
      );
      tf.dispose([r.adversarial, own.adversarial, x]);
      expect(tf.memory().numTensors).toBe(start);
    },
  );
});

describe('apgd: targeted', () => {
  const H = 8;
  const W = 10;
  let bars: LinearModel;
  let bx: tf.Tensor;
  let by: number[];
  beforeAll(() => {
    bars = barModel(H, W, K);
    const data = barImages(10, H, W, K, 4);
    bx = tf.tensor4d(data.x, [10, H, W, 1]);
    by = Array.from(data.y);
  });
  afterAll(() => {
    bars.dispose();
    bx.dispose();
  });

  it('fixed target: success means predicting the target', async () => {
    const start = tf.memory().numTensors;
    const target = by.map((c) => (c + 1) % K);
    const r = await apgd(bars.model, bx, by, { epsilon: 0.4, target, steps: 30 });
    expect(r.targeted).toBe(true);
    expect(Array.from(r.target!)).toEqual(target);
    for (let i = 0; i < 10; i++) expect(r.success[i]).toBe(r.predictions[i] === target[i] ? 1 : 0);
    expect(r.success.reduce((s, v) => s + v, 0)).toBeGreaterThan(5);
    r.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('targetClasses (APGD-T): a targeted run per most likely wrong class; success is misclassification', async () => {
    const start = tf.memory().numTensors;
    const eps = 0.12;
    const r = await apgd(bars.model, bx, by, { epsilon: eps, targetClasses: 3, steps: 20 });
    expect(r.targeted).toBe(false);
    expect(r.loss).toBe('dlr');
    expect(r.gradientEvaluations).toBe(60);
    expect(r.queries).toBe(1);
    for (let i = 0; i < 10; i++) expect(r.success[i]).toBe(r.predictions[i] !== by[i] ? 1 : 0);
    expect(Math.max(...r.linf)).toBeLessThanOrEqual(eps + 1e-6);
    // each run is the targeted attack towards its class: with one class, it is APGD with
    // that fixed target (the 2nd most likely clean class), ranked by misclassification
    const z = tf.tidy(() => tf.topk(bars.model(bx), 2).indices.arraySync() as number[][]);
    const one = await apgd(bars.model, bx, by, { epsilon: eps, targetClasses: 1, steps: 20 });
    const fixed = await apgd(bars.model, bx, by, {
      epsilon: eps,
      target: z.map((row) => row[1]!),
      loss: 'dlr',
      steps: 20,
    });
    for (let i = 0; i < 10; i++) if (fixed.success[i]) expect(one.success[i]).toBe(1);
    expect(r.success.reduce((s, v) => s + v, 0)).toBeGreaterThanOrEqual(
      one.success.reduce((s, v) => s + v, 0),
    );
    tf.dispose([r.adversarial, one.adversarial, fixed.adversarial]);
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('apgd: gradient sources and options', () => {
  it('own, model (a true-gradient twin) and custom sources all drive it', async () => {
    const start = tf.memory().numTensors;
    const x = tf.tensor2d(xv, [B, D]);
    const o = { epsilon: 0.1, steps: 20, seed: 1 };
    const own = await apgd(m.model, x, y, o);
    const viaModel = await apgd(m.model, x, y, { ...o, gradient: modelGradient(m.model, 'twin') });
    const custom = await apgd(m.model, x, y, {
      ...o,
      gradient: customGradient((t) => {
        const v = t.dataSync();
        const g = new Float32Array(t.size);
        for (let i = 0; i < B; i++) g.set(linearGradient(m, v, i, y[i]!, 'ce'), i * D);
        return tf.tensor(g, t.shape);
      }, 'closed-form'),
    });
    expect([own.gradientSource, viaModel.gradientSource, custom.gradientSource]).toEqual([
      'own',
      'twin',
      'closed-form',
    ]);
    expect(Array.from(viaModel.adversarial.dataSync())).toEqual(
      Array.from(own.adversarial.dataSync()),
    );
    const a = own.adversarial.dataSync();
    const c = custom.adversarial.dataSync();
    expect(Math.max(...a.map((v, i) => Math.abs(v - c[i]!)))).toBeLessThan(1e-4);
    expect(own.success.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
    // feedback alignment: its own backward path and its true-gradient twin, over one forward
    const fa = await apgd(tw.fa, x, y, o);
    const bp = await apgd(tw.fa, x, y, { ...o, gradient: modelGradient(tw.bp, 'bp-twin') });
    expect(fa.gradientSource).toBe('own');
    expect(bp.gradientSource).toBe('bp-twin');
    tf.dispose([own, viaModel, custom, fa, bp].map((r: AttackResult) => r.adversarial));
    x.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses bad options with typed errors; apgdInfo counts the gradients made', async () => {
    const x = tf.tensor2d(xv, [B, D]);
    const bad: [Partial<ApgdOptions>, RegExp][] = [
      [{ norm: 'l1' as never }, /options\.norm/],
      [{ rho: 1.5 }, /options\.rho/],
      [{ steps: 0 }, /options\.steps/],
      [{ targetClasses: 5 }, /options\.targetClasses.*\[1, 4\]/],
      [{ targetClasses: 2, target: [1, 2, 3, 4, 0, 1] }, /options\.targetClasses/],
      [{ restarts: 2, keepBest: false }, /options\.keepBest/],
    ];
    for (const [o, re] of bad) {
      const p = apgd(m.model, x, y, { epsilon: 0.1, ...o });
      await expect(p).rejects.toThrow(AttackInputError);
      await expect(apgd(m.model, x, y, { epsilon: 0.1, ...o })).rejects.toThrow(re);
    }
    for (const o of [
      { steps: 7 },
      { steps: 5, restarts: 3 },
      { steps: 4, targetClasses: 2, restarts: 2 },
    ]) {
      let gradients = 0;
      const inner = modelGradient(m.model);
      const gradient = customGradient((t, objective) => {
        gradients++;
        const { gradient: g, logits } = inner.evaluate(t, objective);
        logits?.dispose();
        return g;
      });
      const r = await apgd(m.model, x, y, { epsilon: 0.1, gradient, ...o });
      const cost = apgdInfo.cost(o);
      expect(cost.gradients).toBe(gradients);
      expect(r.gradientEvaluations).toBe(gradients);
      expect(cost.forwards).toBe(r.queries);
      r.adversarial.dispose();
    }
    expect(apgdInfo.cost()).toEqual({ gradients: 100, forwards: 0 });
    expect(apgdInfo.cost({ targetClasses: 9 })).toEqual({ gradients: 900, forwards: 1 });
    x.dispose();
  });
});

// Strength against PGD-100 with 10 restarts on a small trained net: strength.test.ts.
