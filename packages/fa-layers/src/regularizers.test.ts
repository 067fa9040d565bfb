import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import type { FeedbackMode } from './modes.js';
import { type GradientReplica, type ReplicaJob, shardGradients } from './replicas.js';
import { blobs, maxAbs, maxAbsDiff } from './test-utils.js';
import { type TrainOptions, train } from './train.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

const L2 = 0.05;
const LR = 0.1;

/** A small conv + dense net; with `regularized`, an L2 kernelRegularizer on every layer. */
function net(feedback: FeedbackMode, regularized: boolean): tfl.Sequential {
  const reg = regularized ? { kernelRegularizer: tfl.regularizers.l2({ l2: L2 }) } : {};
  return tfl.sequential({
    layers: [
      conv2d({
        inputShape: [8, 8, 1],
        filters: 4,
        kernelSize: 3,
        activation: 'relu',
        feedback,
        seed: 7,
        ...reg,
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      dense({ units: 8, activation: 'relu', feedback, seed: 8, ...reg }),
      dense({ units: 2, feedback, seed: 9, ...reg }),
    ],
  });
}

function snapshot(model: tfl.LayersModel): { kernel: boolean; values: Float32Array }[] {
  return model.weights.map((w) => ({
    kernel: w.originalName.endsWith('/kernel'),
    values: Float32Array.from(w.read().dataSync()),
  }));
}

/** One plain-SGD step on the whole batch (no shuffling), optionally split with a replica. */
async function step(
  model: tfl.LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  replica?: tfl.LayersModel,
) {
  const options: TrainOptions = {
    epochs: 1,
    batchSize: 16,
    optimizer: 'sgd',
    learningRate: LR,
    shuffle: false,
  };
  if (replica != null) {
    const local: GradientReplica = {
      gradients: async (job: ReplicaJob) => shardGradients(replica, job),
    };
    options.replicas = [local];
  }
  return train(model, data, options);
}

describe('regularizers in train()', () => {
  it.each(['bp', 'fa'] as FeedbackMode[])(
    '%s: an L2 kernelRegularizer adds 2·l2·W to the gradient (the closed form), once per step with replicas too',
    async (feedback) => {
      const data = blobs(16, 31);
      for (const parallel of [false, true]) {
        const plain = net(feedback, false);
        const regular = net(feedback, true);
        const before = snapshot(regular);
        // same seeds: the regularizer changes nothing at init
        snapshot(plain).forEach((w, i) => {
          expect(Array.from(w.values)).toEqual(Array.from(before[i]!.values));
        });
        const tensors = tf.memory().numTensors;
        const copies = parallel ? [net(feedback, false), net(feedback, true)] : [];
        const rPlain = await step(plain, data, copies[0]);
        const rRegular = await step(regular, data, copies[1]);
        for (const c of copies) c.dispose();
        expect(tf.memory().numTensors).toBe(tensors);
        // the penalty is minimised, not reported: the loss of the batch (before its step) is the same
        expect(rRegular.history[0]!.loss).toBe(rPlain.history[0]!.loss);

        // SGD: W1 = W0 - lr·(g + 2·l2·W0), g the same in both (same weights, same data)
        const [p, r] = [snapshot(plain), snapshot(regular)];
        let kernels = 0;
        before.forEach((w0, i) => {
          if (w0.kernel) {
            kernels++;
            const penaltyStep = w0.values.map((v) => LR * 2 * L2 * v);
            expect(maxAbs(penaltyStep)).toBeGreaterThan(1e-3); // counted twice would show
            const expected = p[i]!.values.map((v, j) => v - penaltyStep[j]!);
            expect(maxAbsDiff(r[i]!.values, expected)).toBeLessThan(2e-6);
          } else {
            expect(maxAbsDiff(r[i]!.values, p[i]!.values)).toBeLessThan(2e-6); // biases, B
          }
        });
        expect(kernels).toBe(3);
        plain.dispose();
        regular.dispose();
      }
      tf.dispose([data.x, data.y]);
    },
  );
});
