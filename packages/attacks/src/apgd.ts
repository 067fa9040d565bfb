import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { AttackInputError } from './errors.js';
import { blend } from './geometry.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { type NormRule, normRule } from './norms.js';
import { type Objective, objectiveLoss } from './objective.js';
import { checkAttackOptions, checkNorm, finiteNumber, positiveInt } from './options.js';
import type { AttackResult, GradientAttackOptions, Norm } from './types.js';

/** The defaults the attack and its cost (`apgdInfo.cost`) share. */
const DEFAULTS = { steps: 100, restarts: 1 } as const;

export interface ApgdOptions extends GradientAttackOptions {
  /** 'linf' (default) or 'l2'. */
  norm?: Norm;
  /** Iterations per run (gradient evaluations per run). Default 100. */
  steps?: number;
  /** Independent runs, each from its own random start. Default 1. */
  restarts?: number;
  /** The step size is halved at a checkpoint where at most rho of the steps raised the loss. Default 0.75. */
  rho?: number;
  /** Start each run from a uniform random point of the eps-ball (default true, as the reference), else from x. */
  randomStart?: boolean;
  /**
   * APGD-T: one targeted run (times `restarts`) against each of the k most likely wrong
   * classes, the 2nd..(k+1)-th largest clean logits; success is misclassification (AutoAttack:
   * k = 9, loss 'dlr'). Not with `target`.
   */
  targetClasses?: number;
}

/** The first checkpoint window, its decrease and its minimum (integer parts, each >= 1). */
function windows(steps: number): { first: number; decrease: number; min: number } {
  return {
    first: Math.max(Math.floor(0.22 * steps), 1),
    decrease: Math.max(Math.floor(0.03 * steps), 1),
    min: Math.max(Math.floor(0.06 * steps), 1),
  };
}

/**
 * The iterations after which APGD checks its step size, for `steps` iterations (those before
 * the last): w_1 = the integer part of 0.22 * steps, then windows shrinking by 0.03 * steps
 * down to 0.06 * steps (each at least 1), i.e. p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)
 * as fra31/auto-attack rounds it. For 100 steps: 22, 41, 57, 70, 80, 87, 93, 99.
 */
export function apgdCheckpoints(steps: number): number[] {
  const { first, decrease, min } = windows(steps);
  const out: number[] = [];
  for (let w = first, at = first; at < steps; w = Math.max(w - decrease, min), at += w)
    out.push(at);
  return out;
}

/** One run's constants. */
interface RunSpec {
  rule: NormRule;
  steps: number;
  rho: number;
  random: boolean;
  /** Return the run's highest-loss point (keepBest false, one run) instead of observing it. */
  returnBest: boolean;
}

/** One APGD run against `objective`; observes every iterate (keep-best). */
async function run(
  ctx: AttackContext,
  objective: Objective,
  spec: RunSpec,
): Promise<tf.Tensor | null> {
  const { rule, steps, rho } = spec;
  const { x0, epsilon } = ctx;
  const project = (v: tf.Tensor) => ctx.clip(rule.project(v, x0, epsilon));
  /** The gradient (held as 'grad') and the objective's loss on the attacked model at x. */
  const evaluate = (x: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    const keep: { logits?: tf.Tensor2D } = {};
    const g = ctx.hold('grad', ctx.gradient(x, keep, objective));
    const logits = keep.logits!;
    const loss = objectiveLoss(logits, objective);
    logits.dispose();
    return [g, loss];
  };
  const checks = new Set(apgdCheckpoints(steps));
  const { first, decrease, min } = windows(steps);
  let window = first;

  let x = spec.random ? ctx.hold('x', rule.randomStart(ctx, true)) : x0;
  let [g, loss] = evaluate(x);
  ctx.hold('loss', loss);
  let xBest = ctx.hold('xBest', tf.clone(x));
  let gBest = ctx.hold('gradBest', tf.clone(g));
  let lossBest = ctx.hold('lossBest', tf.clone(loss));
  let eta = ctx.hold(
    'stepSize',
    tf.fill([ctx.batch, ...new Array(ctx.rank - 1).fill(1)], 2 * epsilon),
  );
  let increases = ctx.hold('increases', tf.zeros([ctx.batch]));
  let lossAtCheck = ctx.hold('lossAtCheck', tf.clone(loss));
  let halved = ctx.hold('halved', tf.ones([ctx.batch], 'bool'));
  ctx.hold('xPrev', x);

  for (let i = 0; i < steps; i++) {
    // x_{k+1} = P(x_k + a (z_{k+1} - x_k) + (1 - a)(x_k - x_{k-1})), z_{k+1} = P(x_k + eta d_k)
    const a = i > 0 ? 0.75 : 1;
    const xPrev = ctx.release('xPrev');
    const next = tf.tidy(() => {
      const z = project(rule.step(x, g, eta));
      const moved = tf.add(tf.add(x, tf.mul(a, tf.sub(z, x))), tf.mul(1 - a, tf.sub(x, xPrev)));
      return project(moved);
    });
    if (xPrev !== x0 && xPrev !== x) xPrev.dispose();
    if (x !== x0) ctx.release('x');
    ctx.hold('xPrev', x);
    x = ctx.hold('x', next);
    ctx.iterations++;

    if (i === steps - 1) break; // the final iterate needs no gradient: it is only observed
    const previous = ctx.release('loss');
    [g, loss] = evaluate(x);
    ctx.hold('loss', loss);
    [increases, xBest, gBest, lossBest] = tf.tidy(() => {
      const improved = tf.greater(loss, lossBest);
      return [
        tf.add(increases, tf.cast(tf.greater(loss, previous), 'float32')),
        blend(improved, x, xBest),
        blend(improved, g, gBest),
        tf.where(improved, loss, lossBest),
      ];
    }) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    previous.dispose();
    ctx.hold('increases', increases);
    ctx.hold('xBest', xBest);
    ctx.hold('gradBest', gBest);
    ctx.hold('lossBest', lossBest);

    if (checks.has(i + 1)) {
      // Halve where at most rho of the window's steps raised the loss, or where the step was
      // not halved at the last checkpoint and the best loss has not risen since; restart
      // those from the best point (with its gradient).
      const [halve, nextEta, nextX, nextG] = tf.tidy(() => {
        const oscillating = tf.lessEqual(increases, window * rho);
        const stalled = tf.logicalAnd(
          tf.logicalNot(halved),
          tf.greaterEqual(lossAtCheck, lossBest),
        );
        const h = tf.logicalOr(oscillating, stalled);
        return [h, blend(h, tf.div(eta, 2), eta), blend(h, xBest, x), blend(h, gBest, g)];
      });
      halved = ctx.hold('halved', halve!);
      eta = ctx.hold('stepSize', nextEta!);
      x = ctx.hold('x', nextX!);
      g = ctx.hold('grad', nextG!);
      lossAtCheck = ctx.hold('lossAtCheck', tf.clone(lossBest));
      increases = ctx.hold('increases', tf.zeros([ctx.batch]));
      window = Math.max(window - decrease, min);
    }
    await ctx.checkAbort();
  }
  const final = ctx.release('x');
  if (spec.returnBest) {
    // the run's own best: the final iterate if its loss is higher
    const z = tf.tidy(() => ctx.logits(final));
    const best = tf.tidy(() =>
      blend(tf.greater(objectiveLoss(z, objective), lossBest), final, xBest),
    );
    tf.dispose([z, final]);
    return best;
  }
  ctx.observe(final);
  final.dispose();
  await ctx.checkAbort();
  return null;
}

/**
 * APGD, auto-PGD: Croce & Hein, "Reliable evaluation of adversarial robustness with an
 * ensemble of diverse parameter-free attacks", ICML 2020 (after fra31/auto-attack's
 * APGDAttack and APGDAttack_targeted). Norms: L-inf and L2. From a uniform random start in
 * the eps-ball (clipped to the bounds), `steps` iterations of
 *
 *   z_{k+1} = P(x_k + eta_k * sign(g_k))                (L2: g_k / ||g_k||_2)
 *   x_{k+1} = P(x_k + a * (z_{k+1} - x_k) + (1 - a) * (x_k - x_{k-1}))
 *
 * with g_k = grad_x L(x_k), P the projection onto the eps-ball around x followed by the clip
 * to the pixel range, momentum a = 0.75 (1 at the first step), and a per-example step size
 * eta_0 = 2 * eps. At the checkpoints (`apgdCheckpoints`: 22, 41, 57, ... of 100 steps) eta
 * is halved, and the run restarts from its best point, where at most rho of the steps since
 * the last checkpoint raised the loss (the reference's `<=`), or where eta was not halved at
 * the last checkpoint and the best loss has not risen since. The checkpoints read the
 * attacked model's loss, which keep-best reads too.
 *
 * Per example, the point of highest loss over every run and the clean input is returned, a
 * point that fools before any that does not (`success` is re-predicted on it). `target`:
 * targeted, success is predicting the target. `targetClasses: k` (APGD-T): a run against each
 * of the k most likely wrong classes on the clean input, with the targeted loss (default
 * 'dlr': (z_t - z_y) / (z_pi1 - (z_pi3 + z_pi4) / 2)); success is misclassification, the
 * returned point per example the highest untargeted loss among the fooling ones (else among
 * all). Defaults: norm 'linf', steps 100, restarts 1, rho 0.75, randomStart true, loss 'ce'
 * ('dlr' with targetClasses), bounds [0, 1], gradient ownGradient(model). Differences from the
 * reference: the random start is uniform in the ball (the reference's lies on its surface),
 * the first window's count of rising steps starts at the start point's loss, and every
 * example runs every restart (the reference reruns only those not fooled yet).
 */
export async function apgd(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: ApgdOptions,
): Promise<AttackResult> {
  checkAttackOptions('apgd', options, apgdInfo);
  const norm = checkNorm('apgd', options?.norm);
  const steps = positiveInt('apgd', 'steps', options?.steps, DEFAULTS.steps);
  const restarts = positiveInt('apgd', 'restarts', options?.restarts, DEFAULTS.restarts);
  const rho = finiteNumber('apgd', 'rho', options?.rho, 0.75);
  if (rho > 1) throw new AttackInputError('apgd', 'options.rho', 'a number in [0, 1]', String(rho));
  const targetClasses = positiveInt('apgd', 'targetClasses', options?.targetClasses, 0);
  if (targetClasses > 0 && options.target != null) {
    throw new AttackInputError(
      'apgd',
      'options.targetClasses',
      'absent when options.target is given (fixed targets, or the k most likely wrong classes)',
      String(targetClasses),
    );
  }
  const runs = restarts * Math.max(targetClasses, 1);
  const keepBest = options?.keepBest ?? true;
  if (!keepBest && runs > 1) {
    throw new AttackInputError(
      'apgd',
      'options.keepBest',
      'true (the default) with restarts > 1 or targetClasses: the best run per example is kept',
      'false',
    );
  }
  const ctx = await AttackContext.create('apgd', model, x, y, options, {
    loss: targetClasses > 0 ? 'dlr' : 'ce',
    best: 'highest',
  });
  try {
    const k = ctx.numClasses;
    if (targetClasses > k - 1) {
      throw new AttackInputError(
        'apgd',
        'options.targetClasses',
        `an integer in [1, ${k - 1}] (the model's ${k} classes less one)`,
        String(targetClasses),
      );
    }
    if (targetClasses > 0 && ctx.objective.loss === 'dlr' && k < 4) {
      throw new AttackInputError(
        'apgd',
        'options.loss',
        `a loss the model's ${k} classes allow (targeted 'dlr' needs 4)`,
        "'dlr'",
      );
    }
    const spec: RunSpec = {
      rule: normRule(norm),
      steps,
      rho,
      random: options.randomStart ?? true,
      returnBest: !keepBest,
    };
    let final: tf.Tensor | null = null;
    if (targetClasses === 0) {
      for (let r = 0; r < restarts; r++) final = await run(ctx, ctx.objective, spec);
    } else {
      // the 2nd..(k+1)-th largest clean logits, one column per run
      const z = tf.tidy(() => ctx.logits(ctx.x0));
      ctx.queries++;
      const ranked = ctx.hold(
        'targets',
        tf.tidy(() => tf.cast(tf.topk(z, targetClasses + 1).indices, 'int32')),
      );
      z.dispose();
      for (let c = 1; c <= targetClasses; c++) {
        const target = tf.tidy(() => tf.reshape(tf.slice(ranked, [0, c], [-1, 1]), [-1]));
        try {
          const objective: Objective = { ...ctx.objective, target: target as tf.Tensor1D };
          for (let r = 0; r < restarts; r++) await run(ctx, objective, spec);
        } finally {
          target.dispose();
        }
      }
    }
    return await ctx.finish(final, { variant: 'standard', norm, clippedToBounds: true });
  } finally {
    ctx.dispose();
  }
}

/** What apgd is, for callers that treat attacks generically (see ATTACK_INFO). */
export const apgdInfo: AttackInfo = {
  name: 'apgd',
  paper:
    'Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks", ICML 2020',
  norms: ['linf', 'l2'],
  gradientFree: false,
  options: ['gradient', 'norm', 'steps', 'restarts', 'rho', 'randomStart', 'targetClasses'],
  cost: (o) => ({
    gradients:
      (o?.steps ?? DEFAULTS.steps) *
      (o?.restarts ?? DEFAULTS.restarts) *
      Math.max(o?.targetClasses ?? 1, 1),
    forwards: o?.targetClasses ? 1 : 0,
  }),
};
