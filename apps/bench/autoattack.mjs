#!/usr/bin/env node
// `pnpm --filter bench autoattack`: what AutoAttack's cascade costs next to PGD on the same
// images, on a model that falls (BP) and on one that holds against its own gradient (FA).
// PGD and AutoAttack alternate (A, B, A, B, ...) so that drift on a shared machine hits both;
// medians and ranges over the repeats. Not a test: no thresholds.
//   node autoattack.mjs [--images 200] [--repeats 3] [--eps 0.3] [--train-images 10000] [--epochs 1]
import { parseArgs } from 'node:util';
import { autoAttack, modelGradient, pgd } from '@fa-robust/attacks';
import { setupBackend } from '@fa-robust/backend';
import { loadMnist } from '@fa-robust/datasets';
import { backpropTwin, lenet, train } from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';

const { values: a } = parseArgs({
  options: {
    images: { type: 'string', default: '200' },
    repeats: { type: 'string', default: '3' },
    eps: { type: 'string', default: '0.3' },
    'train-images': { type: 'string', default: '10000' },
    epochs: { type: 'string', default: '1' },
    'pgd-steps': { type: 'string', default: '100' },
  },
});
const n = Number(a.images);
const eps = Number(a.eps);
const repeats = Number(a.repeats);
const info = await setupBackend({ backend: 'auto' });
console.log(
  `backend: ${info.name}${info.simd ? ' (SIMD)' : ''}; ${n} MNIST test images, L-inf eps ${eps}`,
);

const { train: tr, test } = await loadMnist({
  limit: { train: Number(a['train-images']), test: n },
  download: false,
});
const x = tf.tensor4d(test.images, [n, 28, 28, 1]);
const y = Array.from(test.labels);

async function trained(feedback) {
  const model = lenet({ dataset: 'mnist', feedback, seed: 1 });
  const xs = tf.tensor4d(tr.images, [tr.shape[0], 28, 28, 1]);
  const ys = tf.tensor1d(Int32Array.from(tr.labels), 'int32');
  const r = await train(model, { x: xs, y: ys }, { epochs: Number(a.epochs), seed: 1 });
  tf.dispose([xs, ys]);
  console.log(`trained ${feedback}: ${r.seconds.toFixed(0)} s`);
  return model;
}

const median = (v) => {
  const s = [...v].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (v) => `${Math.min(...v).toFixed(1)}-${Math.max(...v).toFixed(1)}`;
const pct = (v) => `${(100 * v).toFixed(1)}%`;

const bp = await trained('bp');
const fa = await trained('fa');
const twin = await backpropTwin(fa);
const cases = [
  { label: 'BP, own gradient', model: bp },
  { label: 'FA, own (feedback) gradient', model: fa },
  { label: 'FA, true gradient (BP twin)', model: fa, gradient: modelGradient(twin, 'true') },
];
const pgdSteps = Number(a['pgd-steps']);
const rows = [];
for (const c of cases) {
  const times = { pgd: [], aa: [] };
  let last = null;
  for (let r = 0; r < repeats; r++) {
    // interleaved: PGD, then AutoAttack, each repeat
    let t = performance.now();
    const p = await pgd(c.model, x, y, {
      epsilon: eps,
      steps: pgdSteps,
      ...(c.gradient ? { gradient: c.gradient } : {}),
    });
    times.pgd.push((performance.now() - t) / 1000);
    p.adversarial.dispose();
    t = performance.now();
    const aa = await autoAttack(c.model, x, y, {
      epsilon: eps,
      ...(c.gradient ? { gradient: c.gradient } : {}),
    });
    times.aa.push((performance.now() - t) / 1000);
    aa.adversarial.dispose();
    last = { p, aa };
  }
  const pgdRobust =
    last.p.success.reduce(
      (s, v, i) => s + (v === 0 && last.p.cleanPredictions[i] === y[i] ? 1 : 0),
      0,
    ) / n;
  rows.push({ c, times, last, pgdRobust });
  console.log(`\n${c.label}: clean ${pct(last.aa.cleanAccuracy)}`);
  console.log(
    `  PGD-${pgdSteps}: ${median(times.pgd).toFixed(1)} s (range ${range(times.pgd)}), robust ${pct(pgdRobust)}, ${pgdSteps} gradients per image`,
  );
  console.log(
    `  AutoAttack standard: ${median(times.aa).toFixed(1)} s (range ${range(times.aa)}), robust ${pct(last.aa.robustAccuracy)}; ratio ${(median(times.aa) / median(times.pgd)).toFixed(2)}x PGD`,
  );
  for (const s of last.aa.attacks)
    console.log(
      `    ${s.name.padEnd(8)} on ${String(s.attacked).padStart(4)} images: robust after ${pct(s.robustAccuracy)}, ${s.gradientEvaluations} gradients, ${s.queries} queries, ${s.seconds.toFixed(1)} s`,
    );
  for (const f of last.aa.flags) console.log(`    flag ${f.code}: ${f.message}`);
}
tf.dispose([x]);
for (const m of [bp, fa, twin]) m.dispose();
