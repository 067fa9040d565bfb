/**
 * Phase 4: stored steps into results. Pure: cells in plan order, and FA's robust accuracy per
 * audit eps from the per-example masks, so what a reviewer reads follows from the steps alone.
 */
import {
  type ComparisonRecord,
  type CurveRecord,
  createResults,
  type LayerAlignmentRecord,
  type ModelRecord,
  mcnemarExact,
  type ResultCell,
  type Results,
  robustRecord,
  transferSource,
  wilsonInterval,
} from '@fa-robust/metrics';
import { sameEps } from './format.js';
import type { PlannedStep } from './plan.js';
import type { StepOutput } from './steps.js';

export type RobustRecord = NonNullable<Results['robust']>[number];
export type AlignmentRecord = NonNullable<Results['alignment']>[number];

/**
 * The cells of a dataset: its clean cells, then every paper and audit step's, in plan order
 * (curve points become CurveRecords instead; a step planned twice, as a curve's shared point,
 * gives its cells once).
 */
export function datasetCells(
  clean: ResultCell[],
  outputs: StepOutput[],
  steps?: readonly Pick<PlannedStep, 'role' | 'key'>[],
): ResultCell[] {
  const seen = new Set<string>();
  return [
    ...clean,
    ...outputs.flatMap((o, i) => {
      const s = steps?.[i];
      if (s && (s.role === 'curve' || seen.has(s.key))) return [];
      if (s) seen.add(s.key);
      // every attack cell states the norm of the ball it claims (older stored steps did not)
      return o.cells.map((c) =>
        c.norm || c.attack === 'none' ? c : { ...c, norm: 'linf' as const },
      );
    }),
  ];
}

/** A cell that is an eps-bounded attack: every example inside the ball and the pixel range. */
export function inThreatModel(c: ResultCell): boolean {
  return c.inBall === true && c.inBounds === true;
}

/** A cell's tag in robust records: 'attack/source' or 'attack:variant/source'. */
export function cellTag(c: Pick<ResultCell, 'attack' | 'variant' | 'source'>): string {
  return `${c.attack}${c.variant && c.variant !== 'standard' ? `:${c.variant}` : ''}/${c.source}`;
}

/** The groups of in-ball audit cells whose per-example worst case is reported, by label. */
export const ROBUST_GROUPS = {
  'own path': (c: ResultCell) => c.source === 'own',
  'true gradient': (c: ResultCell) => c.source === 'true',
  AutoAttack: (c: ResultCell) =>
    c.attack === 'autoattack' && c.source !== 'none' && !c.source.startsWith('transfer:'),
  Square: (c: ResultCell) => c.source === 'none' && (c.attack === 'square' || c.attack === 'spsa'),
  'random noise': (c: ResultCell) => c.attack === 'noise',
  'BP-surrogate transfer': (c: ResultCell) => c.source === transferSource('bp-surrogate'),
  'every in-ball attack': (_c: ResultCell) => true,
} as const;
export type RobustGroup = keyof typeof ROBUST_GROUPS;

/** The audit's masks of one model at one eps, by cell tag (in-ball cells only, `n` examples). */
function auditMasks(
  dataset: string,
  model: string,
  epsilon: number,
  outputs: readonly StepOutput[],
  steps: readonly Pick<PlannedStep, 'role'>[],
  n: number,
): { cell: ResultCell; mask: Uint8Array }[] {
  const out: { cell: ResultCell; mask: Uint8Array }[] = [];
  outputs.forEach((o, i) => {
    if (steps[i]?.role !== 'audit') return;
    o.cells.forEach((c, j) => {
      if (c.dataset !== dataset || c.model !== model || !sameEps(c.epsilon, epsilon)) return;
      if (!inThreatModel(c) || o.masks[j]!.length !== n) return;
      out.push({ cell: c, mask: o.masks[j]! });
    });
  });
  return out;
}

/** Per example: correct under every mask (1) or not (0). */
function worstCase(masks: readonly Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n).fill(1);
  for (const m of masks) for (let i = 0; i < n; i++) out[i]! &= m[i]!;
  return out;
}

/**
 * The audit's robust accuracy of `model` at each eps, one record per group of in-ball cells
 * (own path, true gradient, AutoAttack, Square, random noise, BP-surrogate transfer, every
 * in-ball attack): per example, correct under every attack of the group, on the same `n`
 * images (paired), with the Wilson interval.
 */
export function auditRobustRecords(
  dataset: string,
  model: string,
  outputs: readonly StepOutput[],
  steps: readonly Pick<PlannedStep, 'role'>[],
  epsilons: readonly number[],
  n: number,
): RobustRecord[] {
  const out: RobustRecord[] = [];
  for (const epsilon of epsilons) {
    const all = auditMasks(dataset, model, epsilon, outputs, steps, n);
    for (const [label, member] of Object.entries(ROBUST_GROUPS)) {
      const chosen = all.filter((x) => member(x.cell));
      if (!chosen.length) continue;
      out.push(
        robustRecord({
          dataset,
          model,
          epsilon,
          label,
          correct: Object.fromEntries(chosen.map((x) => [cellTag(x.cell), x.mask])),
        }),
      );
    }
  }
  return out;
}

/** The comparisons the verdict and the checks rest on: [label, group a, group b]. */
export const COMPARISONS: readonly [string, RobustGroup, RobustGroup][] = [
  ['own path vs true gradient', 'own path', 'true gradient'],
  ['own path vs Square', 'own path', 'Square'],
  ['own path vs BP-surrogate transfer', 'own path', 'BP-surrogate transfer'],
  ['own path vs random noise', 'own path', 'random noise'],
  ['AutoAttack vs Square', 'AutoAttack', 'Square'],
  ['AutoAttack vs BP-surrogate transfer', 'AutoAttack', 'BP-surrogate transfer'],
];

/**
 * Own path vs true gradient on only the attacks run through both (FGSM and BIM: the same loss,
 * steps and seeds, only the gradient differs). When the true gradient does no better there,
 * the feedback path is not what misleads the attacks: their loss is (see verdict.ts).
 */
export const SAME_ATTACKS = 'own path vs true gradient, same attacks';

/** One paired comparison of two sets of masks, with McNemar's exact test. */
function paired(
  head: Pick<ComparisonRecord, 'dataset' | 'model' | 'epsilon' | 'label'>,
  a: readonly { cell: ResultCell; mask: Uint8Array }[],
  b: readonly { cell: ResultCell; mask: Uint8Array }[],
  n: number,
): ComparisonRecord | null {
  if (!a.length || !b.length) return null;
  const tagsA = a.map((x) => cellTag(x.cell));
  const tagsB = b.map((x) => cellTag(x.cell));
  if (tagsA.length === tagsB.length && tagsA.every((t) => tagsB.includes(t))) return null;
  const ma = worstCase(
    a.map((x) => x.mask),
    n,
  );
  const mb = worstCase(
    b.map((x) => x.mask),
    n,
  );
  let onlyA = 0;
  let onlyB = 0;
  let ca = 0;
  let cb = 0;
  for (let i = 0; i < n; i++) {
    ca += ma[i]!;
    cb += mb[i]!;
    if (ma[i] && !mb[i]) onlyA++;
    if (mb[i] && !ma[i]) onlyB++;
  }
  return {
    ...head,
    a: tagsA,
    b: tagsB,
    n,
    onlyA,
    onlyB,
    accuracyA: n ? ca / n : 0,
    accuracyB: n ? cb / n : 0,
    pValue: mcnemarExact(onlyA, onlyB),
  };
}

/**
 * Paired comparisons of two groups of attacks on the same images (each side the per-example
 * worst case over its attacks), with McNemar's exact test: the COMPARISONS, then SAME_ATTACKS.
 * A comparison of a group with itself (BP's own path is its true gradient) is left out.
 */
export function auditComparisons(
  dataset: string,
  model: string,
  outputs: readonly StepOutput[],
  steps: readonly Pick<PlannedStep, 'role'>[],
  epsilons: readonly number[],
  n: number,
): ComparisonRecord[] {
  const out: ComparisonRecord[] = [];
  for (const epsilon of epsilons) {
    const all = auditMasks(dataset, model, epsilon, outputs, steps, n);
    for (const [label, ga, gb] of COMPARISONS) {
      const rec = paired(
        { dataset, model, epsilon, label },
        all.filter((x) => ROBUST_GROUPS[ga](x.cell)),
        all.filter((x) => ROBUST_GROUPS[gb](x.cell)),
        n,
      );
      if (rec) out.push(rec);
    }
    const attackOf = (c: ResultCell) => `${c.attack}:${c.variant ?? ''}`;
    const own = all.filter((x) => x.cell.source === 'own');
    const tru = all.filter((x) => x.cell.source === 'true');
    const both = new Set(own.map((x) => attackOf(x.cell)));
    const inTrue = new Set(tru.map((x) => attackOf(x.cell)));
    const same = (xs: typeof all) =>
      xs.filter((x) => both.has(attackOf(x.cell)) && inTrue.has(attackOf(x.cell)));
    const rec = paired({ dataset, model, epsilon, label: SAME_ATTACKS }, same(own), same(tru), n);
    if (rec) out.push(rec);
  }
  return out;
}

/** The curve steps' outputs as accuracy-vs-steps and -vs-restarts records. */
export function curveRecords(
  dataset: string,
  steps: readonly PlannedStep[],
  outputs: readonly StepOutput[],
): CurveRecord[] {
  const byCurve = new Map<string, CurveRecord>();
  steps.forEach((s, i) => {
    if (s.role !== 'curve' || !s.curve) return;
    const cell = outputs[i]?.cells[0];
    if (!cell) return;
    const k = JSON.stringify([cell.model, cell.source, s.curve.parameter, cell.epsilon]);
    let rec = byCurve.get(k);
    if (!rec) {
      rec = {
        dataset,
        model: cell.model,
        source: cell.source,
        attack: cell.attack,
        epsilon: cell.epsilon,
        parameter: s.curve.parameter,
        points: [],
      };
      byCurve.set(k, rec);
    }
    const w = wilsonInterval(cell.correct, cell.n);
    rec.points.push({
      value: s.curve.value,
      n: cell.n,
      correct: cell.correct,
      accuracy: cell.accuracy ?? 0,
      accuracyInterval: [w.lower, w.upper],
    });
  });
  for (const r of byCurve.values()) r.points.sort((a, b) => a.value - b.value);
  return [...byCurve.values()];
}

export interface StudyParts {
  config: Results['config'];
  environment: Results['environment'];
  models: ModelRecord[];
  cells: ResultCell[];
  alignment: AlignmentRecord[];
  robust: RobustRecord[];
  layerAlignment: LayerAlignmentRecord[];
  comparisons: ComparisonRecord[];
  curves: CurveRecord[];
  checks: NonNullable<Results['checks']>;
  notes: string[];
}

export const STUDY_TITLE =
  'On the Adversarial Robustness of Neural Networks without Weight Transport: reproduction and audit';

/** The results object of a study (validated by createResults). */
export function studyResults(parts: StudyParts): Results {
  return createResults({
    title: STUDY_TITLE,
    config: parts.config,
    environment: parts.environment,
    models: parts.models,
    cells: parts.cells,
    ...(parts.alignment.length ? { alignment: parts.alignment } : {}),
    ...(parts.robust.length ? { robust: parts.robust } : {}),
    ...(parts.layerAlignment.length ? { layerAlignment: parts.layerAlignment } : {}),
    ...(parts.checks.length ? { checks: parts.checks } : {}),
    ...(parts.comparisons.length ? { comparisons: parts.comparisons } : {}),
    ...(parts.curves.length ? { curves: parts.curves } : {}),
    notes: parts.notes,
  });
}
