/**
 * The one iterate loop of the gradient attacks (BIM, PGD, MI-FGSM, and the ones to come:
 * APGD, FAB, CW), after foolbox 3's BaseGradientDescent. Per step:
 *
 *   g_t   = grad_x L(x_t)                               (ctx.gradient: zero/non-finite counted,
 *                                                        x_t observed for keep-best)
 *   d_t   = direction(g_t, d_{t-1}, t)                  (default: g_t)
 *   x_t+1 = clip_bounds(P_eps(norm.step(x_t, d_t, alpha_t)))
 *
 * with P_eps the norm's projection (skipped with `project: false`) and the clip to the pixel
 * bounds only with `clip`. Random starts, restarts (best run per example), the abort signal
 * and the iteration count are the loop's; an attack supplies only its hooks.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackContext } from './context.js';
import type { NormRule, StepSize } from './norms.js';

/**
 * The ascent direction at step t from the gradient and the previous direction (null at a
 * run's first step), e.g. MI-FGSM's momentum. The loop owns the returned tensor (held as
 * 'direction' until the next step); `gradient` and `previous` stay the loop's.
 */
export type DirectionHook = (
  gradient: tf.Tensor,
  previous: tf.Tensor | null,
  t: number,
) => tf.Tensor;

export interface IterateSpec {
  /** The norm's step, projection and random start (LINF, L2, or an attack's own). */
  norm: NormRule;
  /** Steps per run (>= 1). */
  steps: number;
  /**
   * Step size: a number, or a schedule t => alpha_t (a number, or a per-example tensor that
   * the loop disposes after the step; e.g. APGD's halving at checkpoints).
   */
  stepSize: number | ((t: number) => StepSize);
  /** Each run starts at the clean input ('clean', default) or a uniform random point of the ball. */
  start?: 'clean' | 'random';
  /** Independent runs; per example a fooling run wins, else the highest final loss. Needs keepBest. Default 1. */
  restarts?: number;
  /** Project onto the eps-ball after each step. Default true (false: MI-FGSM 'paper'). */
  project?: boolean;
  /** Clip each iterate (and a random start) to the pixel bounds. */
  clip: boolean;
  /** The per-step direction; default the gradient itself. */
  direction?: DirectionHook;
  /** Called with each new iterate x_{t+1} (still the loop's) after step t, before the abort check. */
  onStep?: (x: tf.Tensor, t: number) => void | Promise<void>;
}

/**
 * Runs the loop on ctx. Returns the final iterate (the caller owns it; pass it to
 * ctx.finish), or null with restarts > 1, whose runs were observed and merged here.
 */
export async function iterate(ctx: AttackContext, spec: IterateSpec): Promise<tf.Tensor | null> {
  const restarts = spec.restarts ?? 1;
  if (restarts > 1 && !ctx.keepBest)
    throw new Error(`${ctx.fn}: restarts need keepBest (internal error)`);
  const project = spec.project ?? true;
  const x0 = ctx.x0;
  for (let r = 0; r < restarts; r++) {
    const outer = restarts > 1 ? ctx.beginRun() : null;
    let xt = spec.start === 'random' ? ctx.hold('x', spec.norm.randomStart(ctx, spec.clip)) : x0;
    let previous: tf.Tensor | null = null;
    for (let t = 0; t < spec.steps; t++) {
      const g = ctx.hold('grad', ctx.gradient(xt));
      const d: tf.Tensor = spec.direction
        ? ctx.hold('direction', spec.direction(g, previous, t))
        : g;
      previous = spec.direction ? d : null;
      const alpha = typeof spec.stepSize === 'number' ? spec.stepSize : spec.stepSize(t);
      try {
        xt = ctx.hold(
          'x',
          tf.tidy(() => {
            let next = spec.norm.step(xt, d, alpha);
            if (project) next = spec.norm.project(next, x0, ctx.epsilon);
            return spec.clip ? ctx.clip(next) : next;
          }),
        );
      } finally {
        if (alpha instanceof tf.Tensor) alpha.dispose();
      }
      ctx.iterations++;
      await spec.onStep?.(xt, t);
      await ctx.checkAbort();
    }
    if (restarts > 1) {
      const final = ctx.release('x');
      ctx.observe(final);
      if (final !== x0) final.dispose();
      ctx.endRun(outer);
    }
  }
  return restarts > 1 ? null : ctx.release('x');
}
