import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { AttackInputError, describe } from './errors.js';
import { projectInto } from './fab-projections.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { fooledMask, type Objective } from './objective.js';
import { checkAttackOptions, checkNorm, finiteNumber, positiveInt } from './options.js';
import type { AttackResult, GradientAttackOptions, Norm } from './types.js';

/** The defaults the attack and its cost (`fabInfo.cost`) share. */
const DEFAULTS = { steps: 100, restarts: 1 } as const;

export interface FabOptions extends GradientAttackOptions {
  /** 'linf' (default) or 'l2': the norm minimised, and that of the threat model `epsilon`. */
  norm?: Norm;
  /** Iterations per run. Default 100. */
  steps?: number;
  /** Runs per target (the first from x, the others from random starts at radius epsilon / 2). Default 1. */
  restarts?: number;
  /**
   * FAB-T: one targeted run per each of the k most likely wrong classes at x (AutoAttack: 9),
   * at most classes - 1. Success is still misclassification. Not with `target`.
   */
  targetClasses?: number;
  /** Largest weight of the step towards x's own projection. Default 0.1. */
  alphaMax?: number;
  /** Overshoot of the projection step (> 0). Default 1.05. */
  eta?: number;
  /** Backward step towards x after an adversarial iterate, in (0, 1]. Default 0.9. */
  beta?: number;
}

/** FAB's result: the common one, plus the smallest adversarial norm found per example. */
export interface FabResult extends AttackResult {
  /**
   * Per example, the `norm` of the smallest fooling perturbation found, inside the
   * epsilon-ball or not: 0 where x itself fools, Infinity where no iterate fooled.
   */
  minNorm: Float32Array;
}

/**
 * FAB, the fast adaptive boundary attack: Croce & Hein, "Minimally distorted adversarial
 * examples with a fast adaptive boundary attack", ICML 2020; FAB-T (`targetClasses`) as
 * AutoAttack runs it. Minimum-norm, L-inf and L2. Per step at x_t (x_0 = x, or on restarts
 * after the first a random point at radius epsilon / 2), with f the logits and y the label:
 *
 *   k   = argmin_{k != y} |f_k(x_t) - f_y(x_t)| / ||grad (f_k - f_y)(x_t)||_q   (q = 1 for L-inf,
 *         2 for L2; targeted runs: k = t)
 *   P(z) = the smallest step d (in the norm) with z + d in the pixel box and on the hyperplane
 *         f_k(x_t) - f_y(x_t) + w . (z + d - x_t) = 0, w = grad (f_k - f_y)(x_t)
 *         (out of reach inside the box: the box corner nearest to it)
 *   d1 = P(x_t), d2 = P(x), alpha = min(||d1|| / (||d1|| + ||d2||), alphaMax)
 *   x_{t+1} = clip_[low, high]((1 - alpha) (x_t + eta d1) + alpha (x + eta d2))
 *
 * and where x_{t+1} fools the model it is kept if its norm is the smallest so far, then
 * x_{t+1} = x + beta (x_{t+1} - x). The gradients of f_k - f_y come from the gradient source as
 * differences of targeted-CE gradients (grad -CE(z, k) - grad -CE(z, y) = grad (z_k - z_y)):
 * untargeted, one evaluation per class per step; targeted, two. A user `target` t
 * linearises f_t - f_j with j the most likely other class at x_t (f_t - f_y while x_t is
 * classified y, as in FAB-T). The logit differences are the attacked model's.
 *
 * Threat model: `success` counts only examples whose smallest adversarial lies within epsilon
 * (and inside the pixel box); the returned adversarial is that point, or the clean input x
 * where none was found within epsilon (as AutoAttack's FAB returns). `minNorm` gives the
 * smallest norm found regardless of epsilon. Defaults: norm 'linf', steps 100, restarts 1,
 * alphaMax 0.1, eta 1.05, beta 0.9, bounds [0, 1], gradient ownGradient(model), seed 0.
 * FAB uses no attack loss (`loss` must be 'ce' or absent) and always keeps its best point
 * (`keepBest` is not read). The projections run per example in float64 on the CPU (one
 * data read per step).
 */
export async function fab(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: FabOptions,
): Promise<FabResult> {
  checkAttackOptions('fab', options, fabInfo);
  const norm = checkNorm('fab', options?.norm);
  const steps = positiveInt('fab', 'steps', options?.steps, DEFAULTS.steps);
  const restarts = positiveInt('fab', 'restarts', options?.restarts, DEFAULTS.restarts);
  const targetClasses =
    options?.targetClasses === undefined
      ? null
      : positiveInt('fab', 'targetClasses', options.targetClasses, 1);
  const alphaMax = finiteNumber('fab', 'alphaMax', options?.alphaMax, 0.1);
  const eta = finiteNumber('fab', 'eta', options?.eta, 1.05);
  const beta = finiteNumber('fab', 'beta', options?.beta, 0.9);
  if (alphaMax > 1)
    throw new AttackInputError('fab', 'options.alphaMax', 'in [0, 1]', String(alphaMax));
  if (!(eta > 0)) throw new AttackInputError('fab', 'options.eta', 'a number > 0', String(eta));
  if (!(beta > 0) || beta > 1)
    throw new AttackInputError('fab', 'options.beta', 'in (0, 1]', String(beta));
  if (options?.loss !== undefined && options.loss !== 'ce') {
    throw new AttackInputError(
      'fab',
      'options.loss',
      'absent: FAB follows logit differences, not a loss',
      describe(options.loss),
    );
  }
  if (targetClasses != null && options?.target != null) {
    throw new AttackInputError(
      'fab',
      'options.targetClasses',
      'absent when options.target is given',
      String(targetClasses),
    );
  }
  // No best-so-far tracker: FAB keeps the smallest adversarial itself.
  const ctx = await AttackContext.create('fab', model, x, y, options, { loss: 'ce', best: 'none' });
  const owned: tf.Tensor[] = [];
  try {
    const B = ctx.batch;
    const n = x.size / B;
    const K = ctx.numClasses;
    const [lo, hi] = ctx.bounds;
    const eps = ctx.epsilon;
    const x0 = Float32Array.from((await x.data()) as Float32Array);
    // The clean pass: examples fooled already (norm 0), and FAB-T's targets.
    const z0t = tf.tidy(() => ctx.logits(x));
    const f0t = tf.tidy(() => fooledMask(z0t, ctx.objective));
    const [z0, f0] = await Promise.all([z0t.data(), f0t.data()]);
    tf.dispose([z0t, f0t]);
    ctx.queries++;
    const best = new Float64Array(B).fill(Number.POSITIVE_INFINITY);
    const bestAdv = Float32Array.from(x0);
    for (let i = 0; i < B; i++) if (f0[i]) best[i] = 0;

    const ceObjective = (target: tf.Tensor1D): Objective => ({
      loss: 'ce',
      labels: ctx.objective.labels,
      target,
      numClasses: K,
    });
    // What each run aims at: untargeted (every class's hyperplane), or one target per example.
    type Aim =
      | { kind: 'untargeted'; classes: Objective[] }
      | { kind: 'targeted'; target: tf.Tensor1D; fixedOther: boolean };
    const aims: Aim[] = [];
    if (ctx.objective.target) {
      aims.push({ kind: 'targeted', target: ctx.objective.target, fixedOther: false });
    } else if (targetClasses != null) {
      const runs = Math.min(targetClasses, K - 1);
      const order = Array.from({ length: B }, (_, i) =>
        Array.from({ length: K }, (_, j) => j).sort((a, b) => z0[i * K + b]! - z0[i * K + a]!),
      );
      for (let r = 1; r <= runs; r++) {
        const t = tf.tensor1d(
          Int32Array.from(order, (o) => o[r]!),
          'int32',
        );
        owned.push(t);
        aims.push({ kind: 'targeted', target: t, fixedOther: true });
      }
    } else {
      const classes = Array.from({ length: K }, (_, k) => {
        const t = tf.fill([B], k, 'int32') as tf.Tensor1D;
        owned.push(t);
        return ceObjective(t);
      });
      aims.push({ kind: 'untargeted', classes });
    }

    /** w = grad (f_k - f_o) [B, n] and df = f_k - f_o [B] at xt, for the hyperplane each example follows. */
    const hyperplane = (xt: tf.Tensor, aim: Aim): [tf.Tensor, tf.Tensor] => {
      const keep: { logits?: tf.Tensor2D } = {};
      const grads: tf.Tensor[] = [];
      let other: tf.Tensor1D | null = null;
      try {
        if (aim.kind === 'untargeted') {
          for (const [k, o] of aim.classes.entries())
            grads.push(ctx.gradient(xt, k === 0 ? keep : undefined, o));
          return tf.tidy(() => {
            const z = keep.logits!;
            const G = tf.stack(
              grads.map((g) => tf.reshape(g, [B, n])),
              1,
            ); // [B, K, n]
            const yMask = tf.cast(tf.oneHot(ctx.objective.labels, K), 'float32');
            const dg = tf.sub(G, tf.sum(tf.mul(G, tf.expandDims(yMask, 2)), 1, true));
            const df = tf.sub(z, tf.sum(tf.mul(z, yMask), 1, true));
            const dual =
              norm === 'linf' ? tf.sum(tf.abs(dg), 2) : tf.sqrt(tf.sum(tf.square(dg), 2));
            const dist = tf.add(tf.div(tf.abs(df), tf.add(dual, 1e-12)), tf.mul(yMask, 1e30));
            const sel = tf.cast(tf.oneHot(tf.argMin(dist, 1), K), 'float32');
            return [tf.sum(tf.mul(dg, tf.expandDims(sel, 2)), 1), tf.sum(tf.mul(df, sel), 1)];
          });
        }
        grads.push(ctx.gradient(xt, keep, ceObjective(aim.target)));
        other = aim.fixedOther
          ? null
          : tf.tidy(() => {
              const tMask = tf.cast(tf.oneHot(aim.target, K), 'float32');
              return tf.cast(
                tf.argMax(tf.sub(keep.logits!, tf.mul(tMask, 1e30)), 1),
                'int32',
              ) as tf.Tensor1D;
            });
        const o = other ?? ctx.objective.labels;
        grads.push(ctx.gradient(xt, undefined, ceObjective(o)));
        return tf.tidy(() => {
          const z = keep.logits!;
          const pick = (c: tf.Tensor1D) =>
            tf.sum(tf.mul(z, tf.cast(tf.oneHot(c, K), 'float32')), 1);
          return [
            tf.reshape(tf.sub(grads[0]!, grads[1]!), [B, n]),
            tf.sub(pick(aim.target), pick(o)),
          ];
        });
      } finally {
        tf.dispose([...grads, ...(keep.logits ? [keep.logits] : []), ...(other ? [other] : [])]);
      }
    };

    const d1 = new Float64Array(n);
    const d2 = new Float64Array(n);
    const rowNorm = (d: ArrayLike<number>, a: ArrayLike<number> | null, off: number): number => {
      let s = 0;
      for (let p = 0; p < n; p++) {
        const v = a ? d[off + p]! - a[off + p]! : d[p]!;
        s = norm === 'linf' ? Math.max(s, Math.abs(v)) : s + v * v;
      }
      return norm === 'linf' ? s : Math.sqrt(s);
    };
    const clamp = (v: number) => Math.min(hi, Math.max(lo, v));

    for (const aim of aims) {
      for (let r = 0; r < restarts; r++) {
        const x1 = Float32Array.from(x0);
        if (r > 0) randomStart(x1, x0, n, norm, eps / 2, ctx.rng.next, clamp);
        for (let t = 0; t < steps; t++) {
          const xt = tf.tensor(x1.slice(), x.shape);
          let wt: tf.Tensor;
          let dft: tf.Tensor;
          try {
            [wt, dft] = hyperplane(xt, aim);
          } finally {
            xt.dispose();
          }
          const [w, df] = await Promise.all([wt.data(), dft.data()]);
          tf.dispose([wt, dft]);
          ctx.queries++;
          for (let i = 0; i < B; i++) {
            const off = i * n;
            let shift = 0; // w . (x - x_t): the hyperplane's offset at x
            for (let p = 0; p < n; p++) shift += w[off + p]! * (x0[off + p]! - x1[off + p]!);
            projectInto(norm, x1, off, w, off, df[i]!, lo, hi, d1);
            projectInto(norm, x0, off, w, off, df[i]! + shift, lo, hi, d2);
            const a1 = Math.max(rowNorm(d1, null, 0), 1e-8);
            const a2 = Math.max(rowNorm(d2, null, 0), 1e-8);
            const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), alphaMax);
            for (let p = 0; p < n; p++) {
              x1[off + p] = clamp(
                (x1[off + p]! + eta * d1[p]!) * (1 - alpha) + (x0[off + p]! + eta * d2[p]!) * alpha,
              );
            }
          }
          const xn = tf.tensor(x1.slice(), x.shape);
          const fooledT = tf.tidy(() => fooledMask(ctx.logits(xn), ctx.objective));
          xn.dispose();
          const fooled = await fooledT.data();
          fooledT.dispose();
          ctx.queries++;
          for (let i = 0; i < B; i++) {
            if (!fooled[i]) continue;
            const off = i * n;
            const size = rowNorm(x1, x0, off);
            if (size < best[i]!) {
              best[i] = size;
              bestAdv.set(x1.subarray(off, off + n), off);
            }
            for (let p = 0; p < n; p++)
              x1[off + p] = x0[off + p]! + (x1[off + p]! - x0[off + p]!) * beta;
          }
          ctx.iterations++;
          await ctx.checkAbort();
        }
      }
    }
    // The threat model: an example's adversarial counts only within epsilon; else x itself.
    const out = Float32Array.from(x0);
    for (let i = 0; i < B; i++) {
      if (best[i]! <= eps) out.set(bestAdv.subarray(i * n, (i + 1) * n), i * n);
    }
    const result = await ctx.finish(tf.tensor(out, x.shape), {
      variant: 'standard',
      norm,
      clippedToBounds: true,
    });
    return { ...result, minNorm: Float32Array.from(best) };
  } finally {
    tf.dispose(owned);
    ctx.dispose();
  }
}

/** x1 = clip(x0 + radius * v / ||v||), v uniform in [-1, 1]^n (L-inf) or Gaussian (L2), per example. */
function randomStart(
  x1: Float32Array,
  x0: Float32Array,
  n: number,
  norm: Norm,
  radius: number,
  next: () => number,
  clamp: (v: number) => number,
): void {
  const v = new Float64Array(n);
  for (let off = 0; off < x1.length; off += n) {
    let size = 0;
    for (let p = 0; p < n; p++) {
      if (norm === 'linf') {
        v[p] = 2 * next() - 1;
        size = Math.max(size, Math.abs(v[p]!));
      } else {
        // Box-Muller
        v[p] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
        size += v[p]! * v[p]!;
      }
    }
    size = Math.max(norm === 'linf' ? size : Math.sqrt(size), 1e-12);
    for (let p = 0; p < n; p++) x1[off + p] = clamp(x0[off + p]! + (radius * v[p]!) / size);
  }
}

/** What fab is, for callers that treat attacks generically (see ATTACK_INFO). */
export const fabInfo: AttackInfo = {
  name: 'fab',
  paper:
    'Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive boundary attack", ICML 2020',
  norms: ['linf', 'l2'],
  gradientFree: false,
  options: ['gradient', 'norm', 'steps', 'restarts', 'targetClasses', 'alphaMax', 'eta', 'beta'],
  /**
   * Per step: one gradient per class untargeted (`classes`, default 10), two per targeted
   * run; two forward passes (the logit differences' and the fooled check's) and one clean.
   */
  cost: (o) => {
    const steps = o?.steps ?? DEFAULTS.steps;
    const restarts = o?.restarts ?? DEFAULTS.restarts;
    const targets = o?.targetClasses;
    const classes = o?.classes ?? 10;
    const runs = targets != null ? Math.min(targets, classes - 1) * restarts : restarts;
    return {
      gradients: runs * steps * (targets != null ? 2 : classes),
      forwards: 1 + 2 * runs * steps,
    };
  },
};
