import { describe, MetricsInputError } from './errors.js';
import { type ExamplesInput, toExamples } from './input.js';
import { type Summary, summarize } from './stats.js';

export interface PerturbationOptions {
  /** Rows in a flat array input (ignored for tensors and arrays of rows). */
  examples?: number;
  /** Valid pixel range [low, high]: counts adversarial examples with a value outside it. */
  bounds?: readonly [number, number];
  /** Slack for `bounds`, for float rounding. Default 1e-6. */
  tolerance?: number;
}

export interface PerturbationStats {
  /** max_i |x'_i - x_i| per example. */
  linf: Float64Array;
  /** sqrt(sum_i (x'_i - x_i)^2) per example. */
  l2: Float64Array;
  /** Number of values changed per example (L0). */
  l0: Float64Array;
  summary: { linf: Summary; l2: Summary; l0: Summary };
  /** Examples with a value outside `bounds` (0 when no bounds were given). */
  outOfBounds: number;
}

/**
 * Size of each adversarial perturbation x' - x: L-inf, L2 and L0 per example, and their
 * summaries. A sanity check of an attack: L-inf should not exceed its epsilon (MI-FGSM as the
 * paper writes it, a step of eps per iteration without projection, does exceed it).
 */
export function perturbationStats(
  original: ExamplesInput,
  adversarial: ExamplesInput,
  options: PerturbationOptions = {},
): PerturbationStats {
  const fn = 'perturbationStats';
  const x = toExamples(fn, 'original', original, options.examples);
  const y = toExamples(fn, 'adversarial', adversarial, options.examples);
  if (x.n !== y.n || x.dim !== y.dim) {
    throw new MetricsInputError(
      fn,
      'adversarial',
      `${x.n} examples of ${x.dim} values, like original`,
      `${y.n} examples of ${y.dim}`,
    );
  }
  const tol = options.tolerance ?? 1e-6;
  const bounds = options.bounds;
  if (
    bounds &&
    !(Number.isFinite(bounds[0]) && Number.isFinite(bounds[1]) && bounds[0] <= bounds[1])
  ) {
    throw new MetricsInputError(
      fn,
      'options.bounds',
      '[low, high] finite with low <= high',
      describe(bounds),
    );
  }
  const { n, dim } = x;
  const linf = new Float64Array(n);
  const l2 = new Float64Array(n);
  const l0 = new Float64Array(n);
  let outOfBounds = 0;
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let mx = 0;
    let ss = 0;
    let changed = 0;
    let out = false;
    for (let j = 0; j < dim; j++) {
      const adv = y.values[o + j]!;
      const d = adv - x.values[o + j]!;
      const ad = Math.abs(d);
      if (ad > mx) mx = ad;
      ss += d * d;
      if (d !== 0) changed++;
      if (bounds && (adv < bounds[0] - tol || adv > bounds[1] + tol)) out = true;
    }
    linf[i] = mx;
    l2[i] = Math.sqrt(ss);
    l0[i] = changed;
    if (out) outOfBounds++;
  }
  return {
    linf,
    l2,
    l0,
    summary: { linf: summarize(linf), l2: summarize(l2), l0: summarize(l0) },
    outOfBounds,
  };
}
