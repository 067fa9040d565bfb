import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FigureError } from './errors.js';
import {
  ATTACK_LABELS,
  ATTACK_ORDER,
  attackLabel,
  DATASET_LABELS,
  datasetLabel,
  modelLabel,
  SOURCE_LABELS,
} from './figure-labels.js';
import { accuracyRows, alignmentRows, transferRows } from './figure-rows.js';
import { accuracyFigure, alignmentFigure, figuresFor, transferFigure } from './figure-specs.js';
import * as api from './index.js';
import { createResults, resultCell } from './results-build.js';
import type { Results } from './results-schema.js';
import { validateResults } from './results-validate.js';

// biome-ignore lint/suspicious/noExplicitAny: specs are walked as plain JSON
type Loose = Record<string, any>;

const fixture = (): Results =>
  validateResults(
    JSON.parse(
      readFileSync(new URL('./__fixtures__/paper-like.results.json', import.meta.url), 'utf8'),
    ),
  );

describe('labels', () => {
  it('names attacks, datasets and models the way the paper does', () => {
    expect(attackLabel('mifgsm')).toBe('MI-FGSM');
    expect(attackLabel('mifgsm', 'projected')).toBe('MI-FGSM (projected)');
    expect(attackLabel('newattack')).toBe('newattack');
    expect(datasetLabel('cifar10')).toBe('CIFAR-10');
    const r = fixture();
    expect(modelLabel(r, 'mnist', 'fa')).toBe('FA');
    const twoFa = { ...r, models: [...r.models, { dataset: 'mnist', id: 'fa2', method: 'fa' }] };
    expect(modelLabel(twoFa, 'mnist', 'fa2')).toBe('FA (fa2)');
  });
  it('takes the names from the label tables the package exports', () => {
    expect(api.ATTACK_LABELS).toBe(ATTACK_LABELS);
    expect(api.DATASET_LABELS).toBe(DATASET_LABELS);
    expect(api.SOURCE_LABELS).toBe(SOURCE_LABELS);
    expect(api.ATTACK_ORDER).toBe(ATTACK_ORDER);
    for (const [id, name] of Object.entries(ATTACK_LABELS)) {
      expect(attackLabel(id)).toBe(name);
      expect(attackLabel(id.toUpperCase())).toBe(name);
    }
    for (const [id, name] of Object.entries(DATASET_LABELS)) expect(datasetLabel(id)).toBe(name);
    expect(ATTACK_ORDER.slice(0, 3)).toEqual(['fgsm', 'bim', 'ifgsm']);
    expect(SOURCE_LABELS.own).toBe("gradients from each network's own backward path");
  });
});

describe('accuracyFigure (Figures 1a, 2a)', () => {
  it('has one panel per attack in the paper order and one series per training method', () => {
    const r = fixture();
    const rows = accuracyRows(r, { dataset: 'mnist' });
    expect(rows).toHaveLength(3 * 2 * 11);
    expect([...new Set(rows.map((x) => x.attack))]).toEqual(['FGSM', 'BIM', 'MI-FGSM (paper)']);
    expect([...new Set(rows.map((x) => x.series))]).toEqual(['BP', 'FA']);
    // each row is the cell's accuracy in percent
    for (const row of rows) {
      const attack = { FGSM: 'fgsm', BIM: 'bim', 'MI-FGSM (paper)': 'mifgsm' }[row.attack]!;
      const cell = r.cells.find(
        (c) =>
          c.dataset === 'mnist' &&
          c.source === 'own' &&
          c.attack === attack &&
          c.model === row.series.toLowerCase() &&
          c.epsilon === row.epsilon,
      )!;
      expect(row.accuracy).toBeCloseTo(cell.accuracy! * 100, 12);
      expect(row.lower).toBeCloseTo(cell.accuracyInterval[0] * 100, 12);
    }
    const spec = accuracyFigure(r, { dataset: 'mnist' }) as Loose;
    expect(spec.$schema).toMatch(/vega-lite\/v6/);
    expect(spec.facet.column).toMatchObject({
      field: 'attack',
      sort: ['FGSM', 'BIM', 'MI-FGSM (paper)'],
    });
    expect(spec.spec.layer).toHaveLength(2); // Wilson band + line
    expect(spec.spec.layer[1].encoding.color.scale.domain).toEqual(['BP', 'FA']);
    expect(spec.spec.layer[1].encoding.y.title).toBe('Accuracy (%)');
    expect(spec.title.text).toBe('MNIST: accuracy under attack');
    const single = accuracyFigure(r, {
      dataset: 'cifar10',
      layout: 'single',
      intervals: false,
    }) as Loose;
    expect(single.facet).toBeUndefined();
    expect(single.layer).toHaveLength(1);
    expect(single.layer[0].encoding.strokeDash.field).toBe('attack');
  });

  it('selects attacks, models and variants, and uses a clean cell as the eps = 0 point', () => {
    const r = createResults({
      createdAt: '2025-01-01T00:00:00Z',
      config: {},
      environment: { backend: 'cpu', versions: {} },
      models: [{ dataset: 'd', id: 'm', method: 'fa' }],
      cells: [
        resultCell({
          dataset: 'd',
          model: 'm',
          attack: 'none',
          epsilon: 0,
          source: 'none',
          cleanCorrect: [1, 1, 1, 0],
          adversarialCorrect: [1, 1, 1, 0],
        }),
        resultCell({
          dataset: 'd',
          model: 'm',
          attack: 'pgd',
          epsilon: 0.1,
          source: 'own',
          cleanCorrect: [1, 1, 1, 0],
          adversarialCorrect: [1, 0, 0, 0],
        }),
        resultCell({
          dataset: 'd',
          model: 'm',
          attack: 'fgsm',
          epsilon: 0.1,
          source: 'own',
          cleanCorrect: [1, 1, 1, 0],
          adversarialCorrect: [1, 1, 0, 0],
        }),
        resultCell({
          dataset: 'd',
          model: 'm',
          attack: 'fgsm',
          epsilon: 0.1,
          source: 'true',
          cleanCorrect: [1, 1, 1, 0],
          adversarialCorrect: [0, 0, 0, 0],
        }),
      ],
    });
    const rows = accuracyRows(r, { dataset: 'd' });
    expect(rows.map((x) => [x.attack, x.epsilon, x.accuracy])).toEqual([
      ['FGSM', 0, 75],
      ['FGSM', 0.1, 50],
      ['PGD', 0, 75],
      ['PGD', 0.1, 25],
    ]);
    expect(accuracyRows(r, { dataset: 'd', cleanAtZero: false })).toHaveLength(2);
    expect(accuracyRows(r, { dataset: 'd', source: 'true' }).map((x) => x.accuracy)).toEqual([
      75, 0,
    ]);
    expect(
      accuracyRows(r, { dataset: 'd', attacks: ['pgd'] }).every((x) => x.attack === 'PGD'),
    ).toBe(true);
  });

  it('says what is missing when there is nothing to draw', () => {
    const r = fixture();
    expect(() => accuracyFigure(r, { dataset: 'svhn' })).toThrow(FigureError);
    expect(() => accuracyFigure(r, { dataset: 'svhn' })).toThrow(
      "accuracyFigure: no attack cells for dataset 'svhn' with source 'own' (datasets in the results: 'mnist', 'cifar10'; sources for 'svhn': none)",
    );
    expect(() => accuracyFigure(r, { dataset: 'mnist', source: 'true' })).toThrow(
      /sources for 'mnist': 'none', 'own', 'transfer:fa', 'transfer:bp'/,
    );
  });
});

describe('transferFigure (Figures 1b, 2b)', () => {
  it('draws BP → FA and FA → BP per attack from the transfer cells', () => {
    const r = fixture();
    const { rows, seriesOrder } = transferRows(r, { dataset: 'mnist' });
    expect(seriesOrder).toEqual(['BP → FA', 'FA → BP']);
    expect(rows).toHaveLength(3 * 2 * 11);
    const bpToFa = rows.find(
      (x) => x.series === 'BP → FA' && x.attack === 'FGSM' && x.epsilon === 0.5,
    )!;
    const cell = r.cells.find(
      (c) =>
        c.dataset === 'mnist' &&
        c.model === 'fa' &&
        c.source === 'transfer:bp' &&
        c.attack === 'fgsm' &&
        c.epsilon === 0.5,
    )!;
    expect(bpToFa.accuracy).toBeCloseTo(cell.accuracy! * 100, 12);
    const spec = transferFigure(r, { dataset: 'mnist', includeWhiteBox: true }) as Loose;
    expect(spec.spec.layer[1].encoding.color.scale.domain).toEqual([
      'BP → FA',
      'FA → BP',
      'FA (white-box)',
      'BP (white-box)',
    ]);
    expect(spec.spec.layer[1].encoding.color.title).toBe('Source → target');
    expect(transferRows(r, { dataset: 'mnist', pairs: [['fa', 'bp']] }).seriesOrder).toEqual([
      'FA → BP',
    ]);
    expect(() => transferFigure(r, { dataset: 'mnist', pairs: [['x', 'y']] })).toThrow(
      /no transfer cells/,
    );
  });
});

describe('alignmentFigure', () => {
  it('draws one histogram panel per dataset with a median line per model', () => {
    const r = fixture();
    const rows = alignmentRows(r);
    expect(rows).toHaveLength(4 * 36);
    const faMnist = rows.filter((x) => x.dataset === 'MNIST' && x.series === 'FA');
    expect(faMnist.reduce((a, b) => a + b.percent, 0)).toBeCloseTo(100, 9);
    const spec = alignmentFigure(r) as Loose;
    expect(spec.facet.column.sort).toEqual(['MNIST', 'CIFAR-10']);
    const medians = spec.data.values.filter((v: { kind: string }) => v.kind === 'median');
    expect(medians.map((m: { series: string }) => m.series)).toEqual(['BP', 'FA', 'BP', 'FA']);
    expect(medians[1].median).toBe(
      r.alignment!.find((a) => a.dataset === 'mnist' && a.model === 'fa')!.angle.median,
    );
    expect(() => alignmentFigure(r, { comparison: 'b-vs-wt' })).toThrow(
      /comparisons: 'own-vs-true'/,
    );
  });
});

describe('figuresFor', () => {
  it('lists every figure a results object supports', () => {
    expect(figuresFor(fixture()).map((f) => f.name)).toEqual([
      'accuracy-mnist',
      'transfer-mnist',
      'accuracy-cifar10',
      'transfer-cifar10',
      'alignment',
    ]);
  });
});
