// SYNTHETIC results shaped like what apps/repro writes with its sound evaluation, for the tests
// of the figures: the paper's cells (variant 'paper', eps 0, 0.1, ..., 1 on 10,000 images; a
// BP surrogate measured at a few eps only; MI-FGSM as the paper writes it leaving its ball, FGSM
// and BIM leaving the pixel range), the evaluation's in-ball cells (variant 'standard', APGD,
// PGD, Square, noise, transfers from the surrogate and from FA's true gradient) on 1,000
// images, labelled robust records, steps/restarts curves, layer alignment and gradient
// alignment with its dimension. Not measurements.

import { gradientAlignment } from '../alignment.js';
import { alignmentRecord, createResults, resultCell, robustRecord } from '../results-build.js';
import type { CurveRecord, LayerAlignmentRecord, ResultCell, Results } from '../results-schema.js';
import { wilsonInterval } from '../stats.js';

export const PAPER_N = 10000;
export const EVAL_N = 1000;
export const PAPER_EPS = Array.from({ length: 11 }, (_, i) => i / 10);
export const SURROGATE_EPS = [0, 0.1, 0.3, 0.5];
export const EVAL_EPS: Record<string, number[]> = {
  mnist: [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 1],
  cifar10: [1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255, 0.5, 1],
};
export const CURVE_EPS: Record<string, number> = { mnist: 0.3, cifar10: 8 / 255 };

const mask = (n: number, ones: number) => new Uint8Array(n).fill(1, 0, Math.round(ones));
const array = (n: number, f: (i: number) => number) => {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
};
const clean: Record<string, Record<string, number>> = {
  mnist: { bp: 0.98, fa: 0.96, 'bp-surrogate': 0.99 },
  cifar10: { bp: 0.6, fa: 0.38, 'bp-surrogate': 0.6 },
};
/** Accuracy in [0, 1] after an attack: falls with eps, slower for FA's own path. */
function acc(dataset: string, model: string, eps: number, speed: number): number {
  const k = (dataset === 'mnist' ? 12 : 40) * speed * (model === 'fa' ? 0.25 : 1);
  return clean[dataset]![model]! * Math.exp(-k * eps);
}

function cell(
  input: Omit<Parameters<typeof resultCell>[0], 'cleanCorrect' | 'adversarialCorrect'> & {
    n: number;
    accuracy: number;
    linf?: (i: number) => number;
    outOfBounds?: number;
    inBall?: boolean;
    inBounds?: boolean;
  },
): ResultCell {
  const { n, accuracy, linf, outOfBounds, inBall, inBounds, ...rest } = input;
  const cleanOnes = Math.round(clean[input.dataset]![input.model]! * n);
  const c = resultCell({
    ...rest,
    cleanCorrect: mask(n, cleanOnes),
    adversarialCorrect: mask(n, Math.min(cleanOnes, Math.round(accuracy * n))),
    ...(linf
      ? {
          perturbation: {
            linf: array(n, linf),
            l2: array(n, (i) => linf(i) * 20),
            ...(outOfBounds !== undefined ? { outOfBounds } : {}),
          },
        }
      : {}),
  });
  return {
    ...c,
    ...(inBall !== undefined ? { inBall } : {}),
    ...(inBounds !== undefined ? { inBounds } : {}),
  };
}

const SPEED: Record<string, number> = {
  fgsm: 1,
  bim: 1.6,
  mifgsm: 1.4,
  pgd: 1.7,
  apgd: 1.8,
  autoattack: 1.9,
  square: 0.9,
  noise: 0.05,
};

function paperCells(dataset: string): ResultCell[] {
  const out: ResultCell[] = [];
  for (const attack of ['fgsm', 'bim', 'mifgsm']) {
    const speed = SPEED[attack]!;
    // the paper's MI-FGSM leaves its ball (up to L-inf 1 from eps 0.1); FGSM and BIM stay in
    // the ball but leave [0, 1] (no clipping in the paper's equations)
    const linf = (eps: number) =>
      attack === 'mifgsm'
        ? (i: number) => Math.min(1, eps * 10 * (0.2 + (0.8 * (i % 100)) / 99))
        : () => eps;
    const outOfBounds = (eps: number) =>
      Math.round(PAPER_N * Math.min(0.9, eps * (attack === 'mifgsm' ? 0.9 : 0.3)));
    const flags = (eps: number) => ({
      linf: linf(eps),
      outOfBounds: outOfBounds(eps),
      inBall: attack !== 'mifgsm' || eps === 0,
      inBounds: outOfBounds(eps) === 0,
    });
    const common = { dataset, attack, variant: 'paper', n: PAPER_N };
    for (const epsilon of PAPER_EPS) {
      for (const model of ['bp', 'fa']) {
        out.push(
          cell({
            ...common,
            model,
            epsilon,
            source: 'own',
            accuracy: acc(dataset, model, epsilon, speed),
            ...flags(epsilon),
          }),
        );
        const from = model === 'bp' ? 'fa' : 'bp';
        out.push(
          cell({
            ...common,
            model,
            epsilon,
            source: `transfer:${from}`,
            accuracy: acc(dataset, model, epsilon, speed * (from === 'bp' ? 0.6 : 0.15)),
            ...flags(epsilon),
          }),
        );
      }
    }
    for (const epsilon of SURROGATE_EPS) {
      out.push(
        cell({
          ...common,
          model: 'bp-surrogate',
          epsilon,
          source: 'own',
          accuracy: acc(dataset, 'bp-surrogate', epsilon, speed),
          ...flags(epsilon),
        }),
      );
      for (const model of ['bp', 'fa'])
        out.push(
          cell({
            ...common,
            model,
            epsilon,
            source: 'transfer:bp-surrogate',
            accuracy: acc(dataset, model, epsilon, speed * 0.5),
            ...flags(epsilon),
          }),
        );
      if (epsilon > 0)
        out.push(
          cell({
            ...common,
            model: 'fa',
            epsilon,
            source: 'true',
            accuracy: acc(dataset, 'bp', epsilon, speed),
            ...flags(epsilon),
          }),
        );
    }
  }
  return out;
}

function evaluationCells(dataset: string): ResultCell[] {
  const out: ResultCell[] = [];
  const inBall = (eps: number) => ({
    linf: () => eps,
    outOfBounds: 0,
    inBall: true,
    inBounds: true,
  });
  for (const epsilon of EVAL_EPS[dataset]!) {
    const common = { dataset, epsilon, n: EVAL_N, ...inBall(epsilon) };
    for (const model of ['bp', 'fa']) {
      for (const attack of ['fgsm', 'bim', 'mifgsm', 'pgd', 'apgd', 'autoattack']) {
        const variant = ['fgsm', 'bim', 'mifgsm'].includes(attack) ? { variant: 'standard' } : {};
        out.push(
          cell({
            ...common,
            ...variant,
            model,
            attack,
            source: 'own',
            accuracy: acc(dataset, model, epsilon, SPEED[attack]!),
          }),
        );
        if (model === 'fa')
          out.push(
            cell({
              ...common,
              ...variant,
              model,
              attack,
              source: 'true',
              accuracy: acc(dataset, 'bp', epsilon, SPEED[attack]! * 0.9),
            }),
          );
      }
      for (const attack of ['square', 'noise'])
        out.push(
          cell({
            ...common,
            model,
            attack,
            source: 'none',
            accuracy: acc(dataset, model === 'fa' ? 'bp' : model, epsilon, SPEED[attack]!),
          }),
        );
      out.push(
        cell({
          ...common,
          model,
          attack: 'pgd',
          source: 'transfer:bp-surrogate',
          accuracy: acc(dataset, model, epsilon, 0.8),
        }),
      );
    }
    out.push(
      cell({
        ...common,
        model: 'bp',
        attack: 'pgd',
        source: 'transfer:fa:true',
        accuracy: acc(dataset, 'bp', epsilon, 0.7),
      }),
    );
    out.push(
      cell({
        ...common,
        model: 'bp-surrogate',
        attack: 'pgd',
        source: 'own',
        accuracy: acc(dataset, 'bp-surrogate', epsilon, SPEED.pgd!),
      }),
    );
  }
  return out;
}

/** Which robust labels each model gets, with the attacks (tags) and the speed of their worst case. */
const ROBUST: Record<string, [label: string, tags: string[], speed: number][]> = {
  bp: [
    ['own path', ['fgsm:standard/own', 'bim:standard/own', 'pgd/own', 'apgd/own'], 1.8],
    ['AutoAttack', ['autoattack/own'], 1.9],
    ['Square', ['square/none'], 0.9],
    ['random noise', ['noise/none'], 0.05],
    ['BP-surrogate transfer', ['pgd/transfer:bp-surrogate'], 0.8],
    ['every in-ball attack', ['pgd/own', 'apgd/own', 'autoattack/own', 'square/none'], 2],
  ],
  fa: [
    ['own path', ['fgsm:standard/own', 'bim:standard/own', 'pgd/own', 'apgd/own'], 1.8],
    ['true gradient', ['pgd/true', 'apgd/true'], 1.6 * 4],
    ['AutoAttack', ['autoattack/true'], 1.7 * 4],
    ['Square', ['square/none'], 0.9 * 4],
    ['random noise', ['noise/none'], 0.05],
    ['BP-surrogate transfer', ['pgd/transfer:bp-surrogate'], 0.8],
    ['every in-ball attack', ['pgd/own', 'apgd/true', 'autoattack/true', 'square/none'], 1.8 * 4],
  ],
};

function robust(dataset: string) {
  return Object.entries(ROBUST).flatMap(([model, labels]) =>
    EVAL_EPS[dataset]!.flatMap((epsilon) =>
      labels.map(([label, tags, speed]) =>
        robustRecord({
          dataset,
          model,
          epsilon,
          label,
          correct: Object.fromEntries(
            tags.map((t, i) => [
              t,
              mask(EVAL_N, EVAL_N * acc(dataset, model, epsilon, speed) + 3 * i),
            ]),
          ),
        }),
      ),
    ),
  );
}

function curves(dataset: string): CurveRecord[] {
  const epsilon = CURVE_EPS[dataset]!;
  const out: CurveRecord[] = [];
  for (const [model, source, floor] of [
    ['bp', 'own', 0.02],
    ['fa', 'own', 0.7],
    ['fa', 'true', 0.05],
  ] as const) {
    for (const [parameter, values] of [
      ['steps', [1, 10, 100, 1000]],
      ['restarts', [1, 2, 5, 10]],
    ] as const) {
      out.push({
        dataset,
        model,
        source,
        attack: 'pgd',
        epsilon,
        parameter,
        points: values.map((value, i) => {
          const a = clean[dataset]![model]! * (floor + (1 - floor) * 0.5 ** (i + 1));
          const correct = Math.round(a * EVAL_N);
          const w = wilsonInterval(correct, EVAL_N);
          return {
            value,
            n: EVAL_N,
            correct,
            accuracy: correct / EVAL_N,
            accuracyInterval: [w.lower, w.upper] as [number, number],
          };
        }),
      });
    }
  }
  return out;
}

const LAYERS = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'];
function layerAlignment(dataset: string): LayerAlignmentRecord[] {
  const base = dataset === 'mnist' ? [84, 79, 71, 58, 41] : [88, 86, 80, 69, 52];
  return LAYERS.map((layer, i) => ({ dataset, model: 'fa', layer, angle: base[i]! }));
}

/** FA's backward-path gradient against its true one: about 90 degrees, a few degrees wide. */
function alignment(dataset: string, dimension: number) {
  const a: number[][] = [];
  const b: number[][] = [];
  for (let i = 0; i < 500; i++) {
    const deg = 90 + 6 * Math.sin(i * 1.7) * (dataset === 'mnist' ? 1 : 0.5);
    const t = (deg * Math.PI) / 180;
    a.push([1, 0]);
    b.push([Math.cos(t), Math.sin(t)]);
  }
  return {
    ...alignmentRecord({
      dataset,
      model: 'fa',
      comparison: 'own-vs-true',
      alignment: gradientAlignment(a, b, { histogram: { bins: 36 } }),
    }),
    dimension,
  };
}

/** The synthetic evaluation results (about 750 cells; built in about a second). */
export function evaluationResults(): Results {
  const datasets = ['mnist', 'cifar10'];
  const models = datasets.flatMap((dataset) =>
    ['bp', 'fa', 'bp-surrogate'].map((id) => ({
      dataset,
      id,
      method: id === 'fa' ? 'fa' : 'bp',
      label: id === 'bp-surrogate' ? 'BP surrogate' : id.toUpperCase(),
      cleanAccuracy: clean[dataset]![id]!,
    })),
  );
  const cleanCells = datasets.flatMap((dataset) =>
    ['bp', 'fa', 'bp-surrogate'].map((model) =>
      cell({
        dataset,
        model,
        attack: 'none',
        epsilon: 0,
        source: 'none',
        n: PAPER_N,
        accuracy: clean[dataset]![model]!,
      }),
    ),
  );
  return createResults({
    createdAt: '2025-01-31T12:00:00.000Z',
    title: 'Synthetic fixture shaped like the repro app with its evaluation',
    config: { note: 'synthetic numbers for tests, not measurements' },
    environment: { backend: 'none', versions: {} },
    models,
    cells: [...cleanCells, ...datasets.flatMap((d) => [...paperCells(d), ...evaluationCells(d)])],
    alignment: [alignment('mnist', 784), alignment('cifar10', 3072)],
    robust: datasets.flatMap(robust),
    curves: datasets.flatMap(curves),
    layerAlignment: datasets.flatMap(layerAlignment),
  });
}
