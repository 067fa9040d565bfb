import * as tf from '@tensorflow/tfjs-core';
import { AttackContext } from './context.js';
import { AttackInputError, describe } from './errors.js';
import { blend, exampleAxes, perExample, projectL2 } from './geometry.js';
import type { AttackInfo } from './info.js';
import type { LabelsInput, Model } from './model.js';
import { fooledMask, objectiveLoss } from './objective.js';
import { checkAttackOptions, finiteNumber, positiveInt } from './options.js';
import type { AttackResult, GradientAttackOptions } from './types.js';

/** The defaults the attack and its cost (`cwInfo.cost`) share. */
const DEFAULTS = { binarySearchSteps: 9, steps: 10000 } as const;

export interface CwOptions extends GradientAttackOptions {
  /** Rounds of the search over the constant c, per example. Default 9 (foolbox, Carlini's code). */
  binarySearchSteps?: number;
  /** Adam steps per round. Default 10000 (foolbox, Carlini's code); abortEarly usually stops far sooner. */
  steps?: number;
  /** Adam's step size, in the tanh space. Default 0.01. */
  learningRate?: number;
  /** kappa: an adversarial must beat the runner-up by this logit margin to be kept. Default 0. */
  confidence?: number;
  /** The constant c of the first round. Default 1e-3. */
  initialConst?: number;
  /** End a round when the objective fell by less than 0.01% over a tenth of its steps. Default true. */
  abortEarly?: boolean;
}

/** The tanh change of variables onto the box [low, high]: x = a + b * tanh(w). */
function boxMap(bounds: readonly [number, number]): { a: number; b: number } {
  return { a: (bounds[0] + bounds[1]) / 2, b: (bounds[1] - bounds[0]) / 2 };
}

/** The attack-space point of x: atanh((x - a) / b * 0.999999) (foolbox's _to_attack_space). */
function toAttackSpace(x: tf.Tensor, bounds: readonly [number, number]): tf.Tensor {
  const { a, b } = boxMap(bounds);
  return tf.tidy(() => {
    const u = tf.mul(tf.div(tf.sub(x, a), b), 0.999999);
    // atanh(u) = log((1 + u) / (1 - u)) / 2, written out: the wasm backend has no Atanh kernel
    return tf.mul(0.5, tf.log(tf.div(tf.add(1, u), tf.sub(1, u))));
  });
}

/** The model-space point of w: a + b * tanh(w), inside the bounds. */
function toModelSpace(w: tf.Tensor, bounds: readonly [number, number]): tf.Tensor {
  const { a, b } = boxMap(bounds);
  return tf.tidy(() => tf.add(a, tf.mul(b, tf.tanh(w))));
}

/** What `cwObjective` needs: the iterate in attack space, the source's gradient there, ... */
export interface CwObjectiveInput {
  /** The attack-space iterate w = atanh-space input + offset; the model sees x(w) = a + b * tanh(w). */
  w: tf.Tensor;
  /** x(w0): the clean input as the tanh map reconstructs it (the L2 term's origin, as in foolbox). */
  xr: tf.Tensor;
  /** d(sum of the margin loss)/dx at x(w), from the gradient source. */
  marginGradient: tf.Tensor;
  /** The margin loss m at x(w) per example ([batch]), from the attacked model's logits. */
  margin: tf.Tensor;
  /** The constant c per example ([batch]). */
  consts: tf.Tensor;
  confidence: number;
  bounds: readonly [number, number];
}

/**
 * The Carlini-Wagner L2 objective per example and its gradient with respect to w:
 *
 *   L(w)    = ||x(w) - xr||_2^2 + c * max(kappa - m(x(w)), 0),   x(w) = a + b * tanh(w)
 *   dL/dw   = (2 (x(w) - xr) - c * [kappa - m > 0] * dm/dx) * b * (1 - tanh(w)^2)
 *
 * with m the 'margin' loss (max_{j != y} Z_j - Z_y; targeted Z_t - max_{j != t} Z_j), so
 * max(kappa - m, 0) is the paper's max(Z_y - max_{j != y} Z_j, -kappa) + kappa. dm/dx comes
 * from the gradient source; the L2 term, the hinge and the tanh Jacobian are computed here.
 */
export function cwObjective(input: CwObjectiveInput): { loss: tf.Tensor1D; gradient: tf.Tensor } {
  const { a, b } = boxMap(input.bounds);
  return tf.tidy(() => {
    const rank = input.w.rank;
    const t = tf.tanh(input.w);
    const xw = tf.add(a, tf.mul(b, t));
    const d = tf.sub(xw, input.xr);
    const hingeArg = tf.sub(input.confidence, input.margin);
    const loss = tf.add(
      tf.sum(tf.square(d), exampleAxes(rank)),
      tf.mul(input.consts, tf.relu(hingeArg)),
    ) as tf.Tensor1D;
    const active = tf.cast(tf.greater(hingeArg, 0), 'float32');
    const coef = perExample(tf.mul(input.consts, active), rank);
    const dx = tf.sub(tf.mul(2, d), tf.mul(coef, input.marginGradient));
    const gradient = tf.mul(dx, tf.mul(b, tf.sub(1, tf.square(t))));
    return { loss, gradient };
  });
}

/**
 * CW-L2: Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P
 * 2017, the L2 attack. Norm: L2 (a minimum-norm attack, then held to the radius epsilon). In
 * the tanh variables x = a + b * tanh(w) (a, b the centre and half-width of `bounds`, so
 * every iterate is a valid image), Adam (beta 0.9, 0.999) minimises per example
 *
 *   ||x(w) - x||_2^2 + c * max(Z_y(x(w)) - max_{j != y} Z_j(x(w)), -kappa)
 *   (targeted: max_{j != t} Z_j - Z_t)
 *
 * from w = atanh(x) for `steps` steps, `binarySearchSteps` times: c starts at `initialConst`,
 * is multiplied by 10 until an adversarial is found, then bisected between the largest c
 * that failed and the smallest that succeeded (foolbox's L2CarliniWagnerAttack). Per example
 * the adversarial of smallest L2 found at any step (beating the runner-up by kappa) is kept.
 * The gradient of the margin term comes from the gradient source (options.gradient) through
 * the 'margin' loss; the L2 term, the hinge (on the attacked model's logits) and the tanh
 * Jacobian are exact (see cwObjective). Threat model: epsilon is the L2 radius. The result is
 * the smallest adversarial where its L2 norm is <= epsilon; a larger one is projected onto the
 * epsilon-ball (and may then fail); an example with no adversarial gets x back. Success is
 * re-predicted on that, so it counts only adversarials inside the ball (pass a large epsilon
 * for the unconstrained minimum-norm attack and read `l2`). Defaults (foolbox, Carlini's
 * code): binarySearchSteps 9, steps 10000, learningRate 0.01, confidence 0, initialConst 1e-3,
 * abortEarly true (checked every ceil(steps / 10) steps on the summed objective), loss
 * 'margin' (the only one CW takes), bounds [0, 1], gradient ownGradient(model). keepBest does
 * not apply: CW always returns its smallest adversarial.
 */
export async function cw(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: CwOptions,
): Promise<AttackResult> {
  checkAttackOptions('cw', options, cwInfo);
  const binarySearchSteps = positiveInt(
    'cw',
    'binarySearchSteps',
    options?.binarySearchSteps,
    DEFAULTS.binarySearchSteps,
  );
  const steps = positiveInt('cw', 'steps', options?.steps, DEFAULTS.steps);
  const lr = finiteNumber('cw', 'learningRate', options?.learningRate, 0.01, Number.MIN_VALUE);
  const confidence = finiteNumber('cw', 'confidence', options?.confidence, 0);
  const initialConst = finiteNumber(
    'cw',
    'initialConst',
    options?.initialConst,
    1e-3,
    Number.MIN_VALUE,
  );
  const abortEarly = options?.abortEarly ?? true;
  if (typeof abortEarly !== 'boolean')
    throw new AttackInputError('cw', 'options.abortEarly', 'a boolean', describe(abortEarly));
  if (options?.loss !== undefined && options.loss !== 'margin') {
    throw new AttackInputError(
      'cw',
      'options.loss',
      "'margin' (the Carlini-Wagner logit margin, the only loss CW minimises)",
      describe(options.loss),
    );
  }
  // No best-so-far tracker: CW keeps the smallest adversarial itself.
  const ctx = await AttackContext.create('cw', model, x, y, options, {
    loss: 'margin',
    best: 'none',
  });
  try {
    const bounds = ctx.bounds;
    const batch = ctx.batch;
    const x0 = ctx.x0;
    const axes = exampleAxes(ctx.rank);
    const w0 = ctx.hold('w0', toAttackSpace(x0, bounds));
    const xr = ctx.hold('xr', toModelSpace(w0, bounds));
    let best = ctx.hold('best', tf.clone(x0));
    let bestL2 = ctx.hold('bestL2', tf.fill([batch], Number.POSITIVE_INFINITY));
    let consts = new Float64Array(batch).fill(initialConst);
    const lower = new Float64Array(batch);
    const upper = new Float64Array(batch).fill(Number.POSITIVE_INFINITY);
    const checkEvery = Math.ceil(steps / 10);
    const isAdversarial = (z: tf.Tensor, margin: tf.Tensor) =>
      confidence > 0
        ? tf.logicalAnd(fooledMask(z, ctx.objective), tf.greater(margin, confidence))
        : fooledMask(z, ctx.objective);

    for (let round = 0; round < binarySearchSteps; round++) {
      if (round === binarySearchSteps - 1 && binarySearchSteps >= 10)
        consts = consts.map((_, i) => Math.min(upper[i]!, 1e10)); // foolbox: last round at the upper bound
      const c = ctx.hold('consts', tf.tensor1d(Float32Array.from(consts)));
      let delta = ctx.hold('delta', tf.zerosLike(x0));
      let m = ctx.hold('m', tf.zerosLike(x0));
      let v = ctx.hold('v', tf.zerosLike(x0));
      let found = ctx.hold('fooled', tf.zeros([batch], 'bool'));
      let previous = Number.POSITIVE_INFINITY;
      for (let t = 0; t < steps; t++) {
        const xw = ctx.hold(
          'x',
          tf.tidy(() => toModelSpace(tf.add(w0, delta), bounds)),
        );
        const keep: { logits?: tf.Tensor2D } = {};
        const g = ctx.hold('grad', ctx.gradient(xw, keep));
        const z = keep.logits!;
        const step = t + 1;
        let out: tf.Tensor[];
        try {
          out = tf.tidy(() => {
            const margin = objectiveLoss(z, ctx.objective);
            const { loss, gradient } = cwObjective({
              w: tf.add(w0, delta),
              xr,
              marginGradient: g,
              margin,
              consts: c,
              confidence,
              bounds,
            });
            // Adam (foolbox's AdamOptimizer), descending.
            const m1 = tf.add(tf.mul(0.9, m), tf.mul(0.1, gradient));
            const v1 = tf.add(tf.mul(0.999, v), tf.mul(0.001, tf.square(gradient)));
            const mHat = tf.div(m1, 1 - 0.9 ** step);
            const vHat = tf.div(v1, 1 - 0.999 ** step);
            const next = tf.sub(delta, tf.mul(lr, tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-8))));
            // The smallest adversarial so far, per example.
            const adv = isAdversarial(z, margin);
            const norms = tf.sqrt(tf.sum(tf.square(tf.sub(xw, x0)), axes));
            const take = tf.logicalAnd(adv, tf.less(norms, bestL2));
            return [
              next,
              m1,
              v1,
              blend(take, xw, best),
              tf.where(take, norms, bestL2),
              tf.logicalOr(found, adv),
              tf.sum(loss),
            ];
          });
        } finally {
          z.dispose();
        }
        delta = ctx.hold('delta', out[0]!);
        m = ctx.hold('m', out[1]!);
        v = ctx.hold('v', out[2]!);
        best = ctx.hold('best', out[3]!);
        bestL2 = ctx.hold('bestL2', out[4]!);
        found = ctx.hold('fooled', out[5]!);
        const total = out[6]!;
        ctx.iterations++;
        let stalled = false;
        if (abortEarly && t % checkEvery === 0) {
          const value = (await total.data())[0]!;
          // foolbox: stop this round when the objective fell by less than 0.01% since the last check
          stalled = !(value <= 0.9999 * previous);
          previous = value;
        }
        total.dispose();
        if (stalled) break;
        await ctx.checkAbort();
      }
      const f = await found.data();
      for (let i = 0; i < batch; i++) {
        if (f[i]) upper[i] = Math.min(upper[i]!, consts[i]!);
        else lower[i] = Math.max(lower[i]!, consts[i]!);
        consts[i] = Number.isFinite(upper[i]!) ? (lower[i]! + upper[i]!) / 2 : consts[i]! * 10;
      }
    }
    // Held to the threat model: inside the ball as found, else projected onto it.
    const eps = ctx.epsilon;
    const final = tf.tidy(() =>
      blend(tf.lessEqual(bestL2, eps), best, ctx.clip(projectL2(best, x0, eps))),
    );
    return await ctx.finish(final, { variant: 'standard', norm: 'l2', clippedToBounds: true });
  } finally {
    ctx.dispose();
  }
}

/** What cw is, for callers that treat attacks generically (see ATTACK_INFO). */
export const cwInfo: AttackInfo = {
  name: 'cw',
  paper: 'Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017',
  norms: ['l2'],
  gradientFree: false,
  options: [
    'gradient',
    'steps',
    'binarySearchSteps',
    'learningRate',
    'initialConst',
    'confidence',
    'abortEarly',
  ],
  // An upper bound: abortEarly ends a round when the objective stalls.
  cost: (o) => ({
    gradients: (o?.binarySearchSteps ?? DEFAULTS.binarySearchSteps) * (o?.steps ?? DEFAULTS.steps),
    forwards: 0,
  }),
};
