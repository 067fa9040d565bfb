import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { projectLinf } from './geometry.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { LINF } from './norms.js';
import { objectiveLoss } from './objective.js';
import { checkAttackOptions, finiteNumber, positiveInt } from './options.js';
import type { AttackOptions, AttackResult } from './types.js';

/** The defaults the attack and its cost (`spsaInfo.cost`) share. */
const DEFAULTS = { steps: 100, samples: 128 } as const;

export interface SpsaOptions extends AttackOptions {
  /** Iterations. Default 100. */
  steps?: number;
  /** Random directions per iteration (each costs 2 queries). Default 128. */
  samples?: number;
  /** Directions evaluated per forward pass (memory bound: 2 * samplesPerBatch * batch inputs). Default 32. */
  samplesPerBatch?: number;
  /** Finite-difference step delta. Default 0.01. */
  delta?: number;
  /** Adam learning rate. Default 0.01. */
  learningRate?: number;
  /** Start from a uniform random point of the eps-ball. Default true. */
  randomStart?: boolean;
}

/**
 * SPSA: Uesato et al., "Adversarial Risk and the Dangers of Evaluating Against Weak Attacks",
 * ICML 2018. Gradient-free, L-inf. Each iteration estimates the gradient of the loss from
 * forward passes only, with Rademacher directions v_i (entries +-1):
 *
 *   g ~= mean_i [(L(x_t + delta v_i) - L(x_t - delta v_i)) / (2 delta)] v_i
 *
 * and takes an Adam step (beta1 0.9, beta2 0.999) of size learningRate up the estimate, then
 * projects onto the eps-ball and the pixel bounds. Defaults: steps 100, samples 128,
 * delta 0.01, learningRate 0.01, randomStart true, loss 'margin' (Uesato et al.'s logit
 * margin), bounds [0, 1]. Queries per example: 2 * samples * steps. Directions come from the
 * seeded PRNG (options.seed).
 */
export async function spsa(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: SpsaOptions,
): Promise<AttackResult> {
  checkAttackOptions('spsa', options, spsaInfo);
  const steps = positiveInt('spsa', 'steps', options?.steps, DEFAULTS.steps);
  const samples = positiveInt('spsa', 'samples', options?.samples, DEFAULTS.samples);
  const perBatch = Math.min(
    samples,
    positiveInt('spsa', 'samplesPerBatch', options?.samplesPerBatch, 32),
  );
  const delta = finiteNumber('spsa', 'delta', options?.delta, 0.01, Number.MIN_VALUE);
  const lr = finiteNumber('spsa', 'learningRate', options?.learningRate, 0.01);
  const ctx = await AttackContext.create('spsa', model, x, y, options, {
    loss: 'margin',
    gradientFree: true,
  });
  try {
    const b1 = 0.9;
    const b2 = 0.999;
    const batch = ctx.batch;
    const exampleShape = x.shape.slice(1);
    const objective = ctx.objective;
    // The objective over `copies` stacked copies of the batch: labels tiled to match.
    const tiled = (copies: number) =>
      ({
        ...objective,
        labels: tf.tile(objective.labels, [copies]),
        target: objective.target ? tf.tile(objective.target, [copies]) : null,
      }) as typeof objective;
    let xt = (options.randomStart ?? true) ? ctx.hold('x', LINF.randomStart(ctx, true)) : x;
    let m = ctx.hold('m', tf.zerosLike(x));
    let v = ctx.hold('v', tf.zerosLike(x));
    for (let t = 1; t <= steps; t++) {
      if (xt !== x) ctx.observe(xt);
      let estimate = ctx.hold('estimate', tf.zerosLike(x));
      for (let done = 0; done < samples; done += perBatch) {
        const s = Math.min(perBatch, samples - done);
        const seed = ctx.rng.seed();
        estimate = ctx.hold(
          'estimate',
          tf.tidy(() => {
            const u = tf.randomUniform([s, batch, ...exampleShape], 0, 1, 'float32', seed);
            const dirs = tf.sub(tf.mul(tf.cast(tf.less(u, 0.5), 'float32'), 2), 1); // +-1
            const base = tf.expandDims(xt, 0);
            const plus = tf.add(base, tf.mul(delta, dirs));
            const minus = tf.sub(base, tf.mul(delta, dirs));
            const both = tf.reshape(tf.concat([plus, minus], 0), [2 * s * batch, ...exampleShape]);
            const losses = tf.reshape(objectiveLoss(ctx.logits(both), tiled(2 * s)), [2, s, batch]);
            const [lp, lm] = tf.unstack(losses, 0);
            const coef = tf.div(tf.sub(lp!, lm!), 2 * delta); // [s, batch]
            const weighted = tf.mul(
              dirs,
              tf.reshape(coef, [s, batch, ...exampleShape.map(() => 1)]),
            );
            return tf.add(estimate, tf.div(tf.sum(weighted, 0), samples));
          }),
        );
        ctx.queries += 2 * s;
      }
      const g = estimate;
      m = ctx.hold(
        'm',
        tf.tidy(() => tf.add(tf.mul(b1, m), tf.mul(1 - b1, g))),
      );
      v = ctx.hold(
        'v',
        tf.tidy(() => tf.add(tf.mul(b2, v), tf.mul(1 - b2, tf.square(g)))),
      );
      xt = ctx.hold(
        'x',
        tf.tidy(() => {
          const mHat = tf.div(m, 1 - b1 ** t);
          const vHat = tf.div(v, 1 - b2 ** t);
          const step = tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-8));
          return ctx.clip(projectLinf(tf.add(xt, tf.mul(lr, step)), x, ctx.epsilon));
        }),
      );
      ctx.iterations++;
      await ctx.checkAbort();
    }
    return await ctx.finish(ctx.release('x'), {
      variant: 'standard',
      norm: 'linf',
      clippedToBounds: true,
    });
  } finally {
    ctx.dispose();
  }
}

/** What spsa is, for callers that treat attacks generically (see ATTACK_INFO). */
export const spsaInfo: AttackInfo = {
  name: 'spsa',
  paper:
    'Uesato et al., "Adversarial Risk and the Dangers of Evaluating Against Weak Attacks", ICML 2018',
  norms: ['linf'],
  gradientFree: true,
  options: ['steps', 'samples', 'samplesPerBatch', 'delta', 'learningRate', 'randomStart'],
  cost: (o) => ({
    gradients: 0,
    forwards: 2 * (o?.samples ?? DEFAULTS.samples) * (o?.steps ?? DEFAULTS.steps),
  }),
};
