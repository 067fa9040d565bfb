import { type Results, transferGradient, transferredFrom } from './results-schema.js';

// Labels and theme shared by every figure (and by the CSV's model labels): the names readers
// see for attacks, datasets, gradient sources and models, the font, the palette, the config.

/** The Vega-Lite schema every figure names. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
/** The bundled font first (PNG rendering), then what a browser viewing the SVG will have. */
export const FIGURE_FONT = 'Inter, Helvetica, Arial, sans-serif';
/** Tableau 10, the colours every figure draws from. */
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
/**
 * The colour of each model of the study, the same in every figure: BP blue, FA orange, the
 * independent BP surrogate brown-grey. Other models take REST_COLORS in the order of their ids.
 */
export const MODEL_COLORS: Readonly<Record<string, string>> = {
  bp: '#4c78a8',
  fa: '#f58518',
  'bp-surrogate': '#9d755d',
};
/** The palette less the colours MODEL_COLORS fixes: for other models, and other meanings. */
const REST_COLORS = PALETTE.filter((c) => !Object.values(MODEL_COLORS).includes(c));

/** Display names of attack ids ('fgsm' -> 'FGSM'); attackLabel falls back to the id itself. */
export const ATTACK_LABELS: Readonly<Record<string, string>> = {
  none: 'Clean',
  fgsm: 'FGSM',
  bim: 'BIM',
  ifgsm: 'I-FGSM',
  mifgsm: 'MI-FGSM',
  'mi-fgsm': 'MI-FGSM',
  pgd: 'PGD',
  apgd: 'APGD',
  'apgd-ce': 'APGD-CE',
  'apgd-dlr': 'APGD-DLR',
  'apgd-t': 'APGD-T',
  fab: 'FAB',
  'fab-t': 'FAB-T',
  autoattack: 'AutoAttack',
  spsa: 'SPSA',
  square: 'Square',
  cw: 'C&W',
  deepfool: 'DeepFool',
  noise: 'Random noise',
};
/**
 * Attack ids in the order panels are drawn by default: the paper's order first (single step,
 * iterative, momentum), then the stronger white-box attacks, the AutoAttack ensemble, the
 * gradient-free attacks and last the random-noise baseline.
 */
export const ATTACK_ORDER: readonly string[] = [
  'fgsm',
  'bim',
  'ifgsm',
  'mifgsm',
  'mi-fgsm',
  'pgd',
  'apgd',
  'apgd-ce',
  'apgd-dlr',
  'apgd-t',
  'fab',
  'fab-t',
  'cw',
  'deepfool',
  'autoattack',
  'spsa',
  'square',
  'noise',
];
/** Display names of dataset ids ('cifar10' -> 'CIFAR-10'); datasetLabel falls back to the id. */
export const DATASET_LABELS: Readonly<Record<string, string>> = {
  mnist: 'MNIST',
  cifar10: 'CIFAR-10',
  'cifar-10': 'CIFAR-10',
  fashion: 'Fashion-MNIST',
  'fashion-mnist': 'Fashion-MNIST',
  fashionmnist: 'Fashion-MNIST',
};
/**
 * What a gradient source means, as the accuracy figure's subtitle says it ('White-box attacks
 * using ...'); sources not listed are named as given.
 */
export const SOURCE_LABELS: Readonly<Record<string, string>> = {
  own: "gradients from each network's own backward path",
  true: 'true gradients of each forward function',
  none: 'no gradients',
};

/**
 * Short names of gradient sources, as series and legends say them ('own' -> 'own path');
 * sourceLabel derives the transfer ones.
 */
const SOURCE_SHORT: Readonly<Record<string, string>> = {
  own: 'own path',
  true: 'true gradient',
  none: 'no gradient',
};

/**
 * 'fgsm' -> 'FGSM', 'mifgsm' + variant 'projected' -> 'MI-FGSM (projected)'. Variant 'paper'
 * reads "MI-FGSM (paper's equations)" (the update rule as Akrout 2019's equations write it);
 * variant 'standard' (the textbook attack) reads just 'MI-FGSM'.
 */
export function attackLabel(attack: string, variant?: string): string {
  const base = ATTACK_LABELS[attack.toLowerCase()] ?? attack;
  if (!variant || variant === 'standard') return base;
  return variant === 'paper' ? `${base} (paper's equations)` : `${base} (${variant})`;
}

/**
 * A gradient source in a few words: 'own' -> 'own path', 'true' -> 'true gradient', 'none' ->
 * 'no gradient', 'transfer:bp' -> 'transfer from BP', 'transfer:fa:true' -> 'transfer from FA
 * (true gradient)'; model ids are named by `modelName` (default: the id). Other tags as given.
 */
export function sourceLabel(
  source: string,
  modelName: (id: string) => string = (id) => id,
): string {
  if (SOURCE_SHORT[source]) return SOURCE_SHORT[source];
  const from = transferredFrom(source);
  if (from === null) return source;
  const name = `transfer from ${modelName(from)}`;
  return transferGradient(source) === 'true' ? `${name} (true gradient)` : name;
}

/**
 * An epsilon as a reader writes it: a decimal when it has at most 3 decimals (0.1, 0.05, 1),
 * else 'k/255' when it is k grey levels of 8-bit pixels in [0, 1] (8/255), else 3 significant
 * digits.
 */
export function epsilonLabel(epsilon: number): string {
  if (Math.abs(epsilon - Number(epsilon.toFixed(3))) < 1e-9)
    return String(Number(epsilon.toFixed(3)));
  const k = Math.round(epsilon * 255);
  if (k > 0 && Math.abs(epsilon * 255 - k) < 1e-6) return `${k}/255`;
  return String(Number(epsilon.toPrecision(3)));
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

/** Position of an attack in ATTACK_ORDER; attacks not listed come after, tied. */
export function attackRank(a: string): number {
  const i = ATTACK_ORDER.indexOf(a.toLowerCase());
  return i < 0 ? ATTACK_ORDER.length : i;
}

/** The Vega-Lite config of every figure: font, sizes, greys; `extra` adds to it. */
export function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
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

/**
 * The colour of a model in every figure: MODEL_COLORS by id (bp, fa, bp-surrogate), else the
 * rest of the palette in the order of the other models' ids (over all datasets of the results,
 * so a model keeps its colour from one dataset's figure to the next).
 */
export function modelColor(results: Pick<Results, 'models'>, id: string): string {
  const fixed = MODEL_COLORS[id];
  if (fixed) return fixed;
  const others = [...new Set(results.models.map((m) => m.id))]
    .filter((x) => !MODEL_COLORS[x])
    .sort();
  const i = others.indexOf(id);
  return REST_COLORS[(i < 0 ? others.length : i) % REST_COLORS.length]!;
}

/**
 * Colours for series drawn by model: each series takes its model's colour, unless an earlier
 * series of the same group (e.g. same dash) already has it; then it takes a colour no model of
 * the figure uses, so a model's colour never means something else.
 */
export function seriesColors(
  results: Pick<Results, 'models'>,
  series: readonly { model: string; group?: string }[],
): string[] {
  const modelColors = new Set(results.models.map((m) => modelColor(results, m.id)));
  const spare = REST_COLORS.filter((c) => !modelColors.has(c));
  const taken = new Set<string>();
  let next = 0;
  return series.map(({ model, group }) => {
    const c = modelColor(results, model);
    const key = `${group ?? ''}\u0000${c}`;
    if (!taken.has(key)) {
      taken.add(key);
      return c;
    }
    return spare.length ? spare[next++ % spare.length]! : c;
  });
}

/** The palette less the models' fixed colours: for series that are not models (attack labels). */
export function spareColors(): readonly string[] {
  return REST_COLORS;
}
