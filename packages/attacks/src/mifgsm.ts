import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { l1Norm } from './geometry.js';
import { type AttackInfo, GRADIENT_STEP_OPTIONS } from './info.js';
import { type DirectionHook, iterate } from './iterate.js';
import type { LabelsInput, Model } from './model.js';
import { LINF } from './norms.js';
import { checkAttackOptions, checkVariant, finiteNumber, positiveInt } from './options.js';
import type { AttackResult, GradientAttackOptions, Variant } from './types.js';

/** The defaults the attack and its cost (`mifgsmInfo.cost`) share. */
const DEFAULTS = { steps: 10 } as const;

/** MI-FGSM's direction: the momentum g_{t+1} = mu * g_t + grad / ||grad||_1 (g_0 = 0). */
export function momentumDirection(decay: number): DirectionHook {
  return (grad, previous) =>
    tf.tidy(() =>
      tf.add(
        tf.mul(decay, previous ?? tf.zerosLike(grad)),
        tf.div(grad, tf.maximum(l1Norm(grad), 1e-12)),
      ),
    );
}

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
  checkAttackOptions('mifgsm', options, mifgsmInfo);
  const variant = checkVariant('mifgsm', options?.variant);
  const steps = positiveInt('mifgsm', 'steps', options?.steps, DEFAULTS.steps);
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
    // 'paper': a step of alpha (= eps) along sign(g) every iteration, no projection.
    const final = await iterate(ctx, {
      norm: LINF,
      steps,
      stepSize: alpha,
      project: !paper,
      clip,
      direction: momentumDirection(decay),
    });
    return await ctx.finish(final, { variant, norm: 'linf', clippedToBounds: clip });
  } finally {
    ctx.dispose();
  }
}

/** What mifgsm is, for callers that treat attacks generically (see ATTACK_INFO). */
export const mifgsmInfo: AttackInfo = {
  name: 'mifgsm',
  paper: 'Dong et al., "Boosting Adversarial Attacks with Momentum", CVPR 2018',
  norms: ['linf'],
  gradientFree: false,
  options: [...GRADIENT_STEP_OPTIONS, 'steps', 'alpha', 'decay'],
  cost: (o) => ({ gradients: o?.steps ?? DEFAULTS.steps, forwards: 0 }),
};
