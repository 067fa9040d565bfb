import * as tf from '@tensorflow/tfjs-core';
import {
  AttackContext,
  type AttackResult,
  type GradientAttackOptions,
  l1Norm,
  projectLinf,
  type Variant,
} from './core.js';
import type { LabelsInput, Model } from './model.js';
import { checkVariant, finiteNumber, positiveInt } from './options.js';

export interface MifgsmOptions extends GradientAttackOptions {
  /** Iterations T. Default 10. */
  steps?: number;
  /** Momentum decay mu. Default 1.0 ('standard', Dong et al.) or 0.8 ('paper', Akrout 2019). */
  decay?: number;
  /** Step size. Default epsilon / steps ('standard') or epsilon ('paper'). */
  alpha?: number;
  /** 'standard' (default) or 'paper' (a step of eps every iteration, no projection). */
  variant?: Variant;
  /** Clip every iterate to options.bounds. Default: true for 'standard', false for 'paper'. */
  clipToBounds?: boolean;
}

/**
 * MI-FGSM, momentum iterative FGSM: Dong et al., "Boosting Adversarial Attacks with Momentum",
 * CVPR 2018. Norm: L-inf. T steps of
 *
 *   g_{t+1} = mu * g_t + grad_x L(x_t, y) / ||grad_x L(x_t, y)||_1
 *   x_{t+1} = clip_[low, high](clip_[x - eps, x + eps](x_t + alpha * sign(g_{t+1})))
 *
 * (the L1 norm per example). Defaults: steps 10, decay 1.0, alpha = epsilon / steps, loss 'ce',
 * bounds [0, 1], gradient ownGradient(model). `variant: 'paper'` is Akrout 2019's equations as
 * written: x_{t+1} = x_t + eps * sign(g_{t+1}) (alpha = eps), decay 0.8, no projection onto the
 * eps-ball and no clipping to the pixel range (unless `clipToBounds: true`), so the perturbation
 * reached can be up to steps * eps: read it from the result's `linf`.
 */
export async function mifgsm(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: MifgsmOptions,
): Promise<AttackResult> {
  const variant = checkVariant('mifgsm', options?.variant);
  const steps = positiveInt('mifgsm', 'steps', options?.steps, 10);
  const ctx = await AttackContext.create('mifgsm', model, x, y, options, { loss: 'ce' });
  try {
    const paper = variant === 'paper';
    const decay = finiteNumber('mifgsm', 'decay', options.decay, paper ? 0.8 : 1.0);
    const alpha = finiteNumber(
      'mifgsm',
      'alpha',
      options.alpha,
      paper ? ctx.epsilon : ctx.epsilon / steps,
    );
    const clip = options.clipToBounds ?? !paper;
    let xt = x;
    let momentum = ctx.hold('momentum', tf.zerosLike(x));
    for (let t = 0; t < steps; t++) {
      const grad = ctx.hold('grad', ctx.gradient(xt));
      momentum = ctx.hold(
        'momentum',
        tf.tidy(() =>
          tf.add(tf.mul(decay, momentum), tf.div(grad, tf.maximum(l1Norm(grad), 1e-12))),
        ),
      );
      xt = ctx.hold(
        'x',
        tf.tidy(() => {
          let next = tf.add(xt, tf.mul(alpha, tf.sign(momentum)));
          if (!paper) next = projectLinf(next, x, ctx.epsilon);
          return clip ? ctx.clip(next) : next;
        }),
      );
      ctx.iterations++;
      await ctx.checkAbort();
    }
    return await ctx.finish(ctx.release('x'), { variant, norm: 'linf', clippedToBounds: clip });
  } finally {
    ctx.dispose();
  }
}
