/**
 * The norm-specific parts of a gradient attack's step (after foolbox 3's
 * LinfBaseGradientDescent / L2BaseGradientDescent): the steepest-ascent direction of unit
 * norm, the step along it, the projection onto the eps-ball and the uniform random start.
 * `iterate` takes one of these; an attack for another norm (L1, say) supplies its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackContext } from './context.js';
import { l2Norm, perExample, projectL2, projectLinf } from './geometry.js';
import type { Norm } from './types.js';

/** A step size: one number for the batch, or per example ([B, 1, ...], broadcast against x). */
export type StepSize = number | tf.Tensor;

export interface NormRule {
  readonly norm: Norm;
  /** The unit-norm steepest-ascent direction of d: sign(d) for L-inf, d / ||d||_2 for L2. */
  normalize(d: tf.Tensor): tf.Tensor;
  /** x + alpha * normalize(d). */
  step(x: tf.Tensor, d: tf.Tensor, alpha: StepSize): tf.Tensor;
  /** The projection onto the eps-ball around x0. */
  project(x: tf.Tensor, x0: tf.Tensor, epsilon: number): tf.Tensor;
  /** A uniform random point of the eps-ball around ctx.x0 from ctx's PRNG (clipped when `clip`). */
  randomStart(ctx: AttackContext, clip: boolean): tf.Tensor;
}

/** L-inf: sign steps, projection by clipping to [x0 - eps, x0 + eps]. */
export const LINF: NormRule = {
  norm: 'linf',
  normalize: (d) => tf.sign(d),
  step: (x, d, alpha) => tf.add(x, tf.mul(alpha, tf.sign(d))),
  project: projectLinf,
  randomStart(ctx, clip) {
    const seed = ctx.rng.seed();
    return tf.tidy(() => {
      const x = tf.add(
        ctx.x0,
        tf.randomUniform(ctx.x0.shape, -ctx.epsilon, ctx.epsilon, 'float32', seed),
      );
      return clip ? ctx.clip(x) : x;
    });
  },
};

/** The L2 unit direction d / max(||d||_2, 1e-12), per example. */
function unitL2(d: tf.Tensor): tf.Tensor {
  return tf.div(d, tf.maximum(l2Norm(d), 1e-12));
}

/** L2: steps along d / ||d||_2, projection by rescaling the perturbation to norm <= eps. */
export const L2: NormRule = {
  norm: 'l2',
  normalize: unitL2,
  step: (x, d, alpha) => tf.add(x, tf.mul(alpha, unitL2(d))),
  project: projectL2,
  /** A Gaussian direction made unit, at radius eps * u^(1/d) (u uniform): uniform in the ball. */
  randomStart(ctx, clip) {
    const s1 = ctx.rng.seed();
    const s2 = ctx.rng.seed();
    return tf.tidy(() => {
      const d = ctx.x0.size / ctx.batch;
      const dir = tf.randomNormal(ctx.x0.shape, 0, 1, 'float32', s1);
      const unit = tf.div(dir, tf.maximum(l2Norm(dir), 1e-12));
      const u = tf.randomUniform([ctx.batch], 0, 1, 'float32', s2);
      const r = perExample(tf.mul(ctx.epsilon, tf.pow(u, 1 / d)), ctx.rank);
      const x = tf.add(ctx.x0, tf.mul(unit, r));
      return clip ? ctx.clip(x) : x;
    });
  },
};

/** The rule of a norm. */
export function normRule(norm: Norm): NormRule {
  return norm === 'l2' ? L2 : LINF;
}
