import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttackAbortedError, AttackInputError } from './errors.js';
import { ownGradient } from './gradient.js';
import { noise, noiseInfo } from './noise.js';
import { Random } from './random.js';
import { ATTACK_INFO, ATTACKS } from './registry.js';
import { runAttack } from './runner.js';
import { type LinearModel, linearLogits, linearModel } from './test-utils.js';

const D = 16;
/** Threshold of the hand model: class 0 while sum(x) < T. */
const T = 8.3;

/**
 * A model whose decision is computed by hand: logits [T - sum(x), 0]. At x = 0.5 (sum 8) with
 * L-inf eps 0.1, a draw fools (predicts 1) exactly when it has at least 10 plus signs of 16.
 */
const sumModel = (t: tf.Tensor) =>
  tf.tidy(() => {
    const s = tf.sum(tf.reshape(t, [t.shape[0]!, -1]), 1);
    return tf.stack([tf.sub(T, s), tf.zerosLike(s)], 1);
  });

/** The hand model's prediction in float64. */
function sumPredict(x: ArrayLike<number>, i: number, d = D): number {
  let s = 0;
  for (let p = 0; p < d; p++) s += x[i * d + p]!;
  return T - s > 0 ? 0 : 1;
}

const filled = (n: number, v: number) => new Float32Array(n).fill(v);

let m: LinearModel;

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = linearModel(D, 3, 4);
});
afterAll(() => m.dispose());

describe('noise: the random-noise baseline', () => {
  it('L-inf: every entry moves by exactly +-eps (a corner of the ball) when nothing clips', async () => {
    const start = tf.memory().numTensors;
    const N = 3;
    const x = tf.tensor4d(filled(N * D, 0.5), [N, 4, 4, 1]);
    for (const eps of [0.125, 0.1]) {
      const r = await noise(m.model, x, [0, 1, 2], { epsilon: eps, seed: 1 });
      const adv = r.adversarial.dataSync();
      let plus = 0;
      for (let p = 0; p < N * D; p++) {
        const d = adv[p]! - 0.5;
        // 0.125 and 0.5 +- 0.125 are exact in float32; 0.1 is not (float32 rounding only)
        if (eps === 0.125) expect(Math.abs(d)).toBe(eps);
        else expect(Math.abs(Math.abs(d) - eps)).toBeLessThan(1e-7);
        if (d > 0) plus++;
      }
      // both signs, in roughly equal numbers (48 fair coins)
      expect(plus).toBeGreaterThan(12);
      expect(plus).toBeLessThan(36);
      for (let i = 0; i < N; i++) {
        expect(Math.abs(r.linf[i]! - eps)).toBeLessThan(1e-7);
        // a corner of the ball: ||d||_2 = eps * sqrt(D)
        expect(r.l2[i]!).toBeCloseTo(eps * Math.sqrt(D), 5);
      }
      expect(r.attack).toBe('noise');
      expect(r.norm).toBe('linf');
      expect(r.clippedToBounds).toBe(true);
      expect(r.gradientSource).toBeNull();
      expect(r.zeroGradientSteps).toBeNull();
      expect(r.gradientEvaluations).toBe(0);
      expect(r.queries).toBe(1);
      r.adversarial.dispose();
    }
    x.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('L-inf: entries that would leave the bounds are clipped to the bound', async () => {
    const N = 4;
    // alternating 0.05 and 0.95: x - 0.1 < 0 and x + 0.1 > 1
    const xs = Float32Array.from({ length: N * D }, (_, p) => (p % 2 === 0 ? 0.05 : 0.95));
    const x = tf.tensor2d(xs, [N, D]);
    const r = await noise(m.model, x, [0, 1, 2, 0], { epsilon: 0.1, seed: 2 });
    const adv = r.adversarial.dataSync();
    const seen = { inside: 0, clipped: 0 };
    for (let p = 0; p < N * D; p++) {
      const low = p % 2 === 0; // x = 0.05: only x + eps stays inside; x = 0.95: only x - eps
      const inward = low ? xs[p]! + 0.1 : xs[p]! - 0.1;
      const bound = low ? 0 : 1;
      if (adv[p] === bound) seen.clipped++;
      else {
        expect(Math.abs(adv[p]! - inward)).toBeLessThan(1e-7);
        seen.inside++;
      }
    }
    expect(seen.clipped).toBeGreaterThan(10);
    expect(seen.inside).toBeGreaterThan(10);
    for (const v of r.linf) expect(v).toBeLessThanOrEqual(0.1 + 1e-7);
    tf.dispose([r.adversarial, x]);
  });

  it("L2: ||x' - x||_2 = eps without clipping, in a random direction; <= eps with it", async () => {
    const N = 5;
    const x = tf.tensor4d(filled(N * D, 0.5), [N, 4, 4, 1]);
    const eps = 0.4;
    const r = await noise(m.model, x, [0, 1, 2, 0, 1], { epsilon: eps, norm: 'l2', seed: 3 });
    const adv = r.adversarial.dataSync();
    const dirs: number[][] = [];
    for (let i = 0; i < N; i++) {
      const d = Array.from({ length: D }, (_, p) => adv[i * D + p]! - 0.5);
      const n = Math.sqrt(d.reduce((s, v) => s + v * v, 0));
      expect(Math.abs(n - eps)).toBeLessThan(1e-5);
      expect(Math.abs(r.l2[i]! - eps)).toBeLessThan(1e-5);
      // not a corner: the entries differ in size
      expect(Math.max(...d.map(Math.abs))).toBeGreaterThan(1.2 * Math.min(...d.map(Math.abs)));
      dirs.push(d.map((v) => v / n));
    }
    expect(r.norm).toBe('l2');
    // independent directions per example: far from parallel
    for (let i = 1; i < N; i++) {
      const cos = dirs[0]!.reduce((s, v, p) => s + v * dirs[i]![p]!, 0);
      expect(Math.abs(cos)).toBeLessThan(0.95);
    }
    r.adversarial.dispose();
    // near the bounds the clipped perturbation is shorter, never longer, and inside [0, 1]
    const edge = tf.tensor2d(filled(N * D, 0.02), [N, D]);
    const c = await noise(m.model, edge, [0, 1, 2, 0, 1], { epsilon: eps, norm: 'l2', seed: 3 });
    for (const v of c.l2) expect(v).toBeLessThan(eps);
    for (const v of c.adversarial.dataSync()) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    tf.dispose([c.adversarial, edge, x]);
  });

  it('a seed fixes the draws; another seed draws others (both norms)', async () => {
    const N = 3;
    const x = tf.tensor2d(filled(N * D, 0.5), [N, D]);
    const y = [0, 1, 2];
    for (const norm of ['linf', 'l2'] as const) {
      const run = async (seed: number) => {
        const r = await noise(m.model, x, y, { epsilon: 0.2, norm, seed, repeats: 3 });
        const v = Array.from(r.adversarial.dataSync());
        r.adversarial.dispose();
        return v;
      };
      const a = await run(11);
      expect(await run(11)).toEqual(a);
      expect(await run(12)).not.toEqual(a);
    }
    x.dispose();
  });

  it('on a model decided by hand: success as re-predicted, the first fooling draw kept, more repeats never fool fewer', async () => {
    const start = tf.memory().numTensors;
    // 40 examples at 0.5 (sum 8: class 0, the label) and 2 at 0.6 (sum 9.6: misclassified)
    const N = 42;
    const xs = Float32Array.from({ length: N * D }, (_, p) => (p >= 40 * D ? 0.6 : 0.5));
    const x = tf.tensor2d(xs, [N, D]);
    const y = new Array(N).fill(0);
    const eps = 0.1;
    const seed = 7;
    const results = [];
    for (const repeats of [1, 8]) {
      const r = await noise(sumModel, x, y, { epsilon: eps, seed, repeats });
      const adv = r.adversarial.dataSync();
      for (let i = 0; i < N; i++) {
        const pred = sumPredict(adv, i);
        expect(r.predictions[i]).toBe(pred);
        expect(r.success[i]).toBe(pred !== 0 ? 1 : 0);
      }
      expect(Array.from(r.cleanPredictions.slice(40))).toEqual([1, 1]);
      expect(Array.from(r.success.slice(40))).toEqual([1, 1]);
      expect(r.queries).toBeLessThanOrEqual(repeats);
      expect(r.iterations).toBe(r.queries);
      results.push({ r, adv: Array.from(adv) });
    }
    const [one, eight] = results as [(typeof results)[0], (typeof results)[0]];
    const fooled = (res: typeof one) => res.r.success.slice(0, 40).reduce((s, v) => s + v, 0);
    // P(a draw fools) = P(>= 10 plus signs of 16) = 0.227: about 9 of 40 with one draw, 35 with 8
    expect(fooled(one)).toBeGreaterThan(0);
    expect(fooled(eight)).toBeGreaterThan(fooled(one) + 10);
    for (let i = 0; i < 40; i++) {
      expect(eight.r.success[i]!).toBeGreaterThanOrEqual(one.r.success[i]!);
      // the first draw is the same whatever the repeats; where it fooled, it is what is kept
      if (one.r.success[i])
        expect(eight.adv.slice(i * D, (i + 1) * D)).toEqual(one.adv.slice(i * D, (i + 1) * D));
    }

    // Reference: the draws from the seeded PRNG (draw r, example i, entry p at uniform
    // (r * N + i) * D + p), per example the first that fools in float64, else the last.
    const rng = new Random(seed);
    const u = Array.from({ length: 8 * N * D }, () => rng.next());
    for (let i = 0; i < 40; i++) {
      let kept: number[] = [];
      for (let r = 0; r < 8; r++) {
        kept = Array.from({ length: D }, (_, p) =>
          Math.fround(0.5 + Math.fround(u[(r * N + i) * D + p]! < 0.5 ? -eps : eps)),
        );
        if (sumPredict(kept, 0) !== 0) break;
      }
      expect(eight.adv.slice(i * D, (i + 1) * D)).toEqual(kept);
    }
    // the clean-misclassified examples: x itself, or a draw that fools too
    for (let i = 40; i < N; i++) {
      const a = eight.adv.slice(i * D, (i + 1) * D);
      expect(a.every((v) => Math.abs(v - 0.6) < 1e-7) || sumPredict(a, 0) === 1).toBe(true);
    }
    tf.dispose([one.r.adversarial, eight.r.adversarial, x]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('stops drawing once every example is fooled', async () => {
    // at 0.55 (sum 8.8) every draw with at most 12 minus signs fools: the first draw fools all
    const x = tf.tensor2d(filled(4 * D, 0.55), [4, D]);
    const r = await noise(sumModel, x, [0, 0, 0, 0], { epsilon: 0.01, repeats: 50, seed: 1 });
    expect(Array.from(r.success)).toEqual([1, 1, 1, 1]);
    expect(r.queries).toBe(1);
    tf.dispose([r.adversarial, x]);
  });

  it('targeted: success means predicting the target, re-predicted in float64', async () => {
    const N = 6;
    const xs = Float32Array.from({ length: N * D }, (_, p) => 0.3 + (0.4 * ((p * 7) % 11)) / 10);
    const x = tf.tensor2d(xs, [N, D]);
    const y = [0, 1, 2, 0, 1, 2];
    const target = [1, 2, 0, 2, 0, 1];
    const r = await noise(m.model, x, y, { epsilon: 0.3, target, repeats: 20, seed: 5 });
    expect(r.targeted).toBe(true);
    const adv = r.adversarial.dataSync();
    for (let i = 0; i < N; i++) {
      const z = linearLogits(m, adv, i);
      const pred = z.indexOf(Math.max(...z));
      expect(r.predictions[i]).toBe(pred);
      expect(r.success[i]).toBe(pred === target[i] ? 1 : 0);
    }
    tf.dispose([r.adversarial, x]);
  });

  it('runAttack runs it by name over a DatasetArrays, inside the ball, correctAfter as re-predicted', async () => {
    const N = 24;
    const xs = Float32Array.from({ length: N * D }, (_, p) => (p >= 20 * D ? 0.6 : 0.5));
    const data = { x: xs, y: new Array(N).fill(0), shape: [N, 4, 4, 1] };
    const epsilons = [0, 0.1, 0.3];
    const run = await runAttack({
      model: sumModel,
      attack: 'noise',
      data,
      epsilons,
      batchSize: 10,
      options: { repeats: 4 },
      keepAdversarial: true,
      seed: 3,
    });
    expect(run.attack).toBe('noise');
    expect(run.count).toBe(N);
    expect(run.cleanAccuracy).toBeCloseTo(20 / 24, 10);
    for (const [e, per] of run.perEpsilon.entries()) {
      expect(per.epsilon).toBe(epsilons[e]);
      for (const v of per.linf) expect(v).toBeLessThanOrEqual(epsilons[e]! + 1e-6);
      const adv = per.adversarial!;
      for (let i = 0; i < N; i++) {
        const pred = sumPredict(adv, i);
        expect(per.predictions[i]).toBe(pred);
        expect(per.success[i]).toBe(pred !== 0 ? 1 : 0);
        expect(per.correctAfter[i]).toBe(pred === 0 ? 1 : 0);
      }
    }
    // eps 0 is the clean input: only the 4 misclassified examples count as fooled
    expect(Array.from(run.perEpsilon[0]!.linf)).toEqual(new Array(N).fill(0));
    expect(run.perEpsilon[0]!.successRate).toBeCloseTo(4 / 24, 10);
    // noise of 0.1 or 0.3 fools some of the 20 others (a draw fools with probability 0.23, 0.40)
    expect(run.perEpsilon[1]!.successRate).toBeGreaterThan(4 / 24);
    expect(run.perEpsilon[2]!.successRate).toBeGreaterThan(4 / 24);
  });

  it('is a built-in attack that describes itself', () => {
    expect(ATTACKS.noise).toBe(noise);
    expect(ATTACK_INFO.noise).toBe(noiseInfo);
    expect(noiseInfo).toMatchObject({
      name: 'noise',
      paper: 'Carlini et al. 2019, On Evaluating Adversarial Robustness (random noise baseline)',
      norms: ['linf', 'l2'],
      gradientFree: true,
      options: ['norm', 'repeats'],
    });
    expect(noiseInfo.cost()).toEqual({ gradients: 0, forwards: 1 });
    expect(noiseInfo.cost({ repeats: 25 })).toEqual({ gradients: 0, forwards: 25 });
  });

  it('refuses bad options as the other attacks do, and leaks nothing', async () => {
    const start = tf.memory().numTensors;
    const x = tf.tensor2d(filled(2 * D, 0.5), [2, D]);
    const y = [0, 1];
    for (const [repeats, found] of [
      [0, '0'],
      [1.5, '1.5'],
      ['3', "'3'"],
    ] as const) {
      const call = noise(m.model, x, y, { epsilon: 0.1, repeats: repeats as number });
      await expect(call).rejects.toThrow(AttackInputError);
      await expect(
        noise(m.model, x, y, { epsilon: 0.1, repeats: repeats as number }),
      ).rejects.toThrow(`noise: options.repeats must be an integer >= 1; found ${found}`);
    }
    await expect(noise(m.model, x, y, { epsilon: 0.1, norm: 'l1' as never })).rejects.toThrow(
      "noise: options.norm must be 'linf' or 'l2'; found 'l1'",
    );
    await expect(noise(m.model, x, y, { epsilon: -1 })).rejects.toThrow(
      'noise: options.epsilon must be a finite number >= 0; found -1',
    );
    await expect(
      noise(m.model, x, y, { epsilon: 0.1, gradient: ownGradient(m.model) } as never),
    ).rejects.toThrow('noise: options.gradient must be absent: noise is gradient-free');
    const done = new AbortController();
    done.abort();
    await expect(noise(m.model, x, y, { epsilon: 0.1, signal: done.signal })).rejects.toThrow(
      AttackAbortedError,
    );
    x.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
