import { FigureError } from './errors.js';
import {
  ATTACK_LABELS,
  attackLabel,
  attackRank,
  datasetLabel,
  modelLabel,
  sourceLabel,
} from './figure-labels.js';
import {
  type AlignmentRecord,
  type CurveRecord,
  type LayerAlignmentRecord,
  type ModelRecord,
  normEps,
  type ResultCell,
  type Results,
  type RobustRecord,
  transferGradient,
  transferredFrom,
} from './results-schema.js';

// The rows each figure plots, as plain objects (also useful on their own: tables, checks).

export function datasetModels(
  results: Results,
  dataset: string,
  only?: readonly string[],
): ModelRecord[] {
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

/**
 * Whether a cell belongs to the paper's setting (variant 'paper', or no variant and no in-ball
 * mark: results written before the evaluation) or to the sound evaluation (variant 'standard',
 * or marked in-ball without the paper's variant).
 */
export function cellSetting(c: ResultCell): 'paper' | 'evaluation' {
  if (c.variant === 'paper') return 'paper';
  if (c.variant === 'standard' || c.inBall !== undefined) return 'evaluation';
  return 'paper';
}

function keep(c: ResultCell, options: Pick<CurveFigureOptions, 'variant' | 'setting'>): boolean {
  return (
    variantMatches(c, options.variant) &&
    (options.setting === undefined || cellSetting(c) === options.setting)
  );
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
  /**
   * Only the paper's cells ('paper': variant 'paper', or neither a variant nor an `inBall`
   * mark) or only the evaluation's ('evaluation': variant 'standard' or marked `inBall`).
   * Default: both.
   */
  setting?: 'paper' | 'evaluation';
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
  /**
   * Model ids to show. Default: the models of the dataset measured at every epsilon the figure
   * draws, in every panel (a model measured at a few epsilons only, such as a surrogate, drops
   * out; when no model is complete, those with at least half of the points).
   */
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
  const labelled = list.map(([key, v]) => ({ key, label: attackLabel(v.attack, v.variant), v }));
  // 'standard' and no variant both read 'MI-FGSM': name the variant when two panels would merge
  return labelled.map(({ key, label, v }) => ({
    key,
    label:
      labelled.filter((x) => x.label === label).length > 1 && v.variant !== undefined
        ? `${ATTACK_LABELS[v.attack.toLowerCase()] ?? v.attack} (${v.variant})`
        : label,
  }));
}

interface AccuracySelection {
  source: string;
  ids: string[];
  attacks: { key: string; label: string }[];
  cells: ResultCell[];
}

const attackKey = (c: ResultCell) => JSON.stringify([c.attack, c.variant ?? null]);

function selectAccuracy(results: Results, options: AccuracyFigureOptions): AccuracySelection {
  const source = options.source ?? 'own';
  const models = datasetModels(results, options.dataset, options.models);
  let ids = models.map((m) => m.id);
  const cells = results.cells.filter(
    (c) =>
      c.dataset === options.dataset &&
      c.source === source &&
      ids.includes(c.model) &&
      keep(c, options),
  );
  const attacks = attacksOf(cells, options.attacks);
  if (attacks.length === 0) {
    throw new FigureError(
      `accuracyFigure: no attack cells for dataset '${options.dataset}' with source '${source}'` +
        ` (datasets in the results: ${listOf(results.cells.map((c) => c.dataset))};` +
        ` sources for '${options.dataset}': ${listOf(results.cells.filter((c) => c.dataset === options.dataset).map((c) => c.source))})`,
    );
  }
  if (!options.models) {
    // the (panel, epsilon) points each model has, a clean cell standing in for eps = 0
    const keys = new Set(attacks.map((a) => a.key));
    const cleanAtZero = options.cleanAtZero ?? true;
    const points = new Map<string, Set<string>>();
    for (const id of ids) {
      const mine = cells.filter((c) => c.model === id && keys.has(attackKey(c)));
      const set = new Set(mine.map((c) => JSON.stringify([attackKey(c), normEps(c.epsilon)])));
      const hasClean = results.cells.some(
        (c) => c.dataset === options.dataset && c.model === id && c.attack === 'none',
      );
      if (cleanAtZero && hasClean)
        for (const k of new Set(mine.map(attackKey))) set.add(JSON.stringify([k, 0]));
      points.set(id, set);
    }
    const grid = new Set([...points.values()].flatMap((s) => [...s]));
    const complete = ids.filter((id) => points.get(id)!.size === grid.size);
    ids = complete.length
      ? complete
      : ids.filter((id) => points.get(id)!.size >= grid.size / 2 && points.get(id)!.size > 0);
    if (ids.length === 0) {
      const best = Math.max(...[...points.values()].map((s) => s.size));
      ids = models.map((m) => m.id).filter((id) => points.get(id)!.size === best);
    }
  }
  return { source, ids, attacks, cells: cells.filter((c) => ids.includes(c.model)) };
}

/**
 * The model ids the accuracy figure draws with these options: `options.models`, or by default
 * the models measured at every epsilon the figure draws.
 */
export function accuracyModels(results: Results, options: AccuracyFigureOptions): string[] {
  return selectAccuracy(results, options).ids;
}

/** The cells the accuracy figure draws (not the clean cells it uses at eps = 0). */
export function accuracyCells(results: Results, options: AccuracyFigureOptions): ResultCell[] {
  const { cells, attacks } = selectAccuracy(results, options);
  const keys = new Set(attacks.map((a) => a.key));
  return cells.filter((c) => keys.has(attackKey(c)));
}

/**
 * Rows of the accuracy-vs-epsilon figure: one per (attack, model, epsilon) of a dataset and
 * gradient source, accuracy in percent. What `accuracyFigure` plots.
 */
export function accuracyRows(results: Results, options: AccuracyFigureOptions): CurveRow[] {
  const { ids, attacks, cells } = selectAccuracy(results, options);
  const rows: CurveRow[] = [];
  const seriesOrder = ids.map((id) => modelLabel(results, options.dataset, id));
  for (const { key, label } of attacks) {
    for (const id of ids) {
      const mine = cells.filter((c) => c.model === id && attackKey(c) === key);
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

export interface TransferFigureOptions extends CurveFigureOptions {
  /** [source, target] model id pairs to show. Default: every transfer pair in the results. */
  pairs?: [string, string][];
  /** Also draw each target's white-box curve (source 'own'). Default false. */
  includeWhiteBox?: boolean;
}

/** A series of the transfer figure and the model it is coloured by. */
export interface TransferSeries {
  series: string;
  /** The model whose colour it takes: the source of a transfer, the target of a white-box curve. */
  model: string;
  /** The cells' source ('transfer:bp', 'transfer:fa:true') or 'own' for a white-box curve. */
  source: string;
  target: string;
  whiteBox: boolean;
}

/**
 * Rows of the transfer figure: accuracy of the target on examples crafted on the source,
 * series 'BP → FA' (examples made with FA's true gradient: 'FA (true gradient) → BP'), per
 * attack and epsilon, in percent. What `transferFigure` plots.
 */
export function transferRows(
  results: Results,
  options: TransferFigureOptions,
): { rows: CurveRow[]; seriesOrder: string[]; series: TransferSeries[] } {
  const d = options.dataset;
  const cells = results.cells.filter((c) => c.dataset === d && keep(c, options));
  const transfer = cells.filter((c) => {
    const s = transferredFrom(c.source);
    if (s === null) return false;
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
  const name = (source: string, target: string) => {
    const from = transferredFrom(source)!;
    const how = transferGradient(source) === 'true' ? ' (true gradient)' : '';
    return `${label(from)}${how} → ${label(target)}`;
  };
  const modelOrder = results.models.filter((m) => m.dataset === d).map((m) => m.id);
  const drawn = new Set(attacks.map((a) => a.key));
  const pairs: [string, string][] = [];
  for (const c of transfer) {
    if (!drawn.has(attackKey(c))) continue;
    if (!pairs.some(([a, b]) => a === c.source && b === c.model)) pairs.push([c.source, c.model]);
  }
  pairs.sort(
    ([s1, t1], [s2, t2]) =>
      modelOrder.indexOf(transferredFrom(s1)!) - modelOrder.indexOf(transferredFrom(s2)!) ||
      (transferGradient(s1) === 'true' ? 1 : 0) - (transferGradient(s2) === 'true' ? 1 : 0) ||
      modelOrder.indexOf(t1) - modelOrder.indexOf(t2),
  );
  const series: TransferSeries[] = pairs.map(([s, t]) => ({
    series: name(s, t),
    model: transferredFrom(s)!,
    source: s,
    target: t,
    whiteBox: false,
  }));
  const targets = [...new Set(pairs.map(([, t]) => t))];
  if (options.includeWhiteBox)
    for (const t of targets)
      series.push({
        series: `${label(t)} (white-box)`,
        model: t,
        source: 'own',
        target: t,
        whiteBox: true,
      });
  const seriesOrder = series.map((x) => x.series);
  const rows: CurveRow[] = [];
  for (const { key, label: attack } of attacks) {
    const same = (c: ResultCell) => attackKey(c) === key;
    for (const c of transfer.filter(same)) rows.push(toRow(attack, name(c.source, c.model), c));
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
    series,
  };
}

/** The cells the transfer figure draws (transfer cells only). */
export function transferCells(results: Results, options: TransferFigureOptions): ResultCell[] {
  const d = options.dataset;
  return results.cells.filter((c) => {
    if (c.dataset !== d || !keep(c, options)) return false;
    const s = transferredFrom(c.source);
    if (s === null) return false;
    if (options.attacks && !options.attacks.includes(c.attack)) return false;
    return !options.pairs || options.pairs.some(([ps, pt]) => ps === s && pt === c.model);
  });
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

/** Whether a record is of the datasets and models the options choose (all, where unset). */
function chosen(
  options: { datasets?: readonly string[]; models?: readonly string[] },
  r: { dataset: string; model: string },
): boolean {
  return (
    (!options.datasets || options.datasets.includes(r.dataset)) &&
    (!options.models || options.models.includes(r.model))
  );
}

export function selectAlignment(
  results: Results,
  options: AlignmentFigureOptions,
): AlignmentRecord[] {
  const all = results.alignment ?? [];
  const records = all.filter(
    (r) =>
      chosen(options, r) &&
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

export function alignmentSeries(
  results: Results,
  r: AlignmentRecord,
  records: AlignmentRecord[],
): string {
  const label = modelLabel(results, r.dataset, r.model);
  const comparisons = new Set(records.map((x) => x.comparison));
  return comparisons.size > 1 ? `${label} (${r.comparison})` : label;
}

export interface RobustFigureOptions {
  dataset: string;
  /** Model ids, one panel each, in this order. Default: every model with labelled records. */
  models?: string[];
  /** Record labels to draw, in this order. Default: all, the worst case first. */
  labels?: string[];
  /** Shade the Wilson interval of each point. Default true. */
  intervals?: boolean;
  title?: string;
  /** Subtitle; '' for none. */
  subtitle?: string;
  /** Panel size in pixels. Default 320 x 220. */
  width?: number;
  height?: number;
}

export interface RobustRow {
  /** Panel: the model's label. */
  model: string;
  modelId: string;
  /** Series: the record's label ('own path', 'AutoAttack', 'every in-ball attack'...). */
  series: string;
  epsilon: number;
  /** Percent. */
  accuracy: number;
  lower: number;
  upper: number;
  n: number;
  /** Attacks combined in the record. */
  attacks: number;
}

/** The labels robust figures know, in legend order: the worst case, then strongest first. */
export const ROBUST_LABEL_ORDER: readonly string[] = [
  'every in-ball attack',
  'AutoAttack',
  'true gradient',
  'own path',
  'Square',
  'BP-surrogate transfer',
  'random noise',
];

/** The labelled robust records of a dataset the robust figure draws. */
export function selectRobust(results: Results, options: RobustFigureOptions): RobustRecord[] {
  const all = (results.robust ?? []).filter(
    (r) => r.dataset === options.dataset && r.label !== undefined,
  );
  const records = all.filter(
    (r) =>
      (!options.models || options.models.includes(r.model)) &&
      (!options.labels || options.labels.includes(r.label!)) &&
      r.epsilon > 0,
  );
  if (records.length === 0) {
    throw new FigureError(
      `robustFigure: no labelled robust records (epsilon > 0) for dataset '${options.dataset}'` +
        ` (datasets with labelled records: ${listOf((results.robust ?? []).filter((r) => r.label !== undefined).map((r) => r.dataset))};` +
        ` labels for '${options.dataset}': ${listOf(all.map((r) => r.label!))})`,
    );
  }
  return records;
}

/**
 * Rows of the robust-accuracy figure: one per labelled RobustRecord of the dataset (epsilon > 0,
 * which the log axis can place), accuracy in percent, panels in model order, series in
 * ROBUST_LABEL_ORDER (or `options.labels`) then as they come.
 */
export function robustRows(results: Results, options: RobustFigureOptions): RobustRow[] {
  const records = selectRobust(results, options);
  const d = options.dataset;
  const modelOrder = options.models ?? datasetModels(results, d).map((m) => m.id);
  const labelOrder = robustLabelOrder(records, options);
  const rows = records.map((r) => ({
    model: modelLabel(results, d, r.model),
    modelId: r.model,
    series: r.label!,
    epsilon: r.epsilon,
    accuracy: (r.accuracy ?? 0) * 100,
    lower: r.accuracyInterval[0] * 100,
    upper: r.accuracyInterval[1] * 100,
    n: r.n,
    attacks: r.attacks.length,
  }));
  return rows.sort(
    (a, b) =>
      modelOrder.indexOf(a.modelId) - modelOrder.indexOf(b.modelId) ||
      labelOrder.indexOf(a.series) - labelOrder.indexOf(b.series) ||
      a.epsilon - b.epsilon,
  );
}

export function robustLabelOrder(records: RobustRecord[], options: RobustFigureOptions): string[] {
  const present = [...new Set(records.map((r) => r.label!))];
  const order = options.labels ?? ROBUST_LABEL_ORDER;
  return [
    ...order.filter((l) => present.includes(l)),
    ...present.filter((l) => !order.includes(l)),
  ];
}

export interface BudgetFigureOptions {
  dataset: string;
  /** Model ids. Default: every model with curve records. */
  models?: string[];
  /** Attack ids. Default: all in the dataset's curve records. */
  attacks?: string[];
  /** Shade the Wilson interval of each point. Default true. */
  intervals?: boolean;
  title?: string;
  /** Subtitle; '' for none. */
  subtitle?: string;
  /** Panel size in pixels. Default 280 x 220. */
  width?: number;
  height?: number;
}

export interface BudgetRow {
  /** 'steps' or 'restarts': the panel. */
  parameter: 'steps' | 'restarts';
  /** 'BP', 'FA (own path)', 'FA (true gradient)'... */
  series: string;
  model: string;
  source: string;
  attack: string;
  epsilon: number;
  /** The number of steps or restarts. */
  value: number;
  /** Percent. */
  accuracy: number;
  lower: number;
  upper: number;
  n: number;
}

/** The curve records of a dataset the budget figure draws, in model order. */
export function selectCurves(results: Results, options: BudgetFigureOptions): CurveRecord[] {
  const all = (results.curves ?? []).filter((r) => r.dataset === options.dataset);
  const records = all.filter(
    (r) =>
      (!options.models || options.models.includes(r.model)) &&
      (!options.attacks || options.attacks.includes(r.attack)) &&
      r.points.length > 0,
  );
  if (records.length === 0) {
    throw new FigureError(
      `budgetFigure: no curve records for dataset '${options.dataset}'` +
        ` (datasets with curve records: ${listOf((results.curves ?? []).map((r) => r.dataset))};` +
        ` models for '${options.dataset}': ${listOf(all.map((r) => r.model))})`,
    );
  }
  const rank = (id: string) =>
    results.models.findIndex((m) => m.dataset === options.dataset && m.id === id);
  const srcRank = (s: string) => ['own', 'true'].indexOf(s) + 1 || 3;
  return records.sort(
    (a, b) =>
      rank(a.model) - rank(b.model) ||
      srcRank(a.source) - srcRank(b.source) ||
      a.source.localeCompare(b.source) ||
      attackRank(a.attack) - attackRank(b.attack),
  );
}

/**
 * The series name of a curve record: the model's label, with the gradient source when the
 * model has curves from several sources ('FA (own path)', 'FA (true gradient)'), the attack
 * when there are several, and epsilon when there are several.
 */
export function budgetSeries(results: Results, r: CurveRecord, records: CurveRecord[]): string {
  const mine = records.filter((x) => x.model === r.model);
  const extra: string[] = [];
  if (new Set(mine.map((x) => x.source)).size > 1)
    extra.push(sourceLabel(r.source, (id) => modelLabel(results, r.dataset, id)));
  if (new Set(records.map((x) => x.attack)).size > 1) extra.push(attackLabel(r.attack));
  if (new Set(records.map((x) => normEps(x.epsilon))).size > 1) extra.push(`ε ${r.epsilon}`);
  const label = modelLabel(results, r.dataset, r.model);
  return extra.length ? `${label} (${extra.join(', ')})` : label;
}

/** Rows of the budget figure: accuracy (%) per record and point, steps and restarts. */
export function budgetRows(results: Results, options: BudgetFigureOptions): BudgetRow[] {
  const records = selectCurves(results, options);
  return records.flatMap((r) => {
    const series = budgetSeries(results, r, records);
    return [...r.points]
      .sort((a, b) => a.value - b.value)
      .map((p) => ({
        parameter: r.parameter,
        series,
        model: r.model,
        source: r.source,
        attack: r.attack,
        epsilon: r.epsilon,
        value: p.value,
        accuracy: p.accuracy * 100,
        lower: p.accuracyInterval[0] * 100,
        upper: p.accuracyInterval[1] * 100,
        n: p.n,
      }));
  });
}

export interface LayerAlignmentFigureOptions {
  /** Datasets, one panel each. Default: all in results.layerAlignment. */
  datasets?: string[];
  /** Model ids. Default: all. */
  models?: string[];
  title?: string;
  /** Subtitle; '' for none. */
  subtitle?: string;
  /** Panel height in pixels (width follows the layers). Default 200. */
  height?: number;
}

export interface LayerAlignmentRow {
  /** Panel: the dataset's label. */
  dataset: string;
  /** The model's label. */
  series: string;
  model: string;
  layer: string;
  /** Degrees. */
  angle: number;
}

/**
 * Rows of the layer-alignment figure: one per LayerAlignmentRecord with an angle (records
 * whose W or B is all zeros have none and are left out), in the records' layer order.
 */
export function layerAlignmentRows(
  results: Results,
  options: LayerAlignmentFigureOptions = {},
): LayerAlignmentRow[] {
  return selectLayerAlignment(results, options)
    .filter((r) => r.angle !== null)
    .map((r) => ({
      dataset: datasetLabel(r.dataset),
      series: modelLabel(results, r.dataset, r.model),
      model: r.model,
      layer: r.layer,
      angle: r.angle as number,
    }));
}

export function selectLayerAlignment(
  results: Results,
  options: LayerAlignmentFigureOptions,
): LayerAlignmentRecord[] {
  const all = results.layerAlignment ?? [];
  const records = all.filter((r) => chosen(options, r));
  if (!records.some((r) => r.angle !== null)) {
    throw new FigureError(
      `layerAlignmentFigure: no layer-alignment records with an angle match (records in the results: ${all.length}; datasets: ${listOf(all.map((r) => r.dataset))}; models: ${listOf(all.map((r) => r.model))})`,
    );
  }
  return records;
}
