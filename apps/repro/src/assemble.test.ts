import { type ResultCell, resultCell } from '@fa-robust/metrics';
import { describe, expect, it } from 'vitest';
import {
  auditComparisons,
  auditRobustRecords,
  cellTag,
  curveRecords,
  datasetCells,
  inThreatModel,
} from './assemble.js';
import type { PlannedStep, StepRole } from './plan.js';
import type { AttackStepSpec, StepOutput } from './steps.js';

const mask = (s: string) => Uint8Array.from(s, (c) => (c === '1' ? 1 : 0));
/** `k` ones then zeros, `n` in all. */
const firstK = (n: number, k: number) => '1'.repeat(k) + '0'.repeat(n - k);

interface CellSpec {
  model?: string;
  dataset?: string;
  attack: string;
  variant?: string;
  source: string;
  eps: number;
  /** Correct after the attack, per example ('1101'). */
  correct: string;
  /** Default: both true; null: no threat information at all. */
  threat?: { inBall: boolean; inBounds: boolean } | null;
}

const cellOf = (c: CellSpec): ResultCell =>
  resultCell({
    dataset: c.dataset ?? 'mnist',
    model: c.model ?? 'fa',
    attack: c.attack,
    ...(c.variant ? { variant: c.variant } : {}),
    epsilon: c.eps,
    source: c.source,
    cleanCorrect: new Uint8Array(c.correct.length).fill(1),
    adversarialCorrect: mask(c.correct),
    ...(c.threat === null ? {} : { threat: c.threat ?? { inBall: true, inBounds: true } }),
  });

/** One step's output: its cells and their masks. */
const output = (...cells: CellSpec[]): StepOutput => ({
  cells: cells.map(cellOf),
  masks: cells.map((c) => mask(c.correct)),
});

/** Outputs and their (aligned) steps, built one step at a time. */
function plan() {
  const outputs: StepOutput[] = [];
  const steps: { role: StepRole; key: string }[] = [];
  const add = (role: StepRole, ...cells: CellSpec[]) => {
    outputs.push(output(...cells));
    steps.push({ role, key: `step-${steps.length}` });
  };
  return { outputs, steps, add };
}

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

/** The 95% Wilson score interval, written out (z = the 97.5% normal quantile). */
function wilsonReference(k: number, n: number): [number, number] {
  const z = 1.959963984540054;
  const p = k / n;
  const centre = p + (z * z) / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  const d = 1 + (z * z) / n;
  return [(centre - spread) / d, (centre + spread) / d];
}

describe('mcnemarReference (the test reference itself)', () => {
  it('matches values worked out by hand', () => {
    expect(mcnemarReference(0, 0)).toBe(1);
    expect(mcnemarReference(0, 2)).toBe(0.5); // 2 * 1/4
    expect(mcnemarReference(6, 1)).toBe(0.125); // 2 * (1 + 7) / 128
    expect(mcnemarReference(2, 2)).toBe(1);
  });
});

describe('inThreatModel and cellTag', () => {
  it('counts a cell as an eps-bounded attack only when it is known to stay in its ball and in range', () => {
    const at = (threat: CellSpec['threat']) =>
      inThreatModel(cellOf({ attack: 'bim', source: 'own', eps: 0.1, correct: '1', threat }));
    expect(at({ inBall: true, inBounds: true })).toBe(true);
    expect(at({ inBall: false, inBounds: true })).toBe(false);
    expect(at({ inBall: true, inBounds: false })).toBe(false);
    expect(at(null)).toBe(false);
  });

  it("tags 'attack/source', with the variant unless it is the standard one", () => {
    expect(cellTag({ attack: 'bim', source: 'own' })).toBe('bim/own');
    expect(cellTag({ attack: 'bim', variant: 'standard', source: 'own' })).toBe('bim/own');
    expect(cellTag({ attack: 'mifgsm', variant: 'paper', source: 'transfer:bp' })).toBe(
      'mifgsm:paper/transfer:bp',
    );
  });
});

describe('datasetCells', () => {
  const clean = output(
    { model: 'bp', attack: 'none', source: 'none', eps: 0, correct: '1111' },
    { model: 'fa', attack: 'none', source: 'none', eps: 0, correct: '1110' },
  ).cells;
  const outputs = [
    output({ attack: 'fgsm', source: 'own', eps: 0.1, correct: '1100' }),
    output({ attack: 'pgd', source: 'own', eps: 0.1, correct: '1000' }),
    output(
      { attack: 'bim', source: 'own', eps: 0.1, correct: '1000' },
      { model: 'bp', attack: 'bim', source: 'transfer:fa', eps: 0.1, correct: '1110' },
    ),
    // the same step planned again: its cells once
    output(
      { attack: 'bim', source: 'own', eps: 0.1, correct: '1000' },
      { model: 'bp', attack: 'bim', source: 'transfer:fa', eps: 0.1, correct: '1110' },
    ),
    output({ attack: 'square', source: 'none', eps: 0.1, correct: '1110' }),
  ];
  const steps: Pick<PlannedStep, 'role' | 'key'>[] = [
    { role: 'paper', key: 'a' },
    { role: 'curve', key: 'b' },
    { role: 'audit', key: 'c' },
    { role: 'audit', key: 'c' },
    { role: 'audit', key: 'd' },
  ];
  const tags = (cells: ResultCell[]) => cells.map((c) => `${c.model}:${cellTag(c)}`);

  it('gives the clean cells, then each step in plan order, without curve points or a repeated step', () => {
    expect(tags(datasetCells(clean, outputs, steps))).toEqual([
      'bp:none/none',
      'fa:none/none',
      'fa:fgsm/own',
      'fa:bim/own',
      'bp:bim/transfer:fa',
      'fa:square/none',
    ]);
  });

  it('keeps every output without steps to say what they are', () => {
    expect(datasetCells(clean, outputs)).toHaveLength(2 + 1 + 1 + 2 + 2 + 1);
  });

  it('gives a key cells the first time it is met, even after a curve point with the same key', () => {
    const cells = datasetCells([], outputs.slice(0, 2), [
      { role: 'curve', key: 'x' },
      { role: 'audit', key: 'x' },
    ]);
    expect(tags(cells)).toEqual(['fa:pgd/own']);
  });
});

describe('auditRobustRecords', () => {
  it('is per example: correct under every in-ball attack of the group', () => {
    const p = plan();
    p.add('audit', { attack: 'fgsm', source: 'own', eps: 0.1, correct: '1101' });
    p.add('audit', { attack: 'bim', source: 'own', eps: 0.1, correct: '1011' });
    const recs = auditRobustRecords('mnist', 'fa', p.outputs, p.steps, [0.1], 4);
    const every = recs.find((r) => r.label === 'every in-ball attack')!;
    // 1101 & 1011 = 1001
    expect(every.correct).toBe(2);
    expect(every.n).toBe(4);
    expect(every.accuracy).toBe(0.5);
    expect(every.attacks).toEqual(['fgsm/own', 'bim/own']);
    const [lo, hi] = wilsonReference(2, 4);
    expect(every.accuracyInterval[0]).toBeCloseTo(lo, 12);
    expect(every.accuracyInterval[1]).toBeCloseTo(hi, 12);
    expect(every.dataset).toBe('mnist');
    expect(every.model).toBe('fa');
    expect(every.epsilon).toBe(0.1);
    // both attacks are the own path: the same record under that label; nothing for empty groups
    expect(recs.map((r) => [r.label, r.correct])).toEqual([
      ['own path', 2],
      ['every in-ball attack', 2],
    ]);
  });

  it('groups the cells by label', () => {
    const p = plan();
    const eps = 0.1;
    p.add(
      'audit',
      { attack: 'fgsm', source: 'own', eps, correct: '11111100' },
      { model: 'bp', attack: 'fgsm', source: 'transfer:fa', eps, correct: '00000000' },
    );
    p.add('audit', { attack: 'bim', source: 'own', eps, correct: '11111010' });
    p.add('audit', { attack: 'fgsm', source: 'true', eps, correct: '11110000' });
    p.add('audit', { attack: 'bim', source: 'true', eps, correct: '11101000' });
    p.add(
      'audit',
      { attack: 'autoattack', source: 'true', eps, correct: '11100000' },
      { model: 'bp', attack: 'autoattack', source: 'transfer:fa:true', eps, correct: '00000000' },
    );
    p.add('audit', { attack: 'square', source: 'none', eps, correct: '11111110' });
    p.add('audit', { attack: 'noise', source: 'none', eps, correct: '11111111' });
    p.add(
      'audit',
      { model: 'bp-surrogate', attack: 'fgsm', source: 'own', eps, correct: '00000000' },
      { attack: 'fgsm', source: 'transfer:bp-surrogate', eps, correct: '11111101' },
      { model: 'bp', attack: 'fgsm', source: 'transfer:bp-surrogate', eps, correct: '10000000' },
    );
    p.add(
      'audit',
      { model: 'bp', attack: 'autoattack', source: 'own', eps, correct: '00000001' },
      { attack: 'autoattack', source: 'transfer:bp', eps, correct: '01111111' },
    );
    const fa = auditRobustRecords('mnist', 'fa', p.outputs, p.steps, [eps], 8);
    expect(fa.map((r) => [r.label, r.attacks, r.correct])).toEqual([
      ['own path', ['fgsm/own', 'bim/own'], 5], // 11111100 & 11111010 = 11111000
      ['true gradient', ['fgsm/true', 'bim/true', 'autoattack/true'], 3], // = 11100000
      ['AutoAttack', ['autoattack/true'], 3], // not FA on BP's AutoAttack examples
      ['Square', ['square/none'], 7],
      ['random noise', ['noise/none'], 8],
      ['BP-surrogate transfer', ['fgsm/transfer:bp-surrogate'], 7],
      [
        'every in-ball attack',
        [
          'fgsm/own',
          'bim/own',
          'fgsm/true',
          'bim/true',
          'autoattack/true',
          'square/none',
          'noise/none',
          'fgsm/transfer:bp-surrogate',
          'autoattack/transfer:bp',
        ],
        2, // 11100000 & 11111101 & 01111111 = 01100000
      ],
    ]);
    for (const r of fa) expect(r.accuracy).toBe(r.correct / 8);
    // BP: its own path is its AutoAttack; the transfer from FA's true gradient is not AutoAttack
    const bp = auditRobustRecords('mnist', 'bp', p.outputs, p.steps, [eps], 8);
    expect(bp.map((r) => [r.label, r.attacks, r.correct])).toEqual([
      ['own path', ['autoattack/own'], 1],
      ['AutoAttack', ['autoattack/own'], 1],
      ['BP-surrogate transfer', ['fgsm/transfer:bp-surrogate'], 1],
      [
        'every in-ball attack',
        [
          'fgsm/transfer:fa',
          'autoattack/transfer:fa:true',
          'fgsm/transfer:bp-surrogate',
          'autoattack/own',
        ],
        0,
      ],
    ]);
  });

  it('takes only the in-ball cells of audit steps on all n images, of this dataset, model and eps', () => {
    const p = plan();
    p.add('audit', { attack: 'fgsm', source: 'own', eps: 0.1, correct: '1101' });
    p.add('audit', { attack: 'bim', source: 'own', eps: 0.1 + 0.2 - 0.2, correct: '1011' });
    // each of these would take the worst case to 0 of 4
    p.add('audit', {
      attack: 'mifgsm',
      source: 'own',
      eps: 0.1,
      correct: '0000',
      threat: { inBall: false, inBounds: true },
    });
    p.add('audit', {
      attack: 'apgd',
      source: 'own',
      eps: 0.1,
      correct: '0000',
      threat: { inBall: true, inBounds: false },
    });
    p.add('audit', { attack: 'pgd', source: 'own', eps: 0.1, correct: '0000', threat: null });
    p.add('paper', { attack: 'bim', source: 'own', eps: 0.1, correct: '0000' });
    p.add('curve', { attack: 'pgd', source: 'own', eps: 0.1, correct: '0000' });
    p.add('audit', { attack: 'square', source: 'none', eps: 0.1, correct: '00' });
    p.add('audit', { attack: 'bim', source: 'own', eps: 0.2, correct: '0000' });
    p.add('audit', { model: 'bp', attack: 'bim', source: 'own', eps: 0.1, correct: '0000' });
    p.add('audit', {
      dataset: 'cifar10',
      attack: 'bim',
      source: 'own',
      eps: 0.1,
      correct: '0000',
    });
    const recs = auditRobustRecords('mnist', 'fa', p.outputs, p.steps, [0.1], 4);
    expect(recs.map((r) => [r.label, r.attacks, r.correct])).toEqual([
      ['own path', ['fgsm/own', 'bim/own'], 2],
      ['every in-ball attack', ['fgsm/own', 'bim/own'], 2],
    ]);
  });

  it('gives one set of records per eps, and none where no in-ball audit cell is found', () => {
    const p = plan();
    p.add('audit', { attack: 'bim', source: 'own', eps: 0.1, correct: '1110' });
    p.add('audit', { attack: 'bim', source: 'own', eps: 0.3, correct: '1000' });
    const recs = auditRobustRecords('mnist', 'fa', p.outputs, p.steps, [0.1, 0.2, 0.3], 4);
    expect(recs.map((r) => [r.epsilon, r.label, r.correct])).toEqual([
      [0.1, 'own path', 3],
      [0.1, 'every in-ball attack', 3],
      [0.3, 'own path', 1],
      [0.3, 'every in-ball attack', 1],
    ]);
    expect(auditRobustRecords('mnist', 'fa', p.outputs, p.steps, [0.1], 5)).toEqual([]);
  });
});

describe('auditComparisons', () => {
  const eps = 0.1;
  const p = plan();
  p.add('audit', { attack: 'fgsm', source: 'own', eps, correct: '1111111110' });
  p.add('audit', { attack: 'bim', source: 'own', eps, correct: '1111111101' });
  p.add('audit', { attack: 'bim', source: 'true', eps, correct: '1100000011' });
  p.add('audit', { attack: 'autoattack', source: 'true', eps, correct: '1100000001' });
  p.add('audit', { attack: 'square', source: 'none', eps, correct: '1111111111' });
  p.add('audit', { attack: 'noise', source: 'none', eps, correct: '1111111111' });
  p.add('audit', { attack: 'fgsm', source: 'transfer:bp-surrogate', eps, correct: '1111110000' });
  // own path: 1111111100 (8); true gradient: 1100000011 & 1100000001 = 1100000001 (3);
  // AutoAttack: 1100000001 (3); Square and noise: all 10; BP-surrogate transfer: 1111110000 (6)

  it('counts the discordant examples of the two worst cases and tests them with McNemar', () => {
    const cmps = auditComparisons('mnist', 'fa', p.outputs, p.steps, [eps], 10);
    const expected: [string, number, number, number, number][] = [
      // label, onlyA, onlyB, correct A, correct B
      ['own path vs true gradient', 6, 1, 8, 3],
      ['own path vs Square', 0, 2, 8, 10],
      ['own path vs BP-surrogate transfer', 2, 0, 8, 6],
      ['own path vs random noise', 0, 2, 8, 10],
      ['AutoAttack vs Square', 0, 7, 3, 10],
      ['AutoAttack vs BP-surrogate transfer', 1, 4, 3, 6],
      // BIM is the one attack run through both: own 1111111101 vs true 1100000011
      ['own path vs true gradient, same attacks', 6, 1, 9, 4],
    ];
    expect(
      cmps.map((c) => [c.label, c.onlyA, c.onlyB, c.accuracyA * 10, c.accuracyB * 10]),
    ).toEqual(expected);
    for (const c of cmps) {
      expect(c.pValue).toBeCloseTo(mcnemarReference(c.onlyA, c.onlyB), 12);
      expect(c).toMatchObject({ dataset: 'mnist', model: 'fa', epsilon: eps, n: 10 });
    }
    expect(cmps[0]!.pValue).toBeCloseTo(0.125, 12); // 2 * (1 + 7) / 2^7
    expect(cmps[4]!.pValue).toBeCloseTo(2 / 128, 12);
    expect(cmps[0]!.a).toEqual(['fgsm/own', 'bim/own']);
    expect(cmps[0]!.b).toEqual(['bim/true', 'autoattack/true']);
    expect(cmps[4]!.a).toEqual(['autoattack/true']);
    expect(cmps[4]!.b).toEqual(['square/none']);
    // FGSM (own only) and AutoAttack (true only) are left out of the same-attack pair
    expect([cmps[6]!.a, cmps[6]!.b]).toEqual([['bim/own'], ['bim/true']]);
  });

  it('leaves out a comparison with an empty side', () => {
    const q = plan();
    q.add('audit', { model: 'bp', attack: 'bim', source: 'own', eps, correct: '1100' });
    q.add('audit', { model: 'bp', attack: 'autoattack', source: 'own', eps, correct: '1000' });
    q.add('audit', { model: 'bp', attack: 'noise', source: 'none', eps, correct: '1111' });
    // BP has no true-gradient cells (its own path is its true gradient), no Square, no surrogate
    const cmps = auditComparisons('mnist', 'bp', q.outputs, q.steps, [eps], 4);
    expect(cmps.map((c) => [c.label, c.a, c.b, c.onlyA, c.onlyB])).toEqual([
      ['own path vs random noise', ['bim/own', 'autoattack/own'], ['noise/none'], 0, 3],
    ]);
  });

  it('leaves out a group compared with itself (the same attacks on both sides)', () => {
    // a noise cell tagged with the own path is in both groups of 'own path vs random noise'
    const q = plan();
    q.add('audit', { attack: 'noise', source: 'own', eps, correct: '1010' });
    expect(auditComparisons('mnist', 'fa', q.outputs, q.steps, [eps], 4)).toEqual([]);
    // one more own-path attack: the two sides differ, and the comparison is made
    q.add('audit', { attack: 'bim', source: 'own', eps, correct: '0011' });
    const cmps = auditComparisons('mnist', 'fa', q.outputs, q.steps, [eps], 4);
    expect(cmps.map((c) => [c.label, c.a, c.b, c.onlyA, c.onlyB])).toEqual([
      ['own path vs random noise', ['noise/own', 'bim/own'], ['noise/own'], 0, 1],
    ]);
  });

  it('reads only in-ball audit cells on all n images, at each eps', () => {
    const q = plan();
    q.add('audit', { attack: 'bim', source: 'own', eps: 0.1, correct: '1111' });
    q.add('audit', { attack: 'noise', source: 'none', eps: 0.1, correct: '1111' });
    q.add('audit', {
      attack: 'mifgsm',
      source: 'own',
      eps: 0.1,
      correct: '0000',
      threat: { inBall: false, inBounds: true },
    });
    q.add('paper', { attack: 'fgsm', source: 'own', eps: 0.1, correct: '0000' });
    q.add('audit', { attack: 'square', source: 'none', eps: 0.1, correct: '00' });
    q.add('audit', { attack: 'bim', source: 'own', eps: 0.3, correct: '0000' });
    q.add('audit', { attack: 'noise', source: 'none', eps: 0.3, correct: '1111' });
    const cmps = auditComparisons('mnist', 'fa', q.outputs, q.steps, [0.1, 0.3], 4);
    expect(cmps.map((c) => [c.epsilon, c.label, c.onlyA, c.onlyB, c.pValue])).toEqual([
      [0.1, 'own path vs random noise', 0, 0, 1],
      [0.3, 'own path vs random noise', 0, 4, mcnemarReference(0, 4)],
    ]);
  });
});

describe('curveRecords', () => {
  const steps: PlannedStep[] = [];
  const outputs: StepOutput[] = [];
  const n = 20;
  const add = (
    role: StepRole,
    curve: PlannedStep['curve'],
    cell: Omit<CellSpec, 'correct' | 'eps'> & { correct: number; eps?: number },
  ) => {
    steps.push({
      key: `k${steps.length}`,
      label: '',
      role,
      ...(curve ? { curve } : {}),
      spec: {} as AttackStepSpec,
    });
    outputs.push(output({ eps: 0.2, ...cell, correct: firstK(n, cell.correct) }));
  };
  const steps_ = (value: number) => ({ parameter: 'steps' as const, value });
  const restarts = (value: number) => ({ parameter: 'restarts' as const, value });
  add('curve', steps_(100), { attack: 'pgd', source: 'own', correct: 4 });
  add('curve', steps_(10), { attack: 'pgd', source: 'own', correct: 9 });
  add('audit', undefined, { attack: 'pgd', source: 'own', correct: 0 });
  add('curve', steps_(10), { attack: 'pgd', source: 'true', correct: 2 });
  add('curve', steps_(50), { attack: 'pgd', source: 'own', correct: 5 });
  add('curve', restarts(5), { attack: 'pgd', source: 'own', correct: 3 });
  add('curve', restarts(1), { attack: 'pgd', source: 'own', correct: 5 });
  add('curve', steps_(10), { model: 'bp', attack: 'pgd', source: 'own', correct: 0 });
  add('curve', steps_(100), { attack: 'pgd', source: 'true', correct: 1 });
  // a curve role without its curve: not a point
  add('curve', undefined, { attack: 'pgd', source: 'own', correct: 20 });

  it('gives one record per model, source and parameter, its points sorted by value', () => {
    const recs = curveRecords('mnist', steps, outputs);
    expect(
      recs.map((r) => [r.model, r.source, r.parameter, r.points.map((x) => [x.value, x.correct])]),
    ).toEqual([
      [
        'fa',
        'own',
        'steps',
        [
          [10, 9],
          [50, 5],
          [100, 4],
        ],
      ],
      [
        'fa',
        'true',
        'steps',
        [
          [10, 2],
          [100, 1],
        ],
      ],
      [
        'fa',
        'own',
        'restarts',
        [
          [1, 5],
          [5, 3],
        ],
      ],
      ['bp', 'own', 'steps', [[10, 0]]],
    ]);
    for (const r of recs) {
      expect(r).toMatchObject({ dataset: 'mnist', attack: 'pgd', epsilon: 0.2 });
    }
  });

  it('gives each point its accuracy and 95% Wilson interval', () => {
    const [own] = curveRecords('mnist', steps, outputs);
    for (const x of own!.points) {
      expect(x.n).toBe(n);
      expect(x.accuracy).toBe(x.correct / n);
      const [lo, hi] = wilsonReference(x.correct, n);
      expect(x.accuracyInterval[0]).toBeCloseTo(lo, 12);
      expect(x.accuracyInterval[1]).toBeCloseTo(hi, 12);
    }
    // 9 of 20: about [25.8%, 65.8%]
    expect(own!.points[0]!.accuracyInterval[0]).toBeCloseTo(0.2582, 3);
    expect(own!.points[0]!.accuracyInterval[1]).toBeCloseTo(0.6579, 3);
    // 0 of 20: the lower bound is exactly 0
    const bp = curveRecords('mnist', steps, outputs)[3]!;
    expect(bp.points[0]!.accuracyInterval[0]).toBe(0);
    expect(bp.points[0]!.accuracyInterval[1]).toBeCloseTo(wilsonReference(0, n)[1], 12);
  });

  it('gives nothing without curve steps', () => {
    expect(curveRecords('mnist', [], [])).toEqual([]);
    expect(
      curveRecords(
        'mnist',
        steps.filter((s) => s.role !== 'curve'),
        outputs,
      ),
    ).toEqual([]);
  });
});
