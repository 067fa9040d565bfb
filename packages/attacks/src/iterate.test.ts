/**
 * The iterate loop and its norm helpers, checked against independent float64
 * re-implementations on a linear softmax model whose input gradient has a closed form.
 */

import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttackContext } from './context.js';
import { AttackAbortedError } from './errors.js';
import { customGradient } from './gradient.js';
import { type DirectionHook, type IterateSpec, iterate } from './iterate.js';
import { momentumDirection } from './mifgsm.js';
import { L2, LINF } from './norms.js';
import {
  clampTo,
  type LinearModel,
  linearGradient,
  linearModel,
  symmetric,
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

const rows = (a: ArrayLike<number>, i: number) => Array.from(a).slice(i * D, (i + 1) * D);
const norm2 = (v: number[]) => Math.sqrt(v.reduce((s, u) => s + u * u, 0));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 2e-5) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++)
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(tol);
}

type Rule = (
  x: number[],
  g: number[],
  x0: number[],
  t: number,
  state: { d?: number[]; i: number },
) => number[];

/** Runs an update rule in float64 on the linear model (CE loss), per example. */
function reference(steps: number, rule: Rule): Float64Array {
  const out = new Float64Array(B * D);
  for (let i = 0; i < B; i++) {
    const x0 = rows(xv, i);
    let x = x0.slice();
    const state: { d?: number[]; i: number } = { i };
    for (let t = 0; t < steps; t++) {
      const flat = new Float64Array(B * D);
      flat.set(x, i * D);
      x = rule(x, linearGradient(m, flat, i, y[i]!, 'ce'), x0, t, state);
    }
    out.set(x, i * D);
  }
  return out;
}

/** Runs `iterate` in a fresh context on the linear model; returns the final iterate's values. */
async function run(
  spec: IterateSpec,
  opts: { epsilon: number; gradient?: ReturnType<typeof customGradient>; signal?: AbortSignal },
): Promise<{ x: Float32Array; iterations: number; evaluations: number; zero: Int32Array | null }> {
  const xs = tf.tensor2d(xv, [B, D]);
  const ctx = await AttackContext.create(
    'pgd',
    m.model,
    xs,
    y,
    { keepBest: false, ...opts },
    { loss: 'ce' },
  );
  try {
    const final = await iterate(ctx, spec);
    const r = await ctx.finish(final, {
      variant: 'standard',
      norm: spec.norm.norm,
      clippedToBounds: spec.clip,
    });
    const x = (await r.adversarial.data()) as Float32Array;
    r.adversarial.dispose();
    return {
      x,
      iterations: r.iterations,
      evaluations: r.gradientEvaluations,
      zero: r.zeroGradientSteps,
    };
  } finally {
    ctx.dispose();
    xs.dispose();
  }
}

describe('norm helpers equal their equations (float64 re-implementation)', () => {
  it('L2: x + alpha d / ||d||_2 per example, a zero direction does not move, projection rescales to eps', () => {
    const start = tf.memory().numTensors;
    const shape = [B, 2, 3, 2]; // rank 4: norms over every non-batch axis
    const xa = symmetric(B * D, 21);
    const da = symmetric(B * D, 22, 3);
    da.fill(0, D, 2 * D); // example 1: zero direction
    const x0a = symmetric(B * D, 23);
    const alphas = [0.3, 0.5, 0.05, 1.2];
    const [stepScalar, stepPer, proj] = tf.tidy(() => {
      const x = tf.tensor(xa, shape);
      const d = tf.tensor(da, shape);
      const x0 = tf.tensor(x0a, shape);
      const per = tf.reshape(tf.tensor1d(alphas), [B, 1, 1, 1]);
      return [L2.step(x, d, 0.3), L2.step(x, d, per), L2.project(x, x0, 0.9)];
    });
    const refStep = (alpha: (i: number) => number) => {
      const out: number[] = [];
      for (let i = 0; i < B; i++) {
        const d = rows(da, i);
        const n = Math.max(norm2(d), 1e-12);
        out.push(...rows(xa, i).map((v, p) => v + (alpha(i) * d[p]!) / n));
      }
      return out;
    };
    expectClose(
      stepScalar!.dataSync(),
      refStep(() => 0.3),
    );
    expectClose(
      stepPer!.dataSync(),
      refStep((i) => alphas[i]!),
    );
    expect(rows(stepScalar!.dataSync(), 1)).toEqual(rows(xa, 1).map((v) => Math.fround(v)));
    const refProj: number[] = [];
    for (let i = 0; i < B; i++) {
      const x0 = rows(x0a, i);
      const d = rows(xa, i).map((v, p) => v - x0[p]!);
      const f = Math.min(1, 0.9 / Math.max(norm2(d), 1e-12));
      refProj.push(...d.map((v, p) => x0[p]! + v * f));
    }
    expectClose(proj!.dataSync(), refProj);
    for (let i = 0; i < B; i++) {
      const dist = norm2(rows(proj!.dataSync(), i).map((v, p) => v - x0a[i * D + p]!));
      expect(dist).toBeLessThanOrEqual(0.9 + 1e-5);
    }
    tf.dispose([stepScalar!, stepPer!, proj!]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('L2: a point inside the ball is left where it is', () => {
    const x0a = symmetric(B * D, 31);
    const inside = x0a.map((v, p) => v + 0.01 * Math.sin(p));
    const p = tf.tidy(() => L2.project(tf.tensor2d(inside, [B, D]), tf.tensor2d(x0a, [B, D]), 1));
    expectClose(p.dataSync(), inside, 1e-6);
    p.dispose();
  });

  it('L-inf: x + alpha sign(d), projection clips to [x0 - eps, x0 + eps]', () => {
    const xa = symmetric(B * D, 41);
    const da = symmetric(B * D, 42);
    const x0a = symmetric(B * D, 43);
    const [step, proj] = tf.tidy(() => [
      LINF.step(tf.tensor2d(xa, [B, D]), tf.tensor2d(da, [B, D]), 0.25),
      LINF.project(tf.tensor2d(xa, [B, D]), tf.tensor2d(x0a, [B, D]), 0.2),
    ]);
    expectClose(
      step!.dataSync(),
      Array.from(xa, (v, p) => v + 0.25 * Math.sign(da[p]!)),
    );
    expectClose(
      proj!.dataSync(),
      Array.from(xa, (v, p) => clampTo(v, x0a[p]! - 0.2, x0a[p]! + 0.2)),
    );
    tf.dispose([step!, proj!]);
  });

  it("MI-FGSM's direction hook: mu * previous + grad / ||grad||_1, from zero momentum", () => {
    const ga = symmetric(B * D, 51);
    const pa = symmetric(B * D, 52);
    const hook = momentumDirection(0.8);
    const [first, next] = tf.tidy(() => {
      const g = tf.tensor2d(ga, [B, D]);
      return [hook(g, null, 0), hook(g, tf.tensor2d(pa, [B, D]), 1)];
    });
    const ref = (prev: (p: number) => number) => {
      const out: number[] = [];
      for (let i = 0; i < B; i++) {
        const g = rows(ga, i);
        const l1 = g.reduce((s, v) => s + Math.abs(v), 0);
        out.push(...g.map((v, p) => 0.8 * prev(i * D + p) + v / l1));
      }
      return out;
    };
    expectClose(
      first!.dataSync(),
      ref(() => 0),
    );
    expectClose(
      next!.dataSync(),
      ref((p) => pa[p]!),
    );
    tf.dispose([first!, next!]);
  });

  it('random starts: inside the ball (L-inf and L2), clipped when asked, fixed by the seed', async () => {
    const start = tf.memory().numTensors;
    const xs = tf.tensor2d(xv, [B, D]);
    const draw = async (seed: number, which: typeof LINF, clip: boolean) => {
      const ctx = await AttackContext.create(
        'pgd',
        m.model,
        xs,
        y,
        { epsilon: 0.5, seed },
        { loss: 'ce' },
      );
      try {
        const t = which.randomStart(ctx, clip);
        const v = t.dataSync().slice();
        t.dispose();
        return v;
      } finally {
        ctx.dispose();
      }
    };
    for (const which of [LINF, L2]) {
      const a = await draw(1, which, false);
      expect(await draw(1, which, false)).toEqual(a);
      expect(await draw(2, which, false)).not.toEqual(a);
      for (let i = 0; i < B; i++) {
        const d = rows(a, i).map((v, p) => v - xv[i * D + p]!);
        const n = which === L2 ? norm2(d) : Math.max(...d.map(Math.abs));
        expect(n).toBeLessThanOrEqual(0.5 + 1e-5);
        expect(n).toBeGreaterThan(0);
      }
      // L-inf: eps 0.5 from pixels in [0.2, 0.8] leaves [0, 1] somewhere
      if (which === LINF) expect(Math.min(...a) < 0 || Math.max(...a) > 1).toBe(true);
      const c = await draw(1, which, true);
      expect(Math.min(...c)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...c)).toBeLessThanOrEqual(1);
    }
    xs.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('the iterate loop', () => {
  it('L2 steps with projection and clipping equal the float64 loop', async () => {
    const start = tf.memory().numTensors;
    const r = await run({ norm: L2, steps: 5, stepSize: 0.2, clip: true }, { epsilon: 0.5 });
    const ref = reference(5, (x, g, x0) => {
      const gn = Math.max(norm2(g), 1e-12);
      const d = x.map((v, p) => v + (0.2 * g[p]!) / gn - x0[p]!);
      const f = Math.min(1, 0.5 / Math.max(norm2(d), 1e-12));
      return d.map((v, p) => clampTo(x0[p]! + v * f, 0, 1));
    });
    expectClose(r.x, ref);
    expect(r.iterations).toBe(5);
    expect(r.evaluations).toBe(5);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('a direction hook gets null at the first step and its own last result after; the loop owns what it returns', async () => {
    const start = tf.memory().numTensors;
    const seen: (number[] | null)[] = [];
    // a decaying average of the gradient: d_t = 0.5 d_{t-1} + g_t
    const hook: DirectionHook = (g, previous, t) => {
      expect(t).toBe(seen.length);
      seen.push(previous ? Array.from(previous.dataSync()) : null);
      return tf.tidy(() => (previous ? tf.add(tf.mul(0.5, previous), g) : tf.clone(g)));
    };
    const eps = 0.3;
    const r = await run(
      { norm: LINF, steps: 4, stepSize: 0.05, clip: true, direction: hook },
      { epsilon: eps },
    );
    const ref = reference(4, (x, g, x0, _t, s) => {
      s.d = s.d ? s.d.map((v, p) => 0.5 * v + g[p]!) : g.slice();
      return x.map((v, p) =>
        clampTo(clampTo(v + 0.05 * Math.sign(s.d![p]!), x0[p]! - eps, x0[p]! + eps), 0, 1),
      );
    });
    expectClose(r.x, ref);
    expect(seen[0]).toBeNull();
    expect(seen.slice(1).every((s) => s != null && s.length === B * D)).toBe(true);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('a step-size schedule: numbers per step, or per-example tensors the loop disposes', async () => {
    const start = tf.memory().numTensors;
    const eps = 0.25;
    const alpha = (t: number) => 0.1 / (t + 1);
    const scalar = await run(
      { norm: LINF, steps: 4, stepSize: alpha, clip: true },
      { epsilon: eps },
    );
    const ref = (a: (t: number, i: number) => number) =>
      reference(4, (x, g, x0, t, s) =>
        x.map((v, p) =>
          clampTo(clampTo(v + a(t, s.i) * Math.sign(g[p]!), x0[p]! - eps, x0[p]! + eps), 0, 1),
        ),
      );
    expectClose(
      scalar.x,
      ref((t) => alpha(t)),
    );
    const scale = [1, 0.5, 2, 0];
    const perExample = await run(
      {
        norm: LINF,
        steps: 4,
        stepSize: (t) =>
          tf.tensor2d(
            scale.map((s) => s * alpha(t)),
            [B, 1],
          ),
        clip: true,
      },
      { epsilon: eps },
    );
    expectClose(
      perExample.x,
      ref((t, i) => scale[i]! * alpha(t)),
    );
    expect(rows(perExample.x, 3)).toEqual(rows(xv, 3).map((v) => Math.fround(v))); // alpha 0: unmoved
    expect(tf.memory().numTensors).toBe(start);
  });

  it('project: false leaves the ball (the paper variants); onStep sees every new iterate', async () => {
    const eps = 0.1;
    const stepsSeen: number[] = [];
    const r = await run(
      {
        norm: LINF,
        steps: 5,
        stepSize: eps,
        project: false,
        clip: false,
        onStep: (x, t) => {
          expect(x.shape).toEqual([B, D]);
          stepsSeen.push(t);
        },
      },
      { epsilon: eps },
    );
    expectClose(
      r.x,
      reference(5, (x, g) => x.map((v, p) => v + eps * Math.sign(g[p]!))),
    );
    expect(stepsSeen).toEqual([0, 1, 2, 3, 4]);
    let linf = 0;
    for (let p = 0; p < B * D; p++) linf = Math.max(linf, Math.abs(r.x[p]! - xv[p]!));
    expect(linf).toBeGreaterThan(eps * 2);
  });

  it('counts exactly-zero gradients per example and stops on the abort signal between steps', async () => {
    const start = tf.memory().numTensors;
    // example 2's gradient is exactly zero at every step
    const masked = customGradient(
      (x) => tf.tidy(() => tf.mul(tf.onesLike(x), tf.tensor2d([1, 1, 0, 1], [B, 1]))),
      'masked',
    );
    const r = await run(
      { norm: LINF, steps: 3, stepSize: 0.01, clip: true },
      { epsilon: 0.1, gradient: masked },
    );
    expect(Array.from(r.zero!)).toEqual([0, 0, 3, 0]);
    const controller = new AbortController();
    let steps = 0;
    await expect(
      run(
        {
          norm: LINF,
          steps: 10,
          stepSize: 0.01,
          clip: true,
          onStep: () => {
            if (++steps === 2) controller.abort();
          },
        },
        { epsilon: 0.1, signal: controller.signal },
      ),
    ).rejects.toBeInstanceOf(AttackAbortedError);
    expect(steps).toBe(2);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('restarts: each run from its own random start, observed and merged; returns null', async () => {
    const start = tf.memory().numTensors;
    const xs = tf.tensor2d(xv, [B, D]);
    const ctx = await AttackContext.create('pgd', m.model, xs, y, { epsilon: 0.2 }, { loss: 'ce' });
    try {
      const final = await iterate(ctx, {
        norm: L2,
        steps: 2,
        stepSize: 0.1,
        start: 'random',
        restarts: 3,
        clip: true,
      });
      expect(final).toBeNull();
      expect(ctx.iterations).toBe(6);
      expect(ctx.gradientEvaluations).toBe(6);
      const r = await ctx.finish(null, { variant: 'standard', norm: 'l2', clippedToBounds: true });
      for (const v of r.l2) expect(v).toBeLessThanOrEqual(0.2 + 1e-5);
      r.adversarial.dispose();
    } finally {
      ctx.dispose();
      xs.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  });
});
