import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { type AttackInfo, GRADIENT_STEP_OPTIONS } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { checkAttackOptions, checkVariant } from './options.js';
import type { AttackResult, GradientAttackOptions, Variant } from './types.js';

export interface FgsmOptions extends GradientAttackOptions {
  /** 'standard' (default) or 'paper': the same step, written as in Akrout 2019 (no pixel clipping by default). */
  variant?: Variant;
  /** Clip the result to options.bounds. Default: true for 'standard', false for 'paper'. */
  clipToBounds?: boolean;
}

/**
 * FGSM, the fast gradient sign method: Goodfellow, Shlens & Szegedy, "Explaining and
 * Harnessing Adversarial Examples", ICLR 2015. Norm: L-inf. One gradient evaluation:
 *
 *   x' = clip_[low, high](x + epsilon * sign(grad_x L(x, y)))
 *
 * (targeted: L = -CE(x, t), so the step descends the target's loss). Defaults: loss 'ce',
 * bounds [0, 1] (pixels), gradient ownGradient(model). `variant: 'paper'` is Akrout 2019's
 * equation x' = x + eps * sign(grad) as written, with no clipping to the pixel range unless
 * `clipToBounds: true`. With keepBest (default) an example misclassified on the clean input and
 * no longer after the step is returned unperturbed.
 */
export async function fgsm(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: FgsmOptions,
): Promise<AttackResult> {
  checkAttackOptions('fgsm', options, fgsmInfo);
  const variant = checkVariant('fgsm', options?.variant);
  const ctx = await AttackContext.create('fgsm', model, x, y, options, { loss: 'ce' });
  try {
    const clip = options.clipToBounds ?? variant === 'standard';
    const g = ctx.hold('x', ctx.gradient(x));
    const next = tf.tidy(() => {
      const stepped = tf.add(x, tf.mul(ctx.epsilon, tf.sign(g)));
      return clip ? ctx.clip(stepped) : stepped;
    });
    ctx.hold('x', next);
    ctx.iterations = 1;
    return await ctx.finish(ctx.release('x'), { variant, norm: 'linf', clippedToBounds: clip });
  } finally {
    ctx.dispose();
  }
}

/** What fgsm is, for callers that treat attacks generically (see ATTACK_INFO). */
export const fgsmInfo: AttackInfo = {
  name: 'fgsm',
  paper: 'Goodfellow et al., "Explaining and Harnessing Adversarial Examples", ICLR 2015',
  norms: ['linf'],
  gradientFree: false,
  options: GRADIENT_STEP_OPTIONS,
  cost: () => ({ gradients: 1, forwards: 0 }),
};
