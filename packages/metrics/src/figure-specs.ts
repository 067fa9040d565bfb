import {
  colorScale,
  config,
  datasetLabel,
  modelLabel,
  SOURCE_LABELS,
  VEGA_LITE_SCHEMA,
} from './figure-labels.js';
import {
  type AccuracyFigureOptions,
  type AlignmentFigureOptions,
  accuracyRows,
  alignmentRows,
  alignmentSeries,
  type CurveFigureOptions,
  type CurveRow,
  datasetModels,
  selectAlignment,
  type TransferFigureOptions,
  transferRows,
} from './figure-rows.js';
import { type Results, transferredFrom } from './results-schema.js';

/** A Vega-Lite (v6) specification: plain JSON, render it with renderSvg/renderPng or any Vega tool. */
export type FigureSpec = { $schema: string; [key: string]: unknown };

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
    $schema: VEGA_LITE_SCHEMA,
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
    $schema: VEGA_LITE_SCHEMA,
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
    if (cells.some((c) => transferredFrom(c.source) !== null)) {
      out.push({ name: `transfer-${slug}`, spec: transferFigure(results, { dataset: d }) });
    }
  }
  if (results.alignment && results.alignment.length > 0)
    out.push({ name: 'alignment', spec: alignmentFigure(results) });
  return out;
}
