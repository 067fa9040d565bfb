// Does WM's B track W during training, or only at the end? Angle per layer every 150 batches.
import { setupBackend } from '@fa-robust/backend';
import { loadMnist } from '@fa-robust/datasets';
import { alignment, createOptimizer, evaluate, lenet, train } from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';

await setupBackend({ backend: 'wasm' });
const d = await loadMnist({ dataDir: `${process.env.FA_ROBUST_DATA_DIR}/mnist`, download: false });
const N = Number(process.env.N ?? 60000);
const x = tf.tensor(d.train.images.subarray(0, N * 784), [N, 28, 28, 1]);
const y = tf.tensor1d(Int32Array.from(d.train.labels.subarray(0, N)), 'int32');
const tx = tf.tensor(d.test.images, [10000, 28, 28, 1]);
const ty = tf.tensor1d(Int32Array.from(d.test.labels), 'int32');
const modes = (process.env.MODES ?? 'wm,bp').split(',');
const epochs = Number(process.env.EPOCHS ?? 2);
for (const mode of modes) {
  const model = lenet({
    dataset: 'mnist',
    feedback: mode,
    seed: 1,
    ...(process.env.FBSEED ? { feedbackSeed: Number(process.env.FBSEED) } : {}),
    ...(process.env.OWN_RATE
      ? {
          mirrorRate: Number(process.env.OWN_RATE),
          mirrorBatch: Number(process.env.OWN_BATCH ?? 64),
        }
      : {}),
  });
  const opt = createOptimizer('adam', 1e-3);
  for (let e = 1; e <= epochs; e++) {
    await train(
      model,
      { x, y },
      {
        epochs: 1,
        batchSize: 64,
        optimizer: opt,
        seed: e,
        onBatch: ({ batch }) => {
          if (process.env.MIRROR_RATE) {
            // the reference's way: after each step, B <- (1 - rate) B + rate * x^T(xW)/(K var x),
            // K noise fields of uniform [-0.5, 0.5] through the layer's forward weights
            const rate = Number(process.env.MIRROR_RATE);
            const K = Number(process.env.MIRROR_BATCH ?? 64);
            for (const l of model.layers.filter((l) => l.kernel && l.weights.length > 2)) {
              const w = l.kernel.read();
              const next = tf.tidy(() => {
                const out = w.shape.at(-1);
                const fanIn = w.size / out;
                const x = tf.randomUniform([K, fanIn], -0.5, 0.5);
                const est = tf.div(
                  tf.matMul(x, tf.matMul(x, tf.reshape(w, [fanIn, out])), true, false),
                  K / 12,
                );
                return tf.add(
                  tf.mul(1 - rate, l.weights[2].read()),
                  tf.mul(rate, tf.reshape(est, w.shape)),
                );
              });
              l.weights[2].write(next);
            }
          }
          if (process.env.TRANSPORT)
            for (const l of model.layers.filter((l) => l.kernel && l.weights.length > 2))
              l.weights[2].write(l.kernel.read().clone());
          if (mode !== 'bp' && batch % 150 === 0)
            console.log(
              `${mode} e${e} b${batch}: ${alignment(model)
                .map((a) => `${a.layer} ${a.angle?.toFixed(1)}`)
                .join(', ')} | |B|/|W| ${model.layers
                .filter((l) => l.kernel && l.weights.length > 2)
                .map((l) =>
                  tf.tidy(() =>
                    (
                      tf.norm(l.weights[2].read()).dataSync()[0] /
                      tf.norm(l.kernel.read()).dataSync()[0]
                    ).toFixed(2),
                  ),
                )
                .join(', ')}`,
            );
        },
      },
    );
    const r = await evaluate(model, { x: tx, y: ty });
    const norms = model.layers
      .filter((l) => l.kernel)
      .map((l) => `${l.name} ${tf.tidy(() => tf.norm(l.kernel.read()).dataSync()[0]).toFixed(2)}`);
    console.log(
      `${mode} epoch ${e}: test ${(100 * r.accuracy).toFixed(2)}%  |W| ${norms.join(', ')}`,
    );
  }
}
