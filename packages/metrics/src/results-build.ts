import { robustAccuracy } from './accuracy.js';
import type { GradientAlignment } from './alignment.js';
import { type MaskInput, sameLength, toMask } from './input.js';
import type { PerturbationStats } from './perturbation.js';
import type {
  AlignmentRecord,
  CheckRecord,
  ComparisonRecord,
  CurveRecord,
  JsonObject,
  LayerAlignmentRecord,
  ModelRecord,
  ResultCell,
  Results,
  ResultsEnvironment,
  RobustRecord,
} from './results-schema.js';
import { RESULTS_SCHEMA_VERSION } from './results-schema.js';
import { validateResults } from './results-validate.js';
import { summarize, wilsonInterval } from './stats.js';

export interface CreateResultsInput {
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
  title?: string;
  notes?: string[];
  /** Default: now. */
  createdAt?: string | Date;
}

/** A validated results object with schemaVersion and createdAt filled in. */
export function createResults(input: CreateResultsInput): Results {
  const {
    createdAt,
    alignment,
    robust,
    layerAlignment,
    checks,
    comparisons,
    curves,
    title,
    notes,
    ...rest
  } = input;
  const results: Results = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    createdAt:
      createdAt instanceof Date ? createdAt.toISOString() : (createdAt ?? new Date().toISOString()),
    ...(title !== undefined ? { title } : {}),
    ...rest,
    ...(alignment !== undefined ? { alignment } : {}),
    ...(robust !== undefined ? { robust } : {}),
    ...(layerAlignment !== undefined ? { layerAlignment } : {}),
    ...(checks !== undefined ? { checks } : {}),
    ...(comparisons !== undefined ? { comparisons } : {}),
    ...(curves !== undefined ? { curves } : {}),
    ...(notes !== undefined ? { notes } : {}),
  };
  // JSON round trip: drops undefined fields and refuses what JSON cannot hold.
  return validateResults(JSON.parse(JSON.stringify(results)));
}

export interface ResultCellInput {
  dataset: string;
  model: string;
  attack: string;
  variant?: string;
  norm?: 'linf' | 'l2';
  epsilon: number;
  source: string;
  /** Correct before the attack, per example. */
  cleanCorrect: MaskInput;
  /** Correct after the attack, per example (same examples, same order). */
  adversarialCorrect: MaskInput;
  /** Perturbation sizes, from perturbationStats (or per-example L-inf and L2 norms). */
  perturbation?: Pick<PerturbationStats, 'linf' | 'l2'> & { outOfBounds?: number };
  /** Examples with an exactly-zero / a non-finite input gradient at some step (gradient attacks). */
  gradient?: { zero: number; nonFinite: number };
  /** Whether every example stayed inside the claimed ball and the pixel range. */
  threat?: { inBall: boolean; inBounds: boolean };
  params?: JsonObject;
  seconds?: number;
  /** Default 0.95. */
  confidence?: number;
}

/** Builds a results cell from per-example correctness before and after an attack. */
export function resultCell(input: ResultCellInput): ResultCell {
  const clean = toMask('resultCell', 'cleanCorrect', input.cleanCorrect);
  const adv = toMask('resultCell', 'adversarialCorrect', input.adversarialCorrect);
  sameLength('resultCell', 'cleanCorrect', clean.length, 'adversarialCorrect', adv.length);
  const confidence = input.confidence ?? 0.95;
  let cleanCorrect = 0;
  let correct = 0;
  let successes = 0;
  for (let i = 0; i < clean.length; i++) {
    cleanCorrect += clean[i]!;
    correct += adv[i]!;
    if (clean[i] === 1 && adv[i] === 0) successes++;
  }
  const n = clean.length;
  const ai = wilsonInterval(correct, n, { confidence });
  const si = wilsonInterval(successes, cleanCorrect, { confidence });
  const cell: ResultCell = {
    dataset: input.dataset,
    model: input.model,
    attack: input.attack,
    ...(input.variant !== undefined ? { variant: input.variant } : {}),
    ...(input.norm !== undefined ? { norm: input.norm } : {}),
    epsilon: input.epsilon,
    source: input.source,
    n,
    cleanCorrect,
    correct,
    successes,
    accuracy: n === 0 ? null : correct / n,
    accuracyInterval: [ai.lower, ai.upper],
    successRate: cleanCorrect === 0 ? null : successes / cleanCorrect,
    successInterval: [si.lower, si.upper],
    confidence,
  };
  if (input.perturbation) {
    const p = input.perturbation;
    sameLength('resultCell', 'cleanCorrect', n, 'perturbation.linf', p.linf.length);
    sameLength('resultCell', 'cleanCorrect', n, 'perturbation.l2', p.l2.length);
    cell.linf = summarize(p.linf);
    cell.l2 = summarize(p.l2);
    if (p.outOfBounds !== undefined) cell.outOfBounds = p.outOfBounds;
  }
  if (input.threat) {
    cell.inBall = input.threat.inBall;
    cell.inBounds = input.threat.inBounds;
  }
  if (input.gradient) {
    cell.zeroGradient = input.gradient.zero;
    cell.nonFiniteGradient = input.gradient.nonFinite;
  }
  if (input.params !== undefined) cell.params = input.params;
  if (input.seconds !== undefined) cell.seconds = input.seconds;
  return cell;
}

/** An alignment record from gradientAlignment's output. */
export function alignmentRecord(input: {
  dataset: string;
  model: string;
  comparison: string;
  alignment: GradientAlignment;
}): AlignmentRecord {
  const a = input.alignment;
  return {
    dataset: input.dataset,
    model: input.model,
    comparison: input.comparison,
    n: a.angle.length,
    zeroNorm: a.zeroNorm,
    angle: a.summary.angle,
    cosine: a.summary.cosine,
    histogram: { edges: [...a.histogram.edges], counts: [...a.histogram.counts] },
  };
}

/**
 * A robust-accuracy record from per-attack correctness masks at one epsilon: the keys of
 * `correct` are the attack tags written to `attacks`.
 */
export function robustRecord(input: {
  dataset: string;
  model: string;
  epsilon: number;
  correct: Readonly<Record<string, MaskInput>>;
  confidence?: number;
  label?: string;
}): RobustRecord {
  const confidence = input.confidence ?? 0.95;
  const r = robustAccuracy(input.correct, { confidence });
  return {
    dataset: input.dataset,
    model: input.model,
    epsilon: input.epsilon,
    attacks: Object.keys(input.correct),
    n: r.n,
    correct: r.count,
    accuracy: r.n === 0 ? null : r.value,
    accuracyInterval: [r.lower, r.upper],
    confidence,
    ...(input.label !== undefined ? { label: input.label } : {}),
  };
}
