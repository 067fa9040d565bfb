import {
  type CheckRecord,
  type ComparisonRecord,
  type CurveRecord,
  type ResultCell,
  resultCell,
  robustRecord,
} from '@fa-robust/metrics';
import { describe, expect, it } from 'vitest';
import { auditComparisons } from './assemble.js';
import { type CheckInput, sanityChecks } from './checks.js';
import type { StepOutput } from './steps.js';

interface CellSpec {
  dataset?: string;
  model?: string;
  attack: string;
  variant?: string;
  /** Default 'own'. */
  source?: string;
  eps: number;
  /** Default 10. */
  n?: number;
  /** Examples correct after the attack (the first ones). */
  correct: number;
  /** Default true. */
  inBall?: boolean;
  /** Default true. */
  inBounds?: boolean;
  /** Every example's L-inf perturbation; default eps. */
  linf?: number;
  outOfBounds?: number;
  gradient?: { zero: number; nonFinite: number };
}

const cell = (s: CellSpec): ResultCell => {
  const n = s.n ?? 10;
  const adversarial = new Uint8Array(n);
  adversarial.fill(1, 0, s.correct);
  return resultCell({
    dataset: s.dataset ?? 'mnist',
    model: s.model ?? 'fa',
    attack: s.attack,
    ...(s.variant ? { variant: s.variant } : {}),
    epsilon: s.eps,
    source: s.source ?? 'own',
    cleanCorrect: new Uint8Array(n).fill(1),
    adversarialCorrect: adversarial,
    perturbation: {
      linf: new Float64Array(n).fill(s.linf ?? s.eps),
      l2: new Float64Array(n).fill(1),
      outOfBounds: s.outOfBounds ?? 0,
    },
    threat: { inBall: s.inBall ?? true, inBounds: s.inBounds ?? true },
    ...(s.gradient ? { gradient: s.gradient } : {}),
  });
};

/** An input of 10 audit images whose largest class has 3. */
const input = (over: Partial<CheckInput>): CheckInput => ({
  dataset: 'mnist',
  cells: [],
  auditCells: [],
  robust: [],
  comparisons: [],
  curves: [],
  labels: { n: 10, largestClass: 3 },
  ...over,
});

const run = (over: Partial<CheckInput>) => sanityChecks(input(over));
const only = (records: CheckRecord[], check: string) => records.filter((r) => r.check === check);
/** The one record of `check` (and that there is exactly one). */
const one = (records: CheckRecord[], check: string): CheckRecord => {
  const found = only(records, check);
  expect(found, check).toHaveLength(1);
  return found[0]!;
};

/** Two-sided exact McNemar p-value by brute force: P(X at least as far from n/2 as k), X ~ Bin(n, 1/2). */
function mcnemarReference(onlyA: number, onlyB: number): number {
  const n = onlyA + onlyB;
  const choose = (m: number, k: number) => {
    let r = 1n;
    for (let i = 1; i <= k; i++) r = (r * BigInt(m - k + i)) / BigInt(i);
    return r;
  };
  const far = Math.abs(onlyA - n / 2);
  let sum = 0n;
  for (let i = 0; i <= n; i++) if (Math.abs(i - n / 2) >= far) sum += choose(n, i);
  return Number(sum) / 2 ** n;
}

/** A comparison record from its counts (correctB - correctA must be onlyB - onlyA). */
const comparison = (
  label: string,
  c: { model?: string; eps?: number; n: number; correctA: number; correctB: number },
  onlyA: number,
  onlyB: number,
): ComparisonRecord => {
  expect(c.correctB - c.correctA).toBe(onlyB - onlyA);
  return {
    dataset: 'mnist',
    model: c.model ?? 'fa',
    epsilon: c.eps ?? 0.1,
    label,
    a: ['bim/own'],
    b: ['noise/none'],
    n: c.n,
    onlyA,
    onlyB,
    accuracyA: c.correctA / c.n,
    accuracyB: c.correctB / c.n,
    pValue: mcnemarReference(onlyA, onlyB),
  };
};

const curve = (
  c: Pick<CurveRecord, 'model' | 'source' | 'parameter'> & { eps?: number },
  points: [value: number, accuracy: number][],
): CurveRecord => ({
  dataset: 'mnist',
  model: c.model,
  source: c.source,
  attack: 'pgd',
  epsilon: c.eps ?? 0.3,
  parameter: c.parameter,
  points: points.map(([value, accuracy]) => ({
    value,
    n: 100,
    correct: Math.round(accuracy * 100),
    accuracy,
    accuracyInterval: [0, 1],
  })),
});

describe('sanityChecks', () => {
  it('tags every record with the dataset, and gives in-ball and monotone-in-eps even with no cells', () => {
    const records = run({});
    expect(records.map((r) => [r.dataset, r.check, r.status])).toEqual([
      ['mnist', 'in-ball', 'pass'],
      ['mnist', 'monotone-in-eps', 'pass'],
    ]);
  });

  describe('in-ball', () => {
    it('passes when every audit attack cell stays in its ball and in range (clean and eps-0 cells aside)', () => {
      const r = one(
        run({
          auditCells: [
            cell({ attack: 'bim', eps: 0.1, correct: 5 }),
            cell({ attack: 'fgsm', eps: 0.1, correct: 6 }),
            cell({ attack: 'none', source: 'none', eps: 0, correct: 9, inBall: false }),
            cell({ attack: 'bim', eps: 0, correct: 9, inBounds: false }),
          ],
        }),
        'in-ball',
      );
      expect(r.status).toBe('pass');
      expect(r.message).toBe(
        'all 2 audit cells stay inside their L-inf ball and the pixel range [0, 1]',
      );
    });

    it('fails on an audit cell outside its ball or the pixel range, with how far it went', () => {
      const r = one(
        run({
          auditCells: [
            cell({ attack: 'fgsm', eps: 0.1, correct: 6 }),
            cell({ attack: 'mifgsm', eps: 0.1, correct: 1, inBall: false, linf: 0.18 }),
            cell({ attack: 'bim', eps: 0.1, correct: 2, inBounds: false, outOfBounds: 2 }),
          ],
          bounds: [0, 1],
        }),
        'in-ball',
      );
      expect(r.status).toBe('fail');
      expect(r.message).toBe(
        '2 audit cells leave the ball or the pixel range (e.g. mifgsm on fa at eps 0.1, L-inf up to 0.180); they are left out of every verdict',
      );
    });
  });

  describe('paper-rules-out-of-ball', () => {
    it('says nothing when the paper-variant cells stay in their ball and range', () => {
      const records = run({
        cells: [
          cell({ attack: 'bim', variant: 'paper', eps: 0.1, correct: 3 }),
          // not the paper's rules (the in-ball check reads audit cells), and no attack at eps 0
          cell({ attack: 'mifgsm', variant: 'standard', eps: 0.1, correct: 3, inBall: false }),
          cell({ attack: 'fgsm', variant: 'paper', eps: 0, correct: 9, inBall: false }),
        ],
      });
      expect(only(records, 'paper-rules-out-of-ball')).toEqual([]);
    });

    it('warns, per attack at its farthest (relative to eps), where the paper rules leave the threat model', () => {
      const r = one(
        run({
          cells: [
            cell({
              attack: 'mifgsm',
              variant: 'paper',
              eps: 0.1,
              correct: 3,
              inBall: false,
              linf: 0.15,
            }),
            cell({
              attack: 'mifgsm',
              variant: 'paper',
              eps: 0.3,
              correct: 1,
              inBall: false,
              linf: 0.6,
            }),
            cell({
              attack: 'fgsm',
              variant: 'paper',
              eps: 0.1,
              correct: 4,
              inBounds: false,
              outOfBounds: 3,
            }),
            cell({ attack: 'bim', variant: 'paper', eps: 0.1, correct: 2 }),
          ],
        }),
        'paper-rules-out-of-ball',
      );
      expect(r.status).toBe('warn');
      expect(r.message).toBe(
        "the paper's update rules leave the threat model: mifgsm reaches L-inf 0.60 at eps 0.3; fgsm stays in its ball, 3 of 10 examples outside [0, 1]; their cells are drawn as the paper's figures and feed no verdict",
      );
    });
  });

  describe('constant-image-bound', () => {
    // 10 images, 3 of the largest class: at eps 0.5 no model keeps more than 3 correct
    const within = [
      cell({ attack: 'bim', eps: 0.5, correct: 3 }),
      cell({ attack: 'autoattack', source: 'true', eps: 0.5, correct: 2 }),
      cell({ attack: 'square', source: 'none', eps: 0.5, correct: 3 }),
      // exempt: transferred examples, random noise, and a cell outside the threat model
      cell({ attack: 'fgsm', source: 'transfer:bp-surrogate', eps: 0.5, correct: 9 }),
      cell({ attack: 'noise', source: 'none', eps: 0.5, correct: 10 }),
      cell({ attack: 'mifgsm', eps: 0.5, correct: 10, inBounds: false }),
      // below half the pixel range: no bound
      cell({ attack: 'bim', eps: 0.3, correct: 8 }),
    ];

    it('passes at eps 0.5 when no white-box or gradient-free attack leaves more than the largest class', () => {
      const r = one(run({ auditCells: within }), 'constant-image-bound');
      expect(r).toMatchObject({ status: 'pass', epsilon: 0.5 });
      expect(r.message).toBe(
        'at eps 0.5 every white-box and gradient-free attack leaves at most the largest class share (30.0%)',
      );
    });

    it('fails on an attack that leaves more correct than the largest class allows', () => {
      const r = one(
        run({
          auditCells: [
            ...within,
            cell({ attack: 'square', source: 'none', eps: 0.5, correct: 4 }),
            cell({ model: 'bp', attack: 'bim', source: 'own', eps: 0.5, correct: 5 }),
          ],
        }),
        'constant-image-bound',
      );
      expect(r).toMatchObject({ status: 'fail', epsilon: 0.5 });
      expect(r.message).toBe(
        'at eps 0.5 a constant image is inside every ball, so no model can keep more than the largest class share (30.0%); FA keeps 40.0% under square (none), BP keeps 50.0% under bim: those attacks failed, not the models resisted',
      );
    });

    it("scales the bound to a cell's own number of images, and follows the pixel range", () => {
      // 5 of the 10 images: at most 1.5 correct
      const r = one(
        run({ auditCells: [cell({ attack: 'bim', eps: 0.5, n: 5, correct: 2 })] }),
        'constant-image-bound',
      );
      expect(r.status).toBe('fail');
      // pixels in [-1, 1]: the constant image is in the ball from eps 1 on
      const wide = run({
        auditCells: [
          cell({ attack: 'bim', eps: 0.5, correct: 9 }),
          cell({ attack: 'bim', eps: 1, correct: 1 }),
        ],
        bounds: [-1, 1],
      });
      expect(only(wide, 'constant-image-bound').map((x) => [x.epsilon, x.status])).toEqual([
        [1, 'pass'],
      ]);
    });
  });

  describe('unbounded-attack', () => {
    const beaten = [
      cell({ attack: 'fgsm', eps: 1, correct: 0 }),
      cell({ attack: 'bim', source: 'true', eps: 1, correct: 0 }),
      // not white-box: exempt
      cell({ attack: 'fgsm', source: 'transfer:bp', eps: 1, correct: 5 }),
      cell({ attack: 'square', source: 'none', eps: 1, correct: 2 }),
    ];

    it('passes at eps 1 when every white-box attack leaves no example correct', () => {
      const r = one(run({ auditCells: beaten }), 'unbounded-attack');
      expect(r).toMatchObject({ status: 'pass', epsilon: 1 });
      expect(r.message).toBe('at eps 1 every iterative white-box attack reaches 100% success');
    });

    it('fails on an own-path attack that leaves an example correct at eps 1', () => {
      const r = one(
        run({ auditCells: [...beaten, cell({ model: 'bp', attack: 'bim', eps: 1, correct: 1 })] }),
        'unbounded-attack',
      );
      expect(r).toMatchObject({ status: 'fail', epsilon: 1 });
      expect(r.message).toBe('at eps 1 any image can be reached, yet bim leaves BP at 10.0%');
    });

    it('asks it of the iterative attacks only: one signed step of the whole range need not fool', () => {
      const r = one(
        run({ auditCells: [...beaten, cell({ model: 'bp', attack: 'fgsm', eps: 1, correct: 3 })] }),
        'unbounded-attack',
      );
      expect(r.status).toBe('pass');
    });

    it('is not run below the whole pixel range', () => {
      const records = run({ auditCells: [cell({ attack: 'bim', eps: 0.3, correct: 5 })] });
      expect(only(records, 'unbounded-attack')).toEqual([]);
    });
  });

  describe('iterative-beats-single-step', () => {
    const n = 20;
    const at = (attack: string, eps: number, correct: number, source = 'own') =>
      cell({ attack, source, eps, n, correct });

    it('fails where FGSM beats every iterative attack by more than a point, and passes once at the largest eps', () => {
      const records = run({
        auditCells: [
          // eps 0.1: FGSM 20%, BIM 40%, APGD 35%
          at('fgsm', 0.1, 4),
          at('bim', 0.1, 8),
          at('apgd', 0.1, 7),
          // eps 0.2 fine, and not the largest eps: no line
          at('fgsm', 0.2, 10),
          at('bim', 0.2, 2),
          // eps 0.3, the largest: a pass for the own path and one for the true gradient
          at('fgsm', 0.3, 6),
          at('bim', 0.3, 1),
          at('fgsm', 0.3, 5, 'true'),
          at('autoattack', 0.3, 0, 'true'),
          // a transferred pair is not checked (a transferred single step often transfers better)
          at('fgsm', 0.3, 2, 'transfer:bp-surrogate'),
          at('bim', 0.3, 10, 'transfer:bp-surrogate'),
          // FGSM with no iterative attack to compare
          cell({ model: 'bp', attack: 'fgsm', eps: 0.3, n, correct: 3 }),
        ],
      });
      expect(
        only(records, 'iterative-beats-single-step').map((r) => [
          r.status,
          r.model,
          r.epsilon,
          r.message,
        ]),
      ).toEqual([
        [
          'fail',
          'fa',
          0.1,
          'FA, own: FGSM 20.0%, best iterative (apgd) 35.0%: the single step is stronger, so the iterative attacks are not converging',
        ],
        ['pass', 'fa', 0.3, 'FA, own: FGSM 30.0%, best iterative (bim) 5.0%'],
        ['pass', 'fa', 0.3, 'FA, true: FGSM 25.0%, best iterative (autoattack) 0.0%'],
      ]);
    });

    it('allows a difference within a point', () => {
      const records = run({
        auditCells: [
          cell({ attack: 'fgsm', eps: 0.1, n: 200, correct: 40 }),
          cell({ attack: 'bim', eps: 0.1, n: 200, correct: 41 }),
        ],
      });
      expect(one(records, 'iterative-beats-single-step').status).toBe('pass');
    });
  });

  describe('monotone-in-eps', () => {
    const n = 200;
    it('passes when no series rises with eps by more than a point', () => {
      const r = one(
        run({
          auditCells: [
            cell({ attack: 'bim', eps: 0.3, n, correct: 81 }),
            cell({ attack: 'bim', eps: 0.1, n, correct: 100 }),
            cell({ attack: 'bim', eps: 0.2, n, correct: 80 }),
            cell({ attack: 'square', source: 'none', eps: 0.1, n, correct: 120 }),
            cell({ attack: 'square', source: 'none', eps: 0.3, n, correct: 100 }),
            // transferred examples are not a series here
            cell({ attack: 'fgsm', source: 'transfer:bp', eps: 0.1, n, correct: 20 }),
            cell({ attack: 'fgsm', source: 'transfer:bp', eps: 0.3, n, correct: 180 }),
          ],
        }),
        'monotone-in-eps',
      );
      expect(r.status).toBe('pass');
      expect(r.message).toBe(
        "accuracy never rises with eps (by more than 1.0%) over 2 attack series and 0 models' robust accuracy",
      );
    });

    it("fails when a model's per-example worst case over every in-ball attack rises with eps", () => {
      const rec = (epsilon: number, correct: number) =>
        robustRecord({
          dataset: 'mnist',
          model: 'fa',
          epsilon,
          label: 'every in-ball attack',
          correct: { 'bim/own': Uint8Array.from({ length: 100 }, (_, i) => (i < correct ? 1 : 0)) },
        });
      const r = one(run({ robust: [rec(0.3, 40), rec(0.1, 50), rec(0.2, 20)] }), 'monotone-in-eps');
      expect(r.status).toBe('fail');
      expect(r.message).toBe(
        "accuracy rises with eps: FA's robust accuracy (every in-ball attack): 20.0% at eps 0.2, 40.0% at eps 0.3",
      );
    });

    it('fails on a white-box or gradient-free attack whose accuracy rises with eps', () => {
      const r = one(
        run({
          auditCells: [
            cell({ attack: 'bim', eps: 0.3, n, correct: 100 }),
            cell({ attack: 'bim', eps: 0.1, n, correct: 60 }),
            cell({ attack: 'square', source: 'none', eps: 0.1, n, correct: 80 }),
            cell({ attack: 'square', source: 'none', eps: 0.3, n, correct: 90 }),
          ],
        }),
        'monotone-in-eps',
      );
      expect(r.status).toBe('fail');
      expect(r.message).toBe(
        'accuracy rises with eps: FA under bim: 30.0% at eps 0.1, 50.0% at eps 0.3; FA under square (none): 40.0% at eps 0.1, 45.0% at eps 0.3',
      );
    });

    it('lists five rises and counts the rest', () => {
      const cells = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'].flatMap((model) => [
        cell({ model, attack: 'bim', eps: 0.1, correct: 1 }),
        cell({ model, attack: 'bim', eps: 0.2, correct: 5 }),
      ]);
      const r = one(run({ auditCells: cells }), 'monotone-in-eps');
      expect(r.status).toBe('fail');
      expect(r.message.match(/under bim/g)).toHaveLength(5);
      expect(r.message).toMatch(/^accuracy rises with eps: M1 under bim: 10\.0% at eps 0\.1/);
      expect(r.message).toMatch(/; and 2 more$/);
    });
  });

  describe('steps-converged and restarts-converged', () => {
    it('warns where the last budget takes 2+ more points than the one before, and passes otherwise', () => {
      const records = run({
        curves: [
          curve({ model: 'fa', source: 'own', parameter: 'steps' }, [
            [10, 0.5],
            [50, 0.45],
            [100, 0.42],
          ]),
          curve({ model: 'fa', source: 'true', parameter: 'steps' }, [
            [10, 0.3],
            [100, 0.29],
          ]),
          curve({ model: 'bp', source: 'own', parameter: 'restarts' }, [
            [1, 0.2],
            [10, 0.1],
          ]),
          curve({ model: 'bp', source: 'own', parameter: 'restarts', eps: 0.1 }, [
            [1, 0.6],
            [10, 0.6],
          ]),
          // one point: nothing to compare
          curve({ model: 'fa', source: 'own', parameter: 'restarts' }, [[1, 0.4]]),
        ],
      });
      const lines = records
        .filter((r) => r.check.endsWith('-converged'))
        .map((r) => [r.check, r.status, r.model, r.epsilon, r.message]);
      expect(lines).toEqual([
        [
          'steps-converged',
          'warn',
          'fa',
          0.3,
          'FA, own, pgd: 10 steps: 50.0%, 50 steps: 45.0%, 100 steps: 42.0% — 100 steps still take 3.0% more than 50: fewer are not converged',
        ],
        ['steps-converged', 'pass', 'fa', 0.3, 'FA, true, pgd: 10 steps: 30.0%, 100 steps: 29.0%'],
        [
          'restarts-converged',
          'warn',
          'bp',
          0.3,
          'BP, own, pgd: 1 restarts: 20.0%, 10 restarts: 10.0% — 10 restarts still take 10.0% more than 1: fewer are not converged',
        ],
        [
          'restarts-converged',
          'pass',
          'bp',
          0.1,
          'BP, own, pgd: 1 restarts: 60.0%, 10 restarts: 60.0%',
        ],
      ]);
    });
  });

  describe('gradient-flags', () => {
    const flags = (zero: number, nonFinite: number) => ({ zero, nonFinite });

    it('passes, warns on zero gradients and fails on non-finite ones, per model and gradient source', () => {
      const records = run({
        auditCells: [
          cell({ attack: 'fgsm', eps: 0.1, correct: 5, gradient: flags(0, 0) }),
          cell({ attack: 'bim', eps: 0.1, correct: 4, gradient: flags(0, 0) }),
          cell({ attack: 'fgsm', source: 'true', eps: 0.1, correct: 3, gradient: flags(3, 0) }),
          cell({ attack: 'bim', source: 'true', eps: 0.3, correct: 1, gradient: flags(1, 0) }),
          cell({ model: 'bp', attack: 'bim', eps: 0.1, correct: 2, gradient: flags(0, 2) }),
          cell({
            model: 'bp-surrogate',
            attack: 'bim',
            eps: 0.1,
            correct: 0,
            gradient: flags(0, 0),
          }),
          // gradient-free: no flags, no record
          cell({ attack: 'square', source: 'none', eps: 0.1, correct: 6 }),
        ],
      });
      expect(only(records, 'gradient-flags').map((r) => [r.status, r.model, r.message])).toEqual([
        [
          'pass',
          'fa',
          'FA, own gradient, 2 cells: at most 0 of 10 examples had an exactly-zero input gradient at some step, 0 a non-finite one',
        ],
        [
          'warn',
          'fa',
          'FA, true gradient, 2 cells: at most 3 of 10 examples had an exactly-zero input gradient at some step, 0 a non-finite one',
        ],
        [
          'fail',
          'bp',
          'BP, own gradient, 1 cells: at most 0 of 10 examples had an exactly-zero input gradient at some step, 2 a non-finite one',
        ],
        [
          'pass',
          'bp-surrogate',
          'the BP surrogate, own gradient, 1 cells: at most 0 of 10 examples had an exactly-zero input gradient at some step, 0 a non-finite one',
        ],
      ]);
    });

    it("does not charge a transfer target with the crafting model's gradient flags", () => {
      // a step's transfer cells carry the source model's counts (steps.ts): FA's, not BP's
      const records = run({
        auditCells: [
          cell({ attack: 'bim', eps: 0.1, correct: 5, gradient: flags(4, 1) }),
          cell({
            model: 'bp',
            attack: 'bim',
            source: 'transfer:fa',
            eps: 0.1,
            correct: 9,
            gradient: flags(4, 1),
          }),
        ],
      });
      expect(only(records, 'gradient-flags').map((r) => [r.status, r.model])).toEqual([
        ['fail', 'fa'],
      ]);
    });
  });

  describe('beats-random-noise', () => {
    const label = 'own path vs random noise';

    it('passes when the own path is significantly below noise, warns when lower but not significant, fails when not lower', () => {
      const records = run({
        comparisons: [
          comparison(label, { n: 10, correctA: 2, correctB: 9 }, 0, 7),
          comparison(label, { eps: 0.2, n: 10, correctA: 6, correctB: 10 }, 1, 5),
          comparison(label, { model: 'bp', n: 10, correctA: 9, correctB: 9 }, 1, 1),
        ],
      });
      expect(
        only(records, 'beats-random-noise').map((r) => [r.status, r.model, r.epsilon, r.message]),
      ).toEqual([
        [
          'pass',
          'fa',
          0.1,
          // p = 2 / 2^7
          "FA's own-path attacks vs random-sign noise of the same radius at eps 0.1: 20.0% vs 90.0%, 0 vs 7 discordant examples of 10, McNemar p = 0.016",
        ],
        [
          'warn',
          'fa',
          0.2,
          // p = 2 (1 + 6) / 2^6 = 0.21875
          "FA's own-path attacks vs random-sign noise of the same radius at eps 0.2: 60.0% vs 100.0%, 1 vs 5 discordant examples of 10, McNemar p = 0.22: better than noise, but not significantly on these images",
        ],
        [
          'fail',
          'bp',
          0.1,
          "BP's own-path attacks vs random-sign noise of the same radius at eps 0.1: 90.0% vs 90.0%, 1 vs 1 discordant examples of 10, McNemar p = 1.0: its backward path guides the attack no better than no information",
        ],
      ]);
    });

    it('reads the comparisons auditComparisons makes from the masks (CIFAR-10 eps as k/255)', () => {
      const eps = 8 / 255;
      const n = 12;
      const ones = (k: number) => Uint8Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));
      const outputs: StepOutput[] = [
        ['bim', 'own', 2],
        ['noise', 'none', 11],
      ].map(([attack, source, k]) => {
        const c = cell({
          dataset: 'cifar10',
          attack: attack as string,
          source: source as string,
          eps,
          n,
          correct: k as number,
        });
        return { cells: [c], masks: [ones(k as number)] };
      });
      const comparisons = auditComparisons(
        'cifar10',
        'fa',
        outputs,
        [{ role: 'audit' }, { role: 'audit' }],
        [eps],
        n,
      );
      const r = one(
        sanityChecks(input({ dataset: 'cifar10', comparisons, labels: { n, largestClass: 2 } })),
        'beats-random-noise',
      );
      expect(r.dataset).toBe('cifar10');
      expect(r.status).toBe('pass');
      // 9 discordant, all for the noise: p = 2 / 2^9
      expect(r.message).toBe(
        "FA's own-path attacks vs random-sign noise of the same radius at eps 8/255: 16.7% vs 91.7%, 0 vs 9 discordant examples of 12, McNemar p = 0.0039",
      );
    });
  });

  describe('gradient-free-vs-white-box and transfer-vs-white-box', () => {
    it('fails only where the attack without the gradient is significantly (and by more than a point) better', () => {
      const records = run({
        comparisons: [
          // 80% vs 30%, p = 2 / 2^10: fail
          comparison('own path vs Square', { n: 20, correctA: 16, correctB: 6 }, 10, 0),
          // 35% vs 15%, p = 0.21875: not significant
          comparison('AutoAttack vs Square', { n: 20, correctA: 7, correctB: 3 }, 5, 1),
          // Square is weaker: significant, the other way
          comparison(
            'own path vs Square',
            { model: 'bp', n: 20, correctA: 2, correctB: 12 },
            0,
            10,
          ),
          // 16 of 2000 lower (0.8 points), significant, but within a point
          comparison(
            'AutoAttack vs Square',
            { model: 'bp', n: 2000, correctA: 1000, correctB: 984 },
            16,
            0,
          ),
          comparison(
            'own path vs BP-surrogate transfer',
            { n: 20, correctA: 16, correctB: 6 },
            10,
            0,
          ),
          comparison(
            'AutoAttack vs BP-surrogate transfer',
            { n: 20, correctA: 3, correctB: 5 },
            0,
            2,
          ),
          // another comparison: no check of these two
          comparison('own path vs true gradient', { n: 20, correctA: 16, correctB: 0 }, 16, 0),
        ],
      });
      const pick = (check: string) =>
        only(records, check).map((r) => [r.status, r.model, r.epsilon, r.message]);
      expect(pick('gradient-free-vs-white-box')).toEqual([
        [
          'fail',
          'fa',
          0.1,
          'own path vs Square on FA at eps 0.1: 80.0% vs 30.0%, 10 vs 0 discordant examples of 20, McNemar p = 0.0020: an attack without the white-box gradient does better, the mark of gradient masking in the own path',
        ],
        [
          'pass',
          'fa',
          0.1,
          'AutoAttack vs Square on FA at eps 0.1: 35.0% vs 15.0%, 5 vs 1 discordant examples of 20, McNemar p = 0.22',
        ],
        [
          'pass',
          'bp',
          0.1,
          'own path vs Square on BP at eps 0.1: 10.0% vs 60.0%, 0 vs 10 discordant examples of 20, McNemar p = 0.0020',
        ],
        [
          'pass',
          'bp',
          0.1,
          'AutoAttack vs Square on BP at eps 0.1: 50.0% vs 49.2%, 16 vs 0 discordant examples of 2000, McNemar p = 3.1e-5',
        ],
      ]);
      expect(pick('transfer-vs-white-box')).toEqual([
        [
          'fail',
          'fa',
          0.1,
          'own path vs BP-surrogate transfer on FA at eps 0.1: 80.0% vs 30.0%, 10 vs 0 discordant examples of 20, McNemar p = 0.0020: an attack without the white-box gradient does better, the mark of gradient masking in the own path',
        ],
        [
          'pass',
          'fa',
          0.1,
          'AutoAttack vs BP-surrogate transfer on FA at eps 0.1: 15.0% vs 25.0%, 0 vs 2 discordant examples of 20, McNemar p = 0.50',
        ],
      ]);
      // an AutoAttack failure names AutoAttack as the masked one
      const aa = one(
        run({
          comparisons: [
            comparison('AutoAttack vs Square', { n: 20, correctA: 16, correctB: 6 }, 10, 0),
          ],
        }),
        'gradient-free-vs-white-box',
      );
      expect(aa.status).toBe('fail');
      expect(aa.message).toMatch(/the mark of gradient masking in the AutoAttack$/);
      // the label that is not one of these checks gives none
      expect(records.filter((r) => r.message.startsWith('own path vs true gradient'))).toEqual([]);
    });
  });
});
