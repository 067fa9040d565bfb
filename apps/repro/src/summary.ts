/**
 * A study over seeds, summed up: per dataset and learning rule, the clean accuracy, the
 * own-path and true-gradient (AutoAttack) robust accuracy and the worst case over every in-ball
 * attack at a few eps, each as the mean and range across seeds (with each seed's Wilson
 * interval kept in summary.json), the verdicts, and the mechanism (input-gradient angle, W-B
 * angle per layer); then the answers the benchmark is for.
 */
import {
  datasetLabel,
  epsilonLabel,
  FIGURE_FONT,
  type FigureSpec,
  modelColor,
  type Results,
} from '@fa-robust/metrics';
import { formatWall, type WallTime } from './runlog.js';
import { type AuditVerdict, HEADLINE_EPS, ROBUST_SHARE, verdictLabel } from './verdict.js';

/** One seed's finished study. */
export interface SeedStudy {
  seed: number;
  results: Results;
  verdicts: AuditVerdict[];
}

/** A quantity over seeds: each seed's value (null: not measured), their mean and range. */
export interface OverSeeds {
  values: (number | null)[];
  /** Each seed's 95% Wilson interval, where the value is a proportion on n images. */
  intervals?: ([number, number] | null)[];
  mean: number | null;
  min: number | null;
  max: number | null;
}

export interface SummaryRow {
  dataset: string;
  rule: string;
  seeds: number[];
  clean: OverSeeds;
  /** By eps (as a string key, e.g. '0.1'): robust accuracy of each group. */
  ownPath: Record<string, OverSeeds>;
  autoAttack: Record<string, OverSeeds>;
  worstCase: Record<string, OverSeeds>;
  /** Seeds per verdict, masking with its source ('gradient masking (loss)', see verdictLabel). */
  verdicts: Record<string, number>;
  /** Median own-path vs true input-gradient angle (degrees); null for bp. */
  gradientAngle: OverSeeds | null;
  /** W-B angle per layer (degrees). */
  layers: { layer: string; angle: OverSeeds }[];
}

export interface Summary {
  seeds: number[];
  /** The eps the table shows, per dataset. */
  epsilons: Record<string, number[]>;
  rows: SummaryRow[];
  /** Per dataset: the answers (see answer()). */
  answers: Record<string, { robustUnderTrueGradient: string[]; ordered: string }>;
}

/** The eps a summary shows per dataset (those the audit measured; else its last three below 0.5). */
export const SUMMARY_EPS: Readonly<Record<string, number[]>> = {
  mnist: [0.1, 0.2, 0.3],
  'fashion-mnist': [0.05, 0.1, 0.2],
  cifar10: [2 / 255, 4 / 255, 8 / 255],
};

const sameEps = (a: number, b: number) => Math.abs(a - b) < 1e-9;
const key = (e: number) => String(Number(e.toPrecision(6)));

function overSeeds(values: (number | null)[], intervals?: ([number, number] | null)[]): OverSeeds {
  const ok = values.filter((v): v is number => v != null);
  return {
    values,
    ...(intervals ? { intervals } : {}),
    mean: ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null,
    min: ok.length ? Math.min(...ok) : null,
    max: ok.length ? Math.max(...ok) : null,
  };
}

/** Spearman's rank correlation of two equally long lists (average ranks for ties). */
export function spearman(a: readonly number[], b: readonly number[]): number | null {
  if (a.length !== b.length || a.length < 3) return null;
  const ranks = (v: readonly number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const [ra, rb] = [ranks(a), ranks(b)];
  const mean = (a.length + 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return da === 0 || db === 0 ? null : num / Math.sqrt(da * db);
}

/** Sums up the studies of every seed (the same configuration but the seed). */
export function summarize(studies: readonly SeedStudy[]): Summary {
  const seeds = studies.map((s) => s.seed);
  const first = studies[0]!.results;
  const datasets = [...new Set(first.models.map((m) => m.dataset))];
  const epsilons: Record<string, number[]> = {};
  const rows: SummaryRow[] = [];
  for (const d of datasets) {
    const measured = [
      ...new Set((first.robust ?? []).filter((r) => r.dataset === d).map((r) => r.epsilon)),
    ].sort((a, b) => a - b);
    const wanted = (SUMMARY_EPS[d] ?? []).filter((e) => measured.some((m) => sameEps(m, e)));
    epsilons[d] = wanted.length ? wanted : measured.filter((e) => e < 0.5).slice(-3);
    const rules = first.models
      .filter((m) => m.dataset === d && m.id !== 'bp-surrogate')
      .map((m) => m.id);
    for (const rule of rules) {
      const robust = (label: string, e: number) => {
        const recs = studies.map((s) =>
          (s.results.robust ?? []).find(
            (r) =>
              r.dataset === d && r.model === rule && r.label === label && sameEps(r.epsilon, e),
          ),
        );
        return overSeeds(
          recs.map((r) => r?.accuracy ?? null),
          recs.map((r) => r?.accuracyInterval ?? null),
        );
      };
      const byEps = (label: string) =>
        Object.fromEntries(epsilons[d]!.map((e) => [key(e), robust(label, e)]));
      const verdicts: Record<string, number> = {};
      for (const s of studies) {
        const v = s.verdicts.find((x) => x.dataset === d && x.model === rule);
        if (v) verdicts[verdictLabel(v)] = (verdicts[verdictLabel(v)] ?? 0) + 1;
      }
      const angles = studies.map(
        (s) =>
          (s.results.alignment ?? []).find((a) => a.dataset === d && a.model === rule)?.angle
            .median ?? null,
      );
      const layerNames = [
        ...new Set(
          (first.layerAlignment ?? [])
            .filter((l) => l.dataset === d && l.model === rule)
            .map((l) => l.layer),
        ),
      ];
      rows.push({
        dataset: d,
        rule,
        seeds,
        clean: overSeeds(
          studies.map(
            (s) =>
              s.results.models.find((m) => m.dataset === d && m.id === rule)?.cleanAccuracy ?? null,
          ),
        ),
        ownPath: byEps('own path'),
        autoAttack: byEps('AutoAttack'),
        worstCase: byEps('every in-ball attack'),
        verdicts,
        gradientAngle: rule === 'bp' ? null : overSeeds(angles),
        layers: layerNames.map((layer) => ({
          layer,
          angle: overSeeds(
            studies.map(
              (s) =>
                (s.results.layerAlignment ?? []).find(
                  (l) => l.dataset === d && l.model === rule && l.layer === layer,
                )?.angle ?? null,
            ),
          ),
        })),
      });
    }
  }
  const answers: Summary['answers'] = {};
  for (const d of datasets)
    answers[d] = answer(
      rows.filter((r) => r.dataset === d),
      d,
      epsilons[d]!,
    );
  return { seeds, epsilons, rows, answers };
}

/** The eps the answers are given at: the dataset's usual one, else the largest shown. */
function headline(dataset: string, shown: number[]): number | null {
  const h = HEADLINE_EPS[dataset];
  if (h != null && shown.some((e) => sameEps(e, h))) return h;
  return shown.length ? shown[shown.length - 1]! : null;
}

function answer(rows: SummaryRow[], dataset: string, shown: number[]): Summary['answers'][string] {
  const e = headline(dataset, shown);
  if (e == null) return { robustUnderTrueGradient: [], ordered: 'no audit eps to judge at' };
  const k = key(e);
  // robust under the true gradient: in every seed, AutoAttack (through the true gradient)
  // leaves at least ROBUST_SHARE of the clean accuracy
  const robust = rows
    .filter((r) => r.rule !== 'bp')
    .filter((r) => {
      const aa = r.autoAttack[k]!.values;
      return (
        aa.length > 0 &&
        aa.every(
          (v, i) =>
            v != null && r.clean.values[i] != null && v >= ROBUST_SHARE * r.clean.values[i]!,
        )
      );
    })
    .map((r) => r.rule);
  const rules = rows.filter(
    (r) => r.rule !== 'bp' && r.gradientAngle?.mean != null && r.ownPath[k]?.mean != null,
  );
  const rho = spearman(
    rules.map((r) => r.gradientAngle!.mean!),
    rules.map((r) => r.ownPath[k]!.mean!),
  );
  const ordered =
    rho == null
      ? `too few rules with both numbers (${rules.length}; 3 are needed) to rank them`
      : `Spearman's rho between the input-gradient angle and the own-path robust accuracy at eps ${epsilonLabel(e)}, over ${rules.length} rules: ${rho.toFixed(2)}` +
        (rho >= 0.7
          ? ' (the farther a rule\u2019s own gradient is from the true one, the more robust it looks through it)'
          : rho <= -0.7
            ? ' (ordered the other way)'
            : ' (no clear order)');
  return { robustUnderTrueGradient: robust, ordered };
}

const pct = (v: number | null) => (v == null ? '—' : (100 * v).toFixed(1));
const range = (s: OverSeeds, f = pct) =>
  s.mean == null ? '—' : s.values.length > 1 ? `${f(s.mean)} (${f(s.min)}–${f(s.max)})` : f(s.mean);
const deg = (v: number | null) => (v == null ? '—' : v.toFixed(1));

/** What the study cost: its compute over the seeds shown, and its measured wall time. */
function costLines(meta: Parameters<typeof renderSummary>[1]): string[] {
  const c = meta.compute;
  const w = meta.wall;
  if (!c && !w?.runs) return [];
  const h = (s: number) => (s / 3600).toFixed(1);
  const parts: string[] = [];
  if (c)
    parts.push(
      `compute ${h(c.training + c.attacks)} worker-hours over the seeds shown (training ${h(c.training)}, attacks ${h(c.attacks)}; each model's and step's own time), ` +
        `about ${h((c.training + c.attacks) / c.workers)} h of wall time on ${c.workers} worker${c.workers > 1 ? 's' : ''}`,
    );
  if (w?.runs) {
    parts.push(
      `measured wall time ${formatWall(w.seconds)} over ${w.runs} recorded run${w.runs > 1 ? 's' : ''} (the union of their intervals in \`seed-<s>/runs/\`, ${w.first!.slice(0, 10)} to ${w.last!.slice(0, 10)})`,
    );
    if (c && c.training + c.attacks > 1.05 * w.seconds * c.workers)
      parts.push(
        'more compute than the recorded runs could hold on these workers: some steps were computed by runs that kept no record (before runs/ existed), so the measured figure is a lower bound',
      );
  }
  return [`**Cost:** ${parts.join('; ')}.`, ''];
}

/**
 * Where the verdict is gradient masking, what masks: the rules by source (verdictLabel's
 * '(feedback path)', '(loss)', '(feedback path and loss)'), each with its count of seeds.
 */
function maskingAnswer(rows: readonly SummaryRow[]): string[] {
  const sources: [string, string][] = [
    ['gradient masking (feedback path)', 'the feedback path'],
    [
      'gradient masking (loss)',
      "the attacks' loss (the same attacks do no better through the true gradient)",
    ],
    [
      'gradient masking (feedback path and loss)',
      'both, the feedback path for less than the masking gap',
    ],
    ['gradient masking', 'not told apart (no attack ran through both gradients)'],
  ];
  const parts = sources.flatMap(([label, what]) => {
    const rules = rows
      .filter((r) => r.rule !== 'bp' && r.verdicts[label])
      .map((r) => `${r.rule.toUpperCase()} ${r.verdicts[label]}/${r.seeds.length}`);
    return rules.length ? [`${what}: ${rules.join(', ')}`] : [];
  });
  if (!parts.length) return [];
  return [`**Where the verdict is gradient masking, what masks?** ${parts.join('; ')}.`, ''];
}

/** SUMMARY.md: the benchmark's first table, then the answers and the mechanism. */
export function renderSummary(
  summary: Summary,
  meta: {
    command: string;
    seconds: number | null;
    figures: string[];
    unfinished?: number[];
    /** Nothing was computed (--report-only). */
    reportOnly?: boolean;
    /** The union of every seed's recorded runs (seed-<s>/runs/). */
    wall?: WallTime;
    /** Compute summed over the seeds shown: training and the rest (attacks), in seconds. */
    compute?: { training: number; attacks: number; workers: number };
  },
): string {
  const out: string[] = [
    '# Learning rules under a sound evaluation: the summary over seeds',
    '',
    ...(meta.unfinished?.length
      ? [
          `**Partial (report only):** seed${meta.unfinished.length > 1 ? 's' : ''} ${meta.unfinished.join(', ')} ${meta.unfinished.length > 1 ? 'have' : 'has'} no finished dataset yet and ${meta.unfinished.length > 1 ? 'are' : 'is'} not in this summary; a dataset appears once one of its seeds is finished, and its figures are over the seeds that are. Rerun the study to finish it.`,
          '',
        ]
      : []),
    `Seeds ${summary.seeds.join(', ')}; each seed is a whole study in \`seed-<s>/\` (its REPORT.md has every cell). Command: \`${meta.command}\`` +
      (meta.reportOnly
        ? ' (report only: rebuilt from the steps earlier runs stored, nothing recomputed).'
        : meta.seconds != null
          ? `; this run ${(meta.seconds / 60).toFixed(1)} min (steps stored by earlier runs are reused).`
          : '.'),
    '',
    ...costLines(meta),
    'Each number is a percentage: the mean over seeds, and in brackets the lowest and highest seed. Clean accuracy is on the whole test set. ' +
      "Robust accuracy is on the audit's images (the same for every attack and rule), in-ball attacks only (L∞ ≤ ε, pixels in [0, 1]). " +
      "**own** is the strongest attack through the network's own backward path (for FA and its relatives, the feedback path); " +
      '**AA** is AutoAttack through the true gradient (for BP, its own); **worst** is the per-image worst case over every in-ball attack (true gradient, own path, Square, transfer from a BP surrogate, noise). ' +
      "summary.json keeps each seed's value with its 95% Wilson interval.",
    '',
  ];
  for (const d of [...new Set(summary.rows.map((r) => r.dataset))]) {
    const eps = summary.epsilons[d]!;
    const rows = summary.rows.filter((r) => r.dataset === d);
    out.push(`## ${datasetLabel(d)}`, '');
    out.push(
      `| rule | clean | ${eps.map((e) => `own ε=${epsilonLabel(e)} | AA ε=${epsilonLabel(e)} | worst ε=${epsilonLabel(e)}`).join(' | ')} | verdicts | input-gradient angle |`,
      `|---|---|${eps.map(() => '---|---|---|').join('')}---|---|`,
    );
    for (const r of rows) {
      const cells = eps.flatMap((e) => [
        range(r.ownPath[key(e)]!),
        range(r.autoAttack[key(e)]!),
        range(r.worstCase[key(e)]!),
      ]);
      const verdicts = Object.entries(r.verdicts)
        .map(([v, n]) => `${v} ${n}/${r.seeds.length}`)
        .join(', ');
      out.push(
        `| ${r.rule.toUpperCase()} | ${range(r.clean)} | ${cells.join(' | ')} | ${r.rule === 'bp' ? '(reference)' : verdicts || '—'} | ${r.gradientAngle ? `${range(r.gradientAngle, deg)}°` : '0° (its own is the true one)'} |`,
      );
    }
    const a = summary.answers[d]!;
    out.push(
      '',
      `**Is any learning rule robust under the true gradient?** ${
        a.robustUnderTrueGradient.length
          ? `${a.robustUnderTrueGradient.map((r) => r.toUpperCase()).join(', ')}: AutoAttack through the true gradient leaves at least ${pct(ROBUST_SHARE)}% of its clean accuracy in every seed.`
          : `No: for every rule, AutoAttack through the true gradient takes it below ${pct(ROBUST_SHARE)}% of its clean accuracy in at least one seed.`
      }`,
      '',
      `**Is the own-path "robustness" ordered by the gradient angle?** ${a.ordered.charAt(0).toUpperCase()}${a.ordered.slice(1)}.`,
      '',
      ...maskingAnswer(rows),
    );
    const withLayers = rows.filter((r) => r.layers.length);
    if (withLayers.length) {
      const layers = [...new Set(withLayers.flatMap((r) => r.layers.map((l) => l.layer)))];
      out.push(
        'Angle between W and B per layer (degrees, mean over seeds):',
        '',
        `| rule | ${layers.join(' | ')} |`,
        `|---|${layers.map(() => '---|').join('')}`,
        ...withLayers.map(
          (r) =>
            `| ${r.rule.toUpperCase()} | ${layers.map((l) => deg(r.layers.find((x) => x.layer === l)?.angle.mean ?? null)).join(' | ')} |`,
        ),
        '',
      );
    }
  }
  if (meta.figures.length) {
    out.push(
      '## Figures',
      '',
      ...meta.figures.filter((f) => f.endsWith('.png')).map((f) => `![${f}](${f})`),
      '',
    );
  }
  return `${out.join('\n')}\n`;
}

/** Each rule's colour, as every figure of the project gives it (bp and fa fixed, then the palette). */
const ruleColor = (rules: string[]) =>
  rules.map((id) =>
    modelColor({ models: rules.map((r) => ({ dataset: '', id: r, method: r })) }, id),
  );

/** The summary's figures: robust accuracy against eps per rule (own path and AutoAttack), the gap, the gradient angle, and the W-B angle per layer. */
export function summaryFigures(summary: Summary): { name: string; spec: FigureSpec }[] {
  const out: { name: string; spec: FigureSpec }[] = [];
  for (const d of [...new Set(summary.rows.map((r) => r.dataset))]) {
    const rows = summary.rows.filter((r) => r.dataset === d);
    const rules = rows.map((r) => r.rule.toUpperCase());
    const eps = summary.epsilons[d]!;
    const values = rows.flatMap((r) =>
      eps.flatMap((e) =>
        (
          [
            ['own path', r.ownPath[key(e)]!],
            ['AutoAttack (true gradient)', r.autoAttack[key(e)]!],
          ] as const
        )
          .filter(([, s]) => s.mean != null)
          .map(([attack, s]) => ({
            rule: r.rule.toUpperCase(),
            attack,
            epsilon: e,
            mean: 100 * s.mean!,
            min: 100 * s.min!,
            max: 100 * s.max!,
          })),
      ),
    );
    out.push({
      name: `summary-robust-${d}`,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: {
          text: `${datasetLabel(d)}: robust accuracy per learning rule`,
          subtitle: `Mean over seeds ${summary.seeds.join(', ')} (bars: lowest to highest seed); in-ball attacks only`,
        },
        config: { font: FIGURE_FONT },
        data: { values },
        facet: {
          column: {
            field: 'attack',
            type: 'nominal',
            title: null,
            sort: ['own path', 'AutoAttack (true gradient)'],
          },
        },
        spec: {
          width: 260,
          height: 200,
          layer: [
            {
              mark: { type: 'line', point: true },
              encoding: {
                x: { field: 'epsilon', type: 'quantitative', title: 'Perturbation ε (L∞)' },
                y: {
                  field: 'mean',
                  type: 'quantitative',
                  title: 'Robust accuracy (%)',
                  scale: { domain: [0, 100] },
                },
                color: {
                  field: 'rule',
                  type: 'nominal',
                  title: 'Rule',
                  scale: { domain: rules, range: ruleColor(rows.map((r) => r.rule)) },
                },
              },
            },
            {
              mark: { type: 'rule' },
              encoding: {
                x: { field: 'epsilon', type: 'quantitative' },
                y: { field: 'min', type: 'quantitative' },
                y2: { field: 'max' },
                color: { field: 'rule', type: 'nominal' },
              },
            },
          ],
        },
      } as unknown as FigureSpec,
    });
    const gaps = rows
      .filter((r) => r.rule !== 'bp')
      .flatMap((r) =>
        eps
          .filter((e) => r.ownPath[key(e)]!.mean != null && r.autoAttack[key(e)]!.mean != null)
          .map((e) => ({
            rule: r.rule.toUpperCase(),
            epsilon: e,
            gap: 100 * (r.ownPath[key(e)]!.mean! - r.autoAttack[key(e)]!.mean!),
          })),
      );
    const angles = rows
      .filter((r) => r.gradientAngle?.mean != null)
      .map((r) => ({ rule: r.rule.toUpperCase(), angle: r.gradientAngle!.mean! }));
    if (gaps.length && angles.length)
      out.push({
        name: `summary-gap-${d}`,
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          title: {
            text: `${datasetLabel(d)}: how much each rule's own path hides`,
            subtitle:
              'Own-path minus true-gradient (AutoAttack) robust accuracy, and the own-vs-true input-gradient angle; means over seeds',
          },
          config: { font: FIGURE_FONT },
          hconcat: [
            {
              data: { values: gaps },
              width: 260,
              height: 200,
              mark: { type: 'line', point: true },
              encoding: {
                x: {
                  field: 'epsilon',
                  type: 'quantitative',
                  title: 'Perturbation ε (L∞)',
                  axis: { format: '.3~g' },
                },
                y: { field: 'gap', type: 'quantitative', title: 'Gap (percentage points)' },
                color: { field: 'rule', type: 'nominal', title: 'Rule' },
              },
            },
            {
              data: { values: angles },
              width: 200,
              height: 200,
              mark: 'bar',
              encoding: {
                x: { field: 'rule', type: 'nominal', title: 'Rule', sort: null },
                y: {
                  field: 'angle',
                  type: 'quantitative',
                  title: 'Median input-gradient angle (°)',
                  scale: { domain: [0, 100] },
                },
                color: { field: 'rule', type: 'nominal', legend: null },
              },
            },
          ],
        } as unknown as FigureSpec,
      });
    // W-B angle per layer per rule (mean over seeds, bars from the lowest to the highest seed)
    const layerValues = rows.flatMap((r) =>
      r.layers
        .filter((l) => l.angle.mean != null)
        .map((l) => ({
          rule: r.rule.toUpperCase(),
          layer: l.layer,
          mean: l.angle.mean!,
          min: l.angle.min!,
          max: l.angle.max!,
        })),
    );
    if (layerValues.length) {
      const layerOrder = [...new Set(layerValues.map((v) => v.layer))];
      const shown = [...new Set(layerValues.map((v) => v.rule))];
      const colors = ruleColor(rows.map((r) => r.rule)).filter((_c, i) =>
        shown.includes(rules[i]!),
      );
      out.push({
        name: `summary-alignment-${d}`,
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          title: {
            text: `${datasetLabel(d)}: angle between W and B per layer`,
            subtitle: `Mean over seeds ${summary.seeds.join(', ')} (bars: lowest to highest seed); 0° is backprop, 90° unrelated`,
          },
          config: { font: FIGURE_FONT },
          data: { values: layerValues },
          width: 320,
          height: 220,
          layer: [
            {
              mark: { type: 'line', point: true },
              encoding: {
                x: { field: 'layer', type: 'ordinal', title: 'Layer', sort: layerOrder },
                y: {
                  field: 'mean',
                  type: 'quantitative',
                  title: 'W-B angle (°)',
                  scale: { domain: [0, 100] },
                },
                color: {
                  field: 'rule',
                  type: 'nominal',
                  title: 'Rule',
                  scale: { domain: shown, range: colors },
                },
              },
            },
            {
              mark: { type: 'rule' },
              encoding: {
                x: { field: 'layer', type: 'ordinal', sort: layerOrder },
                y: { field: 'min', type: 'quantitative' },
                y2: { field: 'max' },
                color: { field: 'rule', type: 'nominal' },
              },
            },
          ],
        } as unknown as FigureSpec,
      });
    }
  }
  return out;
}
