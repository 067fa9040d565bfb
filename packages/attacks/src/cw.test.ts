import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cw, cwInfo, cwObjective } from './cw.js';
import { AttackInputError } from './errors.js';
import { customGradient, modelGradient, ownGradient } from './gradient.js';
import {
  type LinearModel,
  linearGradient,
  linearLogits,
  linearModel,
  twinModels,
  uniform,
} from './test-utils.js';

const D = 12;
const K = 3;
const N = 4;
let m: LinearModel;
let x: tf.Tensor;
let x0: Float32Array;
let y: number[];

/** Float64 margin loss of the linear model: max_{j != c} z_j - z_c (targeted: z_t - max_{j != t} z_j). */
function margin(z: number[], c: number, targeted: boolean): number {
  const other = Math.max(...z.filter((_, j) => j !== c));
  return targeted ? z[c]! - other : other - z[c]!;
}

/** Closed form: the smallest L2 perturbation moving example i off class y (no box active). */
function minimalL2(i: number, label: number): number {
  const z = linearLogits(m, x0, i);
  let best = Number.POSITIVE_INFINITY;
  for (let k = 0; k < K; k++) {
    if (k === label) continue;
    let n2 = 0;
    for (let p = 0; p < D; p++) n2 += (m.W[p * K + k]! - m.W[p * K + label]!) ** 2;
    best = Math.min(best, Math.abs(z[k]! - z[label]!) / Math.sqrt(n2));
  }
  return best;
}

/** The model's predictions (no tensor left behind). */
function predict(f: (t: tf.Tensor) => tf.Tensor, t: tf.Tensor): number[] {
  const p = tf.tidy(() => tf.argMax(f(t), 1));
  const out = Array.from(p.dataSync());
  p.dispose();
  return out;
}

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = linearModel(D, K, 3, 1);
  // pixels around 0.5, so that the minimal perturbations (~0.1-0.3) never reach the box
  x0 = uniform(N * D, 5).map((v) => 0.4 + 0.2 * v);
  x = tf.tensor2d(x0, [N, D]);
  const z = m.model(x);
  y = Array.from(tf.argMax(z, 1).dataSync());
  z.dispose();
});
afterAll(() => {
  m.dispose();
  x.dispose();
});

const FAST = { steps: 200, binarySearchSteps: 10, epsilon: 10 } as const;

describe('cw', () => {
  it('approaches the closed-form minimal L2 perturbation of a linear model, across the boundary', async () => {
    const before = tf.memory().numTensors;
    const r = await cw(m.model, x, y, FAST);
    expect(Array.from(r.success)).toEqual(new Array(N).fill(1));
    const adv = r.adversarial.dataSync();
    for (let i = 0; i < N; i++) {
      const dStar = minimalL2(i, y[i]!);
      expect(dStar).toBeLessThan(0.5);
      expect(r.l2[i]!).toBeGreaterThanOrEqual(dStar * (1 - 1e-4));
      expect(r.l2[i]!).toBeLessThanOrEqual(dStar * 1.02);
      // crossed: the prediction (float64) is another class
      const z = linearLogits(m, adv, i);
      expect(margin(z, y[i]!, false)).toBeGreaterThan(0);
      expect(r.predictions[i]).not.toBe(y[i]);
    }
    expect(r.attack).toBe('cw');
    expect(r.norm).toBe('l2');
    expect(r.loss).toBe('margin');
    expect(r.gradientSource).toBe('own');
    r.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('targeted: success means predicting the target', async () => {
    const before = tf.memory().numTensors;
    const target = y.map((c) => (c + 1) % K);
    const r = await cw(m.model, x, y, { ...FAST, target });
    expect(r.targeted).toBe(true);
    expect(Array.from(r.success)).toEqual(new Array(N).fill(1));
    expect(Array.from(r.predictions)).toEqual(target);
    r.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('confidence kappa: the kept adversarial beats the runner-up by kappa', async () => {
    const r = await cw(m.model, x, y, { ...FAST, confidence: 0.5 });
    const adv = r.adversarial.dataSync();
    for (let i = 0; i < N; i++) {
      expect(margin(linearLogits(m, adv, i), y[i]!, false)).toBeGreaterThan(0.5 - 1e-4);
      expect(r.l2[i]!).toBeGreaterThan(minimalL2(i, y[i]!));
    }
    r.adversarial.dispose();
  });

  it('stays inside the pixel bounds, wherever the input sits in them', async () => {
    const before = tf.memory().numTensors;
    // pixels at and near the box edges; the tanh map keeps every iterate inside
    const edge = uniform(N * D, 9).map((v) => (v < 0.3 ? 0 : v > 0.7 ? 1 : v));
    for (const bounds of [
      [0, 1],
      [-1, 2],
    ] as const) {
      const xe = tf.tensor2d(edge, [N, D]);
      const ye = predict(m.model, xe);
      const r = await cw(m.model, xe, ye, { ...FAST, steps: 100, bounds });
      const a = r.adversarial.dataSync();
      expect(Math.min(...a)).toBeGreaterThanOrEqual(bounds[0]);
      expect(Math.max(...a)).toBeLessThanOrEqual(bounds[1]);
      expect(r.success.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
      tf.dispose([r.adversarial, xe]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('holds to the radius: success only inside the L2 ball, else the projection onto it', async () => {
    const before = tf.memory().numTensors;
    const dStar = Array.from({ length: N }, (_, i) => minimalL2(i, y[i]!));
    // a radius between the smallest and the largest minimal perturbation
    const eps = (Math.min(...dStar) + Math.max(...dStar)) / 2;
    const r = await cw(m.model, x, y, { ...FAST, epsilon: eps });
    for (let i = 0; i < N; i++) {
      expect(r.l2[i]!).toBeLessThanOrEqual(eps * (1 + 1e-5));
      // a linear model cannot be fooled below its minimal perturbation
      if (dStar[i]! * 1.02 < eps) expect(r.success[i]).toBe(1);
      if (dStar[i]! > eps) {
        expect(r.success[i]).toBe(0);
        expect(r.l2[i]!).toBeCloseTo(eps, 4); // the smallest adversarial, projected onto the ball
      }
    }
    r.adversarial.dispose();
    // epsilon 0: the clean input back
    const r0 = await cw(m.model, x, y, { ...FAST, steps: 20, binarySearchSteps: 2, epsilon: 0 });
    expect(Array.from(r0.l2)).toEqual(new Array(N).fill(0));
    expect(Array.from(r0.success)).toEqual(new Array(N).fill(0));
    r0.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the gradient of the CW objective matches a float64 re-implementation and finite differences', () => {
    const before = tf.memory().numTensors;
    const bounds = [0, 1] as const;
    const a = 0.5;
    const b = 0.5;
    const w = uniform(N * D, 21).map((v) => (v - 0.5) * 0.8);
    const xw = w.map((v) => a + b * Math.tanh(v));
    const xr = x0.map((v) => a + b * Math.fround(0.999999 * (2 * v - 1)));
    const consts = [0.3, 2, 7, 0.01];
    const kappa = 0.2;
    // float64 objective of example i at attack-space point wi
    const objective = (wi: number[], i: number) => {
      const xi = wi.map((v) => a + b * Math.tanh(v));
      const z = linearLogits(m, xi, 0);
      let l2 = 0;
      for (let p = 0; p < D; p++) l2 += (xi[p]! - xr[i * D + p]!) ** 2;
      return l2 + consts[i]! * Math.max(kappa - margin(z, y[i]!, false), 0);
    };
    const [loss, grad] = tf.tidy(() => {
      const wt = tf.tensor2d(w, [N, D]);
      const xt = tf.tensor2d(xw, [N, D]);
      const source = ownGradient(m.model);
      const objectiveT = {
        loss: 'margin' as const,
        labels: tf.tensor1d(y, 'int32'),
        target: null,
        numClasses: K,
      };
      const { gradient, logits } = source.evaluate(xt, objectiveT);
      const out = cwObjective({
        w: wt,
        xr: tf.tensor2d(xr, [N, D]),
        marginGradient: gradient,
        margin: tf.tidy(() => {
          const z = logits!;
          return tf.sub(
            tf.max(tf.sub(z, tf.mul(1e9, tf.oneHot(y, K))), 1),
            tf.sum(tf.mul(z, tf.oneHot(y, K)), 1),
          );
        }),
        consts: tf.tensor1d(consts),
        confidence: kappa,
        bounds,
      });
      return [out.loss, out.gradient];
    });
    const lossV = loss!.dataSync();
    const gradV = grad!.dataSync();
    for (let i = 0; i < N; i++) {
      const wi = Array.from(w.subarray(i * D, (i + 1) * D));
      expect(lossV[i]!).toBeCloseTo(objective(wi, i), 4);
      // float64 closed form: (2 (x - xr) - c [kappa - m > 0] dm/dx) * b (1 - tanh^2)
      const xi = wi.map((v) => a + b * Math.tanh(v));
      const active = kappa - margin(linearLogits(m, xi, 0), y[i]!, false) > 0 ? 1 : 0;
      const gm = linearGradient(m, xi, 0, y[i]!, 'margin');
      const h = 1e-6;
      let maxErr = 0;
      let scale = 0;
      for (let p = 0; p < D; p++) {
        const exact =
          (2 * (xi[p]! - xr[i * D + p]!) - consts[i]! * active * gm[p]!) *
          b *
          (1 - Math.tanh(wi[p]!) ** 2);
        const up = wi.slice();
        const down = wi.slice();
        up[p]! += h;
        down[p]! -= h;
        const fd = (objective(up, i) - objective(down, i)) / (2 * h);
        expect(Math.abs(fd - exact)).toBeLessThan(1e-5 * Math.max(1, Math.abs(exact)));
        maxErr = Math.max(maxErr, Math.abs(gradV[i * D + p]! - exact));
        scale = Math.max(scale, Math.abs(exact));
      }
      expect(maxErr).toBeLessThan(1e-5 * Math.max(1, scale));
    }
    tf.dispose([loss!, grad!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('works with every gradient source: own, another model, a custom function', async () => {
    const before = tf.memory().numTensors;
    const reference = await cw(m.model, x, y, FAST);
    const other = (t: tf.Tensor) => m.model(t); // another model object: its own forward pass
    const closedForm = customGradient((t, objective) => {
      const xs = t.dataSync();
      const labels = objective.labels.dataSync();
      const g = Array.from({ length: N }, (_, i) =>
        linearGradient(m, xs, i, labels[i]!, 'margin'),
      ).flat();
      return tf.tensor(g, t.shape);
    }, 'closed-form');
    for (const gradient of [modelGradient(other, 'copy'), closedForm]) {
      const r = await cw(m.model, x, y, { ...FAST, gradient });
      expect(r.gradientSource).toBe(gradient.label);
      expect(Array.from(r.success)).toEqual(new Array(N).fill(1));
      for (let i = 0; i < N; i++) expect(r.l2[i]!).toBeCloseTo(reference.l2[i]!, 3);
      r.adversarial.dispose();
    }
    reference.adversarial.dispose();
    // a source that gives nothing: CW cannot move, and the zero gradients are counted
    const zero = customGradient((t) => tf.zerosLike(t), 'zero');
    const r = await cw(m.model, x, y, { ...FAST, steps: 20, binarySearchSteps: 2, gradient: zero });
    expect(Array.from(r.success)).toEqual(new Array(N).fill(0));
    expect(Array.from(r.zeroGradientSteps!)).toEqual(new Array(N).fill(r.gradientEvaluations));
    expect(r.flags.map((f) => f.code)).toContain('zero-gradient');
    r.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('through a feedback-alignment backward path and through the true gradient of the same forward', async () => {
    const before = tf.memory().numTensors;
    const twins = twinModels(D, 16, K, 4);
    const yt = predict(twins.bp, x);
    const own = await cw(twins.fa, x, yt, { ...FAST, steps: 100 });
    const truth = await cw(twins.fa, x, yt, {
      ...FAST,
      steps: 100,
      gradient: modelGradient(twins.bp, 'bp-twin'),
    });
    expect(truth.success.reduce((s, v) => s + v, 0)).toBe(N);
    expect(truth.gradientSource).toBe('bp-twin');
    // the true gradient finds adversarials at least as small as the feedback path does
    for (let i = 0; i < N; i++)
      if (own.success[i]) expect(truth.l2[i]!).toBeLessThanOrEqual(own.l2[i]! * 1.05);
    tf.dispose([own.adversarial, truth.adversarial]);
    twins.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cost() counts the gradient evaluations (an upper bound with abortEarly)', async () => {
    const o = { steps: 7, binarySearchSteps: 3 };
    const full = await cw(m.model, x, y, { ...o, epsilon: 1, abortEarly: false });
    expect(full.gradientEvaluations).toBe(cwInfo.cost(o).gradients);
    expect(full.iterations).toBe(21);
    const early = await cw(m.model, x, y, { ...FAST, steps: 300 });
    expect(early.gradientEvaluations).toBeLessThanOrEqual(
      cwInfo.cost({ ...FAST, steps: 300 }).gradients,
    );
    tf.dispose([full.adversarial, early.adversarial]);
    expect(cwInfo.cost().gradients).toBe(9 * 10000); // foolbox's defaults
    expect(cwInfo.norms).toEqual(['l2']);
  });

  it('refuses other losses and bad options', async () => {
    await expect(cw(m.model, x, y, { epsilon: 1, loss: 'ce' })).rejects.toThrow(AttackInputError);
    await expect(cw(m.model, x, y, { epsilon: 1, steps: 0 })).rejects.toThrow(/options.steps/);
    await expect(cw(m.model, x, y, { epsilon: 1, initialConst: 0 })).rejects.toThrow(
      /options.initialConst/,
    );
    await expect(
      cw(m.model, x, y, { epsilon: 1, abortEarly: 'yes' as unknown as boolean }),
    ).rejects.toThrow(/options.abortEarly/);
  });
});
