import type { Results } from './results-schema.js';

// Labels and theme shared by every figure (and by the CSV's model labels): the names readers
// see for attacks, datasets, gradient sources and models, the font, the palette, the config.

/** The Vega-Lite schema every figure names. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
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
};
/** Attack ids in the order panels are drawn by default: the paper's order first. */
export const ATTACK_ORDER: readonly string[] = [
  'fgsm',
  'bim',
  'ifgsm',
  'mifgsm',
  'mi-fgsm',
  'pgd',
  'spsa',
  'square',
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

/** A colour scale giving the i-th series the i-th palette colour, in every figure alike. */
export function colorScale(domain: string[]): Record<string, unknown> {
  return { domain, range: domain.map((_, i) => PALETTE[i % PALETTE.length]) };
}
