// The kernels behind one LeNet-5 step, from tf.profile: where the time of a training step or
// an input-gradient step (the inner step of every attack) goes on the backend in use.
//   node profile.mjs [--task train|inputgrad] [--dataset mnist|cifar10] [--feedback bp|fa|...]
//                    [--batch 64] [--steps 10] [--backend auto|wasm|cpu|tensorflow]
//                    [--peak GFLOP/s]   (default: measured by peak.mjs, the wasm f32x4 mul+add
//                                        ceiling; the roofline's share column is against it)
// Kernel times are summed per kernel name and divided by the number of steps; the wall time
// per step is measured separately, without the profiler. Each kernel's FLOPs come from its
// shapes (convolutions and their gradients: 2 per multiply-add of the product; products: 2mnk;
// elementwise and reductions: one per value, and marked as bound by memory and calls,
// not arithmetic), so each row has its achieved GFLOP/s and its share of the wasm peak: a
// roofline table. Wrappers that tf.profile lists around the kernels they run (`*__op`) are left
// out of the totals (their kernels are counted).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setupBackend } from '@fa-robust/backend';
import { lenet } from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';

const { values: a } = parseArgs({
  options: {
    task: { type: 'string', default: 'train' },
    dataset: { type: 'string', default: 'mnist' },
    feedback: { type: 'string', default: 'bp' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'auto' },
    peak: { type: 'string' },
  },
});
const peak =
  a.peak != null
    ? Number(a.peak)
    : (() => {
        const r = spawnSync(
          process.execPath,
          [join(dirname(fileURLToPath(import.meta.url)), 'peak.mjs'), '--json'],
          { encoding: 'utf8' },
        );
        const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
        return line ? JSON.parse(line)['wasm f32x4 mul+add, 12 chains'] : null;
      })();
const prod = (s) => s.reduce((p, q) => p * q, 1);
/** FLOPs of one kernel call from its shapes, and whether it is arithmetic (a product or a conv). */
function flops(k) {
  const [i0, i1] = k.inputShapes;
  const out = k.outputShapes[0] ?? [];
  if (['Conv2D', 'FusedConv2D', 'FaRobustFeedbackConv2D'].includes(k.name)) {
    const [kh, kw, ci] = i1;
    return { flops: 2 * prod(out) * kh * kw * ci, arithmetic: true };
  }
  if (k.name === 'Conv2DBackpropInput') {
    const [kh, kw, ci] = i1;
    return { flops: 2 * prod(i0) * kh * kw * ci, arithmetic: true };
  }
  if (k.name === 'Conv2DBackpropFilter') {
    const [kh, kw, ci] = out;
    return { flops: 2 * prod(i1) * kh * kw * ci, arithmetic: true };
  }
  if (['BatchMatMul', '_FusedMatMul', 'FaRobustFeedbackMatMul'].includes(k.name)) {
    const batch = prod(out.slice(0, -2));
    const inner = Math.round(Math.sqrt((prod(i0) * prod(i1)) / prod(out) / batch));
    return { flops: 2 * prod(out) * inner, arithmetic: true };
  }
  // elementwise work and reductions: one per value read or written, whichever is more
  return { flops: Math.max(prod(out), i0 ? prod(i0) : 0), arithmetic: false };
}
if (!['train', 'inputgrad'].includes(a.task))
  throw new Error(`--task: 'train' or 'inputgrad', not '${a.task}'`);
const batch = Number(a.batch);
const steps = Number(a.steps);
const info = await setupBackend({ backend: a.backend });
const shape = a.dataset === 'mnist' ? [28, 28, 1] : [32, 32, 3];
const model = lenet({ dataset: a.dataset, feedback: a.feedback, seed: 1 });
const vars = model.trainableWeights.map((w) => w.read());
const optimizer = tf.train.adam(1e-3);
const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', 1);
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2), 10);
const inputGrad = tf.grad((xi) => tf.losses.softmaxCrossEntropy(y, model.apply(xi)));
const step =
  a.task === 'inputgrad'
    ? () => {
        const g = tf.tidy(() => inputGrad(x));
        g.dataSync();
        g.dispose();
      }
    : () => {
        const cost = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })),
          true,
          vars,
        );
        cost.dataSync();
        cost.dispose();
      };
for (let i = 0; i < 5; i++) step();
const profile = await tf.profile(() => {
  for (let i = 0; i < steps; i++) step();
});
const perKernel = new Map();
for (const k of profile.kernels) {
  if (k.name.endsWith('__op')) continue; // a wrapper: its kernels are listed too
  const s = perKernel.get(k.name) ?? { ms: 0, calls: 0, flops: 0, arithmetic: false };
  const f = flops(k);
  s.ms += k.kernelTimeMs;
  s.calls++;
  s.flops += f.flops;
  s.arithmetic ||= f.arithmetic;
  perKernel.set(k.name, s);
}
const rows = [...perKernel].sort((p, q) => q[1].ms - p[1].ms);
const total = rows.reduce((s, [, k]) => s + k.ms, 0);
const gflops = (k) => k.flops / (k.ms / 1000) / 1e9;
console.log(
  `${a.task}, ${a.dataset} LeNet-5, ${a.feedback}, batch ${batch}, on ${info.name}${info.simd ? '+SIMD' : ''}: kernel time per step` +
    (peak ? `; wasm f32x4 peak ${peak.toFixed(1)} GFLOP/s (peak.mjs)` : ''),
);
console.log(
  `| kernel | ms per step | calls | share of the step | MFLOP per step | GFLOP/s | share of the wasm peak |\n|---|---|---|---|---|---|---|`,
);
for (const [name, k] of rows) {
  console.log(
    `| ${name} | ${(k.ms / steps).toFixed(2)} | ${k.calls / steps} | ${((100 * k.ms) / total).toFixed(0)}% | ${(k.flops / steps / 1e6).toFixed(k.arithmetic ? 1 : 2)}${k.arithmetic ? '' : ' (elementwise)'} | ${gflops(k).toFixed(k.arithmetic ? 1 : 2)} | ${k.arithmetic && peak ? `${((100 * gflops(k)) / peak).toFixed(0)}%` : '— (bound by memory and calls)'} |`,
  );
}
const arith = rows.filter(([, k]) => k.arithmetic);
const aMs = arith.reduce((s, [, k]) => s + k.ms, 0);
const aFlops = arith.reduce((s, [, k]) => s + k.flops, 0);
console.log(
  `| all kernels | ${(total / steps).toFixed(2)} | | 100% | | | |\n` +
    `arithmetic kernels: ${(aMs / steps).toFixed(2)} ms a step (${((100 * aMs) / total).toFixed(0)}%), ${(aFlops / steps / 1e6).toFixed(1)} MFLOP, ${(aFlops / (aMs / 1000) / 1e9).toFixed(1)} GFLOP/s` +
    (peak
      ? ` (${((100 * aFlops) / (aMs / 1000) / 1e9 / peak).toFixed(0)}% of the wasm peak)`
      : '') +
    `; the rest, ${((total - aMs) / steps).toFixed(2)} ms, is elementwise work, copies and per-call overhead`,
);
const t = performance.now();
for (let i = 0; i < 3 * steps; i++) step();
const ms = (performance.now() - t) / (3 * steps);
console.log(
  `wall time per step, without the profiler: ${ms.toFixed(2)} ms (${Math.round((batch * 1000) / ms)} images/s)`,
);
