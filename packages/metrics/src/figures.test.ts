import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CURVE_EPS, EVAL_EPS, evaluationResults, PAPER_EPS } from './__fixtures__/evaluation.js';
import { FigureError } from './errors.js';
import {
  ATTACK_LABELS,
  ATTACK_ORDER,
  attackLabel,
  DATASET_LABELS,
  datasetLabel,
  epsilonLabel,
  MODEL_COLORS,
  modelColor,
  modelLabel,
  SOURCE_LABELS,
  sourceLabel,
} from './figure-labels.js';
import {
  accuracyModels,
  accuracyRows,
  alignmentRows,
  budgetRows,
  layerAlignmentRows,
  robustRows,
  transferRows,
} from './figure-rows.js';
import {
  accuracyFigure,
  alignmentFigure,
  budgetFigure,
  figuresFor,
  layerAlignmentFigure,
  perturbationNotes,
  robustFigure,
  transferFigure,
} from './figure-specs.js';
import * as api from './index.js';
import { createResults, resultCell } from './results-build.js';
import type { ResultCell, Results } from './results-schema.js';
import { validateResults } from './results-validate.js';

// biome-ignore lint/suspicious/noExplicitAny: specs are walked as plain JSON
type Loose = Record<string, any>;

const BLUE = '#4c78a8';
const ORANGE = '#f58518';
const SURROGATE = '#9d755d';

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
    expect(attackLabel('mifgsm', 'paper')).toBe("MI-FGSM (paper's equations)");
    expect(attackLabel('mifgsm', 'standard')).toBe('MI-FGSM');
    expect(attackLabel('noise')).toBe('Random noise');
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
    // the paper's attacks, then PGD and APGD, the AutoAttack ensemble, gradient-free, noise last
    const at = (a: string) => ATTACK_ORDER.indexOf(a);
    for (const [a, b] of [
      ['mifgsm', 'pgd'],
      ['pgd', 'apgd'],
      ['apgd', 'autoattack'],
      ['autoattack', 'square'],
      ['square', 'noise'],
    ])
      expect(at(a!)).toBeLessThan(at(b!));
    expect(at('apgd')).toBeGreaterThan(-1);
    expect(ATTACK_ORDER.at(-1)).toBe('noise');
    expect(SOURCE_LABELS.own).toBe("gradients from each network's own backward path");
  });
});

describe('accuracyFigure (Figures 1a, 2a)', () => {
  it('has one panel per attack in the paper order and one series per training method', () => {
    const r = fixture();
    const rows = accuracyRows(r, { dataset: 'mnist' });
    expect(rows).toHaveLength(3 * 2 * 11);
    expect([...new Set(rows.map((x) => x.attack))]).toEqual([
      'FGSM',
      'BIM',
      "MI-FGSM (paper's equations)",
    ]);
    expect([...new Set(rows.map((x) => x.series))]).toEqual(['BP', 'FA']);
    // each row is the cell's accuracy in percent
    for (const row of rows) {
      const attack = { FGSM: 'fgsm', BIM: 'bim', "MI-FGSM (paper's equations)": 'mifgsm' }[
        row.attack
      ]!;
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
      sort: ['FGSM', 'BIM', "MI-FGSM (paper's equations)"],
    });
    expect(spec.spec.layer).toHaveLength(2); // Wilson band + line
    expect(spec.spec.layer[1].encoding.color.scale).toEqual({
      domain: ['BP', 'FA'],
      range: ['#4c78a8', '#f58518'],
    });
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

// built once (about a second): some 750 cells, the paper's of 10,000 examples
const evaluation = evaluationResults();
const figure = (name: string) => figuresFor(evaluation).find((f) => f.name === name)!.spec as Loose;
const values = (spec: Loose) => spec.data.values as Loose[];

describe('labels of the evaluation', () => {
  it('names sources and epsilons as readers write them', () => {
    expect(sourceLabel('own')).toBe('own path');
    expect(sourceLabel('true')).toBe('true gradient');
    expect(sourceLabel('none')).toBe('no gradient');
    expect(sourceLabel('transfer:bp-surrogate')).toBe('transfer from bp-surrogate');
    expect(sourceLabel('transfer:fa:true', (id) => id.toUpperCase())).toBe(
      'transfer from FA (true gradient)',
    );
    expect(sourceLabel('spsa')).toBe('spsa');
    expect(epsilonLabel(8 / 255)).toBe('8/255');
    expect(epsilonLabel(1 / 255)).toBe('1/255');
    expect(epsilonLabel(0.1)).toBe('0.1');
    expect(epsilonLabel(0.2)).toBe('0.2'); // 51/255, but written as chosen
    expect(epsilonLabel(0.05)).toBe('0.05');
    expect(epsilonLabel(1)).toBe('1');
    expect(epsilonLabel(0.0123456)).toBe('0.0123');
  });

  it('gives each model one colour: BP blue, FA orange, the surrogate its own, others by id', () => {
    expect(MODEL_COLORS).toEqual({ bp: BLUE, fa: ORANGE, 'bp-surrogate': SURROGATE });
    expect(modelColor(evaluation, 'fa')).toBe(ORANGE);
    const more = {
      models: [
        ...evaluation.models,
        { dataset: 'mnist', id: 'sign', method: 'sign-symmetry' },
        { dataset: 'cifar10', id: 'dfa', method: 'dfa' },
      ],
    };
    // 'dfa' < 'sign': the first two colours left after the fixed ones, on every dataset
    expect(modelColor(more, 'dfa')).toBe('#54a24b');
    expect(modelColor(more, 'sign')).toBe('#e45756');
    for (const id of ['dfa', 'sign'])
      expect(Object.values(MODEL_COLORS)).not.toContain(modelColor(more, id));
  });
});

describe('paper figures of results with an evaluation', () => {
  it('draws the paper cells of the models measured at every epsilon: BP and FA, not the surrogate', () => {
    const spec = figure('accuracy-mnist');
    const rows = values(spec);
    expect(new Set(rows.map((r) => r.series))).toEqual(new Set(['BP', 'FA']));
    expect(spec.facet.column.sort).toEqual([
      "FGSM (paper's equations)",
      "BIM (paper's equations)",
      "MI-FGSM (paper's equations)",
    ]);
    // the paper's grid only: no evaluation eps (0.05, 0.15), no 'standard' or APGD panel
    expect([...new Set(rows.map((r) => r.epsilon))].sort((a, b) => a - b)).toEqual(PAPER_EPS);
    expect(rows).toHaveLength(3 * 2 * 11);
    expect(rows.every((r) => r.n === 10000 && r.segment === 0)).toBe(true);
    expect(spec.spec.layer[1].encoding.color.scale).toEqual({
      domain: ['BP', 'FA'],
      range: [BLUE, ORANGE],
    });
    expect(spec.spec.layer[1].encoding.detail).toEqual({ field: 'segment', type: 'nominal' });
    expect(accuracyModels(evaluation, { dataset: 'mnist', setting: 'paper' })).toEqual([
      'bp',
      'fa',
    ]);
    // the subtitle says what "(paper's equations)" means and what the cells' perturbations did
    expect(spec.title.subtitle).toEqual([
      "White-box attacks using gradients from each network's own backward path; shaded: 95% Wilson interval",
      "(paper's equations): the attacks' update rules as the paper's equations write them",
      'MI-FGSM: L∞ reached up to 1.00 at ε 0.1 (not ε-bounded)',
      'FGSM, BIM, MI-FGSM: leave the pixel range [0, 1] on up to 9,000 of 10,000 examples (at ε 1)',
    ]);
  });

  it('never draws a line across an epsilon a series was not measured at', () => {
    const spec = accuracyFigure(evaluation, {
      dataset: 'mnist',
      setting: 'paper',
      models: ['bp', 'fa', 'bp-surrogate'],
    }) as Loose;
    expect(spec.spec.layer[1].encoding.color.scale).toEqual({
      domain: ['BP', 'FA', 'BP surrogate'],
      range: [BLUE, ORANGE, SURROGATE],
    });
    const fgsm = values(spec).filter((r) => r.attack === "FGSM (paper's equations)");
    // the surrogate, measured at 0, 0.1, 0.3, 0.5: 0-0.1 joined, 0.3 and 0.5 alone (0.2 and
    // 0.4 are drawn for BP and FA, not measured for it)
    expect(
      fgsm.filter((r) => r.series === 'BP surrogate').map((r) => [r.epsilon, r.segment]),
    ).toEqual([
      [0, 0],
      [0.1, 0],
      [0.3, 1],
      [0.5, 2],
    ]);
    expect(fgsm.filter((r) => r.series === 'FA').every((r) => r.segment === 0)).toBe(true);
    // the band breaks with the line
    expect(spec.spec.layer[0].encoding.detail).toEqual({ field: 'segment', type: 'nominal' });
  });

  it('keeps the models with at least half the points when none has them all', () => {
    const r = structuredClone(evaluation);
    // FA loses its FGSM cell at eps 0.5: BP alone is complete
    const cells = r.cells.filter(
      (c) => !(c.model === 'fa' && c.attack === 'fgsm' && c.source === 'own' && c.epsilon === 0.5),
    );
    expect(accuracyModels({ ...r, cells }, { dataset: 'mnist', setting: 'paper' })).toEqual(['bp']);
    const noneComplete = cells.filter(
      (c) => !(c.model === 'bp' && c.attack === 'bim' && c.source === 'own' && c.epsilon === 0.7),
    );
    expect(
      accuracyModels({ ...r, cells: noneComplete }, { dataset: 'mnist', setting: 'paper' }),
    ).toEqual(['bp', 'fa']);
    // asked for, a model is drawn however few its points
    expect(
      accuracyModels(r, { dataset: 'mnist', setting: 'paper', models: ['bp-surrogate'] }),
    ).toEqual(['bp-surrogate']);
  });

  it('shows transfer between the accuracy figure models only, coloured by the source', () => {
    const spec = figure('transfer-cifar10');
    const rows = values(spec);
    expect(new Set(rows.map((r) => r.series))).toEqual(new Set(['BP → FA', 'FA → BP']));
    expect(rows).toHaveLength(3 * 2 * 11);
    expect(spec.spec.layer[1].encoding.color.scale).toEqual({
      domain: ['BP → FA', 'FA → BP'],
      range: [BLUE, ORANGE],
    });
    expect(spec.title.subtitle[2]).toBe('MI-FGSM: L∞ reached up to 1.00 at ε 0.1 (not ε-bounded)');
    // by default every pair, each its own series: FA's true-gradient examples are not FA's own
    const all = transferRows(evaluation, { dataset: 'cifar10', attacks: ['pgd'] });
    expect(all.seriesOrder).toEqual([
      'FA (true gradient) → BP',
      'BP surrogate → BP',
      'BP surrogate → FA',
    ]);
    const spec2 = transferFigure(evaluation, { dataset: 'cifar10', attacks: ['pgd'] }) as Loose;
    const range = spec2.spec.layer[1].encoding.color.scale.range as string[];
    // sources FA, surrogate, surrogate: the second surrogate pair gets a colour no model has
    expect(range.slice(0, 2)).toEqual([ORANGE, SURROGATE]);
    expect([BLUE, ORANGE, SURROGATE]).not.toContain(range[2]);
    // white-box curves dashed, in the target's colour, one legend for colour and dash
    const wb = transferFigure(evaluation, {
      dataset: 'mnist',
      setting: 'paper',
      pairs: [
        ['bp', 'fa'],
        ['fa', 'bp'],
      ],
      includeWhiteBox: true,
    }) as Loose;
    const line = wb.spec.layer[1].encoding;
    expect(line.color.scale.range).toEqual([BLUE, ORANGE, ORANGE, BLUE]);
    expect(line.strokeDash.field).toBe('series');
    expect(line.strokeDash.scale.range).toEqual([
      [1, 0],
      [1, 0],
      [5, 3],
      [5, 3],
    ]);
  });

  it("reads the perturbation notes from the cells' L-inf, pixel-range and in-ball fields", () => {
    const base = evaluation.cells.find(
      (c) => c.model === 'bp' && c.attack === 'fgsm' && c.variant === 'paper' && c.epsilon === 0.3,
    )!;
    const c = (over: Partial<ResultCell>): ResultCell => ({ ...base, ...over });
    const inBall = { linf: { ...base.linf!, max: 0.3 }, outOfBounds: 0, inBounds: true };
    expect(perturbationNotes([c({ variant: 'standard', ...inBall })])).toEqual([]);
    expect(perturbationNotes([c(inBall)])).toEqual([
      "(paper's equations): the attacks' update rules as the paper's equations write them",
    ]);
    expect(
      perturbationNotes([
        c({ ...inBall, attack: 'bim', epsilon: 0.5, linf: { ...base.linf!, max: 0.75 } }),
        c({ ...inBall, attack: 'bim', epsilon: 0.1, linf: { ...base.linf!, max: 0.3 } }),
        c({ ...inBall, attack: 'pgd', variant: undefined, inBall: false, linf: undefined }),
        c({ ...inBall, attack: 'pgd', variant: undefined, inBounds: false }),
        c({ ...inBall, attack: 'square', variant: undefined, outOfBounds: 12 }),
      ]).slice(1),
    ).toEqual([
      'BIM: L∞ reached up to 0.30 at ε 0.1 (not ε-bounded)',
      'PGD: leaves its ε-ball (not ε-bounded)',
      'PGD, Square: leave the pixel range [0, 1] on up to 12 of 10,000 examples (at ε 0.3)',
    ]);
    // float32 slack is not leaving the ball
    expect(
      perturbationNotes([
        c({ ...inBall, variant: 'standard', linf: { ...base.linf!, max: 0.3000001 } }),
      ]),
    ).toEqual([]);
  });
});

describe('alignmentFigure of the evaluation', () => {
  it('draws FA in orange, the random-direction band and the orthogonal label above the bars', () => {
    const spec = figure('alignment');
    const layers = spec.spec.layer as Loose[];
    const bars = layers.find((l) => l.mark.type === 'rect' && l.encoding.color)!;
    expect(bars.encoding.color.scale).toEqual({ domain: ['FA'], range: [ORANGE] });
    const bands = values(spec).filter((v) => v.kind === 'band');
    expect(bands.map((b) => [b.dataset, b.dimension])).toEqual([
      ['MNIST', 784],
      ['CIFAR-10', 3072],
    ]);
    expect(bands[0]!.lo).toBeCloseTo(90 - 57.29578 / 28, 4);
    expect(bands[1]!.hi).toBeCloseTo(90 + 57.29578 / Math.sqrt(3072), 4);
    expect(spec.title.subtitle[1]).toBe(
      'Grey band: 90° ± 57.3°/√d, where two random directions in d dimensions fall (d = 784 for MNIST, 3,072 for CIFAR-10)',
    );
    // the band lies under the bars, the label in the headroom the y domain leaves above them
    expect(layers[0]!.transform[0].filter).toBe("datum.kind === 'band'");
    const maxPercent = Math.max(
      ...values(spec)
        .filter((v) => v.kind === 'bin')
        .map((v) => v.percent),
    );
    const top = bars.encoding.y.scale.domain[1];
    expect(maxPercent / top).toBeLessThanOrEqual(0.85);
    const label = layers.find((l) => l.mark.type === 'text')!;
    expect(label.data.values).toEqual([{ x: 90, text: 'orthogonal' }]);
    expect(label.encoding.y).toEqual({ value: 0 });
    expect(label.mark.baseline).toBe('top');
    // 14 px of text below the top edge: clear of bars reaching 85% of 200 px (30 px headroom)
    const medians = layers.find((l) => l.transform?.[0].filter === "datum.kind === 'median'")!;
    expect(medians.encoding.y).toEqual({ value: 16 });
    // without dimensions: no band, one subtitle line
    const plain = alignmentFigure(fixture()) as Loose;
    expect(plain.title.subtitle).toHaveLength(1);
    expect(plain.spec.layer.some((l: Loose) => l.transform?.[0].filter?.includes('band'))).toBe(
      false,
    );
    expect(plain.spec.layer[0].encoding.color.scale.range).toEqual([BLUE, ORANGE]);
  });
});

describe('robustFigure', () => {
  it('draws robust accuracy per model and label on a log axis with the measured epsilons', () => {
    const spec = figure('robust-cifar10');
    const rows = robustRows(evaluation, { dataset: 'cifar10' });
    expect(values(spec).map(({ segment: _, ...r }) => r)).toEqual(rows);
    expect(spec.facet.column).toMatchObject({ field: 'model', sort: ['BP', 'FA'] });
    const line = spec.spec.layer[1].encoding;
    expect(line.color.scale.domain).toEqual([
      'every in-ball attack',
      'AutoAttack',
      'true gradient',
      'own path',
      'Square',
      'BP-surrogate transfer',
      'random noise',
    ]);
    // no attack label takes BP's or FA's colour; the surrogate's transfer takes the surrogate's
    const range = line.color.scale.range as string[];
    expect(range).not.toContain(BLUE);
    expect(range).not.toContain(ORANGE);
    expect(range[5]).toBe(SURROGATE);
    expect(line.x.scale.type).toBe('log');
    expect(line.x.axis.values).toEqual(EVAL_EPS.cifar10);
    expect(line.x.axis.labelExpr).toContain("'8/255'");
    expect(line.x.axis.labelExpr).toContain("'0.5'");
    expect(spec.spec.layer[0].mark.type).toBe('area');
    expect(spec.title).toEqual({
      text: 'CIFAR-10: robust accuracy',
      subtitle:
        'In-ball attacks only (L∞ ≤ ε, pixels in [0, 1]); same 1,000 images for every attack; 95% Wilson intervals',
    });
    // each row is its record, in percent
    const rec = evaluation.robust!.find(
      (r) =>
        r.dataset === 'cifar10' &&
        r.model === 'fa' &&
        r.label === 'true gradient' &&
        r.epsilon === 8 / 255,
    )!;
    const row = rows.find(
      (r) => r.model === 'FA' && r.series === 'true gradient' && r.epsilon === 8 / 255,
    )!;
    expect(row.accuracy).toBeCloseTo(rec.accuracy! * 100, 12);
    expect(row.upper).toBeCloseTo(rec.accuracyInterval[1] * 100, 12);
    expect(row.attacks).toBe(2);
    // BP has no true-gradient record: FA's panel alone has the series
    expect(rows.filter((r) => r.series === 'true gradient').every((r) => r.model === 'FA')).toBe(
      true,
    );
    // a label measured at some eps only is broken where the panel has others
    const r2 = structuredClone(evaluation);
    r2.robust = r2.robust!.filter(
      (r) => !(r.model === 'fa' && r.label === 'Square' && r.epsilon === 4 / 255),
    );
    const square = values(robustFigure(r2, { dataset: 'cifar10' }) as Loose).filter(
      (r) => r.model === 'FA' && r.series === 'Square',
    );
    expect(square.map((r) => r.segment)).toEqual([0, 0, 1, 1, 1, 1]);
    expect(() => robustFigure(fixture(), { dataset: 'mnist' })).toThrow(
      /robustFigure: no labelled robust records .* for dataset 'mnist'/,
    );
  });
});

describe('budgetFigure', () => {
  it('draws accuracy against steps and restarts, one line per model and gradient source', () => {
    const spec = figure('curves-mnist');
    expect(spec.title.text).toBe('MNIST: PGD accuracy against steps and restarts at ε 0.3');
    expect(budgetFigure(evaluation, { dataset: 'cifar10' }).title).toMatchObject({
      text: 'CIFAR-10: PGD accuracy against steps and restarts at ε 8/255',
    });
    expect(spec.hconcat).toHaveLength(2);
    const [steps, restarts] = spec.hconcat as [Loose, Loose];
    expect(steps.transform).toEqual([{ filter: { field: 'parameter', equal: 'steps' } }]);
    expect(restarts.transform).toEqual([{ filter: { field: 'parameter', equal: 'restarts' } }]);
    const line = steps.layer[1].encoding;
    expect(line.x.scale.type).toBe('log');
    expect(line.x.axis.values).toEqual([1, 10, 100, 1000]);
    expect(restarts.layer[1].encoding.x.axis.values).toEqual([1, 2, 5, 10]);
    expect(line.color.scale).toEqual({
      domain: ['BP', 'FA (own path)', 'FA (true gradient)'],
      range: [BLUE, ORANGE, ORANGE],
    });
    expect(line.strokeDash.scale.range).toEqual([
      [1, 0],
      [1, 0],
      [6, 3],
    ]);
    const rows = budgetRows(evaluation, { dataset: 'mnist' });
    expect(rows).toHaveLength(3 * 2 * 4);
    expect(values(spec)).toEqual(rows);
    const rec = evaluation.curves!.find(
      (r) =>
        r.dataset === 'mnist' && r.model === 'fa' && r.source === 'true' && r.parameter === 'steps',
    )!;
    expect(
      rows
        .filter((r) => r.series === 'FA (true gradient)' && r.parameter === 'steps')
        .map((r) => r.accuracy),
    ).toEqual(rec.points.map((p) => p.accuracy * 100));
    expect(rows.every((r) => r.epsilon === CURVE_EPS.mnist)).toBe(true);
    // one parameter only: one panel
    const onlySteps = {
      ...evaluation,
      curves: evaluation.curves!.filter((r) => r.parameter === 'steps'),
    };
    expect((budgetFigure(onlySteps, { dataset: 'mnist' }) as Loose).hconcat).toHaveLength(1);
    expect(() => budgetFigure(fixture(), { dataset: 'mnist' })).toThrow(
      /budgetFigure: no curve records for dataset 'mnist'/,
    );
  });
});

describe('layerAlignmentFigure', () => {
  it('draws the angle between W and B per layer and dataset, FA in orange, a rule at 90°', () => {
    const spec = figure('layer-alignment');
    expect(spec.facet.column.sort).toEqual(['MNIST', 'CIFAR-10']);
    const rows = layerAlignmentRows(evaluation);
    expect(values(spec)).toEqual(rows);
    expect(rows.filter((r) => r.dataset === 'MNIST').map((r) => [r.layer, r.angle])).toEqual([
      ['conv1', 84],
      ['conv2', 79],
      ['fc1', 71],
      ['fc2', 58],
      ['fc3', 41],
    ]);
    const bars = spec.spec.layer[0];
    expect(bars.mark.type).toBe('bar');
    expect(bars.encoding.x).toMatchObject({ field: 'layer', sort: null });
    expect(bars.encoding.color.scale).toEqual({ domain: ['FA'], range: [ORANGE] });
    expect(bars.encoding.y.scale.domain).toEqual([0, 120]);
    expect(spec.spec.layer[1].data.values).toEqual([{ y: 90, text: 'orthogonal' }]);
    expect(spec.spec.layer[1].layer[0].mark.type).toBe('rule');
    // null angles (W or B all zeros) have no bar
    const r = {
      ...evaluation,
      layerAlignment: [
        ...evaluation.layerAlignment!,
        { dataset: 'mnist', model: 'fa', layer: 'fc4', angle: null },
      ],
    };
    expect(layerAlignmentRows(r).some((x) => x.layer === 'fc4')).toBe(false);
    expect(() => layerAlignmentFigure(fixture())).toThrow(
      /layerAlignmentFigure: no layer-alignment/,
    );
  });
});

describe('figuresFor', () => {
  it('adds the evaluation figures when their records exist', () => {
    expect(figuresFor(evaluation).map((f) => f.name)).toEqual([
      'accuracy-mnist',
      'transfer-mnist',
      'robust-mnist',
      'curves-mnist',
      'accuracy-cifar10',
      'transfer-cifar10',
      'robust-cifar10',
      'curves-cifar10',
      'alignment',
      'layer-alignment',
    ]);
  });

  it('draws the evaluation cells in the accuracy figure when there are no paper cells', () => {
    const cells = evaluation.cells.filter((c) => c.variant !== 'paper');
    const spec = figuresFor({ ...evaluation, cells }).find((f) => f.name === 'accuracy-mnist')!
      .spec as Loose;
    expect(spec.facet.column.sort).toEqual(['FGSM', 'BIM', 'MI-FGSM', 'PGD', 'APGD', 'AutoAttack']);
    expect(spec.title.subtitle).toHaveLength(1);
    // the surrogate has PGD only: not at every point of the figure
    expect(new Set(values(spec).map((r) => r.series))).toEqual(new Set(['BP', 'FA']));
    // and 'standard' next to no variant gets its name back
    const both = [
      ...cells,
      ...cells
        .filter((c) => c.attack === 'mifgsm' && c.variant === 'standard')
        .map(({ variant: _, ...c }) => c),
    ];
    expect(
      new Set(
        accuracyRows({ ...evaluation, cells: both }, { dataset: 'mnist', attacks: ['mifgsm'] }).map(
          (r) => r.attack,
        ),
      ),
    ).toEqual(new Set(['MI-FGSM', 'MI-FGSM (standard)']));
  });

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
