import { describe, MetricsInputError } from './errors.js';

/** Evaluates c[0] + c[1] x + ... + c[7] x^7 (Horner). */
function poly(c: readonly number[], x: number): number {
  let y = 0;
  for (let i = c.length - 1; i >= 0; i--) y = y * x + c[i]!;
  return y;
}

// Coefficients of AS 241 (Wichura 1988), lowest order first, as the doubles they round to.
const A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987,
  67265.7709270087, 33430.57558358813, 2509.0809287301227,
];
const B = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271,
  28729.085735721943, 5226.495278852546,
];
const C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684,
  0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
];
const D = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
  0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-9,
];
const E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
  0.026532189526576124, 0.0012426609473880784, 2.7115555687434876e-5, 2.0103343992922881e-7,
];
const F = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  1.8463183175100548e-5, 1.421511758316446e-7, 2.0442631033899397e-15,
];

/**
 * The standard normal quantile (inverse CDF), Wichura's algorithm AS 241 (PPND16), accurate
 * to about 1e-16. `normalQuantile(0.975)` = 1.959963984540054.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    throw new MetricsInputError('normalQuantile', 'p', 'a probability in [0, 1]', describe(p));
  }
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(A, r)) / poly(B, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x = poly(C, r) / poly(D, r);
  } else {
    r -= 5;
    x = poly(E, r) / poly(F, r);
  }
  return q < 0 ? -x : x;
}

export interface IntervalOptions {
  /** Two-sided confidence level in (0, 1). Default 0.95. */
  confidence?: number;
}

export interface Interval {
  lower: number;
  upper: number;
}

function checkConfidence(fn: string, confidence: number): number {
  if (typeof confidence !== 'number' || !(confidence > 0 && confidence < 1)) {
    throw new MetricsInputError(
      fn,
      'options.confidence',
      'a number in (0, 1), e.g. 0.95',
      describe(confidence),
    );
  }
  return confidence;
}

function checkCounts(fn: string, successes: number, n: number): void {
  if (!Number.isInteger(n) || n < 0)
    throw new MetricsInputError(fn, 'n', 'an integer >= 0', describe(n));
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new MetricsInputError(fn, 'successes', `an integer in [0, n=${n}]`, describe(successes));
  }
}

/**
 * The Wilson score interval of a binomial proportion `successes / n` (Wilson 1927): unlike the
 * normal ("Wald") interval it stays inside [0, 1] and is sensible at 0% and 100%, which is
 * exactly where robustness curves live. With n = 0 nothing is known: [0, 1].
 * `wilsonInterval(8, 10)` = { lower: 0.4902, upper: 0.9433 } (to 4 places).
 */
export function wilsonInterval(
  successes: number,
  n: number,
  options: IntervalOptions = {},
): Interval {
  const confidence = checkConfidence('wilsonInterval', options.confidence ?? 0.95);
  checkCounts('wilsonInterval', successes, n);
  if (n === 0) return { lower: 0, upper: 1 };
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const z2 = z * z;
  const p = successes / n;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // The exact bounds at p = 0 and p = 1 are 0 and 1; avoid -1e-17 from rounding.
  const lower = successes === 0 ? 0 : Math.max(0, center - half);
  const upper = successes === n ? 1 : Math.min(1, center + half);
  return { lower, upper };
}

/** A proportion with its Wilson interval. `value` is NaN when n = 0. */
export interface Proportion {
  /** How many examples count (correct, robust, fooled...). */
  count: number;
  /** Out of how many. */
  n: number;
  /** count / n, in [0, 1]. */
  value: number;
  /** Wilson interval bounds, in [0, 1]. */
  lower: number;
  upper: number;
  confidence: number;
}

/** `count / n` with its Wilson interval. */
export function proportion(count: number, n: number, options: IntervalOptions = {}): Proportion {
  const confidence = checkConfidence('proportion', options.confidence ?? 0.95);
  checkCounts('proportion', count, n);
  const { lower, upper } = wilsonInterval(count, n, { confidence });
  return { count, n, value: n === 0 ? Number.NaN : count / n, lower, upper, confidence };
}

/**
 * The p-quantile of sorted values by linear interpolation between order statistics (Hyndman &
 * Fan type 7, the default of numpy and R). `sorted` must be ascending and non-empty.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0)
    throw new MetricsInputError('quantileSorted', 'sorted', 'a non-empty array', 'an empty one');
  if (!(p >= 0 && p <= 1))
    throw new MetricsInputError('quantileSorted', 'p', 'a number in [0, 1]', describe(p));
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Summary statistics of a list of numbers. All fields but `n` are null when n = 0 (there is no
 * mean of nothing), which is also how they travel in a results file. `std` is the sample
 * standard deviation (n - 1), 0 for a single value. Quantiles: type 7 (see `quantileSorted`).
 */
export interface Summary {
  n: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  q05: number | null;
  q25: number | null;
  median: number | null;
  q75: number | null;
  q95: number | null;
  max: number | null;
}

/** Summarises finite numbers; NaN or infinities are refused (filter them first, on purpose). */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) {
    return {
      n: 0,
      mean: null,
      std: null,
      min: null,
      q05: null,
      q25: null,
      median: null,
      q75: null,
      q95: null,
      max: null,
    };
  }
  const sorted = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as unknown;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new MetricsInputError('summarize', `values[${i}]`, 'a finite number', describe(v));
    }
    sorted[i] = v;
    sum += v;
  }
  sorted.sort();
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (sorted[i]! - mean) ** 2;
  return {
    n,
    mean,
    std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
    min: sorted[0]!,
    q05: quantileSorted(sorted, 0.05),
    q25: quantileSorted(sorted, 0.25),
    median: quantileSorted(sorted, 0.5),
    q75: quantileSorted(sorted, 0.75),
    q95: quantileSorted(sorted, 0.95),
    max: sorted[n - 1]!,
  };
}

export interface HistogramOptions {
  /** Number of equal-width bins. Default 36 (5 degree bins over [0, 180]). */
  bins?: number;
  /** [low, high] of the bins. Default [0, 180] (angles in degrees). */
  range?: readonly [number, number];
}

/** Counts per bin; `edges` has bins + 1 entries. */
export interface Histogram {
  edges: number[];
  counts: number[];
  /** Values below range[0] and above range[1]: not in any bin. */
  below: number;
  above: number;
}

/**
 * Equal-width histogram. Bins are [edge_i, edge_{i+1}), the last one closed on the right
 * (numpy's convention), so a value equal to range[1] lands in the last bin.
 */
export function histogram(values: ArrayLike<number>, options: HistogramOptions = {}): Histogram {
  const bins = options.bins ?? 36;
  const [lo, hi] = options.range ?? [0, 180];
  if (!Number.isInteger(bins) || bins < 1)
    throw new MetricsInputError('histogram', 'options.bins', 'an integer >= 1', describe(bins));
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
    throw new MetricsInputError(
      'histogram',
      'options.range',
      'finite [low, high] with low < high',
      `[${lo}, ${hi}]`,
    );
  }
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const counts = new Array<number>(bins).fill(0);
  let below = 0;
  let above = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v))
      throw new MetricsInputError('histogram', `values[${i}]`, 'a finite number', describe(v));
    if (v < lo) below++;
    else if (v > hi) above++;
    else {
      let b = Math.floor((v - lo) / width);
      if (b >= bins) b = bins - 1;
      // floating point: make sure v is not left of its bin's edge
      while (b > 0 && v < edges[b]!) b--;
      while (b < bins - 1 && v >= edges[b + 1]!) b++;
      counts[b]!++;
    }
  }
  return { edges, counts, below, above };
}

/**
 * McNemar's exact test of two paired classifiers (or attacks) on the same examples: the
 * two-sided p-value that `onlyA` and `onlyB` discordant pairs (correct under one, wrong under
 * the other) came from a fair coin, i.e. min(1, 2 * P[Binomial(onlyA + onlyB, 1/2) <= min]).
 * `mcnemarExact(0, 10)` = 0.001953125; no discordant pairs give 1.
 */
export function mcnemarExact(onlyA: number, onlyB: number): number {
  for (const [k, v] of [
    ['onlyA', onlyA],
    ['onlyB', onlyB],
  ] as const) {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`mcnemarExact: ${k} must be a non-negative integer, found ${v}`);
  }
  const n = onlyA + onlyB;
  if (n === 0) return 1;
  const k = Math.min(onlyA, onlyB);
  // sum_{i<=k} C(n, i) / 2^n in log space (n can be thousands)
  let logC = -n * Math.LN2; // log(C(n,0) / 2^n)
  let tail = Math.exp(logC);
  for (let i = 1; i <= k; i++) {
    logC += Math.log((n - i + 1) / i);
    tail += Math.exp(logC);
  }
  return Math.min(1, 2 * tail);
}
