import { FigureError } from './errors.js';
import { attackLabel, attackRank, datasetLabel, modelLabel } from './figure-labels.js';
import {
  type AlignmentRecord,
  type ModelRecord,
  type ResultCell,
  type Results,
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
  const modelOrder = results.models.filter((m) => m.dataset === d).map((m) => m.id);
  const pairs: [string, string][] = [];
  for (const c of transfer) {
    const s = transferredFrom(c.source)!;
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
      rows.push(toRow(attack, `${label(transferredFrom(c.source)!)} → ${label(c.model)}`, c));
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

export function selectAlignment(
  results: Results,
  options: AlignmentFigureOptions,
): AlignmentRecord[] {
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

export function alignmentSeries(
  results: Results,
  r: AlignmentRecord,
  records: AlignmentRecord[],
): string {
  const label = modelLabel(results, r.dataset, r.model);
  const comparisons = new Set(records.map((x) => x.comparison));
  return comparisons.size > 1 ? `${label} (${r.comparison})` : label;
}
