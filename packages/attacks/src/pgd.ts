import type * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { AttackInputError } from './errors.js';
import type { AttackInfo } from './info.js';
import { iterate } from './iterate.js';
import type { LabelsInput, Model } from './model.js';
import { normRule } from './norms.js';
import { checkAttackOptions, checkNorm, finiteNumber, positiveInt } from './options.js';
import type { AttackResult, GradientAttackOptions, Norm } from './types.js';

/** The defaults the attack and its cost (`pgdInfo.cost`) share. */
const DEFAULTS = { steps: 20, restarts: 1 } as const;

export interface PgdOptions extends GradientAttackOptions {
  /** 'linf' (default) or 'l2'. */
  norm?: Norm;
  /** Iterations per restart. Default 20. */
  steps?: number;
  /** Step size. Default 2.5 * epsilon / steps (Madry et al.). */
  alpha?: number;
  /** Start from a uniform random point of the eps-ball. Default true. */
  randomStart?: boolean;
  /** Independent runs from fresh random starts; per example the best is kept. Default 1. */
  restarts?: number;
}

/**
 * PGD, projected gradient descent: Madry et al., "Towards Deep Learning Models Resistant to
 * Adversarial Attacks", ICLR 2018. Norms: L-inf and L2. From a uniform random start in the
 * eps-ball (clipped to the bounds), `steps` iterations of
 *
 *   L-inf: x_{t+1} = clip_[low, high](P_inf(x_t + alpha * sign(g_t)))
 *   L2:    x_{t+1} = clip_[low, high](P_2(x_t + alpha * g_t / ||g_t||_2))
 *
 * with P the projection onto the eps-ball around x and g_t = grad_x L(x_t, y). With restarts
 * > 1 the runs are independent (each from its own seeded random start); per example an
 * adversarial that fools wins, else the run with the highest final loss. Defaults: norm 'linf',
 * steps 20, alpha = 2.5 * epsilon / steps, randomStart true, restarts 1, loss 'ce',
 * bounds [0, 1], gradient ownGradient(model). Restarts need keepBest (the default).
 */
export async function pgd(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: PgdOptions,
): Promise<AttackResult> {
  checkAttackOptions('pgd', options, pgdInfo);
  const norm = checkNorm('pgd', options?.norm);
  const steps = positiveInt('pgd', 'steps', options?.steps, DEFAULTS.steps);
  const restarts = positiveInt('pgd', 'restarts', options?.restarts, DEFAULTS.restarts);
  if (restarts > 1 && options?.keepBest === false) {
    throw new AttackInputError(
      'pgd',
      'options.keepBest',
      'true (the default) when restarts > 1: restarts keep the best run per example',
      'false',
    );
  }
  const ctx = await AttackContext.create('pgd', model, x, y, options, { loss: 'ce' });
  try {
    const alpha = finiteNumber('pgd', 'alpha', options.alpha, (2.5 * ctx.epsilon) / steps);
    const final = await iterate(ctx, {
      norm: normRule(norm),
      steps,
      stepSize: alpha,
      start: (options.randomStart ?? true) ? 'random' : 'clean',
      restarts,
      clip: true,
    });
    return await ctx.finish(final, { variant: 'standard', norm, clippedToBounds: true });
  } finally {
    ctx.dispose();
  }
}

/** What pgd is, for callers that treat attacks generically (see ATTACK_INFO). */
export const pgdInfo: AttackInfo = {
  name: 'pgd',
  paper: 'Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018',
  norms: ['linf', 'l2'],
  gradientFree: false,
  options: ['gradient', 'norm', 'steps', 'alpha', 'randomStart', 'restarts'],
  cost: (o) => ({
    gradients: (o?.steps ?? DEFAULTS.steps) * (o?.restarts ?? DEFAULTS.restarts),
    forwards: 0,
  }),
};
