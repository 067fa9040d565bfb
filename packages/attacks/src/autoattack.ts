import * as tf from '@tensorflow/tfjs-core';
import { AttackAbortedError, AttackInputError, describe } from './errors.js';
import type { GradientSource } from './gradient.js';
import {
  checkLabelClasses,
  type LabelsInput,
  labelColumns,
  logitsFunction,
  type Model,
  readLabels,
} from './model.js';
import { attackOptionNames, checkNorm, checkOptionNames } from './options.js';
import { deriveSeed } from './random.js';
import { ATTACK_INFO, ATTACKS, type AttackName, findAttackInfo } from './registry.js';
import type { AttackResult, Norm, SanityFlag } from './types.js';

/** One attack of a cascade: a built-in attack and its options (epsilon, norm and seed are the cascade's). */
export interface AutoAttackStep {
  /** What results and progress call it, e.g. 'apgd-ce'. */
  name: string;
  attack: AttackName;
  options?: Record<string, unknown>;
}

export interface AutoAttackOptions {
  /** The radius of the threat model, in pixel units. */
  epsilon: number;
  /** 'linf' (default) or 'l2'. */
  norm?: Norm;
  /** Pixel range; every adversarial counted stays inside it. Default [0, 1]. */
  bounds?: readonly [number, number];
  /**
   * 'standard' (default): APGD-CE, APGD-T (9 target classes), FAB-T (9), Square (5,000
   * queries), as RobustBench runs it. 'plus': APGD-CE and APGD-DLR with 5 restarts, FAB with 5,
   * Square, APGD-T, FAB-T. 'custom': the steps in `attacks`.
   */
  version?: 'standard' | 'plus' | 'custom';
  /** The cascade for version 'custom'. */
  attacks?: readonly AutoAttackStep[];
  /** The gradient source of every gradient attack (default: the model's own backward path). */
  gradient?: GradientSource;
  /** Seed of every random choice; each attack gets its own, derived from it. Default 0. */
  seed?: number;
  /** Stops between attacks (and inside them) with an AttackAbortedError. */
  signal?: AbortSignal;
  /** Called after each attack with its report (robust accuracy so far). */
  onAttack?: (report: AutoAttackReport) => void;
}

/** What one attack of the cascade did. */
export interface AutoAttackReport {
  name: string;
  attack: AttackName;
  /** Examples it was run on: those still robust when its turn came. */
  attacked: number;
  /** Of those, how many it fooled inside the threat model. */
  fooled: number;
  /** Adversarials it returned outside the ball or the pixel range (not counted; should be 0). */
  outsideThreatModel: number;
  /** Robust accuracy over the whole batch after this attack. */
  robustAccuracy: number;
  /** Its cost over the examples it attacked. */
  gradientEvaluations: number;
  queries: number;
  seconds: number;
}

export interface AutoAttackResult {
  norm: Norm;
  epsilon: number;
  bounds: readonly [number, number];
  /** Per example: the first in-ball adversarial that fooled the model, else the clean input. The caller disposes it. */
  adversarial: tf.Tensor;
  /** 1 where the model is correct on the clean input. */
  cleanCorrect: Uint8Array;
  /** 1 where it is correct on the clean input and no attack of the cascade fooled it. */
  robust: Uint8Array;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** The attack that fooled each example (its index in `attacks`), -1 where none did. */
  fooledBy: Int32Array;
  attacks: AutoAttackReport[];
  /** 'gradient-free-stronger' when a gradient-free attack fooled examples every gradient attack before it missed. */
  flags: SanityFlag[];
}

/** Every key of AutoAttackOptions, once: a key added there without a line here fails to compile. */
const OPTIONS: Record<keyof AutoAttackOptions, true> = {
  epsilon: true,
  norm: true,
  bounds: true,
  version: true,
  attacks: true,
  gradient: true,
  seed: true,
  signal: true,
  onAttack: true,
};
const OPTION_NAMES = Object.keys(OPTIONS);
const STEP_KEYS: readonly (keyof AutoAttackStep)[] = ['name', 'attack', 'options'];
/** What the cascade sets for every attack: a step's own value would be overwritten. */
const CASCADE_SET = ['epsilon', 'norm', 'bounds', 'seed', 'signal', 'gradient'];

const STANDARD: AutoAttackStep[] = [
  { name: 'apgd-ce', attack: 'apgd', options: { loss: 'ce', steps: 100 } },
  {
    name: 'apgd-t',
    attack: 'apgd',
    options: { loss: 'dlr', steps: 100, targetClasses: 9 },
  },
  { name: 'fab-t', attack: 'fab', options: { steps: 100, targetClasses: 9 } },
  { name: 'square', attack: 'square', options: { steps: 5000, pInit: 0.8, loss: 'margin' } },
];

const PLUS: AutoAttackStep[] = [
  {
    name: 'apgd-ce',
    attack: 'apgd',
    options: { loss: 'ce', steps: 100, restarts: 5 },
  },
  {
    name: 'apgd-dlr',
    attack: 'apgd',
    options: { loss: 'dlr', steps: 100, restarts: 5 },
  },
  { name: 'fab', attack: 'fab', options: { steps: 100, restarts: 5 } },
  { name: 'square', attack: 'square', options: { steps: 5000, pInit: 0.8, loss: 'margin' } },
  {
    name: 'apgd-t',
    attack: 'apgd',
    options: { loss: 'dlr', steps: 100, targetClasses: 9 },
  },
  { name: 'fab-t', attack: 'fab', options: { steps: 100, targetClasses: 9 } },
];

/**
 * The attacks a version runs, in order, with fra31/auto-attack's settings (`attacks_to_run`,
 * `n_restarts`, `n_target_classes`, `n_queries`, `p_init`); the same list for both norms.
 */
export function autoAttackSteps(version: 'standard' | 'plus'): AutoAttackStep[] {
  return structuredClone(version === 'plus' ? PLUS : STANDARD);
}

/** Rows [n, d] of `x` at `idx`. */
function rows(x: tf.Tensor, idx: readonly number[]): tf.Tensor {
  return tf.tidy(() => tf.gather(x, tf.tensor1d(Int32Array.from(idx), 'int32')));
}

/**
 * AutoAttack: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks", ICML 2020. A cascade: each attack runs only on the examples
 * still robust (correct on the clean input and not fooled by an earlier attack), so it costs
 * little on a model that falls and much on one that holds. Norm L-inf (default) or L2, radius
 * `epsilon`, pixels in `bounds` (default [0, 1]).
 *
 * The threat model is enforced here, not trusted: an adversarial counts only if the model
 * misclassifies it (re-predicted), it lies within `epsilon` of the clean input in the chosen
 * norm (1e-5 slack for float32) and inside the pixel range. Robust accuracy is per example:
 * correct under every attack of the cascade. Each attack's report gives its cost (gradient
 * and forward evaluations, wall time); a gradient-free attack that fools what the gradient
 * attacks before it missed is flagged ('gradient-free-stronger': a sign of gradient masking).
 *
 * @example
 * const r = await autoAttack(model, x, y, { norm: 'linf', epsilon: 0.3 });
 * for (const a of r.attacks) console.log(a.name, a.robustAccuracy);
 */
export async function autoAttack(
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  options: AutoAttackOptions,
): Promise<AutoAttackResult> {
  const fn = 'autoAttack';
  if (options == null || typeof options !== 'object')
    throw new AttackInputError(fn, 'options', 'an object with epsilon', describe(options));
  checkOptionNames(fn, 'options', options, OPTION_NAMES, `${fn}'s options`);
  const { epsilon } = options;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0)
    throw new AttackInputError(fn, 'options.epsilon', 'a finite number >= 0', describe(epsilon));
  const norm = checkNorm(fn, options.norm);
  const version = options.version ?? 'standard';
  let steps: readonly AutoAttackStep[];
  if (version === 'custom') {
    if (!Array.isArray(options.attacks) || options.attacks.length === 0)
      throw new AttackInputError(
        fn,
        'options.attacks',
        "a non-empty list of { name, attack, options } with version 'custom'",
        describe(options.attacks),
      );
    steps = options.attacks;
  } else if (version === 'standard' || version === 'plus') {
    steps = autoAttackSteps(version);
  } else {
    throw new AttackInputError(
      fn,
      'options.version',
      "'standard', 'plus' or 'custom'",
      describe(version),
    );
  }
  steps.forEach((s, i) => {
    const info = findAttackInfo(s?.attack);
    if (!info)
      throw new AttackInputError(
        fn,
        `attacks[${i}].attack`,
        `one of ${Object.keys(ATTACKS).join(', ')}`,
        describe(s?.attack),
      );
    if (!info.norms.includes(norm))
      throw new AttackInputError(
        fn,
        `attacks[${i}].attack`,
        `an attack in the ${norm} norm`,
        `${s.attack}, which attacks in ${info.norms.join(', ')}`,
      );
    // a step's options are checked before any attack runs, not when its turn comes
    checkOptionNames(fn, `attacks[${i}]`, s, STEP_KEYS, 'the keys of a step');
    const stepOptions = s.options ?? {};
    if (typeof stepOptions !== 'object')
      throw new AttackInputError(
        fn,
        `attacks[${i}].options`,
        `an object of ${s.attack}'s options`,
        describe(stepOptions),
      );
    for (const key of CASCADE_SET) {
      if (key in stepOptions)
        throw new AttackInputError(
          fn,
          `attacks[${i}].options.${key}`,
          `absent: the cascade sets ${key} for every attack`,
          describe((stepOptions as Record<string, unknown>)[key]),
        );
    }
    checkOptionNames(
      fn,
      `attacks[${i}].options`,
      stepOptions,
      attackOptionNames(info).filter((k) => !CASCADE_SET.includes(k)),
      `${s.attack}'s options`,
    );
  });
  const bounds = options.bounds ?? [0, 1];
  // pixels are float32: a bound that float32 cannot hold (a normalised 0, say) is met by the
  // attacks' clip at its float32 neighbour, so the box is checked with the same slack as inputs
  const slack = 1e-6 * Math.max(1, Math.abs(bounds[0]), Math.abs(bounds[1]));
  const lo = bounds[0] - slack;
  const hi = bounds[1] + slack;
  const seed = options.seed ?? 0;
  const forward = logitsFunction(fn, model);
  const n = x.shape[0];
  if (x.rank < 2 || n == null)
    throw new AttackInputError(fn, 'x', 'a batch of examples [batch, ...]', describe(x));
  const labels = readLabels(fn, 'y', y, n);
  const d = x.size / n;
  const x0 = Float32Array.from(await x.data());
  const adv = Float32Array.from(x0);

  const predict = (t: tf.Tensor): Int32Array => {
    const p = tf.tidy(() => tf.argMax(forward(t), -1));
    const v = p.dataSync() as Int32Array;
    p.dispose();
    return Int32Array.from(v);
  };
  const cleanLogits = tf.tidy(() => forward(x));
  const classes = cleanLogits.shape[1] ?? 0;
  const cleanArg = tf.argMax(cleanLogits, -1);
  const cleanPred = Int32Array.from(cleanArg.dataSync());
  tf.dispose([cleanLogits, cleanArg]);
  checkLabelClasses(fn, 'y', labels, labelColumns(y), classes);
  const cleanCorrect = Uint8Array.from(cleanPred, (p, i) => (p === labels[i] ? 1 : 0));
  const robust = Uint8Array.from(cleanCorrect);
  const fooledBy = new Int32Array(n).fill(-1);
  const count = (m: Uint8Array) => m.reduce((a, v) => a + v, 0);
  const reports: AutoAttackReport[] = [];
  const flags: SanityFlag[] = [];
  let gradientAttacksRan = false;

  for (let k = 0; k < steps.length; k++) {
    const step = steps[k]!;
    if (options.signal?.aborted) throw new AttackAbortedError(fn, { cause: options.signal.reason });
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (robust[i]) idx.push(i);
    const info = ATTACK_INFO[step.attack];
    const report: AutoAttackReport = {
      name: step.name,
      attack: step.attack,
      attacked: idx.length,
      fooled: 0,
      outsideThreatModel: 0,
      robustAccuracy: 0,
      gradientEvaluations: 0,
      queries: 0,
      seconds: 0,
    };
    if (idx.length > 0) {
      const started = performance.now();
      const xs = rows(x, idx);
      let r: AttackResult | null = null;
      try {
        // a targeted step over more wrong classes than the model has takes all it has
        const targetClasses = step.options?.targetClasses;
        const fit =
          typeof targetClasses === 'number' && targetClasses > classes - 1
            ? { targetClasses: Math.max(1, classes - 1) }
            : {};
        r = await ATTACKS[step.attack](
          model,
          xs,
          Array.from(idx, (i) => labels[i]!),
          {
            ...step.options,
            ...fit,
            epsilon,
            norm,
            bounds,
            seed: deriveSeed(seed, k),
            ...(options.signal ? { signal: options.signal } : {}),
            ...(!info.gradientFree && options.gradient ? { gradient: options.gradient } : {}),
          } as never,
        );
        const a = Float32Array.from(await r.adversarial.data());
        const pred = predict(r.adversarial);
        idx.forEach((i, j) => {
          if (pred[j] === labels[i]) return;
          // the threat model, checked on what came back (written as negations, so that a NaN
          // pixel or distance fails them)
          let dist = 0;
          let inBox = true;
          for (let p = 0; p < d; p++) {
            const v = a[j * d + p]!;
            const delta = Math.abs(v - x0[i * d + p]!);
            dist =
              norm === 'linf'
                ? delta > dist || Number.isNaN(delta)
                  ? delta
                  : dist
                : dist + delta * delta;
            if (!(v >= lo && v <= hi)) inBox = false;
          }
          if (norm === 'l2') dist = Math.sqrt(dist);
          if (!inBox || !(dist <= epsilon * (1 + 1e-5) + 1e-6)) {
            report.outsideThreatModel++;
            return;
          }
          robust[i] = 0;
          fooledBy[i] = k;
          adv.set(a.subarray(j * d, (j + 1) * d), i * d);
          report.fooled++;
        });
        report.gradientEvaluations = r.gradientEvaluations * idx.length;
        report.queries = r.queries * idx.length;
      } finally {
        xs.dispose();
        r?.adversarial.dispose();
      }
      report.seconds = (performance.now() - started) / 1000;
    }
    report.robustAccuracy = n ? count(robust) / n : 0;
    if (info.gradientFree && gradientAttacksRan && report.fooled > 0) {
      flags.push({
        code: 'gradient-free-stronger',
        message: `${step.name} (gradient-free) fooled ${report.fooled} example(s) that every gradient attack before it missed: the gradient is a poor guide here (gradient masking?)`,
        count: report.fooled,
        epsilon,
      });
    }
    if (!info.gradientFree) gradientAttacksRan = true;
    reports.push(report);
    options.onAttack?.(report);
  }
  return {
    norm,
    epsilon,
    bounds,
    adversarial: tf.tensor(adv, x.shape),
    cleanCorrect,
    robust,
    cleanAccuracy: n ? count(cleanCorrect) / n : 0,
    robustAccuracy: n ? count(robust) / n : 0,
    fooledBy,
    attacks: reports,
    flags,
  };
}
