import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { blend } from './geometry.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { fooledMask } from './objective.js';
import { checkAttackOptions, checkNorm, positiveInt } from './options.js';
import type { Random } from './random.js';
import type { AttackOptions, AttackResult, Norm } from './types.js';

/** The defaults the attack and its cost (`noiseInfo.cost`) share. */
const DEFAULTS = { repeats: 1 } as const;

export interface NoiseOptions extends AttackOptions {
  /** Independent draws per example (one query each); the first that fools is kept. Default 1. */
  repeats?: number;
  /** 'linf' (default): random corners of the ball; 'l2': random directions on its sphere. */
  norm?: Norm;
}

/**
 * Random noise of the attack's radius: the gradient-free baseline of Carlini et al. 2019, "On
 * Evaluating Adversarial Robustness" (a white-box attack that is no better than random noise of
 * the same size is not working; foolbox's LinfAdditiveUniformNoiseAttack and
 * L2AdditiveGaussianNoiseAttack). Per example and draw:
 *
 *   L-inf: x' = clip_bounds(x + eps * s), s a uniformly random sign (+1 / -1) per input entry:
 *          a corner of the eps-ball, the largest L-inf noise;
 *   L2:    x' = clip_bounds(x + eps * g / ||g||_2), g standard Gaussian per example (Box-Muller):
 *          a uniformly random direction on the sphere of radius eps.
 *
 * With `repeats` R > 1, R independent draws per example: the first draw that fools the model is
 * kept, else the last one; the attack stops drawing once every example is fooled (`queries` <=
 * R). The loss is not used (the choice is by the fooled check; `target` makes it targeted). As
 * every attack does with keepBest (the default), an example misclassified on the clean input is
 * a success at zero perturbation: it gets x back unless its kept draw fools too. Every draw
 * comes from the seeded PRNG (options.seed, random.ts): draw r takes its entries example by
 * example in row-major order (L2: two uniforms per pair of Gaussians), so a seed fixes the
 * result, and draw r is the same whatever R is (more repeats never fool fewer examples).
 * Inputs: any float32 batch [batch, ...features] (images or vectors).
 */
export async function noise(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: NoiseOptions,
): Promise<AttackResult> {
  checkAttackOptions('noise', options, noiseInfo);
  const repeats = positiveInt('noise', 'repeats', options?.repeats, DEFAULTS.repeats);
  const norm = checkNorm('noise', options?.norm);
  const ctx = await AttackContext.create('noise', model, x, y, options, {
    loss: 'margin',
    gradientFree: true,
  });
  try {
    const batch = ctx.batch;
    const features = x.size / batch;
    let best: tf.Tensor | null = null;
    let fooled: tf.Tensor | null = null;
    for (let r = 0; r < repeats; r++) {
      if (fooled) {
        const allFooled = tf.all(fooled);
        const done = (await allFooled.data())[0] === 1;
        allFooled.dispose();
        if (done) break;
      }
      const delta = tf.tensor(
        norm === 'linf'
          ? signNoise(ctx.rng, batch * features, ctx.epsilon)
          : sphereNoise(ctx.rng, batch, features, ctx.epsilon),
        x.shape,
        'float32',
      );
      const [candidate, candidateFooled] = tf.tidy(() => {
        const xr = ctx.clip(tf.add(x, delta));
        return [xr, fooledMask(ctx.logits(xr), ctx.objective)];
      });
      delta.dispose();
      ctx.queries++;
      ctx.iterations++;
      if (best == null || fooled == null) {
        best = ctx.hold('x', candidate!);
        fooled = ctx.hold('fooled', candidateFooled!);
      } else {
        const kept: tf.Tensor = fooled;
        const prev: tf.Tensor = best;
        const next: tf.Tensor[] = tf.tidy(() => [
          // examples fooled by an earlier draw keep it; the others take this one
          blend(kept, prev, candidate!),
          tf.logicalOr(kept, candidateFooled!),
        ]);
        tf.dispose([candidate!, candidateFooled!]);
        best = ctx.hold('x', next[0]!);
        fooled = ctx.hold('fooled', next[1]!);
      }
      await ctx.checkAbort();
    }
    return await ctx.finish(ctx.release('x'), { variant: 'standard', norm, clippedToBounds: true });
  } finally {
    ctx.dispose();
  }
}

/** n entries of eps * (+1 or -1), each sign uniform and independent. */
function signNoise(rng: Random, n: number, eps: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next() < 0.5 ? -eps : eps;
  return out;
}

/** Per example, eps * g / ||g||_2 for g standard Gaussian over `features` entries (float64 until stored). */
function sphereNoise(rng: Random, batch: number, features: number, eps: number): Float32Array {
  const out = new Float32Array(batch * features);
  const g = new Float64Array(features);
  for (let i = 0; i < batch; i++) {
    for (let j = 0; j < features; j += 2) {
      // Box-Muller: 1 - next() lies in (0, 1], so the log is finite
      const radius = Math.sqrt(-2 * Math.log(1 - rng.next()));
      const angle = 2 * Math.PI * rng.next();
      g[j] = radius * Math.cos(angle);
      if (j + 1 < features) g[j + 1] = radius * Math.sin(angle);
    }
    let sq = 0;
    for (let j = 0; j < features; j++) sq += g[j]! * g[j]!;
    const scale = sq > 0 ? eps / Math.sqrt(sq) : 0;
    for (let j = 0; j < features; j++) out[i * features + j] = g[j]! * scale;
  }
  return out;
}

/** What noise is, for callers that treat attacks generically (see ATTACK_INFO). */
export const noiseInfo: AttackInfo = {
  name: 'noise',
  paper: 'Carlini et al. 2019, On Evaluating Adversarial Robustness (random noise baseline)',
  norms: ['linf', 'l2'],
  gradientFree: true,
  options: ['norm', 'repeats'],
  // An upper bound: the draws stop once every example is fooled.
  cost: (o) => ({ gradients: 0, forwards: o?.repeats ?? DEFAULTS.repeats }),
};
