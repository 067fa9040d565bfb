/**
 * The sanity checks of an evaluation (Carlini et al. 2019, "On Evaluating Adversarial
 * Robustness", section 5's checklist), automated on a dataset's assembled numbers. Pure: each
 * check reads cells, robust records, comparisons and curves and says pass, warn or fail with
 * the numbers it compared. A 'fail' means a number of the study cannot be taken as a
 * measure of robustness as it stands (for FA's own path, that is the evidence of masking).
 */
import type {
  CheckRecord,
  ComparisonRecord,
  CurveRecord,
  ResultCell,
  RobustRecord,
} from '@fa-robust/metrics';
import { cellTag, inThreatModel } from './assemble.js';
import { fmtEps, formatP, pct, sameEps } from './format.js';

/** The iterative attacks (the single-step one is FGSM). */
const ITERATIVE = ['bim', 'mifgsm', 'apgd', 'pgd', 'autoattack'];

/** Accuracy differences smaller than this are noise, not a violated ordering. */
export const ORDER_TOLERANCE = 0.01;
/** A paired difference is called significant below this McNemar p-value. */
export const SIGNIFICANCE = 0.05;

export interface CheckInput {
  dataset: string;
  /** Every cell of the dataset (paper and audit). */
  cells: readonly ResultCell[];
  /** The audit's cells (in-ball or not: the in-ball check reads them all). */
  auditCells: readonly ResultCell[];
  robust: readonly RobustRecord[];
  comparisons: readonly ComparisonRecord[];
  curves: readonly CurveRecord[];
  /** The audit's images: how many, and how many of the largest class. */
  labels: { n: number; largestClass: number };
  /** Pixel range of the inputs (the ball of radius (hi - lo) / 2 around any image holds a constant one). */
  bounds?: readonly [number, number];
}

const modelName = (id: string) => (id === 'bp-surrogate' ? 'the BP surrogate' : id.toUpperCase());
const what = (c: ResultCell) => `${c.attack}${c.source === 'own' ? '' : ` (${c.source})`}`;

export function sanityChecks(input: CheckInput): CheckRecord[] {
  const { dataset } = input;
  const [lo, hi] = input.bounds ?? [0, 1];
  const out: CheckRecord[] = [];
  const push = (r: Omit<CheckRecord, 'dataset'>) => out.push({ dataset, ...r });
  const E = (e: number) => fmtEps(e, dataset);
  const audit = input.auditCells.filter((c) => c.attack !== 'none' && c.epsilon > 0);
  const inBall = audit.filter(inThreatModel);

  // 1. the threat model holds for every audit cell; the paper's update rules are named where they leave it
  const outside = audit.filter((c) => !inThreatModel(c));
  push({
    check: 'in-ball',
    status: outside.length ? 'fail' : 'pass',
    message: outside.length
      ? `${outside.length} audit cells leave the ball or the pixel range (e.g. ${what(outside[0]!)} on ${outside[0]!.model} at eps ${E(outside[0]!.epsilon)}, L-inf up to ${outside[0]!.linf?.max?.toFixed(3)}); they are left out of every verdict`
      : `all ${audit.length} audit cells stay inside their L-inf ball and the pixel range [${lo}, ${hi}]`,
  });
  const paperOut = input.cells.filter(
    (c) => c.variant === 'paper' && c.epsilon > 0 && (c.inBall === false || c.inBounds === false),
  );
  if (paperOut.length) {
    const byAttack = new Map<string, ResultCell>();
    for (const c of paperOut) {
      const prev = byAttack.get(c.attack);
      const ratio = (x: ResultCell) => (x.linf?.max ?? 0) / x.epsilon;
      if (!prev || ratio(c) > ratio(prev)) byAttack.set(c.attack, c);
    }
    push({
      check: 'paper-rules-out-of-ball',
      status: 'warn',
      message: `the paper's update rules leave the threat model: ${[...byAttack.values()]
        .map(
          (c) =>
            `${c.attack} ${c.inBall === false ? `reaches L-inf ${c.linf?.max?.toFixed(2)} at eps ${E(c.epsilon)}` : 'stays in its ball'}${c.outOfBounds ? `, ${c.outOfBounds} of ${c.n} examples outside [${lo}, ${hi}]` : ''}`,
        )
        .join('; ')}; their cells are drawn as the paper's figures and feed no verdict`,
    });
  }

  // 2. where a constant image lies in every ball, no classifier beats the largest class share
  const { n: nLabels, largestClass } = input.labels;
  const share = nLabels ? largestClass / nLabels : 0;
  const half = (hi - lo) / 2;
  const constantEps = [...new Set(inBall.map((c) => c.epsilon))].filter((e) => e >= half - 1e-12);
  for (const epsilon of constantEps) {
    const over = inBall.filter(
      (c) =>
        sameEps(c.epsilon, epsilon) &&
        !c.source.startsWith('transfer:') &&
        c.attack !== 'noise' &&
        c.correct > largestClass * (c.n / nLabels),
    );
    push({
      check: 'constant-image-bound',
      status: over.length ? 'fail' : 'pass',
      epsilon,
      message: over.length
        ? `at eps ${E(epsilon)} a constant image is inside every ball, so no model can keep more than the largest class share (${pct(share)}); ${over
            .map((c) => `${modelName(c.model)} keeps ${pct(c.accuracy)} under ${what(c)}`)
            .join(', ')}: those attacks failed, not the models resisted`
        : `at eps ${E(epsilon)} every white-box and gradient-free attack leaves at most the largest class share (${pct(share)})`,
    });
  }

  // 3. an unbounded attack (eps = the whole pixel range) reaches 100% success
  for (const epsilon of [...new Set(inBall.map((c) => c.epsilon))].filter((e) => e >= hi - lo)) {
    const survivors = inBall.filter(
      (c) =>
        sameEps(c.epsilon, epsilon) &&
        (c.source === 'own' || c.source === 'true') &&
        // (iterative attacks: one signed step of the whole range need not fool a model)
        ITERATIVE.includes(c.attack) &&
        c.correct > 0,
    );
    push({
      check: 'unbounded-attack',
      status: survivors.length ? 'fail' : 'pass',
      epsilon,
      message: survivors.length
        ? `at eps ${E(epsilon)} any image can be reached, yet ${survivors
            .map((c) => `${what(c)} leaves ${modelName(c.model)} at ${pct(c.accuracy)}`)
            .join(', ')}`
        : `at eps ${E(epsilon)} every iterative white-box attack reaches 100% success`,
    });
  }

  // 4. iterative attacks beat single-step ones (same model, same gradient source, same eps)
  // (white-box only: a transferred single step often transfers better than an iterative one)
  const whiteBox = (c: ResultCell) => c.source === 'own' || c.source === 'true';
  for (const c of inBall.filter((x) => x.attack === 'fgsm' && whiteBox(x))) {
    const iterative = inBall.filter(
      (x) =>
        x.model === c.model &&
        x.source === c.source &&
        sameEps(x.epsilon, c.epsilon) &&
        ITERATIVE.includes(x.attack),
    );
    if (!iterative.length) continue;
    const best = iterative.reduce((a, b) => (b.accuracy! < a.accuracy! ? b : a));
    const bad = best.accuracy! > c.accuracy! + ORDER_TOLERANCE;
    if (bad || c.epsilon === Math.max(...inBall.map((x) => x.epsilon))) {
      push({
        check: 'iterative-beats-single-step',
        status: bad ? 'fail' : 'pass',
        model: c.model,
        epsilon: c.epsilon,
        message: `${modelName(c.model)}, ${c.source}: FGSM ${pct(c.accuracy)}, best iterative (${best.attack}) ${pct(best.accuracy)}${bad ? ': the single step is stronger, so the iterative attacks are not converging' : ''}`,
      });
    }
  }
  // (one 'pass' line per model and source is enough; failures are listed one by one)
  dedupePasses(out, 'iterative-beats-single-step');

  // 5. accuracy falls (or stays) as eps grows, for every attack and for the worst case
  const series = new Map<string, ResultCell[]>();
  for (const c of inBall.filter((x) => whiteBox(x) || x.source === 'none')) {
    const k = `${c.model}|${cellTag(c)}`;
    series.set(k, [...(series.get(k) ?? []), c]);
  }
  const rises: string[] = [];
  for (const cells of series.values()) {
    const sorted = [...cells].sort((a, b) => a.epsilon - b.epsilon);
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!;
      const b = sorted[i]!;
      if (b.accuracy! > a.accuracy! + ORDER_TOLERANCE)
        rises.push(
          `${modelName(b.model)} under ${what(b)}: ${pct(a.accuracy)} at eps ${E(a.epsilon)}, ${pct(b.accuracy)} at eps ${E(b.epsilon)}`,
        );
    }
  }
  // ... and the per-example worst case over every in-ball attack, per model
  const worst = new Map<string, RobustRecord[]>();
  for (const r of input.robust.filter((x) => x.label === 'every in-ball attack')) {
    worst.set(r.model, [...(worst.get(r.model) ?? []), r]);
  }
  for (const recs of worst.values()) {
    const sorted = [...recs].sort((a, b) => a.epsilon - b.epsilon);
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!;
      const b = sorted[i]!;
      if (a.accuracy != null && b.accuracy != null && b.accuracy > a.accuracy + ORDER_TOLERANCE)
        rises.push(
          `${modelName(b.model)}'s robust accuracy (every in-ball attack): ${pct(a.accuracy)} at eps ${E(a.epsilon)}, ${pct(b.accuracy)} at eps ${E(b.epsilon)}`,
        );
    }
  }
  push({
    check: 'monotone-in-eps',
    status: rises.length ? 'fail' : 'pass',
    message: rises.length
      ? `accuracy rises with eps: ${rises.slice(0, 5).join('; ')}${rises.length > 5 ? `; and ${rises.length - 5} more` : ''}`
      : `accuracy never rises with eps (by more than ${pct(ORDER_TOLERANCE)}) over ${series.size} attack series and ${worst.size} models' robust accuracy`,
  });

  // 6. more steps and more restarts do not help (the evaluation has converged)
  for (const curve of input.curves) {
    const pts = curve.points;
    if (pts.length < 2) continue;
    const last = pts[pts.length - 1]!;
    const prev = pts[pts.length - 2]!;
    const drop = prev.accuracy - last.accuracy;
    const check = curve.parameter === 'steps' ? 'steps-converged' : 'restarts-converged';
    push({
      check,
      status: drop > 2 * ORDER_TOLERANCE ? 'warn' : 'pass',
      model: curve.model,
      epsilon: curve.epsilon,
      message: `${modelName(curve.model)}, ${curve.source}, ${curve.attack}: ${pts
        .map((p) => `${p.value} ${curve.parameter}: ${pct(p.accuracy)}`)
        .join(
          ', ',
        )}${drop > 2 * ORDER_TOLERANCE ? ` — ${last.value} ${curve.parameter} still take ${pct(drop)} more than ${prev.value}: fewer are not converged` : ''}`,
    });
  }

  // 7. zero and non-finite input gradients, per model and gradient source (a transfer cell
  // carries the counts of the model its examples were crafted on, already counted on that
  // model's own cell: not this model's gradient)
  const flagged = new Map<string, { zero: number; nonFinite: number; cells: number; n: number }>();
  for (const c of audit) {
    if (c.zeroGradient === undefined || c.source.startsWith('transfer:')) continue;
    const k = `${c.model}|${c.source}`;
    const f = flagged.get(k) ?? { zero: 0, nonFinite: 0, cells: 0, n: 0 };
    f.zero = Math.max(f.zero, c.zeroGradient);
    f.nonFinite = Math.max(f.nonFinite, c.nonFiniteGradient ?? 0);
    f.cells++;
    f.n = c.n;
    flagged.set(k, f);
  }
  for (const [k, f] of flagged) {
    const [model, source] = k.split('|') as [string, string];
    const bad = f.zero > 0 || f.nonFinite > 0;
    push({
      check: 'gradient-flags',
      status: f.nonFinite > 0 ? 'fail' : bad ? 'warn' : 'pass',
      model,
      message: `${modelName(model)}, ${source} gradient, ${f.cells} cells: at most ${f.zero} of ${f.n} examples had an exactly-zero input gradient at some step, ${f.nonFinite} a non-finite one`,
    });
  }

  // 8-10. paired comparisons: the own path against no information (random noise), and every
  // white-box attack against the gradient-free and transfer attacks that need no gradient
  for (const cmp of input.comparisons) {
    const significant = cmp.pValue < SIGNIFICANCE;
    const stat = `${pct(cmp.accuracyA)} vs ${pct(cmp.accuracyB)}, ${cmp.onlyA} vs ${cmp.onlyB} discordant examples of ${cmp.n}, McNemar p = ${formatP(cmp.pValue)}`;
    const at = ` at eps ${E(cmp.epsilon)}`;
    if (cmp.label === 'own path vs random noise') {
      // (both at 0: the eps is large enough for anything; nothing to tell apart)
      const lower = cmp.accuracyA < cmp.accuracyB;
      const better = (lower && significant) || cmp.accuracyA === 0;
      push({
        check: 'beats-random-noise',
        status: better ? 'pass' : lower ? 'warn' : 'fail',
        model: cmp.model,
        epsilon: cmp.epsilon,
        message: `${modelName(cmp.model)}'s own-path attacks vs random-sign noise of the same radius${at}: ${stat}${better ? '' : lower ? ': better than noise, but not significantly on these images' : ': its backward path guides the attack no better than no information'}`,
      });
    } else if (cmp.label.endsWith('vs Square') || cmp.label.endsWith('vs BP-surrogate transfer')) {
      const beaten = cmp.accuracyB < cmp.accuracyA - ORDER_TOLERANCE && significant;
      const kind = cmp.label.endsWith('vs Square') ? 'gradient-free' : 'transfer';
      push({
        check: `${kind}-vs-white-box`,
        status: beaten ? 'fail' : 'pass',
        model: cmp.model,
        epsilon: cmp.epsilon,
        message: `${cmp.label} on ${modelName(cmp.model)}${at}: ${stat}${beaten ? `: an attack without the white-box gradient does better, the mark of gradient masking in the ${cmp.label.split(' vs ')[0]}` : ''}`,
      });
    }
  }
  return out;
}

/** Keeps failures, and one pass per (check, model). */
function dedupePasses(out: CheckRecord[], check: string): void {
  const seen = new Set<string>();
  for (let i = out.length - 1; i >= 0; i--) {
    const r = out[i]!;
    if (r.check !== check || r.status !== 'pass') continue;
    const k = `${r.model}|${r.message.split(':')[0]}`;
    if (seen.has(k)) out.splice(i, 1);
    else seen.add(k);
  }
}
