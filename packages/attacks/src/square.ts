import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { AttackInputError } from './errors.js';
import { blend } from './geometry.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { fooledMask, objectiveLoss } from './objective.js';
import { finiteNumber, positiveInt } from './options.js';
import type { AttackOptions, AttackResult } from './types.js';

export interface SquareOptions extends AttackOptions {
  /** Iterations (one query each, after one for the initialisation). Default 1000. */
  steps?: number;
  /** Initial fraction of pixels a square covers; halved on the schedule of the paper. Default 0.05. */
  pInit?: number;
}

/** The p schedule of Andriushchenko et al. (their code, p_selection), for a run of `steps`. */
export function squareFraction(pInit: number, step: number, steps: number): number {
  const it = Math.floor((step / steps) * 10000);
  const cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let p = pInit;
  for (const c of cuts) if (it > c) p /= 2;
  return p;
}

/**
 * Square Attack: Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial
 * attack via random search", ECCV 2020. Gradient-free, L-inf. Starts from vertical stripes
 * x + eps * (+-1 per column and channel); each iteration proposes, per example, a random
 * square window (side sqrt(p * H * W), p on the paper's schedule) set to x + eps * (+-1 per
 * channel) and keeps it where the loss increased. Examples already fooled are no longer
 * changed. Defaults: steps 1000, pInit 0.05, loss 'margin', bounds [0, 1]. Inputs are NHWC
 * images [batch, height, width, channels] or flat vectors [batch, features] (where the
 * window is a segment of p * features entries). Windows and signs come from the seeded PRNG (options.seed).
 * Simplification: a proposal that leaves the window unchanged is not resampled.
 */
export async function square(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: SquareOptions,
): Promise<AttackResult> {
  const steps = positiveInt('square', 'steps', options?.steps, 1000);
  const pInit = finiteNumber('square', 'pInit', options?.pInit, 0.05, Number.MIN_VALUE);
  if (pInit > 1)
    throw new AttackInputError('square', 'options.pInit', 'a fraction in (0, 1]', String(pInit));
  if (x instanceof tf.Tensor && x.rank !== 4 && x.rank !== 2) {
    throw new AttackInputError(
      'square',
      'x',
      'NHWC images [batch, height, width, channels] or vectors [batch, features]',
      `rank ${x.rank}`,
    );
  }
  const ctx = await AttackContext.create('square', model, x, y, options, {
    loss: 'margin',
    gradientFree: true,
  });
  try {
    const batch = ctx.batch;
    const [h, w, c] =
      x.rank === 4 ? (x.shape.slice(1) as [number, number, number]) : [1, x.shape[1]!, 1];
    const asImage = (t: tf.Tensor) => (x.rank === 4 ? t : tf.reshape(t, [batch, h, w, c]));
    const asInput = (t: tf.Tensor) => (x.rank === 4 ? t : tf.reshape(t, x.shape));
    const x0 = ctx.hold('x0img', asImage(x));
    const eps = ctx.epsilon;
    const rng = ctx.rng;
    const signs = (n: number) =>
      Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1));

    // Initialisation: vertical stripes.
    const stripes = tf.tensor4d(signs(batch * w * c), [batch, 1, w, c]);
    let best = ctx.hold(
      'x',
      tf.tidy(() => ctx.clip(tf.add(x0, tf.mul(eps, stripes)))),
    );
    stripes.dispose();
    const init = tf.tidy(() => {
      const z = ctx.logits(asInput(best));
      return [objectiveLoss(z, ctx.objective), fooledMask(z, ctx.objective)];
    });
    let bestLoss = ctx.hold('loss', init[0]!);
    let bestFooled = ctx.hold('fooled', init[1]!);
    ctx.queries++;
    const rows = ctx.hold('rows', tf.range(0, h, 1, 'int32'));
    const cols = ctx.hold('cols', tf.range(0, w, 1, 'int32'));
    for (let t = 0; t < steps; t++) {
      const p = squareFraction(pInit, t, steps);
      // A square of p * H * W pixels; for flat vectors (H = 1), a segment of p * W entries.
      const sideH =
        h === 1 ? 1 : Math.max(1, Math.min(Math.round(Math.sqrt(p * h * w)), Math.min(h, w)));
      const sideW = h === 1 ? Math.max(1, Math.min(Math.round(p * w), w)) : sideH;
      const top = Int32Array.from({ length: batch }, () => rng.int(h - sideH + 1));
      const left = Int32Array.from({ length: batch }, () => rng.int(w - sideW + 1));
      const windowSigns = signs(batch * c);
      const [nextBest, nextLoss, nextFooled] = tf.tidy(() => {
        const r0 = tf.reshape(tf.tensor1d(top, 'int32'), [batch, 1]);
        const c0 = tf.reshape(tf.tensor1d(left, 'int32'), [batch, 1]);
        const inRows = tf.logicalAnd(tf.greaterEqual(rows, r0), tf.less(rows, tf.add(r0, sideH))); // [B, H]
        const inCols = tf.logicalAnd(tf.greaterEqual(cols, c0), tf.less(cols, tf.add(c0, sideW))); // [B, W]
        const mask = tf.logicalAnd(
          tf.reshape(inRows, [batch, h, 1, 1]),
          tf.reshape(inCols, [batch, 1, w, 1]),
        );
        const value = tf.add(x0, tf.mul(eps, tf.tensor4d(windowSigns, [batch, 1, 1, c])));
        const proposal = ctx.clip(blend(mask, value, best));
        const z = ctx.logits(asInput(proposal));
        const loss = objectiveLoss(z, ctx.objective);
        // Accept improvements of the examples the current best does not fool yet.
        const accept = tf.logicalAnd(tf.logicalNot(bestFooled), tf.greater(loss, bestLoss));
        return [
          blend(accept, proposal, best),
          tf.where(accept, loss, bestLoss),
          // (not tf.where: the wasm Select kernel writes 4 bytes per element, which breaks bool outputs)
          tf.logicalOr(
            tf.logicalAnd(accept, fooledMask(z, ctx.objective)),
            tf.logicalAnd(tf.logicalNot(accept), bestFooled),
          ),
        ];
      });
      best = ctx.hold('x', nextBest!);
      bestLoss = ctx.hold('loss', nextLoss!);
      bestFooled = ctx.hold('fooled', nextFooled!);
      ctx.queries++;
      ctx.iterations++;
      await ctx.checkAbort();
    }
    const final = ctx.release('x');
    const out = x.rank === 4 ? final : tf.reshape(final, x.shape);
    if (out !== final) final.dispose();
    return await ctx.finish(out, { variant: 'standard', norm: 'linf', clippedToBounds: true });
  } finally {
    ctx.dispose();
  }
}

/** What square is, for callers that treat attacks generically (see ATTACK_INFO). */
export const squareInfo: AttackInfo = {
  name: 'square',
  paper:
    'Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial attack via random search", ECCV 2020',
  norms: ['linf'],
  gradientFree: true,
  options: ['steps', 'pInit'],
  cost: (o) => ({ gradients: 0, forwards: 1 + (o?.steps ?? 1000) }),
};
