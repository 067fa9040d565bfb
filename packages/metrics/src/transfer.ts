import { describe, MetricsInputError } from './errors.js';
import { type MaskInput, toMask } from './input.js';
import { normEps, type Results, transferredFrom } from './results-schema.js';
import { type IntervalOptions, type Proportion, proportion } from './stats.js';

/** One measurement: the target's correctness on adversarial examples crafted on the source. */
export interface TransferEntry {
  source: string;
  target: string;
  epsilon: number;
  /** Per-example correctness of the target, or already-counted { count, n }. */
  correct: MaskInput | { count: number; n: number };
}

export interface TransferCell {
  source: string;
  target: string;
  epsilon: number;
  /** Accuracy of the target on the source's adversarial examples. */
  accuracy: Proportion;
}

/**
 * Accuracy of each target on each source's adversarial examples, per epsilon.
 * `accuracy[e][s][t]` is the accuracy for epsilons[e], models[s] as source and models[t] as
 * target, or null when that pair was not measured. The diagonal (source = target) is the
 * white-box accuracy when it is given.
 */
export interface TransferMatrix {
  /** Every model seen as source or target, in order of first appearance. */
  models: string[];
  /** Ascending. */
  epsilons: number[];
  accuracy: (number | null)[][][];
  cells: TransferCell[];
}

function isCounted(x: unknown): x is { count: number; n: number } {
  return (
    typeof x === 'object' &&
    x !== null &&
    !Array.isArray(x) &&
    !ArrayBuffer.isView(x) &&
    'count' in x &&
    'n' in x
  );
}

/** Builds the transfer matrix over models and epsilons from per-pair measurements. */
export function transferMatrix(
  entries: readonly TransferEntry[],
  options: IntervalOptions = {},
): TransferMatrix {
  const fn = 'transferMatrix';
  const models: string[] = [];
  const epsSet = new Map<number, number>();
  const cells: TransferCell[] = [];
  const seen = new Set<string>();
  entries.forEach((e, i) => {
    for (const k of ['source', 'target'] as const) {
      if (typeof e[k] !== 'string' || e[k].length === 0) {
        throw new MetricsInputError(fn, `entries[${i}].${k}`, 'a model name', describe(e[k]));
      }
      if (!models.includes(e[k])) models.push(e[k]);
    }
    if (typeof e.epsilon !== 'number' || !Number.isFinite(e.epsilon) || e.epsilon < 0) {
      throw new MetricsInputError(
        fn,
        `entries[${i}].epsilon`,
        'a number >= 0',
        describe(e.epsilon),
      );
    }
    const eps = normEps(e.epsilon);
    const key = JSON.stringify([e.source, e.target, eps]);
    if (seen.has(key)) {
      throw new MetricsInputError(
        fn,
        `entries[${i}]`,
        'one entry per (source, target, epsilon)',
        `a second ${e.source} -> ${e.target} at ${eps}`,
      );
    }
    seen.add(key);
    if (!epsSet.has(eps)) epsSet.set(eps, e.epsilon);
    let acc: Proportion;
    if (isCounted(e.correct)) {
      acc = proportion(e.correct.count, e.correct.n, options);
    } else {
      const m = toMask(fn, `entries[${i}].correct`, e.correct);
      let c = 0;
      for (let j = 0; j < m.length; j++) c += m[j]!;
      acc = proportion(c, m.length, options);
    }
    cells.push({ source: e.source, target: e.target, epsilon: e.epsilon, accuracy: acc });
  });
  const epsilons = [...epsSet.keys()].sort((a, b) => a - b);
  const accuracy = epsilons.map(() => models.map(() => models.map((): number | null => null)));
  for (const c of cells) {
    const ei = epsilons.indexOf(normEps(c.epsilon));
    accuracy[ei]![models.indexOf(c.source)]![models.indexOf(c.target)] =
      c.accuracy.n === 0 ? null : c.accuracy.value;
  }
  return { models, epsilons, accuracy, cells };
}

/** The cell of a transfer matrix for (source, target, epsilon), if measured. */
export function transferAt(
  m: TransferMatrix,
  source: string,
  target: string,
  epsilon: number,
): TransferCell | undefined {
  const eps = normEps(epsilon);
  return m.cells.find(
    (c) => c.source === source && c.target === target && normEps(c.epsilon) === eps,
  );
}

export interface TransferFromResultsOptions extends IntervalOptions {
  dataset: string;
  attack: string;
  /** Only cells of this variant (default: cells without a variant). */
  variant?: string;
  /** Include source = target from cells with this gradient source. Default 'own'; null: none. */
  whiteBoxSource?: string | null;
}

/**
 * The transfer matrix of one dataset and attack from a results object: cells with source
 * 'transfer:<s>' give (s -> cell.model); cells with source `whiteBoxSource` give the diagonal.
 */
export function transferMatrixFromResults(
  results: Results,
  options: TransferFromResultsOptions,
): TransferMatrix {
  const white = options.whiteBoxSource === undefined ? 'own' : options.whiteBoxSource;
  const entries: TransferEntry[] = [];
  for (const c of results.cells) {
    if (
      c.dataset !== options.dataset ||
      c.attack !== options.attack ||
      c.variant !== options.variant
    )
      continue;
    let source: string | undefined;
    const from = transferredFrom(c.source);
    if (from !== null) source = from;
    else if (white !== null && c.source === white) source = c.model;
    if (source === undefined) continue;
    entries.push({
      source,
      target: c.model,
      epsilon: c.epsilon,
      correct: { count: c.correct, n: c.n },
    });
  }
  if (entries.length === 0) {
    throw new MetricsInputError(
      'transferMatrixFromResults',
      'results.cells',
      `cells of dataset '${options.dataset}', attack '${options.attack}'${options.variant ? `, variant '${options.variant}'` : ''} with a transfer source`,
      'none',
    );
  }
  return transferMatrix(entries, options);
}
