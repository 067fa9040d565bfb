import { createResults, type ResultCell, resultCell } from '@fa-robust/metrics';
import { describe, expect, it } from 'vitest';
import { auditComparisons, auditRobustRecords } from './assemble.js';
import { checkClaims, renderReport } from './report.js';
import type { StepOutput } from './steps.js';
import { auditVerdict, verdictLabel } from './verdict.js';

const N = 200;
/** The first `k` of N examples correct (so two masks overlap as much as they can). */
const firstK = (k: number) => Uint8Array.from({ length: N }, (_, i) => (i < k ? 1 : 0));

interface Spec {
  model: string;
  attack: string;
  source: string;
  epsilon: number;
  /** Accuracy after the attack. */
  acc: number;
  clean?: number;
  /** The cell's perturbation stays in its ball (default true). */
  inBall?: boolean;
  variant?: string;
}

function out(s: Spec): StepOutput {
  const after = firstK(Math.round(s.acc * N));
  const c = resultCell({
    dataset: 'mnist',
    model: s.model,
    attack: s.attack,
    epsilon: s.epsilon,
    source: s.source,
    cleanCorrect: firstK(Math.round((s.clean ?? 0.98) * N)),
    adversarialCorrect: after,
    ...(s.variant ? { variant: s.variant } : {}),
    ...(s.attack === 'none' ? {} : { threat: { inBall: s.inBall ?? true, inBounds: true } }),
  });
  return { cells: [c], masks: [after] };
}

/** Results whose audit records are assembled from `specs` as the app assembles them. */
function results(specs: Spec[]) {
  return resultsOf(specs, ['fa', 'bp']);
}

function resultsOf(specs: Spec[], ids: string[]) {
  const outputs = specs.map(out);
  const steps = specs.map((s) => ({ role: s.variant === 'paper' ? 'paper' : 'audit' }) as const);
  const eps = [...new Set(specs.filter((s) => s.epsilon > 0).map((s) => s.epsilon))];
  return createResults({
    config: {
      preset: 'quick',
      seed: 1,
      attacks: { names: ['fgsm', 'bim', 'mifgsm'], epsilons: [0, 0.3] },
    },
    environment: { backend: 'wasm', versions: {} },
    models: [...ids, 'bp-surrogate'].map((id) => ({
      dataset: 'mnist',
      id,
      method: id === 'bp' || id === 'bp-surrogate' ? 'bp' : id,
    })),
    cells: outputs.flatMap((o) => o.cells) as ResultCell[],
    robust: ids.flatMap((id) => auditRobustRecords('mnist', id, outputs, steps, eps, N)),
    comparisons: ids.flatMap((id) => auditComparisons('mnist', id, outputs, steps, eps, N)),
  });
}

const clean = (model: string, acc = 0.98): Spec => ({
  model,
  attack: 'none',
  source: 'none',
  epsilon: 0,
  acc,
  clean: acc,
});
const c = (model: string, attack: string, source: string, acc: number, extra: Partial<Spec> = {}) =>
  ({ model, attack, source, epsilon: 0.3, acc, ...extra }) as Spec;

describe('audit verdict (in-ball cells, paired, McNemar)', () => {
  it('calls it gradient masking when the true gradient beats the feedback path significantly', () => {
    const r = results([
      clean('fa'),
      clean('bp'),
      c('fa', 'fgsm', 'own', 0.95),
      c('fa', 'bim', 'own', 0.9),
      c('fa', 'fgsm', 'true', 0.2),
      c('fa', 'autoattack', 'true', 0.01),
      c('fa', 'square', 'none', 0.5),
      c('fa', 'bim', 'transfer:bp-surrogate', 0.4),
    ]);
    const v = auditVerdict(r, 'mnist', 'fa');
    expect(v.verdict).toBe('gradient masking');
    const row = v.rows[0]!;
    expect(row.own!.accuracy).toBeCloseTo(0.9); // the per-example worst of FGSM and BIM
    expect(row.strongest!.check).toBe('true gradient');
    expect(row.strongest!.accuracy).toBeCloseTo(0.01);
    expect(row.gap).toBeCloseTo(0.89);
    // 178 examples correct under own and wrong under the true gradient, none the other way
    expect(row.pValue).toBeCloseTo(2 * 0.5 ** 178, 60);
    expect(row.significant).toBe(true);
    expect(v.summary).toMatch(
      /the true gradient attacks take FA to 1\.0% while its own backward path only reaches 90\.0% \(gap 89\.0% on the same 200 images/,
    );
    // FGSM ran through both: 95% own vs 20% true, the feedback path is what misleads
    expect(row.sameAttacks).toMatchObject({ a: ['fgsm/own'], b: ['fgsm/true'], onlyA: 150 });
    expect(v.masking).toBe('feedback path');
    expect(verdictLabel(v)).toBe('gradient masking (feedback path)');
    expect(v.summary).toMatch(
      /the same attacks \(FGSM\) do better through the true gradient \(20\.0% through the true gradient against 95\.0% through its backward path, McNemar p = /,
    );
  });

  it("says the loss masks, not the feedback path, when the same attacks do no better through the true gradient (WM's case)", () => {
    const specs = (trueBim: number) => [
      clean('wm'),
      clean('bp'),
      c('wm', 'fgsm', 'own', 0.905),
      c('wm', 'bim', 'own', 0.895),
      c('wm', 'apgd', 'own', 0.54),
      c('wm', 'fgsm', 'true', 0.905),
      c('wm', 'bim', 'true', trueBim),
      c('wm', 'autoattack', 'true', 0.0),
      c('wm', 'square', 'none', 0.0),
    ];
    const loss = auditVerdict(resultsOf(specs(0.895), ['wm', 'bp']), 'mnist', 'wm');
    expect(loss.verdict).toBe('gradient masking');
    const same = loss.rows[0]!.sameAttacks!;
    // APGD (own) and AutoAttack (true) are not the same attack: only FGSM and BIM are paired
    expect(same.a).toEqual(['fgsm/own', 'bim/own']);
    expect(same.b).toEqual(['fgsm/true', 'bim/true']);
    expect([same.accuracyA, same.accuracyB, same.onlyA, same.onlyB]).toEqual([0.895, 0.895, 0, 0]);
    expect(loss.masking).toBe('loss');
    expect(verdictLabel(loss)).toBe('gradient masking (loss)');
    expect(loss.summary).toMatch(/not the feedback path but the attacks' loss/);
    // a true-gradient BIM that breaks it turns the same verdict into feedback-path masking
    const path = auditVerdict(resultsOf(specs(0.2), ['wm', 'bp']), 'mnist', 'wm');
    expect([path.verdict, path.masking]).toEqual(['gradient masking', 'feedback path']);
    // 9.5 points better through the true gradient (19 examples, p = 2^-18): significant but
    // under the 10 that make masking, so both the path and the loss mask (KP's case)
    const both = auditVerdict(resultsOf(specs(0.8), ['wm', 'bp']), 'mnist', 'wm');
    expect(both.rows[0]!.sameAttacks).toMatchObject({ onlyA: 19, onlyB: 0 });
    expect(both.masking).toBe('both');
    expect(verdictLabel(both)).toBe('gradient masking (feedback path and loss)');
    expect(both.summary).toMatch(/do better through the true gradient, but by 9\.5% \(/);
    // a verdict other than masking carries no source
    const robust = auditVerdict(
      resultsOf(
        [clean('wm'), clean('bp'), c('wm', 'bim', 'own', 0.9), c('wm', 'bim', 'true', 0.89)],
        ['wm', 'bp'],
      ),
      'mnist',
      'wm',
    );
    expect([robust.verdict, robust.masking, verdictLabel(robust)]).toEqual([
      'robust',
      null,
      'robust',
    ]);
  });

  it('leaves out a cell that leaves its ball: the paper MI-FGSM cannot make or break a verdict', () => {
    const r = results([
      clean('fa'),
      clean('bp'),
      c('fa', 'bim', 'own', 0.9),
      c('fa', 'mifgsm', 'own', 0.1, { inBall: false }),
      c('fa', 'bim', 'true', 0.88),
      c('fa', 'square', 'none', 0.91),
    ]);
    const v = auditVerdict(r, 'mnist', 'fa');
    expect(v.rows[0]!.own!.accuracy).toBeCloseTo(0.9);
    expect(v.rows[0]!.own!.attacks).toEqual(['bim/own']);
    expect(v.verdict).toBe('robust');
  });

  it('calls it robust when no check does much better and accuracy holds', () => {
    const r = results([
      clean('fa'),
      clean('bp'),
      c('fa', 'bim', 'own', 0.9),
      c('fa', 'bim', 'true', 0.88),
      c('fa', 'square', 'none', 0.91),
      c('fa', 'bim', 'transfer:bp-surrogate', 0.93),
    ]);
    expect(auditVerdict(r, 'mnist', 'fa').verdict).toBe('robust');
  });

  it('does not call a small gap masking, even when significant', () => {
    const r = results([
      clean('fa'),
      clean('bp'),
      c('fa', 'bim', 'own', 0.2),
      c('fa', 'bim', 'true', 0.12),
    ]);
    const v = auditVerdict(r, 'mnist', 'fa');
    expect(v.rows[0]!.significant).toBe(true);
    expect(v.verdict).toBe('not robust');
  });

  it('is inconclusive without audit cells, for a model that learned too little, and when BP itself did not learn', () => {
    expect(auditVerdict(results([clean('fa'), clean('bp')]), 'mnist', 'fa').verdict).toBe(
      'inconclusive',
    );
    const barely = results([
      clean('bp', 0.98),
      clean('fa', 0.15),
      c('fa', 'bim', 'own', 0.15, { clean: 0.15 }),
      c('fa', 'bim', 'true', 0, { clean: 0.15 }),
    ]);
    const v = auditVerdict(barely, 'mnist', 'fa');
    expect(v.verdict).toBe('inconclusive');
    expect(v.summary).toMatch(
      /only 15\.0% clean accuracy \(under 39\.3%, a third of the way from chance to BP's 98\.0%\)/,
    );
    const nothing = results([
      clean('bp', 0.12),
      clean('fa', 0.1),
      c('fa', 'bim', 'own', 0.1, { clean: 0.1 }),
      c('fa', 'bim', 'true', 0, { clean: 0.1 }),
    ]);
    expect(auditVerdict(nothing, 'mnist', 'fa').summary).toMatch(
      /reference BP model reaches only 12\.0% clean accuracy \(under 20\.0%, 2x chance\)/,
    );
  });

  it("judges a model against how much its dataset allows: 38% next to BP's 60% is trained, and kept accuracy is relative to clean", () => {
    const cifar = (fa: number, bp: number, own: number, strongest: number) =>
      results([
        clean('bp', bp),
        clean('fa', fa),
        c('fa', 'bim', 'own', own, { clean: fa }),
        c('fa', 'bim', 'true', strongest, { clean: fa }),
      ]);
    // floor 0.1 + (0.6 - 0.1) / 3 = 0.267
    expect(auditVerdict(cifar(0.38, 0.6, 0.3, 0.0), 'mnist', 'fa').verdict).toBe(
      'gradient masking',
    );
    expect(auditVerdict(cifar(0.34, 0.6, 0.3, 0.0), 'mnist', 'fa').verdict).toBe(
      'gradient masking',
    );
    expect(auditVerdict(cifar(0.25, 0.6, 0.24, 0.0), 'mnist', 'fa').verdict).toBe('inconclusive');
    // no masking; keeps 0.2 of 0.38 clean (over half): robust; 0.15 of 0.38: not robust
    expect(auditVerdict(cifar(0.38, 0.6, 0.22, 0.2), 'mnist', 'fa').verdict).toBe('robust');
    expect(auditVerdict(cifar(0.38, 0.6, 0.17, 0.15), 'mnist', 'fa').verdict).toBe('not robust');
  });
});

describe('report', () => {
  it("checks the paper's claims on in-ball cells, with the paper's rules beside them", () => {
    const holds = results([
      clean('fa'),
      clean('bp'),
      c('fa', 'fgsm', 'own', 0.97),
      c('fa', 'bim', 'own', 0.96),
      c('bp', 'bim', 'own', 0.0),
      c('bp', 'autoattack', 'own', 0.0),
      c('bp', 'bim', 'transfer:fa', 0.95),
      c('fa', 'bim', 'transfer:bp', 0.1),
      // the paper's MI-FGSM: out of its ball, judged only in the paper's column
      c('fa', 'mifgsm', 'own', 0.2, { variant: 'paper', inBall: false }),
      c('bp', 'mifgsm', 'transfer:fa', 0.07, { variant: 'paper', inBall: false }),
    ]);
    const claims = checkClaims(holds, ['mifgsm'], [0.3]);
    expect(claims.map((x) => x.holds)).toEqual([true, true, true, true]);
    expect(claims[0]!.paper!.holds).toBe(false);
    expect(claims[0]!.paper!.ours).toMatch(/20\.0%/);
    expect(claims[2]!.ours).toMatch(
      /BP's lowest accuracy on FA's own-path in-ball examples, eps up to 0\.3: 95\.0%/,
    );
    expect(claims[2]!.paper!.holds).toBe(false);
    const md = renderReport(holds, [auditVerdict(holds, 'mnist', 'fa')], {
      command: 'x',
      seconds: 60,
      figures: ['figures/a.png'],
      datasetNotes: ['mnist: 10 images'],
    });
    expect(md).toMatch(
      /\*\*Threat model\.\*\* L∞ balls of radius ε around the first 200 test images/,
    );
    expect(md).toMatch(
      /\| MNIST: BP falls to ~0% accuracy \| BP's robust accuracy at eps 0\.3 \(every in-ball attack, AutoAttack included\): 0\.0% \| yes \|/,
    );
    expect(md).toMatch(/### MNIST: \*\*inconclusive\*\*/);
    // the paper's out-of-ball cell is marked in the tables
    expect(md).toMatch(/20\.0%†/);
    expect(md).toMatch(/!\[figures\/a\.png\]\(figures\/a\.png\)/);
  });
});
