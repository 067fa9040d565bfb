// Writes paper-like.results.json: SYNTHETIC numbers shaped like the paper's Figures 1 and 2,
// for the tests of the figures, CSV and schema. Not measurements.
// Run after `pnpm build`: node src/__fixtures__/make-fixture.mjs
import { writeFileSync } from 'node:fs';
import {
  alignmentRecord,
  createResults,
  gradientAlignment,
  resultCell,
  robustRecord,
} from '../../dist/index.js';

const N = 1000;
const EPS = Array.from({ length: 11 }, (_, i) => i / 10);
const mask = (ones) => Uint8Array.from({ length: N }, (_, i) => (i < ones ? 1 : 0));

// accuracy in [0, 1] of (dataset, model, attack, eps) and of transfers; smooth and plausible
const clean = { mnist: { bp: 0.991, fa: 0.983 }, cifar10: { bp: 0.62, fa: 0.55 } };
const speed = { fgsm: 1, bim: 1.6, mifgsm: 1.4 };
function own(dataset, model, attack, eps) {
  const c = clean[dataset][model];
  if (dataset === 'mnist')
    return model === 'bp' ? c * Math.exp(-eps * 14 * speed[attack]) : c - 0.01 * eps;
  const k = model === 'bp' ? 30 : 4.5;
  return c * Math.exp(-eps * k * speed[attack]);
}
function transfer(dataset, from, to, attack, eps) {
  const c = clean[dataset][to];
  if (dataset === 'mnist')
    return from === 'bp' ? c * Math.exp(-eps * 5 * speed[attack]) : c - 0.02 * eps;
  return c * Math.exp(-eps * (from === 'bp' ? 2.5 : 3.5) * speed[attack]);
}

const cells = [];
const robust = [];
for (const dataset of ['mnist', 'cifar10']) {
  const pixels = dataset === 'mnist' ? 32 * 32 : 32 * 32 * 3;
  for (const model of ['bp', 'fa']) {
    const cleanOnes = Math.round(clean[dataset][model] * N);
    cells.push(
      resultCell({
        dataset,
        model,
        attack: 'none',
        epsilon: 0,
        source: 'none',
        cleanCorrect: mask(cleanOnes),
        adversarialCorrect: mask(cleanOnes),
      }),
    );
    for (const attack of ['fgsm', 'bim', 'mifgsm']) {
      for (const epsilon of EPS) {
        const params =
          attack === 'fgsm'
            ? {}
            : { steps: 10, ...(attack === 'mifgsm' ? { mu: 0.8 } : { stepSize: epsilon / 10 }) };
        const linf = new Float64Array(N).fill(epsilon);
        const l2 = new Float64Array(N).map(
          (_, i) => epsilon * Math.sqrt(pixels) * (0.5 + (i % 10) / 20),
        );
        const adv = Math.min(cleanOnes, Math.round(own(dataset, model, attack, epsilon) * N));
        cells.push(
          resultCell({
            dataset,
            model,
            attack,
            epsilon,
            source: 'own',
            params,
            ...(attack === 'mifgsm' ? { variant: 'paper' } : {}),
            cleanCorrect: mask(cleanOnes),
            adversarialCorrect: mask(adv),
            perturbation: { linf, l2 },
          }),
        );
        const from = model === 'bp' ? 'fa' : 'bp';
        const tr = Math.min(
          cleanOnes,
          Math.round(transfer(dataset, from, model, attack, epsilon) * N),
        );
        cells.push(
          resultCell({
            dataset,
            model,
            attack,
            epsilon,
            source: `transfer:${from}`,
            params,
            ...(attack === 'mifgsm' ? { variant: 'paper' } : {}),
            cleanCorrect: mask(cleanOnes),
            adversarialCorrect: mask(tr),
          }),
        );
      }
    }
    for (const epsilon of [0.1, 0.3]) {
      const worst = Math.min(
        ...['fgsm', 'bim', 'mifgsm'].map((a) => Math.round(own(dataset, model, a, epsilon) * N)),
      );
      robust.push(
        robustRecord({
          dataset,
          model,
          epsilon,
          correct: {
            'fgsm/own': mask(worst + 7),
            'bim/own': mask(worst),
            'mifgsm:paper/own': mask(worst + 3),
          },
        }),
      );
    }
  }
}

// alignment: FA gradients at ~60-85 degrees from the true one (MNIST closer), BP exactly aligned
// mulberry32, a copy: @fa-robust/internal is .ts source, which plain Node 20 cannot import.
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const alignment = [];
for (const [dataset, meanDeg, seed] of [
  ['mnist', 62, 1],
  ['cifar10', 78, 2],
]) {
  const rnd = seeded(seed);
  const n = 500;
  const a = [];
  const b = [];
  for (let i = 0; i < n; i++) {
    const deg = Math.max(1, Math.min(179, meanDeg + 12 * (rnd() + rnd() + rnd() - 1.5) * 2));
    const t = (deg * Math.PI) / 180;
    a.push([1, 0]);
    b.push([Math.cos(t), Math.sin(t)]);
  }
  alignment.push(
    alignmentRecord({
      dataset,
      model: 'fa',
      comparison: 'own-vs-true',
      alignment: gradientAlignment(a, b, { histogram: { bins: 36 } }),
    }),
  );
  alignment.push(
    alignmentRecord({
      dataset,
      model: 'bp',
      comparison: 'own-vs-true',
      alignment: gradientAlignment(a, a),
    }),
  );
}

const models = ['mnist', 'cifar10'].flatMap((dataset) =>
  ['bp', 'fa'].map((id) => ({
    dataset,
    id,
    method: id,
    architecture: 'lenet',
    seed: 1,
    cleanAccuracy: clean[dataset][id],
  })),
);
const results = createResults({
  createdAt: '2025-01-31T12:00:00.000Z',
  title: 'Synthetic fixture shaped like Akrout 2019, Figures 1 and 2',
  config: {
    note: 'synthetic numbers for tests, not measurements',
    epsilons: EPS,
    n: N,
    attacks: ['fgsm', 'bim', 'mifgsm'],
  },
  environment: { backend: 'none', versions: { node: '20', '@fa-robust/metrics': '0.0.0' } },
  models,
  cells,
  alignment,
  robust,
  notes: ['Synthetic: generated by src/__fixtures__/make-fixture.mjs.'],
});
const out = new URL('./paper-like.results.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(results)}\n`);
console.log(
  `wrote ${results.cells.length} cells, ${alignment.length} alignment records to ${out.pathname}`,
);
