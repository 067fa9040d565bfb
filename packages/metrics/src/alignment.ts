import { MetricsInputError } from './errors.js';
import { type ExamplesInput, toExamples } from './input.js';
import {
  type Histogram,
  type HistogramOptions,
  histogram,
  type Summary,
  summarize,
} from './stats.js';

export interface AlignmentOptions {
  /** Rows in a flat array input (ignored for tensors and arrays of rows). */
  examples?: number;
  /** Histogram of the angles. Default 36 bins over [0, 180] degrees. */
  histogram?: HistogramOptions;
}

export interface GradientAlignment {
  /** Cosine similarity per example, NaN where either gradient is all zeros. */
  cosine: Float64Array;
  /** Angle per example in degrees, [0, 180]; NaN where either gradient is all zeros. */
  angle: Float64Array;
  /** Examples where either gradient was exactly zero (no direction, left out of the summaries). */
  zeroNorm: number;
  /** Summaries over the examples with a defined angle. */
  summary: { cosine: Summary; angle: Summary };
  histogram: Histogram;
}

/**
 * Per-example alignment between two gradients, e.g. the input gradient an FA network's
 * backward path gives against the true gradient of its forward function. Each example's
 * gradient is flattened. The angle uses Kahan's formula 2*atan2(|u - v|, |u + v|) on the unit
 * vectors, accurate near 0 and 180 degrees where acos(cosine) is not.
 */
export function gradientAlignment(
  a: ExamplesInput,
  b: ExamplesInput,
  options: AlignmentOptions = {},
): GradientAlignment {
  const fn = 'gradientAlignment';
  const x = toExamples(fn, 'a', a, options.examples);
  const y = toExamples(fn, 'b', b, options.examples);
  if (x.n !== y.n || x.dim !== y.dim) {
    throw new MetricsInputError(
      fn,
      'b',
      `${x.n} examples of ${x.dim} values, like a`,
      `${y.n} examples of ${y.dim}`,
    );
  }
  const { n, dim } = x;
  const cosine = new Float64Array(n);
  const angle = new Float64Array(n);
  let zeroNorm = 0;
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let aa = 0;
    let bb = 0;
    let ab = 0;
    for (let j = 0; j < dim; j++) {
      const u = x.values[o + j]!;
      const v = y.values[o + j]!;
      aa += u * u;
      bb += v * v;
      ab += u * v;
    }
    if (aa === 0 || bb === 0) {
      cosine[i] = Number.NaN;
      angle[i] = Number.NaN;
      zeroNorm++;
      continue;
    }
    const na = Math.sqrt(aa);
    const nb = Math.sqrt(bb);
    cosine[i] = Math.max(-1, Math.min(1, ab / (na * nb)));
    let diff = 0;
    let sum = 0;
    for (let j = 0; j < dim; j++) {
      const u = x.values[o + j]! / na;
      const v = y.values[o + j]! / nb;
      diff += (u - v) ** 2;
      sum += (u + v) ** 2;
    }
    angle[i] = (2 * Math.atan2(Math.sqrt(diff), Math.sqrt(sum)) * 180) / Math.PI;
  }
  const definedCos = cosine.filter((v) => !Number.isNaN(v));
  const definedAngle = angle.filter((v) => !Number.isNaN(v));
  return {
    cosine,
    angle,
    zeroNorm,
    summary: { cosine: summarize(definedCos), angle: summarize(definedAngle) },
    histogram: histogram(definedAngle, options.histogram ?? {}),
  };
}
