// The tfjs side of `pnpm bench`: prints one JSON line per measurement, like torch_reference.py.
//   node ours.mjs [--tasks train,trainpar,inputgrad,bim] [--datasets mnist,cifar10] [--feedbacks bp,fa] [--steps 40] [--batch 64]
//                 [--workers 1]   (trainpar: train() on this thread plus that many worker threads, data-parallel)
import { parseArgs } from 'node:util';
import { bim } from '@fa-robust/attacks';
import { setupBackend } from '@fa-robust/backend';
import { loadMnist } from '@fa-robust/datasets';
import { lenet, train } from '@fa-robust/fa-layers';
import { workerReplicas } from '@fa-robust/fa-layers/node';
import * as tf from '@tensorflow/tfjs-core';

const { values: a } = parseArgs({
  options: {
    tasks: { type: 'string', default: 'train,trainpar,inputgrad,bim' },
    datasets: { type: 'string', default: 'mnist,cifar10' },
    feedbacks: { type: 'string', default: 'bp,fa' },
    steps: { type: 'string', default: '40' },
    batch: { type: 'string', default: '64' },
    'bim-images': { type: 'string', default: '10000' },
    'bim-batch': { type: 'string', default: '500' },
    backend: { type: 'string', default: 'auto' },
    workers: { type: 'string', default: '1' },
    // k/n: this process attacks the k-th of n equal slices of the BIM images (run.mjs starts n)
    shard: { type: 'string', default: '0/1' },
  },
});
const steps = Number(a.steps);
const batch = Number(a.batch);
const info = await setupBackend({ backend: a.backend });
const emit = (o) =>
  console.log(JSON.stringify({ ...o, batch, backend: info.name, simd: info.simd }));
const shapes = { mnist: [28, 28, 1], cifar10: [32, 32, 3] };

for (const dataset of a.datasets.split(',')) {
  for (const feedback of a.feedbacks.split(',')) {
    const model = lenet({ dataset, feedback, seed: 1 });
    const tasks = a.tasks.split(',');
    for (const task of ['train', 'trainpar']) {
      if (!tasks.includes(task)) continue;
      // the library's own training loop, on (steps + 5) batches, timed after 5 warm-up batches;
      // trainpar: the same with its batches split between this thread and worker threads
      const pool =
        task === 'trainpar' ? await workerReplicas(model, { workers: Number(a.workers) }) : null;
      const replicas = pool?.replicas ?? [];
      const n = batch * (steps + 5);
      const x = tf.randomUniform([n, ...shapes[dataset]], 0, 1, 'float32', 1);
      const y = tf.randomUniform([n], 0, 10, 'int32', 2);
      const warm = { x: tf.slice(x, 0, batch * 5), y: tf.slice(y, 0, batch * 5) };
      await train(model, warm, { epochs: 1, batchSize: batch, shuffle: false, replicas });
      const rest = { x: tf.slice(x, batch * 5), y: tf.slice(y, batch * 5) };
      const r = await train(model, rest, { epochs: 1, batchSize: batch, shuffle: false, replicas });
      await pool?.close();
      emit({
        task,
        dataset,
        feedback,
        images_per_s: Math.round((batch * steps) / r.seconds),
        workers: replicas.length,
      });
      tf.dispose([x, y, warm.x, warm.y, rest.x, rest.y]);
    }
    if (tasks.includes('inputgrad')) {
      // the inner step of every gradient attack: d(cross-entropy)/d(input) through the model's own backward path
      const x = tf.randomUniform([batch, ...shapes[dataset]], 0, 1, 'float32', 3);
      const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 4), 10);
      const g = tf.grad((xi) => tf.losses.softmaxCrossEntropy(y, model.apply(xi)));
      // the read is outside tf.tidy: tidy walks a typed array it returns element by element
      const once = () => {
        const t = tf.tidy(() => g(x));
        t.dataSync();
        t.dispose();
      };
      for (let i = 0; i < 5; i++) once();
      const t = performance.now();
      for (let i = 0; i < steps; i++) once();
      emit({
        task: 'inputgrad',
        dataset,
        feedback,
        images_per_s: Math.round((batch * steps) / ((performance.now() - t) / 1000)),
      });
      tf.dispose([x, y]);
    }
    if (tasks.includes('bim') && dataset === 'mnist') {
      // BIM-10 at eps 0.3 over the MNIST test set (real images when FA_ROBUST_DATA_DIR has them)
      const total = Number(a['bim-images']);
      const [k, parts] = a.shard.split('/').map(Number);
      const from = Math.floor((k * total) / parts);
      const n = Math.floor(((k + 1) * total) / parts) - from;
      let images;
      let labels;
      try {
        const { test } = await loadMnist({ splits: ['test'], limit: from + n, download: false });
        images = test.images.subarray(from * 784);
        labels = Int32Array.from(test.labels.subarray(from));
      } catch {
        images = tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 5 + k).dataSync();
        labels = Int32Array.from(tf.randomUniform([n], 0, 10, 'int32', 6 + k).dataSync());
      }
      const bs = Number(a['bim-batch']);
      const t = performance.now();
      let fooled = 0;
      for (let s = 0; s < n; s += bs) {
        const m = Math.min(bs, n - s);
        const x = tf.tensor4d(images.subarray(s * 784, (s + m) * 784), [m, 28, 28, 1]);
        const r = await bim(model, x, labels.subarray(s, s + m), { epsilon: 0.3, steps: 10 });
        fooled += r.success.reduce((p, q) => p + q, 0);
        tf.dispose([x, r.adversarial]);
      }
      const seconds = (performance.now() - t) / 1000;
      emit({
        task: 'bim10',
        dataset,
        feedback,
        images_per_s: Math.round(n / seconds),
        seconds: Math.round(seconds * 10) / 10,
        images: n,
        fooled,
      });
    }
    model.dispose();
  }
}
