/**
 * The norm-specific parts of a gradient attack's step (after foolbox 3's
 * LinfBaseGradientDescent / L2BaseGradientDescent): the steepest-ascent direction of unit
 * norm, the step along it, the projection onto the eps-ball and the uniform random start.
 * `iterate` takes one of these; an attack for another norm (L1, say) supplies its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackContext } from './context.js';
import { l2Norm, projectL2, projectLinf } from './geometry.js';
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
  randomStart: (ctx, clip) => ctx.randomStartLinf(clip),
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
  randomStart: (ctx, clip) => ctx.randomStartL2(clip),
};

/** The rule of a norm. */
export function normRule(norm: Norm): NormRule {
  return norm === 'l2' ? L2 : LINF;
}
