import { type ResultCell, type Results, transferSource } from '@fa-robust/metrics';
import { pct, sameEps } from './format.js';

/**
 * The audit the paper did not do. An FA network that resists attacks through its own
 * backward path may be robust, or its backward path may just be a poor guide for the attacker
 * (gradient masking). Three attackers need no help from that path: the true gradient of the
 * forward function (white-box through the BP twin), a gradient-free attack, and examples
 * transferred from an independently trained BP surrogate. If any of them does significantly
 * better than the own-gradient attack, the robustness was masking.
 */
export type Verdict = 'gradient masking' | 'robust' | 'not robust' | 'inconclusive';

export interface AuditRow {
  epsilon: number;
  /** Worst accuracy of the FA model under the paper's attacks through its own backward path. */
  own: CellRef | null;
  /** Worst accuracy under the same attacks with its true input gradient. */
  trueGradient: CellRef | null;
  /** Accuracy under the gradient-free attack. */
  gradientFree: CellRef | null;
  /** Worst accuracy on examples transferred from the independent BP surrogate. */
  surrogate: CellRef | null;
  /** The strongest of the three checks. */
  strongest: (CellRef & { check: string }) | null;
  /** own - strongest accuracy (percentage points / 100). */
  gap: number | null;
  /** Whether the gap is beyond chance: the two Wilson intervals do not overlap. */
  significant: boolean;
}

export interface CellRef {
  attack: string;
  source: string;
  accuracy: number;
  interval: [number, number];
  n: number;
}

export interface AuditVerdict {
  dataset: string;
  model: string;
  verdict: Verdict;
  rows: AuditRow[];
  summary: string;
}

/** A gap this large (and significant) is called masking. */
export const MASKING_GAP = 0.1;
/** Share of its clean accuracy a model must keep under the strongest attack to count as holding up. */
export const ROBUST_SHARE = 0.5;
/**
 * A model must get at least this share of the way from chance to the BP model's clean accuracy
 * (or to 100% without one) for its robustness to mean anything: 38% on CIFAR-10 next to BP's 60%
 * is a model that learned; 15% on MNIST next to BP's 98% is not.
 */
export const TRAINED_SHARE = 0.5;

const ref = (c: ResultCell): CellRef => ({
  attack: c.attack,
  source: c.source,
  accuracy: c.accuracy ?? Number.NaN,
  interval: c.accuracyInterval,
  n: c.n,
});

function worst(cells: ResultCell[]): CellRef | null {
  const usable = cells.filter((c) => c.accuracy != null && c.n > 0);
  if (usable.length === 0) return null;
  return ref(usable.reduce((a, b) => (b.accuracy! < a.accuracy! ? b : a)));
}

export function auditVerdict(
  results: Results,
  dataset: string,
  model: string,
  options: { surrogate?: string; baseline?: string; classes?: number } = {},
): AuditVerdict {
  const surrogateId = options.surrogate ?? 'bp-surrogate';
  const chance = 1 / (options.classes ?? 10);
  const cells = results.cells.filter((c) => c.dataset === dataset && c.model === model);
  const epsilons = [
    ...new Set(cells.filter((c) => c.source === 'true').map((c) => c.epsilon)),
  ].sort((a, b) => a - b);
  const rows: AuditRow[] = epsilons.map((epsilon) => {
    const at = cells.filter((c) => sameEps(c.epsilon, epsilon));
    const own = worst(at.filter((c) => c.source === 'own'));
    const trueGradient = worst(at.filter((c) => c.source === 'true'));
    const gradientFree = worst(at.filter((c) => c.source === 'none' && c.attack !== 'none'));
    const surrogate = worst(at.filter((c) => c.source === transferSource(surrogateId)));
    const candidates: [string, CellRef | null][] = [
      ['true gradient', trueGradient],
      ['gradient-free', gradientFree],
      ['BP surrogate transfer', surrogate],
    ];
    const checks = candidates.filter((x): x is [string, CellRef] => x[1] != null);
    const best = checks.length
      ? checks.reduce((a, b) => (b[1].accuracy < a[1].accuracy ? b : a))
      : null;
    const strongest: (CellRef & { check: string }) | null = best
      ? { ...best[1], check: best[0] }
      : null;
    const gap = own && strongest ? own.accuracy - strongest.accuracy : null;
    const significant = own != null && strongest != null && strongest.interval[1] < own.interval[0];
    return { epsilon, own, trueGradient, gradientFree, surrogate, strongest, gap, significant };
  });

  const usable = rows.filter((r) => r.own && r.strongest);
  const cleanOf = (id: string) =>
    results.cells.find((c) => c.dataset === dataset && c.model === id && c.attack === 'none')
      ?.accuracy ?? null;
  const clean = cleanOf(model);
  const baseline = cleanOf(options.baseline ?? 'bp') ?? 1;
  const trainedFloor = chance + TRAINED_SHARE * Math.max(0, baseline - chance);
  let verdict: Verdict;
  let summary: string;
  if (usable.length === 0) {
    verdict = 'inconclusive';
    summary = 'no audit cells: run with the audit enabled';
  } else if (clean != null && clean < trainedFloor) {
    verdict = 'inconclusive';
    summary =
      `${model.toUpperCase()} reaches only ${pct(clean)} clean accuracy (under ${pct(trainedFloor)}, halfway from chance to BP's ${pct(baseline)}): ` +
      'too little learned for its robustness to mean anything (train it longer or on more images)';
  } else {
    const masked = usable.filter((r) => r.significant && r.gap! >= MASKING_GAP);
    const largest = usable.reduce((a, b) => (b.gap! > a.gap! ? b : a));
    const last = usable[usable.length - 1]!;
    if (masked.length > 0) {
      const r = masked.reduce((a, b) => (b.gap! > a.gap! ? b : a));
      verdict = 'gradient masking';
      summary =
        `at eps ${r.epsilon}, the ${r.strongest!.check} attack takes ${model.toUpperCase()} to ${pct(r.strongest!.accuracy)} ` +
        `while its own backward path only reaches ${pct(r.own!.accuracy)} (gap ${pct(r.gap!)}, Wilson 95% intervals ` +
        `[${pct(r.strongest!.interval[0])}, ${pct(r.strongest!.interval[1])}] vs [${pct(r.own!.interval[0])}, ${pct(r.own!.interval[1])}] do not overlap)`;
    } else if (last.strongest!.accuracy >= ROBUST_SHARE * (clean ?? 1)) {
      verdict = 'robust';
      summary =
        `no check beats the own-gradient attack by ${pct(MASKING_GAP)} or more (largest gap ${pct(largest.gap!)} at eps ${largest.epsilon}), ` +
        `and the strongest attack leaves ${pct(last.strongest!.accuracy)} accuracy at eps ${last.epsilon} (clean ${pct(clean ?? 1)})`;
    } else {
      verdict = 'not robust';
      summary =
        `its own backward path is already a good guide (largest gap ${pct(largest.gap!)}), and the strongest attack takes it ` +
        `to ${pct(last.strongest!.accuracy)} at eps ${last.epsilon}`;
    }
  }
  return { dataset, model, verdict, rows, summary };
}
