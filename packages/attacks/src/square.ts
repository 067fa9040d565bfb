import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { AttackInputError } from './errors.js';
import { blend, l2Norm } from './geometry.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { fooledMask, objectiveLoss } from './objective.js';
import { checkAttackOptions, checkNorm, finiteNumber, positiveInt } from './options.js';
import { deriveSeed, Random } from './random.js';
import type { AttackOptions, AttackResult, Norm } from './types.js';

/** The defaults the attack and its cost (`squareInfo.cost`) share. */
const DEFAULTS = { steps: 1000 } as const;

export interface SquareOptions extends AttackOptions {
  /** Iterations (one query each, after one for the initialisation). Default 1000 (AutoAttack: 5000). */
  steps?: number;
  /** Initial fraction of pixels a square covers; halved on the schedule of the paper. Default 0.05 (AutoAttack: 0.8). */
  pInit?: number;
  /** 'linf' (default) or 'l2' (NHWC images of at least 5 x 5 pixels). */
  norm?: Norm;
}

/** The p schedule of Andriushchenko et al. (their code, p_selection), for a run of `steps`. */
export function squareFraction(pInit: number, step: number, steps: number): number {
  const it = Math.floor((step / steps) * 10000);
  const cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let p = pInit;
  for (const c of cuts) if (it > c) p /= 2;
  return p;
}

/** Python's round(): halves to the even neighbour (the reference computes window sides with it). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The side of the L-inf attack's square at fraction p: at least 1, at most min(h, w) (square.py). */
export function squareSideLinf(p: number, h: number, w: number): number {
  return Math.max(1, Math.min(roundHalfEven(Math.sqrt(p * h * w)), Math.min(h, w)));
}

/** The side of the L2 attack's square at fraction p: at least 3, odd, at most min(h, w) (square.py). */
export function squareSideL2(p: number, h: number, w: number): number {
  let s = Math.max(roundHalfEven(Math.sqrt(p * h * w)), 3);
  if (s % 2 === 0) s += 1;
  return Math.min(s, Math.min(h, w));
}

/**
 * square.py's eta_rectangles(x, y) for L2: nested rectangles around the centre, each ring
 * k adding 1 / (k + 1)^2, scaled to unit L2 norm (row-major [x, y]).
 */
function pseudoGaussianRectangles(x: number, y: number): Float64Array {
  const delta = new Float64Array(x * y);
  const xc = Math.floor(x / 2) + 1;
  const yc = Math.floor(y / 2) + 1;
  let c0 = xc - 1;
  let c1 = yc - 1;
  for (let k = 0; k < Math.max(xc, yc); k++) {
    for (let r = Math.max(c0, 0); r < Math.min(c0 + 2 * k + 1, x); r++)
      for (let c = Math.max(c1, 0); c < Math.min(c1 + 2 * k + 1, y); c++)
        delta[r * y + c]! += 1 / (k + 1) ** 2;
    c0--;
    c1--;
  }
  const n = Math.sqrt(delta.reduce((s, v) => s + v * v, 0));
  return n > 0 ? delta.map((v) => v / n) : delta;
}

/**
 * square.py's eta(s) (meta_pseudo_gaussian_pert): an s x s square whose top half is a
 * pseudo-Gaussian bump and bottom half its negative, unit L2 norm, row-major; transposed
 * when `transpose`.
 */
export function squarePerturbationL2(s: number, transpose: boolean): Float64Array {
  const top = Math.floor(s / 2);
  const up = pseudoGaussianRectangles(top, s);
  const down = pseudoGaussianRectangles(s - top, s);
  const delta = new Float64Array(s * s);
  delta.set(up, 0);
  for (let i = 0; i < down.length; i++) delta[top * s + i] = -down[i]!;
  const n = Math.sqrt(delta.reduce((a, v) => a + v * v, 0));
  const out = delta.map((v) => v / n);
  if (!transpose) return out;
  const t = new Float64Array(s * s);
  for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) t[c * s + r] = out[r * s + c]!;
  return t;
}

/**
 * Square Attack: Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial
 * attack via random search", ECCV 2020, as fra31/auto-attack's square.py runs it (its own code
 * max-andr/square-attack for the resampling). Gradient-free, L-inf or L2, a random search on
 * the 'margin' loss (any loss works): each iteration proposes, per example, a change in one
 * random square window (side from p on the paper's schedule, squareFraction) and keeps it
 * where the loss increased or the proposal fools. Examples already fooled are no longer
 * changed, and the attack stops once every example is fooled.
 *
 *   L-inf: start at vertical stripes x + eps * (+-1 per column and channel); a proposal sets a
 *          window of side sqrt(p * H * W) to x + eps * (+-1 per channel); a proposal that
 *          would leave the window as it is gets other signs (max-andr's resampling; drawn
 *          uniformly among the others, from a second stream of the seed).
 *   L2:    start at a 5 x 5 grid of pseudo-Gaussian bumps (square.py's eta, random signs per
 *          channel) scaled to ||delta||_2 = eps; a proposal takes window 1 (odd side >= 3)
 *          and window 2 at random, sets window 2 to 0 and window 1 to (eta * +-1 + its old
 *          content normalised), each channel rescaled to the L2 mass the two windows held (over
 *          all channels) plus an equal share of what the ball has left, then rescales the whole
 *          perturbation to ||delta||_2 = eps.
 *
 * Every iterate is clipped to the bounds, so it stays in the eps-ball and the pixel range.
 * Defaults: norm 'linf', steps 1000, pInit 0.05, loss 'margin', bounds [0, 1]; AutoAttack's
 * settings are steps 5000, pInit 0.8 (pass them). Inputs: NHWC images [batch, height, width,
 * channels]; for L-inf also flat vectors [batch, features] (a window is then a segment of
 * p * features entries). Windows and signs come from the seeded PRNG (options.seed). Unlike
 * square.py, each example draws its own window and signs, and a window may start at any row
 * or column (square.py's randint(0, h - s) never reaches the last one).
 */
export async function square(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: SquareOptions,
): Promise<AttackResult> {
  checkAttackOptions('square', options, squareInfo);
  const steps = positiveInt('square', 'steps', options?.steps, DEFAULTS.steps);
  const pInit = finiteNumber('square', 'pInit', options?.pInit, 0.05, Number.MIN_VALUE);
  if (pInit > 1)
    throw new AttackInputError('square', 'options.pInit', 'a fraction in (0, 1]', String(pInit));
  const norm = checkNorm('square', options?.norm);
  if (x instanceof tf.Tensor && x.rank !== 4 && (x.rank !== 2 || norm === 'l2')) {
    throw new AttackInputError(
      'square',
      'x',
      norm === 'l2'
        ? 'NHWC images [batch, height, width, channels] for the L2 attack'
        : 'NHWC images [batch, height, width, channels] or vectors [batch, features]',
      `rank ${x.rank}`,
    );
  }
  if (norm === 'l2' && x instanceof tf.Tensor && Math.min(x.shape[1]!, x.shape[2]!) < 5) {
    throw new AttackInputError(
      'square',
      'x',
      'images of at least 5 x 5 pixels for the L2 attack (its start is a 5 x 5 grid of squares)',
      `${x.shape[1]} x ${x.shape[2]}`,
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
    const rows = ctx.hold('rows', tf.range(0, h, 1, 'int32'));
    const cols = ctx.hold('cols', tf.range(0, w, 1, 'int32'));
    /** bool [B, H, W, 1]: per example, the window of sideH x sideW at (top, left). */
    const windowMask = (top: Int32Array, left: Int32Array, sideH: number, sideW: number) => {
      const r0 = tf.reshape(tf.tensor1d(top, 'int32'), [batch, 1]);
      const c0 = tf.reshape(tf.tensor1d(left, 'int32'), [batch, 1]);
      const inRows = tf.logicalAnd(tf.greaterEqual(rows, r0), tf.less(rows, tf.add(r0, sideH))); // [B, H]
      const inCols = tf.logicalAnd(tf.greaterEqual(cols, c0), tf.less(cols, tf.add(c0, sideW))); // [B, W]
      return tf.logicalAnd(
        tf.reshape(inRows, [batch, h, 1, 1]),
        tf.reshape(inCols, [batch, 1, w, 1]),
      );
    };
    const corners = (side: number, sideW = side) => ({
      top: Int32Array.from({ length: batch }, () => rng.int(h - side + 1)),
      left: Int32Array.from({ length: batch }, () => rng.int(w - sideW + 1)),
    });

    // Initialisation.
    let best = ctx.hold('x', norm === 'linf' ? stripes() : bumps());
    const init = tf.tidy(() => {
      const z = ctx.logits(asInput(best));
      return [objectiveLoss(z, ctx.objective), fooledMask(z, ctx.objective)];
    });
    let bestLoss = ctx.hold('loss', init[0]!);
    let bestFooled = ctx.hold('fooled', init[1]!);
    ctx.queries++;

    // The resampling's flips come from their own stream, so the windows and signs drawn from
    // the seed are those of a run without it.
    const flips = new Random(deriveSeed(ctx.options.seed ?? 0, 0x5a));
    const tol = 1e-7 * (ctx.bounds[1] - ctx.bounds[0]);
    for (let t = 0; t < steps; t++) {
      const allFooled = tf.all(bestFooled);
      const done = (await allFooled.data())[0] === 1;
      allFooled.dispose();
      if (done) break;
      const proposal = norm === 'linf' ? proposeLinf(t) : proposeL2(t);
      const [nextBest, nextLoss, nextFooled] = tf.tidy(() => {
        const z = ctx.logits(asInput(proposal));
        const loss = objectiveLoss(z, ctx.objective);
        const fooled = fooledMask(z, ctx.objective);
        // Accept, for the examples not fooled yet, a higher loss or a proposal that fools (square.py).
        const accept = tf.logicalAnd(
          tf.logicalNot(bestFooled),
          tf.logicalOr(tf.greater(loss, bestLoss), fooled),
        );
        return [
          blend(accept, proposal, best),
          tf.where(accept, loss, bestLoss),
          // (not tf.where: the wasm Select kernel writes 4 bytes per element, which breaks bool outputs)
          tf.logicalOr(
            tf.logicalAnd(accept, fooled),
            tf.logicalAnd(tf.logicalNot(accept), bestFooled),
          ),
        ];
      });
      proposal.dispose();
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
    return await ctx.finish(out, { variant: 'standard', norm, clippedToBounds: true });

    /** L-inf start: x + eps * (+-1 per column and channel), clipped. */
    function stripes(): tf.Tensor {
      const s = tf.tensor4d(signs(batch * w * c), [batch, 1, w, c]);
      try {
        return tf.tidy(() => ctx.clip(tf.add(x0, tf.mul(eps, s))));
      } finally {
        s.dispose();
      }
    }

    /** L-inf proposal at step t: one window set to x + eps * (+-1 per channel). */
    function proposeLinf(t: number): tf.Tensor {
      const p = squareFraction(pInit, t, steps);
      // A square of p * H * W pixels; for flat vectors (H = 1), a segment of p * W entries.
      const sideH = h === 1 ? 1 : squareSideLinf(p, h, w);
      const sideW = h === 1 ? Math.max(1, Math.min(Math.round(p * w), w)) : sideH;
      const { top, left } = corners(sideH, sideW);
      const windowSigns = signs(batch * c);
      // Per example, channels whose sign flips if the drawn signs would change nothing: a
      // uniform non-empty subset, i.e. uniform among the other sign vectors.
      const flip = new Float32Array(batch * c);
      for (let i = 0; i < batch; i++) {
        if (c === 1) flip[i] = 1;
        else {
          let any = false;
          while (!any) {
            for (let k = 0; k < c; k++) {
              flip[i * c + k] = flips.next() < 0.5 ? 1 : 0;
              any ||= flip[i * c + k] === 1;
            }
          }
        }
      }
      return tf.tidy(() => {
        const mask = windowMask(top, left, sideH, sideW);
        const s = tf.tensor4d(windowSigns, [batch, 1, 1, c]);
        // Would the window stay as it is? (max-andr's check: every entry within 1e-7.)
        const drawn = ctx.clip(tf.add(x0, tf.mul(eps, s)));
        const gap = tf.mul(tf.abs(tf.sub(drawn, best)), tf.cast(mask, 'float32'));
        const unchanged = tf.cast(tf.less(tf.max(gap, [1, 2, 3]), tol), 'float32');
        const f = tf.mul(
          tf.reshape(unchanged, [batch, 1, 1, 1]),
          tf.tensor4d(flip, [batch, 1, 1, c]),
        );
        const resampled = tf.mul(s, tf.sub(1, tf.mul(2, f)));
        const value = tf.add(x0, tf.mul(eps, resampled));
        return ctx.clip(blend(mask, value, best));
      });
    }

    /** L2 start: a grid of eta(h // 5) squares with random signs per channel, at ||delta||_2 = eps. */
    function bumps(): tf.Tensor {
      const s = Math.floor(h / 5);
      const start = Math.floor((h - s * 5) / 2);
      const delta = new Float32Array(batch * h * w * c);
      const etas = [squarePerturbationL2(s, false), squarePerturbationL2(s, true)];
      for (let gr = 0; gr < Math.floor(h / s); gr++) {
        for (let gc = 0; gc < Math.floor(w / s); gc++) {
          const r0 = start + gr * s;
          const c0 = start + gc * s;
          for (let i = 0; i < batch; i++) {
            const eta = etas[rng.next() > 0.5 ? 1 : 0]!;
            const sg = signs(c);
            for (let r = 0; r < s && r0 + r < h; r++)
              for (let q = 0; q < s && c0 + q < w; q++)
                for (let k = 0; k < c; k++)
                  delta[((i * h + r0 + r) * w + c0 + q) * c + k]! += eta[r * s + q]! * sg[k]!;
          }
        }
      }
      const d = tf.tensor4d(delta, [batch, h, w, c]);
      try {
        return tf.tidy(() => ctx.clip(tf.add(x0, tf.mul(eps, unitL2(d)))));
      } finally {
        d.dispose();
      }
    }

    /** L2 proposal at step t (square.py's attack_single_run, norm 'L2'). */
    function proposeL2(t: number): tf.Tensor {
      const s = squareSideL2(squareFraction(pInit, t, steps), h, w);
      const w1 = corners(s);
      const w2 = corners(s);
      // eta(s) * (+-1 per channel), placed at window 1 of each example
      const eta = new Float32Array(batch * h * w);
      const etas = [squarePerturbationL2(s, false), squarePerturbationL2(s, true)];
      for (let i = 0; i < batch; i++) {
        const e = etas[rng.next() > 0.5 ? 1 : 0]!;
        for (let r = 0; r < s; r++)
          for (let q = 0; q < s; q++)
            eta[(i * h + w1.top[i]! + r) * w + w1.left[i]! + q] = e[r * s + q]!;
      }
      const channelSigns = signs(batch * c);
      return tf.tidy(() => {
        const spatial = [1, 2];
        const windowNorm = (v: tf.Tensor) => tf.sqrt(tf.sum(tf.square(v), spatial, true)); // [B, 1, 1, C]
        const delta = tf.sub(best, x0);
        const m1 = tf.cast(windowMask(w1.top, w1.left, s, s), 'float32');
        const m2 = tf.cast(windowMask(w2.top, w2.left, s, s), 'float32');
        const both = tf.maximum(m1, m2);
        const old = tf.mul(delta, m1);
        const imageNorm = l2Norm(delta);
        // the two windows' L2 mass over every channel (square.py's norms_windows, per example)
        const windowsNorm = l2Norm(tf.mul(delta, both));
        let fresh = tf.add(
          tf.mul(tf.tensor4d(eta, [batch, h, w, 1]), tf.tensor4d(channelSigns, [batch, 1, 1, c])),
          tf.div(old, tf.add(windowNorm(old), 1e-12)),
        );
        // each channel's new window: the windows' mass plus an equal share of what the ball has left
        const budget = tf.sqrt(
          tf.add(
            tf.div(tf.relu(tf.sub(eps * eps, tf.square(imageNorm))), c),
            tf.square(windowsNorm),
          ),
        );
        fresh = tf.mul(tf.div(fresh, tf.add(windowNorm(fresh), 1e-12)), budget);
        const next = tf.add(tf.mul(delta, tf.sub(1, both)), fresh);
        return ctx.clip(tf.add(x0, tf.mul(eps, unitL2(next))));
      });
    }
  } finally {
    ctx.dispose();
  }
}

/** d / (||d||_2 + 1e-12) per example (square.py's normalize). */
function unitL2(d: tf.Tensor): tf.Tensor {
  return tf.div(d, tf.add(l2Norm(d), 1e-12));
}

/** What square is, for callers that treat attacks generically (see ATTACK_INFO). */
export const squareInfo: AttackInfo = {
  name: 'square',
  // 2: unchanged proposals resampled, fooling proposals accepted, early stop (outputs differ)
  revision: 2,
  paper:
    'Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial attack via random search", ECCV 2020',
  norms: ['linf', 'l2'],
  gradientFree: true,
  options: ['steps', 'pInit', 'norm'],
  // An upper bound: the attack stops once every example is fooled.
  cost: (o) => ({ gradients: 0, forwards: 1 + (o?.steps ?? DEFAULTS.steps) }),
};
