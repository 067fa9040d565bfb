import {
  attackLabel,
  config,
  datasetLabel,
  epsilonLabel,
  modelColor,
  modelLabel,
  SOURCE_LABELS,
  seriesColors,
  spareColors,
  VEGA_LITE_SCHEMA,
} from './figure-labels.js';
import {
  type AccuracyFigureOptions,
  type AlignmentFigureOptions,
  accuracyCells,
  accuracyModels,
  accuracyRows,
  alignmentRows,
  alignmentSeries,
  type BudgetFigureOptions,
  budgetRows,
  type CurveFigureOptions,
  type CurveRow,
  cellSetting,
  type LayerAlignmentFigureOptions,
  layerAlignmentRows,
  type RobustFigureOptions,
  robustLabelOrder,
  robustRows,
  selectAlignment,
  selectCurves,
  selectRobust,
  type TransferFigureOptions,
  transferCells,
  transferRows,
} from './figure-rows.js';
import { type ResultCell, type Results, transferredFrom } from './results-schema.js';

/** A Vega-Lite (v6) specification: plain JSON, render it with renderSvg/renderPng or any Vega tool. */
export type FigureSpec = { $schema: string; [key: string]: unknown };

/** One panel per value of `field`, in `sort` order, headed by the value (every faceted figure). */
function columnFacet(field: string, sort: readonly string[]) {
  return { column: { field, type: 'nominal', sort, title: null, header: { labelPadding: 6 } } };
}

type Subtitle = string | string[];

const titleOf = (text: string, subtitle: Subtitle) =>
  (Array.isArray(subtitle) ? subtitle.length > 0 : subtitle !== '') ? { text, subtitle } : { text };

/** Legend symbols drawn as short lines, so a dashed series shows its dash. */
const STROKE_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 400 };

/**
 * The segment of each row's line: a series' line is broken where the panel draws an epsilon
 * the series was not measured at, so no line is drawn across an unmeasured point.
 */
function withSegments<R extends { epsilon: number }>(
  rows: R[],
  panel: (r: R) => string,
  series: (r: R) => string,
): (R & { segment: number })[] {
  const grids = new Map<string, number[]>();
  for (const r of rows) {
    const g = grids.get(panel(r)) ?? [];
    if (!g.includes(r.epsilon)) g.push(r.epsilon);
    grids.set(panel(r), g);
  }
  const groups = new Map<string, R[]>();
  for (const r of rows) {
    const k = JSON.stringify([panel(r), series(r)]);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const segment = new Map<R, number>();
  for (const g of groups.values()) {
    const sorted = [...g].sort((a, b) => a.epsilon - b.epsilon);
    const grid = grids.get(panel(sorted[0]!))!;
    let s = 0;
    sorted.forEach((r, i) => {
      const prev = sorted[i - 1];
      if (prev && grid.some((e) => e > prev.epsilon && e < r.epsilon)) s++;
      segment.set(r, s);
    });
  }
  return rows.map((r) => ({ ...r, segment: segment.get(r)! }));
}

interface CurveStyle {
  /** Colour of each series of `seriesOrder`. */
  colors: string[];
  /** Dash of each series, when some are dashed. */
  dashes?: number[][];
}

function curveSpec(
  rows: CurveRow[],
  opts: CurveFigureOptions,
  title: string,
  subtitle: Subtitle,
  seriesTitle: string,
  seriesOrder: string[],
  style: CurveStyle,
): FigureSpec {
  const attackOrder = [...new Set(rows.map((r) => r.attack))];
  const present = seriesOrder.map((s) => rows.some((r) => r.series === s));
  const seriesDomain = seriesOrder.filter((_, i) => present[i]);
  const width = opts.width ?? 240;
  const height = opts.height ?? 220;
  const maxEps = Math.max(...rows.map((r) => r.epsilon));
  const x = {
    field: 'epsilon',
    type: 'quantitative',
    title: 'Perturbation ε (L∞)',
    scale: { domain: [0, maxEps > 0 ? maxEps : 1], nice: false },
    axis: { tickCount: 5 },
  };
  const y = {
    field: 'accuracy',
    type: 'quantitative',
    title: 'Accuracy (%)',
    scale: { domain: [0, 100] },
    axis: { values: [0, 20, 40, 60, 80, 100] },
  };
  const color: Record<string, unknown> = {
    field: 'series',
    type: 'nominal',
    title: seriesTitle,
    scale: { domain: seriesDomain, range: style.colors.filter((_, i) => present[i]) },
    sort: seriesDomain,
  };
  const single = opts.layout === 'single';
  const tooltip = [
    { field: 'attack', title: 'Attack' },
    { field: 'series', title: seriesTitle },
    { field: 'epsilon', title: 'ε', format: '.3~f' },
    { field: 'accuracy', title: 'Accuracy (%)', format: '.2f' },
    { field: 'n', title: 'n' },
  ];
  const lineEncoding: Record<string, unknown> = {
    x,
    y,
    color,
    tooltip,
    detail: { field: 'segment', type: 'nominal' },
  };
  if (style.dashes && !single) {
    // the same field as colour: one legend showing colour and dash
    color.legend = STROKE_LEGEND;
    lineEncoding.strokeDash = {
      field: 'series',
      type: 'nominal',
      title: seriesTitle,
      scale: { domain: seriesDomain, range: style.dashes.filter((_, i) => present[i]) },
      sort: seriesDomain,
    };
  }
  const layers: Record<string, unknown>[] = [];
  if (opts.intervals ?? true) {
    const bandEncoding: Record<string, unknown> = {
      x,
      y: { field: 'lower', type: 'quantitative', scale: { domain: [0, 100] } },
      y2: { field: 'upper' },
      color,
      detail: single
        ? [
            { field: 'attack', type: 'nominal' },
            { field: 'segment', type: 'nominal' },
          ]
        : { field: 'segment', type: 'nominal' },
    };
    layers.push({ mark: { type: 'area', opacity: 0.15 }, encoding: bandEncoding });
  }
  if (single) {
    lineEncoding.strokeDash = {
      field: 'attack',
      type: 'nominal',
      title: 'Attack',
      sort: attackOrder,
    };
    lineEncoding.shape = { field: 'attack', type: 'nominal', title: 'Attack', sort: attackOrder };
  }
  layers.push({ mark: { type: 'line', point: true }, encoding: lineEncoding });
  const head = {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    data: {
      values: withSegments(
        rows,
        (r) => r.attack,
        (r) => r.series,
      ),
    },
    config: config(),
  };
  if (single) {
    return {
      ...head,
      width: Math.round(width * 1.5),
      height: Math.round(height * 1.3),
      layer: layers,
    } as FigureSpec;
  }
  return {
    ...head,
    facet: columnFacet('attack', attackOrder),
    spec: { width, height, layer: layers },
    resolve: { scale: { x: 'shared', y: 'shared' } },
    // lay panels out by their frames, not by the marks spilling over them: with 'full' bounds
    // the points at eps = 0 pushed the y axis 5 px left of the data's origin
    bounds: 'flush',
  } as FigureSpec;
}

/** Float32 slack when comparing a reached L-inf radius with epsilon. */
const BALL_SLACK = 1e-5;
const count = (n: number) => n.toLocaleString('en-US');

/**
 * What the drawn cells' perturbations did, as subtitle lines: what "(paper's equations)"
 * means when cells of that variant are drawn, then, from each cell's `linf.max`, `inBall`,
 * `outOfBounds` and `inBounds`, the attacks that left their ε-ball (the largest radius reached,
 * relative to ε) and those that left the pixel range.
 */
export function perturbationNotes(cells: readonly ResultCell[]): string[] {
  const lines: string[] = [];
  const attacks = cells.filter((c) => c.attack !== 'none');
  if (attacks.some((c) => c.variant === 'paper')) {
    lines.push(
      "(paper's equations): the attacks' update rules as the paper's equations write them",
    );
  }
  const name = (c: ResultCell) =>
    attackLabel(c.attack, c.variant === 'paper' ? undefined : c.variant);
  const names = [...new Set(attacks.map(name))];
  const notes: string[] = [];
  const outside: { name: string; cell?: ResultCell }[] = [];
  for (const a of names) {
    const mine = attacks.filter((c) => name(c) === a && c.epsilon > 0);
    const over = mine.filter(
      (c) =>
        c.inBall === false ||
        (c.linf?.max != null && c.linf.max > c.epsilon * (1 + BALL_SLACK) + BALL_SLACK),
    );
    if (over.length) {
      const measured = over.filter((c) => c.linf?.max != null);
      if (measured.length) {
        const worst = measured.reduce((w, c) =>
          c.linf!.max! / c.epsilon > w.linf!.max! / w.epsilon ||
          (c.linf!.max! / c.epsilon === w.linf!.max! / w.epsilon && c.epsilon < w.epsilon)
            ? c
            : w,
        );
        notes.push(
          `${a}: L∞ reached up to ${worst.linf!.max!.toFixed(2)} at ε ${epsilonLabel(worst.epsilon)} (not ε-bounded)`,
        );
      } else notes.push(`${a}: leaves its ε-ball (not ε-bounded)`);
    }
    const out = mine.filter((c) => (c.outOfBounds ?? 0) > 0 || c.inBounds === false);
    if (out.length) {
      const counted = out.filter((c) => (c.outOfBounds ?? 0) > 0);
      const cell = counted.length
        ? counted.reduce((w, c) => (c.outOfBounds! > w.outOfBounds! ? c : w))
        : undefined;
      outside.push({ name: a, ...(cell ? { cell } : {}) });
    }
  }
  if (outside.length) {
    const verb = outside.length > 1 ? 'leave' : 'leaves';
    const counted = outside.filter((o) => o.cell);
    const worst = counted.length
      ? counted.reduce((w, o) => (o.cell!.outOfBounds! > w.cell!.outOfBounds! ? o : w)).cell!
      : undefined;
    notes.push(
      `${outside.map((o) => o.name).join(', ')}: ${verb} the pixel range [0, 1]` +
        (worst
          ? ` on up to ${count(worst.outOfBounds!)} of ${count(worst.n)} examples (at ε ${epsilonLabel(worst.epsilon)})`
          : ''),
    );
  }
  return [...lines, ...notes];
}

/**
 * Accuracy (%) against epsilon per attack and training method: the paper's Figures 1a (MNIST)
 * and 2a (CIFAR-10). One panel per attack with one line per model, Wilson bands shaded, each
 * model in its own colour (modelColor). The default subtitle says what "(paper's equations)"
 * means and which attacks left their ε-ball or the pixel range, read from the cells.
 */
export function accuracyFigure(results: Results, options: AccuracyFigureOptions): FigureSpec {
  const rows = accuracyRows(results, options);
  const source = options.source ?? 'own';
  const ids = accuracyModels(results, options);
  const seriesOrder = ids.map((id) => modelLabel(results, options.dataset, id));
  const title = options.title ?? `${datasetLabel(options.dataset)}: accuracy under attack`;
  const subtitle = options.subtitle ?? [
    `White-box attacks using ${SOURCE_LABELS[source] ?? sourcePhrase(results, options.dataset, source)}; shaded: 95% Wilson interval`,
    ...perturbationNotes(accuracyCells(results, options)),
  ];
  return curveSpec(rows, options, title, subtitle, 'Training', seriesOrder, {
    colors: ids.map((id) => modelColor(results, id)),
  });
}

function sourcePhrase(results: Results, dataset: string, source: string): string {
  const from = transferredFrom(source);
  if (from === null) return `gradient source '${source}'`;
  const name = modelLabel(results, dataset, from);
  return source.endsWith(':true')
    ? `examples crafted with the true gradient of ${name}`
    : `examples crafted on ${name}`;
}

/**
 * Transferability: accuracy of the target network on adversarial examples crafted on the
 * source network, against epsilon (the paper's Figures 1b and 2b). One panel per attack, one
 * line per source → target pair, coloured by the source model (the white-box curves of
 * `includeWhiteBox` dashed, in the target's colour).
 */
export function transferFigure(results: Results, options: TransferFigureOptions): FigureSpec {
  const { rows, seriesOrder, series } = transferRows(results, options);
  const title =
    options.title ?? `${datasetLabel(options.dataset)}: transfer of adversarial examples`;
  const subtitle = options.subtitle ?? [
    'Accuracy of the target on examples crafted on the source (colour: the source); shaded: 95% Wilson interval',
    ...perturbationNotes(transferCells(results, options)),
  ];
  const colors = seriesColors(
    results,
    series.map((s) => ({ model: s.model, group: s.whiteBox ? 'white-box' : 'transfer' })),
  );
  return curveSpec(rows, options, title, subtitle, 'Source → target', seriesOrder, {
    colors,
    ...(series.some((s) => s.whiteBox)
      ? { dashes: series.map((s) => (s.whiteBox ? [5, 3] : [1, 0])) }
      : {}),
  });
}

/** A y-axis top with about 15% headroom above `max`, on a round step. */
function headroom(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 0.85;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = raw / mag <= 2 ? mag / 5 : raw / mag <= 5 ? mag / 2 : mag;
  return Math.ceil(raw / step - 1e-9) * step;
}

/** Half-width in degrees of the band two random directions in `dimension` dimensions fall in. */
export function randomAngleSpread(dimension: number): number {
  return 180 / Math.PI / Math.sqrt(dimension);
}

/**
 * Gradient-alignment histograms: distribution over examples of the angle (degrees) between two
 * input gradients, e.g. an FA network's backward-path gradient against its true gradient. One
 * panel per dataset, one colour per model (FA orange, as everywhere); a dashed line marks each
 * median, a dotted line 90° (orthogonal: no alignment), labelled in the headroom above the
 * bars; when the records carry `dimension`, a grey band 90 ± 57.3/sqrt(dimension) degrees shows
 * where two random directions fall.
 */
export function alignmentFigure(
  results: Results,
  options: AlignmentFigureOptions = {},
): FigureSpec {
  const records = selectAlignment(results, options);
  const rows = alignmentRows(results, options);
  const normalize = options.normalize ?? true;
  const seriesDomain = [...new Set(rows.map((r) => r.series))];
  const seriesModel = seriesDomain.map(
    (s) => records.find((r) => alignmentSeries(results, r, records) === s)!.model,
  );
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const height = options.height ?? 200;
  const medians = records
    .filter((r) => r.angle.median !== null)
    .map((r) => ({
      dataset: datasetLabel(r.dataset),
      series: alignmentSeries(results, r, records),
      median: r.angle.median,
      label: `median ${(r.angle.median as number).toFixed(1)}°`,
    }));
  const bands: { dataset: string; dimension: number; lo: number; hi: number }[] = [];
  for (const r of records) {
    if (r.dimension === undefined) continue;
    const dataset = datasetLabel(r.dataset);
    if (bands.some((b) => b.dataset === dataset && b.dimension === r.dimension)) continue;
    const w = randomAngleSpread(r.dimension);
    bands.push({ dataset, dimension: r.dimension, lo: 90 - w, hi: 90 + w });
  }
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Training',
    scale: {
      domain: seriesDomain,
      range: seriesColors(
        results,
        seriesModel.map((model) => ({ model })),
      ),
    },
    sort: seriesDomain,
  };
  const x = {
    field: 'binStart',
    type: 'quantitative',
    title: 'Angle between gradients (degrees)',
    scale: { domain: [0, 180], nice: false },
    axis: { values: [0, 30, 60, 90, 120, 150, 180] },
  };
  const yField = normalize ? 'percent' : 'count';
  const top = headroom(Math.max(0, ...rows.map((r) => (normalize ? r.percent : r.count))));
  const comparisons = [...new Set(records.map((r) => r.comparison))];
  const title = options.title ?? 'Gradient alignment';
  const dims = [...new Set(bands.map((b) => `${count(b.dimension)} for ${b.dataset}`))];
  const subtitle = options.subtitle ?? [
    comparisons.length === 1 && comparisons[0] === 'own-vs-true'
      ? "Angle between each network's backward-path input gradient and its true input gradient, per test example"
      : `Angle per example (${comparisons.join(', ')})`,
    ...(bands.length
      ? [
          `Grey band: 90° ± 57.3°/√d, where two random directions in d dimensions fall (d = ${dims.join(', ')})`,
        ]
      : []),
  ];
  // the label and the medians stay in the top 16 px, above the bars (headroom keeps them there)
  const labelBand = 16;
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    config: config(),
    data: {
      values: [
        ...rows.map((r) => ({ kind: 'bin', ...r })),
        ...medians.map((m) => ({ kind: 'median', ...m })),
        ...bands.map((b) => ({ kind: 'band', ...b })),
      ],
    },
    facet: columnFacet('dataset', datasets),
    bounds: 'flush',
    spec: {
      width: options.width ?? 300,
      height,
      layer: [
        ...(bands.length
          ? [
              {
                transform: [{ filter: "datum.kind === 'band'" }],
                mark: { type: 'rect', color: '#cccccc', opacity: 0.6 },
                encoding: {
                  x: { field: 'lo', type: 'quantitative', scale: { domain: [0, 180] } },
                  x2: { field: 'hi' },
                  tooltip: [
                    { field: 'dimension', title: 'dimension' },
                    { field: 'lo', title: 'from (°)', format: '.2f' },
                    { field: 'hi', title: 'to (°)', format: '.2f' },
                  ],
                },
              },
            ]
          : []),
        {
          transform: [{ filter: "datum.kind === 'bin'" }],
          mark: { type: 'rect', opacity: 0.7, stroke: '#ffffff', strokeWidth: 0.5 },
          encoding: {
            x,
            x2: { field: 'binEnd' },
            y: {
              field: yField,
              type: 'quantitative',
              title: normalize ? 'Examples (%)' : 'Examples',
              stack: null,
              scale: { domain: [0, top], nice: false },
            },
            y2: { datum: 0 },
            color,
            tooltip: [
              { field: 'series', title: 'Model' },
              { field: 'binStart', title: 'from (°)' },
              { field: 'binEnd', title: 'to (°)' },
              { field: 'count', title: 'examples' },
            ],
          },
        },
        {
          data: { values: [{ x: 90 }] },
          mark: { type: 'rule', color: '#888888', strokeDash: [2, 2] },
          encoding: { x: { field: 'x', type: 'quantitative' } },
        },
        {
          data: { values: [{ x: 90, text: 'orthogonal' }] },
          mark: {
            type: 'text',
            color: '#666666',
            align: 'left',
            baseline: 'top',
            dx: 4,
            dy: 3,
            fontSize: 10,
          },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { value: 0 },
            text: { field: 'text' },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'median'" }],
          mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 2 },
          encoding: {
            x: { field: 'median', type: 'quantitative' },
            y: { value: labelBand },
            y2: { value: height },
            color,
            tooltip: [
              { field: 'series', title: 'Model' },
              { field: 'label', title: 'median' },
            ],
          },
        },
      ],
    },
  } as FigureSpec;
}

/** Colours of the robust figure's labels: none is a model's colour but the surrogate's own. */
const ROBUST_LABEL_COLORS: Readonly<Record<string, string>> = {
  'every in-ball attack': '#222222',
  AutoAttack: '#b279a2',
  'true gradient': '#e45756',
  'own path': '#54a24b',
  Square: '#72b7b2',
  // the examples come from the surrogate: its colour
  'BP-surrogate transfer': '#9d755d',
  'random noise': '#bab0ac',
};

/**
 * A log axis showing the measured epsilons themselves, written as readers write them
 * (CIFAR-10's 8/255, MNIST's 0.1).
 */
function epsilonAxis(epsilons: number[], title: string): Record<string, unknown> {
  const values = [...new Set(epsilons)].sort((a, b) => a - b);
  const expr = values.reduceRight(
    (rest, v) => `abs(datum.value - ${v}) <= ${v * 1e-9} ? '${epsilonLabel(v)}' : ${rest}`,
    "format(datum.value, '~g')",
  );
  return {
    field: 'epsilon',
    type: 'quantitative',
    title,
    // a log scale: CIFAR-10's 1/255 ... 16/255 stand apart (one doubling each) next to 0.5 and
    // 1, where a linear axis crams them into the first 6%; a point axis would space them
    // evenly and hide that 0.5 is 8 times 16/255. Epsilon 0 has no place on it: the clean
    // accuracy is the accuracy figure's.
    scale: {
      type: 'log',
      domain: [values[0]! / 1.3, values.at(-1)! * 1.3],
      nice: false,
    },
    axis: { values, labelExpr: expr, grid: true, labelFlush: false },
  };
}

/**
 * Robust accuracy (%) against epsilon from the labelled RobustRecords of a dataset: one panel
 * per model, one line per label ('own path', 'true gradient', 'AutoAttack', 'Square', 'random
 * noise', 'BP-surrogate transfer', 'every in-ball attack'...), the Wilson interval shaded,
 * epsilon on a log axis labelled with the measured values (k/255 where that is how they were
 * chosen).
 */
export function robustFigure(results: Results, options: RobustFigureOptions): FigureSpec {
  const records = selectRobust(results, options);
  const rows = robustRows(results, options);
  const d = options.dataset;
  const labels = robustLabelOrder(records, options);
  const spare = spareColors().filter((c) => !Object.values(ROBUST_LABEL_COLORS).includes(c));
  let next = 0;
  const range = labels.map(
    (l) => ROBUST_LABEL_COLORS[l] ?? spare[next++ % spare.length] ?? '#17becf',
  );
  const panels = [...new Set(rows.map((r) => r.model))];
  const ns = [...new Set(records.map((r) => r.n))];
  const confidences = [...new Set(records.map((r) => r.confidence))];
  const level =
    confidences.length === 1 ? `${Number((confidences[0]! * 100).toPrecision(3))}% ` : '';
  const title = options.title ?? `${datasetLabel(d)}: robust accuracy`;
  const subtitle =
    options.subtitle ??
    `In-ball attacks only (L∞ ≤ ε, pixels in [0, 1]); same ${ns.length === 1 ? `${count(ns[0]!)} ` : ''}images for every attack; ${level}Wilson intervals`;
  const x = epsilonAxis(
    rows.map((r) => r.epsilon),
    'Perturbation ε (L∞, log scale)',
  );
  const y = {
    field: 'accuracy',
    type: 'quantitative',
    title: 'Robust accuracy (%)',
    scale: { domain: [0, 100] },
    axis: { values: [0, 20, 40, 60, 80, 100] },
  };
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Attacks',
    scale: { domain: labels, range },
    sort: labels,
  };
  const detail = { field: 'segment', type: 'nominal' };
  const layers: Record<string, unknown>[] = [];
  if (options.intervals ?? true)
    layers.push({
      mark: { type: 'area', opacity: 0.12 },
      encoding: {
        x,
        y: { field: 'lower', type: 'quantitative', scale: { domain: [0, 100] } },
        y2: { field: 'upper' },
        color,
        detail,
      },
    });
  layers.push({
    mark: { type: 'line', point: true },
    encoding: {
      x,
      y,
      color,
      detail,
      tooltip: [
        { field: 'model', title: 'Model' },
        { field: 'series', title: 'Attacks' },
        { field: 'epsilon', title: 'ε', format: '.4~f' },
        { field: 'accuracy', title: 'Robust accuracy (%)', format: '.2f' },
        { field: 'lower', title: 'lower (%)', format: '.2f' },
        { field: 'upper', title: 'upper (%)', format: '.2f' },
        { field: 'n', title: 'n' },
        { field: 'attacks', title: 'attacks combined' },
      ],
    },
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    config: config(),
    data: {
      values: withSegments(
        rows,
        (r) => r.model,
        (r) => r.series,
      ),
    },
    facet: columnFacet('model', panels),
    spec: { width: options.width ?? 340, height: options.height ?? 220, layer: layers },
    resolve: { scale: { x: 'shared', y: 'shared' } },
    bounds: 'flush',
  } as FigureSpec;
}

const DASH_BY_SOURCE: Readonly<Record<string, number[]>> = { own: [1, 0], true: [6, 3] };

/**
 * Accuracy against an attack's budget at one epsilon, from the CurveRecords of a dataset: one
 * panel for steps and one for restarts (log x), one line per model and gradient source ('BP',
 * 'FA (own path)', 'FA (true gradient)'), coloured by model and dashed by source. An attack
 * that has converged levels off.
 */
export function budgetFigure(results: Results, options: BudgetFigureOptions): FigureSpec {
  const records = selectCurves(results, options);
  const rows = budgetRows(results, options);
  const d = options.dataset;
  const series = [...new Set(rows.map((r) => r.series))];
  const first = series.map((s) => rows.find((r) => r.series === s)!);
  const colors = seriesColors(
    results,
    first.map((r) => ({ model: r.model, group: r.source })),
  );
  const dashes = first.map((r) => DASH_BY_SOURCE[r.source] ?? [2, 2]);
  const attacks = [...new Set(records.map((r) => attackLabel(r.attack)))];
  const eps = [...new Set(records.map((r) => epsilonLabel(r.epsilon)))];
  const ns = [...new Set(rows.map((r) => r.n))];
  const title =
    options.title ??
    `${datasetLabel(d)}: ${attacks.join(', ')} accuracy against steps and restarts at ε ${eps.join(', ')}`;
  const subtitle = options.subtitle ?? [
    'A converged attack levels off: more steps or restarts find no more adversarial examples',
    `${ns.length === 1 ? `Same ${count(ns[0]!)} images at every point; shaded` : 'Shaded'}: 95% Wilson interval`,
  ];
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Model (gradient)',
    scale: { domain: series, range: colors },
    sort: series,
    legend: STROKE_LEGEND,
  };
  const strokeDash = {
    field: 'series',
    type: 'nominal',
    title: 'Model (gradient)',
    scale: { domain: series, range: dashes },
    sort: series,
  };
  const y = {
    field: 'accuracy',
    type: 'quantitative',
    title: 'Accuracy (%)',
    scale: { domain: [0, 100] },
    axis: { values: [0, 20, 40, 60, 80, 100] },
  };
  const panel = (parameter: 'steps' | 'restarts', index: number) => {
    const values = [
      ...new Set(rows.filter((r) => r.parameter === parameter).map((r) => r.value)),
    ].sort((a, b) => a - b);
    const x = {
      field: 'value',
      type: 'quantitative',
      title: parameter === 'steps' ? 'Steps (log scale)' : 'Restarts (log scale)',
      scale: { type: 'log', domain: [values[0]! / 1.5, values.at(-1)! * 1.5], nice: false },
      axis: { values, format: '~g', grid: true },
    };
    const layers: Record<string, unknown>[] = [];
    if (options.intervals ?? true)
      layers.push({
        mark: { type: 'area', opacity: 0.12 },
        encoding: {
          x,
          y: { field: 'lower', type: 'quantitative', scale: { domain: [0, 100] } },
          y2: { field: 'upper' },
          color,
        },
      });
    layers.push({
      mark: { type: 'line', point: true },
      encoding: {
        x,
        y: index === 0 ? y : { ...y, axis: { ...y.axis, title: null } },
        color,
        strokeDash,
        tooltip: [
          { field: 'series', title: 'Model (gradient)' },
          { field: 'value', title: parameter },
          { field: 'accuracy', title: 'Accuracy (%)', format: '.2f' },
          { field: 'n', title: 'n' },
        ],
      },
    });
    return {
      title: { text: parameter === 'steps' ? 'Steps' : 'Restarts', fontSize: 13, anchor: 'middle' },
      transform: [{ filter: { field: 'parameter', equal: parameter } }],
      width: options.width ?? 280,
      height: options.height ?? 220,
      layer: layers,
    };
  };
  const parameters = (['steps', 'restarts'] as const).filter((p) =>
    rows.some((r) => r.parameter === p),
  );
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    config: config(),
    data: { values: rows },
    hconcat: parameters.map(panel),
    spacing: 28,
    resolve: { scale: { y: 'shared', color: 'shared', strokeDash: 'shared' } },
    bounds: 'flush',
  } as FigureSpec;
}

/**
 * The angle between each layer's forward weights W and its feedback matrix B, from
 * results.layerAlignment: bars per layer, one panel per dataset, one colour per model, a
 * dotted line at 90° (unrelated matrices).
 */
export function layerAlignmentFigure(
  results: Results,
  options: LayerAlignmentFigureOptions = {},
): FigureSpec {
  const rows = layerAlignmentRows(results, options);
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const models = [...new Set(rows.map((r) => r.model))];
  const series = models.map((m) => rows.find((r) => r.model === m)!.series);
  const colors = seriesColors(
    results,
    models.map((model) => ({ model })),
  );
  const top = Math.max(120, Math.ceil((Math.max(...rows.map((r) => r.angle)) + 20) / 30) * 30);
  const values = Array.from({ length: top / 30 + 1 }, (_, i) => i * 30);
  const title = options.title ?? 'Weight alignment per layer';
  const subtitle =
    options.subtitle ??
    "Angle between each layer's forward weights W and its feedback matrix B (90°: unrelated, as at a random start)";
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Training',
    scale: { domain: series, range: colors },
    sort: series,
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    config: config(),
    data: { values: rows },
    facet: columnFacet('dataset', datasets),
    bounds: 'flush',
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: { step: Math.max(28, 18 * models.length + 10) },
      height: options.height ?? 200,
      layer: [
        {
          mark: { type: 'bar', opacity: 0.85 },
          encoding: {
            x: {
              field: 'layer',
              type: 'nominal',
              title: 'Layer',
              sort: null,
              axis: { labelAngle: 0 },
            },
            xOffset: { field: 'series', type: 'nominal', sort: series },
            y: {
              field: 'angle',
              type: 'quantitative',
              title: 'Angle between W and B (degrees)',
              scale: { domain: [0, top], nice: false },
              axis: { values },
            },
            color,
            tooltip: [
              { field: 'series', title: 'Model' },
              { field: 'layer', title: 'Layer' },
              { field: 'angle', title: 'Angle (°)', format: '.1f' },
            ],
          },
        },
        {
          data: { values: [{ y: 90, text: 'orthogonal' }] },
          layer: [
            {
              mark: { type: 'rule', color: '#888888', strokeDash: [2, 2] },
              encoding: { y: { field: 'y', type: 'quantitative' } },
            },
            {
              mark: {
                type: 'text',
                color: '#666666',
                align: 'left',
                baseline: 'bottom',
                dx: 3,
                dy: -2,
                fontSize: 10,
              },
              encoding: {
                x: { value: 0 },
                y: { field: 'y', type: 'quantitative' },
                text: { field: 'text' },
              },
            },
          ],
        },
      ],
    },
  } as FigureSpec;
}

export interface NamedFigure {
  /**
   * File stem: 'accuracy-<dataset>', 'transfer-<dataset>', 'robust-<dataset>',
   * 'curves-<dataset>', 'alignment', 'layer-alignment'.
   */
  name: string;
  spec: FigureSpec;
}

/**
 * Every figure a results object supports. Per dataset: accuracy vs epsilon (source 'own'; the
 * paper's cells only when there are any, and only the models measured at every epsilon it
 * draws), transfer between those models when there are transfer cells, robust accuracy when
 * there are labelled robust records, accuracy against steps and restarts when there are curve
 * records. Then one gradient-alignment figure and one layer-alignment figure when there are
 * such records.
 */
export function figuresFor(results: Results): NamedFigure[] {
  const out: NamedFigure[] = [];
  const datasets = [
    ...new Set([
      ...results.cells.map((c) => c.dataset),
      ...(results.robust ?? []).filter((r) => r.label !== undefined).map((r) => r.dataset),
      ...(results.curves ?? []).map((r) => r.dataset),
    ]),
  ];
  for (const d of datasets) {
    const cells = results.cells.filter((c) => c.dataset === d && c.attack !== 'none');
    const slug = d.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const paperOf = (cs: ResultCell[]) =>
      cs.some((c) => c.variant === 'paper') ? { setting: 'paper' as const } : {};
    const own = cells.filter((c) => c.source === 'own');
    let models: string[] | undefined;
    if (own.length > 0) {
      const options: AccuracyFigureOptions = { dataset: d, ...paperOf(own) };
      models = accuracyModels(results, options);
      out.push({ name: `accuracy-${slug}`, spec: accuracyFigure(results, options) });
    }
    const transfer = cells.filter((c) => transferredFrom(c.source) !== null);
    if (transfer.length > 0) {
      const setting = paperOf(transfer);
      const shown = transfer.filter((c) => !setting.setting || cellSetting(c) === 'paper');
      const pairs: [string, string][] = [];
      for (const c of shown) {
        const s = transferredFrom(c.source)!;
        if (models && !(models.includes(s) && models.includes(c.model))) continue;
        if (!pairs.some(([a, b]) => a === s && b === c.model)) pairs.push([s, c.model]);
      }
      if (pairs.length > 0) {
        out.push({
          name: `transfer-${slug}`,
          spec: transferFigure(results, { dataset: d, pairs, ...setting }),
        });
      }
    }
    if (
      (results.robust ?? []).some((r) => r.dataset === d && r.label !== undefined && r.epsilon > 0)
    )
      out.push({ name: `robust-${slug}`, spec: robustFigure(results, { dataset: d }) });
    if ((results.curves ?? []).some((r) => r.dataset === d && r.points.length > 0))
      out.push({ name: `curves-${slug}`, spec: budgetFigure(results, { dataset: d }) });
  }
  if (results.alignment && results.alignment.length > 0)
    out.push({ name: 'alignment', spec: alignmentFigure(results) });
  if ((results.layerAlignment ?? []).some((r) => r.angle !== null))
    out.push({ name: 'layer-alignment', spec: layerAlignmentFigure(results) });
  return out;
}
