import type * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { type AttackInfo, GRADIENT_STEP_OPTIONS } from './info.js';
import { iterate } from './iterate.js';
import type { LabelsInput, Model } from './model.js';
import { LINF } from './norms.js';
import { checkAttackOptions, checkVariant, finiteNumber, positiveInt } from './options.js';
import type { AttackResult, GradientAttackOptions, Variant } from './types.js';

/** The defaults the attack and its cost (`bimInfo.cost`) share. */
const DEFAULTS = { steps: 10 } as const;

export interface BimOptions extends GradientAttackOptions {
  /** Iterations T. Default 10 (the paper's setting). */
  steps?: number;
  /** Step size. Default epsilon / steps. */
  alpha?: number;
  /** 'standard' (default) or 'paper' (Akrout 2019: clipped to [x - eps, x + eps] only). */
  variant?: Variant;
  /** Clip every iterate to options.bounds. Default: true for 'standard', false for 'paper'. */
  clipToBounds?: boolean;
}

/**
 * BIM, the basic iterative method (I-FGSM): Kurakin, Goodfellow & Bengio, "Adversarial
 * examples in the physical world", ICLR 2017 workshop. Norm: L-inf. T steps of
 *
 *   x_{t+1} = clip_[low, high](clip_[x - eps, x + eps](x_t + alpha * sign(grad_x L(x_t, y))))
 *
 * from x_0 = x. Defaults: steps 10, alpha = epsilon / steps, loss 'ce', bounds [0, 1],
 * gradient ownGradient(model). `variant: 'paper'` is Akrout 2019's equation
 * x_{t+1} = Clip_{x,eps}(x_t + alpha * sign(grad)): the projection onto [x - eps, x + eps]
 * every step, no clipping to the pixel range unless `clipToBounds: true`.
 */
export async function bim(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: BimOptions,
): Promise<AttackResult> {
  checkAttackOptions('bim', options, bimInfo);
  const variant = checkVariant('bim', options?.variant);
  const steps = positiveInt('bim', 'steps', options?.steps, DEFAULTS.steps);
  const ctx = await AttackContext.create('bim', model, x, y, options, { loss: 'ce' });
  try {
    const alpha = finiteNumber('bim', 'alpha', options.alpha, ctx.epsilon / steps);
    const clip = options.clipToBounds ?? variant === 'standard';
    // PGD without a random start: sign steps of alpha, projected onto the eps-ball.
    const final = await iterate(ctx, { norm: LINF, steps, stepSize: alpha, clip });
    return await ctx.finish(final, { variant, norm: 'linf', clippedToBounds: clip });
  } finally {
    ctx.dispose();
  }
}

/** What bim is, for callers that treat attacks generically (see ATTACK_INFO). */
export const bimInfo: AttackInfo = {
  name: 'bim',
  paper: 'Kurakin et al., "Adversarial examples in the physical world", ICLR workshop 2017',
  norms: ['linf'],
  gradientFree: false,
  options: [...GRADIENT_STEP_OPTIONS, 'steps', 'alpha'],
  cost: (o) => ({ gradients: o?.steps ?? DEFAULTS.steps, forwards: 0 }),
};
