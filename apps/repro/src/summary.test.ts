import { describe, expect, it } from 'vitest';
import { wallTime } from './runlog.js';
import {
  type OverSeeds,
  renderSummary,
  type Summary,
  type SummaryRow,
  spearman,
} from './summary.js';

/** Pearson's correlation, in float64, of two lists: the reference for ranks. */
function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

describe('spearman', () => {
  it('is 1 for any increasing relation and -1 for a decreasing one', () => {
    expect(spearman([1, 2, 3, 4], [10, 200, 3000, 40000])).toBeCloseTo(1, 12);
    expect(spearman([90, 45, 10], [0.9, 0.5, 0.6])).toBeCloseTo(0.5, 12); // ranks 3,2,1 vs 3,1,2
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it("is Pearson's correlation of the ranks, ties given their average rank", () => {
    // a: 5, 1, 3, 3 -> ranks 4, 1, 2.5, 2.5; b: 2, 7, 7, 1 -> ranks 2, 3.5, 3.5, 1
    expect(spearman([5, 1, 3, 3], [2, 7, 7, 1])).toBeCloseTo(
      pearson([4, 1, 2.5, 2.5], [2, 3.5, 3.5, 1]),
      12,
    );
  });

  it('says nothing for fewer than 3 values or a constant list', () => {
    expect(spearman([1, 2], [2, 1])).toBeNull();
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(spearman([1, 2, 3], [1, 2])).toBeNull();
  });
});

const over = (...values: number[]): OverSeeds => ({
  values,
  mean: values.reduce((a, b) => a + b, 0) / values.length,
  min: Math.min(...values),
  max: Math.max(...values),
});

function row(rule: string, verdicts: Record<string, number>): SummaryRow {
  const at = { '0.3': over(0.1, 0.2) };
  return {
    dataset: 'mnist',
    rule,
    seeds: [1, 2],
    clean: over(0.98, 0.99),
    ownPath: at,
    autoAttack: at,
    worstCase: at,
    verdicts,
    gradientAngle: rule === 'bp' ? null : over(40, 50),
    layers: [],
  };
}

describe('renderSummary', () => {
  const summary: Summary = {
    seeds: [1, 2],
    epsilons: { mnist: [0.3] },
    rows: [
      row('bp', {}),
      row('fa', { 'gradient masking (feedback path)': 2 }),
      row('wm', { 'gradient masking (loss)': 1, 'gradient masking (feedback path and loss)': 1 }),
      row('kp', { 'not robust': 2 }),
    ],
    answers: { mnist: { robustUnderTrueGradient: [], ordered: 'too few rules' } },
  };
  const meta = { command: 'repro --preset benchmark', seconds: 60, figures: [] };

  it('says, per dataset, what masks where the verdict is masking, with the seeds of each', () => {
    const md = renderSummary(summary, meta);
    expect(md).toContain(
      "**Where the verdict is gradient masking, what masks?** the feedback path: FA 2/2; the attacks' loss (the same attacks do no better through the true gradient): WM 1/2; both, the feedback path for less than the masking gap: WM 1/2.",
    );
    expect(md).toContain('| WM |');
    // no rule masked: no such answer
    const none = renderSummary(
      { ...summary, rows: [row('bp', {}), row('kp', { robust: 2 })] },
      meta,
    );
    expect(none).not.toContain('what masks?');
  });

  it('states the compute and the measured wall time, and says when the records cannot hold the compute', () => {
    const wall = wallTime([
      { started: '2026-12-01T10:00:00Z', ended: '2026-12-01T11:00:00Z' },
      { started: '2026-12-01T12:00:00Z', ended: '2026-12-01T12:30:00Z' },
    ]);
    // 2 h of compute on 2 workers fits the 1.5 h recorded
    const fits = renderSummary(summary, {
      ...meta,
      wall,
      compute: { training: 3600, attacks: 3600, workers: 2 },
    });
    expect(fits).toContain(
      '**Cost:** compute 2.0 worker-hours over the seeds shown (training 1.0, attacks 1.0;',
    );
    expect(fits).toContain('about 1.0 h of wall time on 2 workers');
    expect(fits).toContain('measured wall time 1 h 30 min over 2 recorded runs');
    expect(fits).not.toContain('lower bound');
    // 4 h of compute cannot have run in 1.5 h on 2 workers
    const short = renderSummary(summary, {
      ...meta,
      wall,
      compute: { training: 7200, attacks: 7200, workers: 2 },
    });
    expect(short).toContain('so the measured figure is a lower bound');
    // a report-only run says it computed nothing
    expect(renderSummary(summary, { ...meta, reportOnly: true })).toContain(
      'Command: `repro --preset benchmark` (report only: rebuilt from the steps earlier runs stored, nothing recomputed).',
    );
  });
});
