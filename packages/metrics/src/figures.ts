import { FigureError } from './errors.js';
import type { AlignmentRecord, ModelRecord, ResultCell, Results } from './results.js';

/** A Vega-Lite (v6) specification: plain JSON, render it with renderSvg/renderPng or any Vega tool. */
export type FigureSpec = { $schema: string; [key: string]: unknown };

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
/** The bundled font first (PNG rendering), then what a browser viewing the SVG will have. */
export const FIGURE_FONT = 'Inter, Helvetica, Arial, sans-serif';
/** Tableau 10: BP blue, FA orange, then the rest; the same model keeps its colour in every figure. */
const PALETTE = [
  '#4c78a8',
  '#f58518',
  '#54a24b',
  '#e45756',
  '#72b7b2',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
  '#eeca3b',
];

const ATTACK_LABELS: Record<string, string> = {
  none: 'Clean',
  fgsm: 'FGSM',
  bim: 'BIM',
  ifgsm: 'I-FGSM',
  mifgsm: 'MI-FGSM',
  'mi-fgsm': 'MI-FGSM',
  pgd: 'PGD',
  spsa: 'SPSA',
  square: 'Square',
  cw: 'C&W',
  deepfool: 'DeepFool',
};
/** The paper's order first. */
const ATTACK_ORDER = ['fgsm', 'bim', 'ifgsm', 'mifgsm', 'mi-fgsm', 'pgd', 'spsa', 'square'];
const DATASET_LABELS: Record<string, string> = {
  mnist: 'MNIST',
  cifar10: 'CIFAR-10',
  'cifar-10': 'CIFAR-10',
  fashion: 'Fashion-MNIST',
  'fashion-mnist': 'Fashion-MNIST',
  fashionmnist: 'Fashion-MNIST',
};
const SOURCE_LABELS: Record<string, string> = {
  own: "gradients from each network's own backward path",
  true: 'true gradients of each forward function',
  none: 'no gradients',
};

/** 'fgsm' -> 'FGSM', 'mifgsm' + variant 'projected' -> 'MI-FGSM (projected)'. */
export function attackLabel(attack: string, variant?: string): string {
  const base = ATTACK_LABELS[attack.toLowerCase()] ?? attack;
  return variant ? `${base} (${variant})` : base;
}

/** 'mnist' -> 'MNIST', 'cifar10' -> 'CIFAR-10'; anything else as given. */
export function datasetLabel(dataset: string): string {
  return DATASET_LABELS[dataset.toLowerCase()] ?? dataset;
}

/**
 * Legend label of a model: its `label`, else its method in upper case ('BP', 'FA'), with the id
 * appended when two models of the dataset share a method.
 */
export function modelLabel(results: Results, dataset: string, id: string): string {
  const models = results.models.filter((m) => m.dataset === dataset);
  const m = models.find((x) => x.id === id);
  if (!m) return id;
  if (m.label) return m.label;
  const method = m.method.toUpperCase();
  return models.filter((x) => x.method === m.method).length > 1 ? `${method} (${m.id})` : method;
}

function attackRank(a: string): number {
  const i = ATTACK_ORDER.indexOf(a.toLowerCase());
  return i < 0 ? ATTACK_ORDER.length : i;
}

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    font: FIGURE_FONT,
    background: '#ffffff',
    padding: 12,
    view: { stroke: '#bbbbbb' },
    title: {
      fontSize: 15,
      fontWeight: 'bold',
      subtitleFontSize: 12,
      subtitleColor: '#444444',
      anchor: 'start',
      offset: 10,
    },
    axis: {
      labelFontSize: 11,
      titleFontSize: 12,
      titleFontWeight: 'normal',
      gridColor: '#e6e6e6',
      tickColor: '#888888',
      domainColor: '#888888',
    },
    header: { labelFontSize: 13, labelFontWeight: 'bold', titleFontSize: 13 },
    legend: {
      labelFontSize: 12,
      titleFontSize: 12,
      titleFontWeight: 'bold',
      symbolSize: 90,
      symbolOpacity: 1,
      orient: 'right',
    },
    line: { strokeWidth: 2 },
    point: { size: 36, filled: true },
    ...extra,
  };
}

function colorScale(domain: string[]): Record<string, unknown> {
  return { domain, range: domain.map((_, i) => PALETTE[i % PALETTE.length]) };
}

function datasetModels(results: Results, dataset: string, only?: readonly string[]): ModelRecord[] {
  const ms = results.models.filter((m) => m.dataset === dataset && (!only || only.includes(m.id)));
  return ms;
}

function listOf(values: Iterable<string>): string {
  const a = [...new Set(values)];
  return a.length ? a.map((v) => `'${v}'`).join(', ') : 'none';
}

function variantMatches(c: ResultCell, variant: string | null | undefined): boolean {
  if (variant === undefined) return true;
  if (variant === null) return c.variant === undefined;
  return c.variant === variant;
}

export interface CurveRow {
  /** Panel (attack label). */
  attack: string;
  /** Series (model label, or 'BP → FA' for transfer). */
  series: string;
  epsilon: number;
  /** Percent. */
  accuracy: number;
  lower: number;
  upper: number;
  n: number;
}

export interface CurveFigureOptions {
  dataset: string;
  /** Attacks to show, in this order. Default: every attack in the results (not 'none'), paper order first. */
  attacks?: string[];
  /** Only cells of this variant; null: only cells without a variant; default: all (one panel each). */
  variant?: string | null;
  /** 'panels': one panel per attack, side by side (the paper's layout). 'single': one panel, colour = series, dash = attack. Default 'panels'. */
  layout?: 'panels' | 'single';
  /** Shade the Wilson interval of each point. Default true. */
  intervals?: boolean;
  /** Figure title. Default: the dataset and what is shown. */
  title?: string;
  /** Subtitle; '' for none. Default: what the gradients or examples were. */
  subtitle?: string;
  /** Panel size in pixels. Default 240 x 220. */
  width?: number;
  height?: number;
}

export interface AccuracyFigureOptions extends CurveFigureOptions {
  /** Gradient source of the cells shown. Default 'own' (the paper's setting). */
  source?: string;
  /** Model ids to show. Default: every model of the dataset. */
  models?: string[];
  /** Use a clean cell (attack 'none') as the eps = 0 point of series that lack one. Default true. */
  cleanAtZero?: boolean;
}

function toRow(
  attack: string,
  series: string,
  c: Pick<ResultCell, 'epsilon' | 'accuracy' | 'accuracyInterval' | 'n'>,
): CurveRow {
  return {
    attack,
    series,
    epsilon: c.epsilon,
    accuracy: (c.accuracy ?? 0) * 100,
    lower: c.accuracyInterval[0] * 100,
    upper: c.accuracyInterval[1] * 100,
    n: c.n,
  };
}

function sortRows(rows: CurveRow[], attackOrder: string[], seriesOrder: string[]): CurveRow[] {
  return rows.sort(
    (a, b) =>
      attackOrder.indexOf(a.attack) - attackOrder.indexOf(b.attack) ||
      seriesOrder.indexOf(a.series) - seriesOrder.indexOf(b.series) ||
      a.epsilon - b.epsilon,
  );
}

function attacksOf(cells: ResultCell[], only?: string[]): { key: string; label: string }[] {
  const found = new Map<string, { attack: string; variant?: string }>();
  for (const c of cells) {
    if (c.attack === 'none') continue;
    const key = JSON.stringify([c.attack, c.variant ?? null]);
    if (!found.has(key))
      found.set(key, {
        attack: c.attack,
        ...(c.variant !== undefined ? { variant: c.variant } : {}),
      });
  }
  let list = [...found.entries()];
  if (only) list = list.filter(([, v]) => only.includes(v.attack));
  list.sort(([, a], [, b]) => {
    if (only)
      return (
        only.indexOf(a.attack) - only.indexOf(b.attack) ||
        (a.variant ?? '').localeCompare(b.variant ?? '')
      );
    return (
      attackRank(a.attack) - attackRank(b.attack) ||
      (a.variant ?? '').localeCompare(b.variant ?? '')
    );
  });
  return list.map(([key, v]) => ({ key, label: attackLabel(v.attack, v.variant) }));
}

/**
 * Rows of the accuracy-vs-epsilon figure: one per (attack, model, epsilon) of a dataset and
 * gradient source, accuracy in percent. What `accuracyFigure` plots.
 */
export function accuracyRows(results: Results, options: AccuracyFigureOptions): CurveRow[] {
  const source = options.source ?? 'own';
  const models = datasetModels(results, options.dataset, options.models);
  const ids = models.map((m) => m.id);
  const cells = results.cells.filter(
    (c) =>
      c.dataset === options.dataset &&
      c.source === source &&
      ids.includes(c.model) &&
      variantMatches(c, options.variant),
  );
  const attacks = attacksOf(cells, options.attacks);
  if (attacks.length === 0) {
    throw new FigureError(
      `accuracyFigure: no attack cells for dataset '${options.dataset}' with source '${source}'` +
        ` (datasets in the results: ${listOf(results.cells.map((c) => c.dataset))};` +
        ` sources for '${options.dataset}': ${listOf(results.cells.filter((c) => c.dataset === options.dataset).map((c) => c.source))})`,
    );
  }
  const rows: CurveRow[] = [];
  const seriesOrder = ids.map((id) => modelLabel(results, options.dataset, id));
  for (const { key, label } of attacks) {
    for (const id of ids) {
      const mine = cells.filter(
        (c) => c.model === id && JSON.stringify([c.attack, c.variant ?? null]) === key,
      );
      const series = modelLabel(results, options.dataset, id);
      for (const c of mine) rows.push(toRow(label, series, c));
      if (mine.length > 0 && (options.cleanAtZero ?? true) && !mine.some((c) => c.epsilon === 0)) {
        const clean = results.cells.find(
          (c) => c.dataset === options.dataset && c.model === id && c.attack === 'none',
        );
        if (clean) rows.push(toRow(label, series, { ...clean, epsilon: 0 }));
      }
    }
  }
  return sortRows(
    rows,
    attacks.map((a) => a.label),
    seriesOrder,
  );
}

function curveSpec(
  rows: CurveRow[],
  opts: CurveFigureOptions,
  title: string,
  subtitle: string,
  seriesTitle: string,
  seriesOrder: string[],
): FigureSpec {
  const attackOrder = [...new Set(rows.map((r) => r.attack))];
  const seriesDomain = seriesOrder.filter((s) => rows.some((r) => r.series === s));
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
  const color = {
    field: 'series',
    type: 'nominal',
    title: seriesTitle,
    scale: colorScale(seriesDomain),
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
  const lineEncoding: Record<string, unknown> = { x, y, color, tooltip };
  const layers: Record<string, unknown>[] = [];
  if (opts.intervals ?? true) {
    const bandEncoding: Record<string, unknown> = {
      x,
      y: { field: 'lower', type: 'quantitative', scale: { domain: [0, 100] } },
      y2: { field: 'upper' },
      color,
    };
    if (single) bandEncoding.detail = { field: 'attack' };
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
    $schema: SCHEMA,
    title: subtitle ? { text: title, subtitle } : { text: title },
    data: { values: rows },
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
    facet: {
      column: {
        field: 'attack',
        type: 'nominal',
        sort: attackOrder,
        title: null,
        header: { labelPadding: 6 },
      },
    },
    spec: { width, height, layer: layers },
    resolve: { scale: { x: 'shared', y: 'shared' } },
    // lay panels out by their frames, not by the marks spilling over them: with 'full' bounds
    // the points at eps = 0 pushed the y axis 5 px left of the data's origin
    bounds: 'flush',
  } as FigureSpec;
}

/**
 * Accuracy (%) against epsilon per attack and training method: the paper's Figures 1a (MNIST)
 * and 2a (CIFAR-10). One panel per attack with one line per model, Wilson bands shaded.
 */
export function accuracyFigure(results: Results, options: AccuracyFigureOptions): FigureSpec {
  const rows = accuracyRows(results, options);
  const source = options.source ?? 'own';
  const seriesOrder = datasetModels(results, options.dataset, options.models).map((m) =>
    modelLabel(results, options.dataset, m.id),
  );
  const title = options.title ?? `${datasetLabel(options.dataset)}: accuracy under attack`;
  const subtitle =
    options.subtitle ??
    `White-box attacks using ${SOURCE_LABELS[source] ?? `gradient source '${source}'`}; shaded: 95% Wilson interval`;
  return curveSpec(rows, options, title, subtitle, 'Training', seriesOrder);
}

export interface TransferFigureOptions extends CurveFigureOptions {
  /** [source, target] model id pairs to show. Default: every transfer pair in the results. */
  pairs?: [string, string][];
  /** Also draw each target's white-box curve (source 'own'). Default false. */
  includeWhiteBox?: boolean;
}

/**
 * Rows of the transfer figure: accuracy of the target on examples crafted on the source,
 * series 'BP → FA', per attack and epsilon, in percent. What `transferFigure` plots.
 */
export function transferRows(
  results: Results,
  options: TransferFigureOptions,
): { rows: CurveRow[]; seriesOrder: string[] } {
  const d = options.dataset;
  const cells = results.cells.filter((c) => c.dataset === d && variantMatches(c, options.variant));
  const transfer = cells.filter((c) => {
    if (!c.source.startsWith('transfer:')) return false;
    const s = c.source.slice('transfer:'.length);
    return !options.pairs || options.pairs.some(([ps, pt]) => ps === s && pt === c.model);
  });
  const attacks = attacksOf(transfer, options.attacks);
  if (attacks.length === 0) {
    throw new FigureError(
      `transferFigure: no transfer cells (source 'transfer:<model>') for dataset '${d}'` +
        ` (sources for '${d}': ${listOf(cells.map((c) => c.source))})`,
    );
  }
  const label = (id: string) => modelLabel(results, d, id);
  const modelOrder = results.models.filter((m) => m.dataset === d).map((m) => m.id);
  const pairs: [string, string][] = [];
  for (const c of transfer) {
    const s = c.source.slice('transfer:'.length);
    if (!pairs.some(([a, b]) => a === s && b === c.model)) pairs.push([s, c.model]);
  }
  pairs.sort(
    ([s1, t1], [s2, t2]) =>
      modelOrder.indexOf(s1) - modelOrder.indexOf(s2) ||
      modelOrder.indexOf(t1) - modelOrder.indexOf(t2),
  );
  const seriesOrder = pairs.map(([s, t]) => `${label(s)} → ${label(t)}`);
  const targets = [...new Set(pairs.map(([, t]) => t))];
  if (options.includeWhiteBox) for (const t of targets) seriesOrder.push(`${label(t)} (white-box)`);
  const rows: CurveRow[] = [];
  for (const { key, label: attack } of attacks) {
    const same = (c: ResultCell) => JSON.stringify([c.attack, c.variant ?? null]) === key;
    for (const c of transfer.filter(same)) {
      rows.push(
        toRow(attack, `${label(c.source.slice('transfer:'.length))} → ${label(c.model)}`, c),
      );
    }
    if (options.includeWhiteBox) {
      for (const c of cells.filter(
        (x) => same(x) && x.source === 'own' && targets.includes(x.model),
      )) {
        rows.push(toRow(attack, `${label(c.model)} (white-box)`, c));
      }
    }
  }
  return {
    rows: sortRows(
      rows,
      attacks.map((a) => a.label),
      seriesOrder,
    ),
    seriesOrder,
  };
}

/**
 * Transferability: accuracy of the target network on adversarial examples crafted on the
 * source network, against epsilon (the paper's Figures 1b and 2b). One panel per attack, one
 * line per source → target pair.
 */
export function transferFigure(results: Results, options: TransferFigureOptions): FigureSpec {
  const { rows, seriesOrder } = transferRows(results, options);
  const title =
    options.title ?? `${datasetLabel(options.dataset)}: transfer of adversarial examples`;
  const subtitle =
    options.subtitle ??
    'Accuracy of the target on examples crafted on the source; shaded: 95% Wilson interval';
  return curveSpec(rows, options, title, subtitle, 'Source → target', seriesOrder);
}

export interface AlignmentFigureOptions {
  /** Datasets to show (one panel each). Default: all in results.alignment. */
  datasets?: string[];
  /** Model ids to show. Default: all. */
  models?: string[];
  /** Only records with this comparison. Default: all (series named with the comparison when several). */
  comparison?: string;
  /** y as percent of examples (default) or raw counts. */
  normalize?: boolean;
  title?: string;
  subtitle?: string;
  width?: number;
  height?: number;
}

export interface AlignmentRow {
  dataset: string;
  series: string;
  binStart: number;
  binEnd: number;
  count: number;
  percent: number;
}

/** Rows of the gradient-alignment histogram: one per bin and record. */
export function alignmentRows(
  results: Results,
  options: AlignmentFigureOptions = {},
): AlignmentRow[] {
  const records = selectAlignment(results, options);
  return records.flatMap((r) => {
    const total = r.histogram.counts.reduce((a, b) => a + b, 0);
    const series = alignmentSeries(results, r, records);
    return r.histogram.counts.map((count, i) => ({
      dataset: datasetLabel(r.dataset),
      series,
      binStart: r.histogram.edges[i]!,
      binEnd: r.histogram.edges[i + 1]!,
      count,
      percent: total > 0 ? (100 * count) / total : 0,
    }));
  });
}

function selectAlignment(results: Results, options: AlignmentFigureOptions): AlignmentRecord[] {
  const all = results.alignment ?? [];
  const records = all.filter(
    (r) =>
      (!options.datasets || options.datasets.includes(r.dataset)) &&
      (!options.models || options.models.includes(r.model)) &&
      (options.comparison === undefined || r.comparison === options.comparison),
  );
  // the order of results.models, so each model keeps its colour across figures
  const rank = (r: AlignmentRecord) =>
    results.models.findIndex((m) => m.dataset === r.dataset && m.id === r.model);
  records.sort((a, b) => rank(a) - rank(b) || a.comparison.localeCompare(b.comparison));
  if (records.length === 0) {
    throw new FigureError(
      `alignmentFigure: no alignment records match (records in the results: ${all.length}; datasets: ${listOf(all.map((r) => r.dataset))}; comparisons: ${listOf(all.map((r) => r.comparison))})`,
    );
  }
  return records;
}

function alignmentSeries(results: Results, r: AlignmentRecord, records: AlignmentRecord[]): string {
  const label = modelLabel(results, r.dataset, r.model);
  const comparisons = new Set(records.map((x) => x.comparison));
  return comparisons.size > 1 ? `${label} (${r.comparison})` : label;
}

/**
 * Gradient-alignment histograms: distribution over examples of the angle (degrees) between two
 * input gradients, e.g. an FA network's backward-path gradient against its true gradient. One
 * panel per dataset, one colour per model; a dashed line marks each median, a grey line 90°
 * (orthogonal: no alignment).
 */
export function alignmentFigure(
  results: Results,
  options: AlignmentFigureOptions = {},
): FigureSpec {
  const records = selectAlignment(results, options);
  const rows = alignmentRows(results, options);
  const normalize = options.normalize ?? true;
  const seriesDomain = [...new Set(rows.map((r) => r.series))];
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const medians = records
    .filter((r) => r.angle.median !== null)
    .map((r) => ({
      dataset: datasetLabel(r.dataset),
      series: alignmentSeries(results, r, records),
      median: r.angle.median,
      label: `median ${(r.angle.median as number).toFixed(1)}°`,
    }));
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Training',
    scale: colorScale(seriesDomain),
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
  const comparisons = [...new Set(records.map((r) => r.comparison))];
  const title = options.title ?? 'Gradient alignment';
  const subtitle =
    options.subtitle ??
    (comparisons.length === 1 && comparisons[0] === 'own-vs-true'
      ? "Angle between each network's backward-path input gradient and its true input gradient, per test example"
      : `Angle per example (${comparisons.join(', ')})`);
  return {
    $schema: SCHEMA,
    title: subtitle ? { text: title, subtitle } : { text: title },
    config: config(),
    data: {
      values: [
        ...rows.map((r) => ({ kind: 'bin', ...r })),
        ...medians.map((m) => ({ kind: 'median', ...m })),
      ],
    },
    facet: {
      column: {
        field: 'dataset',
        type: 'nominal',
        sort: datasets,
        title: null,
        header: { labelPadding: 6 },
      },
    },
    bounds: 'flush',
    spec: {
      width: options.width ?? 300,
      height: options.height ?? 200,
      layer: [
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
            dx: 3,
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
          encoding: { x: { field: 'median', type: 'quantitative' }, color },
        },
      ],
    },
  } as FigureSpec;
}

export interface NamedFigure {
  /** File stem, e.g. 'accuracy-mnist', 'transfer-cifar10', 'alignment'. */
  name: string;
  spec: FigureSpec;
}

/**
 * Every figure a results object supports: per dataset, accuracy vs epsilon (source 'own') and
 * transfer when there are transfer cells; one alignment figure when there are records.
 */
export function figuresFor(results: Results): NamedFigure[] {
  const out: NamedFigure[] = [];
  const datasets = [...new Set(results.cells.map((c) => c.dataset))];
  for (const d of datasets) {
    const cells = results.cells.filter((c) => c.dataset === d);
    const slug = d.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    if (cells.some((c) => c.source === 'own' && c.attack !== 'none')) {
      out.push({ name: `accuracy-${slug}`, spec: accuracyFigure(results, { dataset: d }) });
    }
    if (cells.some((c) => c.source.startsWith('transfer:'))) {
      out.push({ name: `transfer-${slug}`, spec: transferFigure(results, { dataset: d }) });
    }
  }
  if (results.alignment && results.alignment.length > 0)
    out.push({ name: 'alignment', spec: alignmentFigure(results) });
  return out;
}
