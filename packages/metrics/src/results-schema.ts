import type { Summary } from './stats.js';

// The results schema (version 1): the shape of a results file, which the rest of the package
// reads and writes. Validation: results-validate.ts (field checks in results-check.ts);
// building: results-build.ts; file I/O (Node): results-io.ts.

/** The schema version this package writes and reads. */
export const RESULTS_SCHEMA_VERSION = 1 as const;

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Where the numbers were computed. */
export interface ResultsEnvironment {
  /** tfjs backend name: 'wasm', 'cpu', 'tensorflow', 'webgl'... */
  backend: string;
  /** Versions of what produced the numbers: node, @tensorflow/tfjs-core, @fa-robust/*... */
  versions: Record<string, string>;
  /** Anything else worth keeping (platform, CPU, SIMD, threads...). */
  [key: string]: JsonValue;
}

/** A model evaluated in the study. (dataset, id) is unique. */
export interface ModelRecord {
  dataset: string;
  /** Referenced by cells[].model and by sources 'transfer:<id>' of the same dataset. */
  id: string;
  /** Training method: 'bp', 'fa', 'dfa', 'sign-symmetry'... */
  method: string;
  /** Legend label. Default: the method in upper case ('BP', 'FA'). */
  label?: string;
  architecture?: string;
  seed?: number;
  /** Clean test accuracy in [0, 1]. */
  cleanAccuracy?: number;
  /** Anything else: epochs, optimiser, training time... */
  params?: JsonObject;
}

/**
 * One measured point: a model attacked by one attack at one epsilon with one gradient source,
 * on n examples. Counts are the truth; `accuracy`, `successRate` and the intervals are derived
 * from them and checked against them on validation.
 */
export interface ResultCell {
  dataset: string;
  /** The evaluated (target) model: a ModelRecord id of this dataset. */
  model: string;
  /** 'none' (clean), 'fgsm', 'bim', 'mifgsm', 'pgd', 'spsa', 'square'... */
  attack: string;
  /** A variant of the attack, e.g. 'paper' or 'projected' for MI-FGSM. */
  variant?: string;
  /** Perturbation norm. Default 'linf'. */
  norm?: 'linf' | 'l2';
  /** Perturbation budget in pixel units (pixels in [0, 1] for the paper). */
  epsilon: number;
  /**
   * Where the attack's gradient came from: 'own' (the model's own backward path, the paper's
   * setting), 'true' (the true gradient of its forward function), 'transfer:<id>' (examples
   * crafted on model <id> of the same dataset, then given to this one), 'none' (clean or
   * gradient-free), or another tag such as 'spsa'.
   */
  source: string;
  /** Examples evaluated. */
  n: number;
  /** Examples correct before the attack. */
  cleanCorrect: number;
  /** Examples correct after the attack. */
  correct: number;
  /** Examples correct before the attack and wrong after it. */
  successes: number;
  /** correct / n (adversarial accuracy on all examples, as the paper reports); null when n = 0. */
  accuracy: number | null;
  /** Wilson interval of `accuracy` at `confidence`. */
  accuracyInterval: [number, number];
  /** successes / cleanCorrect, or null when cleanCorrect = 0. */
  successRate: number | null;
  /** Wilson interval of `successRate` ([0, 1] when cleanCorrect = 0). */
  successInterval: [number, number];
  /** Confidence level of the intervals, e.g. 0.95. */
  confidence: number;
  /** Perturbation sizes over the n examples. */
  linf?: Summary;
  l2?: Summary;
  /** Adversarial examples with a pixel outside the valid range. */
  outOfBounds?: number;
  /** Examples whose input gradient was exactly zero at one or more of the attack's steps. */
  zeroGradient?: number;
  /** Examples whose input gradient had NaN or infinite entries at one or more steps. */
  nonFiniteGradient?: number;
  /**
   * Whether every example stayed inside the claimed ball (`norm`, `epsilon`, float32 slack):
   * only such cells are an eps-bounded attack (the paper's MI-FGSM equation is not).
   */
  inBall?: boolean;
  /** Whether every adversarial example stayed inside the pixel range (outOfBounds = 0). */
  inBounds?: boolean;
  /** Attack parameters: steps, stepSize, mu, seed... */
  params?: JsonObject;
  /** Wall-clock seconds the attack took. */
  seconds?: number;
}

/** Gradient alignment of one model, summarised over examples. */
export interface AlignmentRecord {
  dataset: string;
  model: string;
  /** What was compared, e.g. 'own-vs-true': backward-path input gradient vs true gradient. */
  comparison: string;
  /** Examples compared (including zero-norm ones). */
  n: number;
  /** Examples where a gradient was all zeros (no angle). */
  zeroNorm: number;
  /** Angle in degrees. */
  angle: Summary;
  cosine: Summary;
  /** Histogram of the angles (degrees): edges has counts.length + 1 entries. */
  histogram: { edges: number[]; counts: number[] };
  /**
   * Entries of each gradient (e.g. 784 for MNIST): two random directions in that many
   * dimensions make 90 +- 57.3/sqrt(dimension) degrees, the reference for "unrelated".
   */
  dimension?: number;
}

/** The angle between a layer's forward weights W and its feedback matrix B (FA and kin). */
export interface LayerAlignmentRecord {
  dataset: string;
  model: string;
  /** The layer's name. */
  layer: string;
  /** Degrees; null when W or B is all zeros. */
  angle: number | null;
}

/**
 * One sanity check of the evaluation (Carlini et al. 2019's checklist) and its outcome:
 * 'fail' means a number the study reports cannot be trusted as it stands.
 */
export interface CheckRecord {
  dataset: string;
  /** The model it concerns; absent for a dataset-wide check. */
  model?: string;
  /**
   * A stable id, e.g. 'constant-image-bound', 'unbounded-attack', 'iterative-beats-single-step',
   * 'monotone-in-eps', 'steps-converged', 'restarts-converged', 'gradient-flags',
   * 'beats-random-noise', 'gradient-free-vs-white-box', 'transfer-vs-white-box'.
   */
  check: string;
  status: 'pass' | 'warn' | 'fail';
  epsilon?: number;
  /** One or two sentences: what was compared, with the numbers. */
  message: string;
}

/**
 * Two groups of attacks compared on the same examples: each side is the per-example worst case
 * over its attacks; McNemar's exact test on the discordant pairs.
 */
export interface ComparisonRecord {
  dataset: string;
  model: string;
  epsilon: number;
  /** What is compared, e.g. 'own path vs true gradient'. */
  label: string;
  /** Tags as in RobustRecord.attacks. */
  a: string[];
  b: string[];
  n: number;
  /** Examples correct under a and wrong under b. */
  onlyA: number;
  /** Examples correct under b and wrong under a. */
  onlyB: number;
  accuracyA: number;
  accuracyB: number;
  /** Two-sided exact McNemar p-value. */
  pValue: number;
}

/** Accuracy as a function of an attack's budget (steps or restarts) at one epsilon. */
export interface CurveRecord {
  dataset: string;
  model: string;
  source: string;
  attack: string;
  epsilon: number;
  parameter: 'steps' | 'restarts';
  points: {
    value: number;
    n: number;
    correct: number;
    accuracy: number;
    accuracyInterval: [number, number];
  }[];
}

/** Robust accuracy: correct under every one of several attacks at one epsilon. */
export interface RobustRecord {
  dataset: string;
  model: string;
  epsilon: number;
  /** The attacks combined, as 'attack/source' or 'attack:variant/source' tags. */
  attacks: string[];
  n: number;
  correct: number;
  /** correct / n; null when n = 0. */
  accuracy: number | null;
  accuracyInterval: [number, number];
  confidence: number;
  /** What the combination is, e.g. 'own path', 'true gradient', 'every in-ball attack'. */
  label?: string;
}

/** A results file, schema version 1. */
export interface Results {
  schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  /** ISO 8601 date-time, e.g. '2025-01-31T12:00:00.000Z'. */
  createdAt: string;
  title?: string;
  /** The full configuration that produced the numbers (any JSON object). */
  config: JsonObject;
  environment: ResultsEnvironment;
  models: ModelRecord[];
  cells: ResultCell[];
  alignment?: AlignmentRecord[];
  robust?: RobustRecord[];
  layerAlignment?: LayerAlignmentRecord[];
  checks?: CheckRecord[];
  comparisons?: ComparisonRecord[];
  curves?: CurveRecord[];
  notes?: string[];
}

/** The key that identifies a cell: two cells with the same key are duplicates. */
export function cellKey(
  c: Pick<ResultCell, 'dataset' | 'model' | 'attack' | 'variant' | 'norm' | 'source' | 'epsilon'>,
): string {
  return JSON.stringify([
    c.dataset,
    c.model,
    c.attack,
    c.variant ?? null,
    c.norm ?? 'linf',
    c.source,
    normEps(c.epsilon),
  ]);
}

/** Epsilons compared at 12 significant digits, so 0.1 + 0.2 matches 0.3. */
export function normEps(e: number): number {
  return Number(e.toPrecision(12));
}

/** The source of a cell whose examples were made on model `from` and given to the cell's model. */
export function transferSource(from: string, gradient?: 'true'): string {
  return gradient ? `transfer:${from}:${gradient}` : `transfer:${from}`;
}

/**
 * The model a transfer cell's examples were made on ('transfer:bp' -> 'bp'); null for a source
 * that is not a transfer (and '' for a malformed 'transfer:').
 */
export function transferredFrom(source: string): string | null {
  if (!source.startsWith('transfer:')) return null;
  const rest = source.slice('transfer:'.length);
  return rest.endsWith(':true') ? rest.slice(0, -':true'.length) : rest;
}

/**
 * Which gradient of the source model a transfer cell's examples were made with: 'true'
 * ('transfer:fa:true', the true gradient of an FA network) or 'own' ('transfer:fa'); null for
 * a source that is not a transfer.
 */
export function transferGradient(source: string): 'own' | 'true' | null {
  if (!source.startsWith('transfer:')) return null;
  return source.endsWith(':true') ? 'true' : 'own';
}
