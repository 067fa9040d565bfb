// The kernels behind one LeNet-5 step, from tf.profile: where the time of a training step or
// an input-gradient step (the inner step of every attack) goes on the backend in use.
//   node profile.mjs [--task train|inputgrad] [--dataset mnist|cifar10] [--feedback bp|fa|...]
//                    [--batch 64] [--steps 10] [--backend auto|wasm|cpu|tensorflow]
// Kernel times are summed per kernel name and divided by the number of steps; the wall time
// per step is measured separately, without the profiler.
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
  },
});
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
  const s = perKernel.get(k.name) ?? { ms: 0, calls: 0 };
  s.ms += k.kernelTimeMs;
  s.calls++;
  perKernel.set(k.name, s);
}
const rows = [...perKernel].sort((p, q) => q[1].ms - p[1].ms);
const total = rows.reduce((s, [, k]) => s + k.ms, 0);
console.log(
  `${a.task}, ${a.dataset} LeNet-5, ${a.feedback}, batch ${batch}, on ${info.name}${info.simd ? '+SIMD' : ''}: kernel time per step`,
);
for (const [name, k] of rows) {
  console.log(
    `  ${name.padEnd(30)} ${(k.ms / steps).toFixed(2).padStart(7)} ms  ${String(k.calls / steps).padStart(3)} calls  ${((100 * k.ms) / total).toFixed(0).padStart(3)}%`,
  );
}
console.log(`  ${'all kernels'.padEnd(30)} ${(total / steps).toFixed(2).padStart(7)} ms`);
const t = performance.now();
for (let i = 0; i < 3 * steps; i++) step();
const ms = (performance.now() - t) / (3 * steps);
console.log(
  `wall time per step, without the profiler: ${ms.toFixed(2)} ms (${Math.round((batch * 1000) / ms)} images/s)`,
);
