import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { conv2d } from './conv2d.js';
import { shuffledIndices } from './data.js';
import { FeedbackOptionError, TrainDataError } from './errors.js';
import { lenet } from './lenet.js';
import { FEEDBACK_MODES } from './modes.js';
import { evaluate } from './scores.js';
import { blobs, seededTensor, smallNet } from './test-utils.js';
import { scheduledRate, train } from './train.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

describe('train', () => {
  it.each(FEEDBACK_MODES)(
    '%s: the tensor count is the same before and after a training step, and training learns',
    async (feedback) => {
      const data = blobs(64, 1);
      const model = smallNet(feedback);
      const optimizer = tf.train.adam(0.01);
      const counts: number[] = [];
      // the optimizer makes its state on the first step, so count from the end of batch 0
      const result = await train(model, data, {
        epochs: 6,
        batchSize: 16,
        optimizer,
        seed: 3,
        onBatch: () => void counts.push(tf.memory().numTensors),
      });
      expect(counts).toHaveLength(6 * 4);
      expect(new Set(counts.slice(1)).size).toBe(1);
      expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(result.history.at(-1)!.loss).toBeLessThan(result.history[0]!.loss);
      expect(result.history.at(-1)!.accuracy).toBeGreaterThan(0.9);
      expect((await evaluate(model, data)).accuracy).toBeGreaterThan(0.9);
      tf.dispose([data.x, data.y]);
      optimizer.dispose();
      model.dispose();
    },
  );

  it('leaves no tensor behind when it makes its own optimizer, with validation data', async () => {
    const data = blobs(32, 2);
    const val = blobs(16, 3);
    const model = smallNet('fa');
    const before = tf.memory().numTensors;
    const logs: number[] = [];
    const batchEpochs: number[] = [];
    const result = await train(model, data, {
      epochs: 2,
      batchSize: 8,
      optimizer: 'momentum',
      learningRate: 0.05,
      validationData: val,
      onBatch: (b) => void batchEpochs.push(b.epoch),
      onEpoch: (e) => {
        logs.push(e.epoch);
        expect(e.valAccuracy).toBeGreaterThanOrEqual(0);
        expect(e.valLoss).toBeGreaterThan(0);
        expect(e.images).toBe(32);
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(logs).toEqual([1, 2]); // 1-based, as the logs print "epoch 1/2"
    expect(batchEpochs).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(result.aborted).toBe(false);
    tf.dispose([data.x, data.y, val.x, val.y]);
    model.dispose();
  });

  it('is deterministic: same seeds, same trained weights; the shuffle seed matters', async () => {
    const data = blobs(32, 4);
    const run = async (seed: number) => {
      const model = smallNet('fa', 5);
      await train(model, data, {
        epochs: 1,
        batchSize: 8,
        optimizer: 'sgd',
        learningRate: 0.1,
        seed,
      });
      const w = model.getWeights().map((t) => Array.from(t.dataSync()));
      model.dispose();
      return w;
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(b).toEqual(a);
    expect(c[0]).not.toEqual(a[0]);
    expect(Array.from(shuffledIndices(5, 1)).sort()).toEqual([0, 1, 2, 3, 4]);
    tf.dispose([data.x, data.y]);
  });

  it('takes batches from an array (every epoch) or a function (one call per epoch), and never disposes them', async () => {
    const data = blobs(32, 5);
    const batches = [0, 16].map((s) => ({
      x: tf.slice(data.x, s, 16),
      y: tf.oneHot(tf.slice(data.y, s, 16), 2),
    }));
    const model = smallNet('usf');
    const fromArray = await train(model, batches, { epochs: 2, optimizer: 'sgd' });
    expect(fromArray.history.map((h) => h.images)).toEqual([32, 32]);
    const calls: number[] = [];
    const fromFunction = await train(
      model,
      function* (epoch) {
        calls.push(epoch);
        yield* batches;
      },
      { epochs: 3, optimizer: 'sgd' },
    );
    expect(calls).toEqual([0, 1, 2]);
    expect(fromFunction.history).toHaveLength(3);
    expect(batches.every((b) => !b.x.isDisposed && !b.y.isDisposed)).toBe(true);
    // an async iterable works too
    const asyncBatches = {
      async *[Symbol.asyncIterator]() {
        yield* batches;
      },
    };
    expect(
      (await train(model, asyncBatches, { epochs: 2, optimizer: 'sgd' })).history,
    ).toHaveLength(2);
    tf.dispose([data.x, data.y, ...batches.flatMap((b) => [b.x, b.y])]);
    model.dispose();
  });

  it('stops between batches when the signal aborts', async () => {
    const data = blobs(64, 6);
    const model = smallNet('fa');
    const controller = new AbortController();
    let batches = 0;
    const result = await train(model, data, {
      epochs: 5,
      batchSize: 8,
      signal: controller.signal,
      onBatch: () => {
        batches++;
        if (batches === 3) controller.abort();
      },
    });
    expect(result.aborted).toBe(true);
    expect(batches).toBe(3);
    expect(result.history).toHaveLength(0);
    tf.dispose([data.x, data.y]);
    model.dispose();
  });

  it('refuses data and options that do not fit, naming what was expected', async () => {
    const data = blobs(8, 7);
    const model = smallNet('fa');
    await expect(train(model, { x: data.x, y: tf.zeros([7]) })).rejects.toThrow(TrainDataError);
    await expect(train(model, { x: data.x, y: tf.zeros([8, 3]) })).rejects.toThrow(
      /train: data.y must be class ids \[n\] or one-hot \[n, 2\]; found 'shape \[8,3\]'/,
    );
    await expect(train(model, data, { epochs: 0 })).rejects.toThrow(FeedbackOptionError);
    await expect(train(model, data, { optimizer: 'rmsprop' as 'sgd' })).rejects.toThrow(
      /'optimizer' must be a tf.Optimizer, 'sgd', 'momentum' or 'adam'/,
    );
    function* once() {
      yield data;
    }
    await expect(train(model, once(), { epochs: 2 })).rejects.toThrow(
      /data must be re-iterable for 2 epochs/,
    );
    expect((await train(model, once(), { epochs: 1 })).history).toHaveLength(1);
    tf.dispose([data.x, data.y]);
    model.dispose();
  });
});

describe('train: learning-rate schedules', () => {
  it('computes the rates PyTorch schedulers give, per 1-based epoch', () => {
    const step = { type: 'step', milestones: [50, 75], factor: 0.1 } as const;
    const at = (e: number) => scheduledRate(step, 0.01, e, 100);
    expect([at(1), at(50), at(51), at(75), at(76), at(100)]).toEqual([
      0.01,
      0.01,
      0.01 * 0.1,
      0.01 * 0.1,
      0.01 * 0.1 ** 2,
      0.01 * 0.1 ** 2,
    ]);
    // CosineAnnealingLR(T_max=8), stepped per epoch: eta_min + (base - eta_min)(1 + cos(pi t / 8)) / 2
    const cos = Array.from({ length: 8 }, (_, t) =>
      scheduledRate({ type: 'cosine', min: 1e-5 }, 1e-3, t + 1, 8),
    );
    for (const [t, lr] of cos.entries())
      expect(lr).toBeCloseTo(1e-5 + ((1e-3 - 1e-5) * (1 + Math.cos((Math.PI * t) / 8))) / 2, 15);
    expect(cos[0]).toBe(1e-3);
    expect(scheduledRate({ type: 'constant' }, 0.5, 7, 10)).toBe(0.5);
    expect(scheduledRate((e, n, b) => b * (n - e + 1), 0.5, 7, 10)).toBe(2);
  });

  it('trains each epoch at its rate: SGD lands on the weights of the same steps in float64', async () => {
    // one batch per epoch on a softmax regression: W <- W - lr_e * x^T (p - y) / n
    const n = 6;
    const d = 3;
    const k = 2;
    const xs = Array.from({ length: n * d }, (_, i) => Math.sin(i + 1));
    const ys = [0, 1, 1, 0, 1, 0];
    const w0 = Array.from({ length: d * k }, (_, i) => 0.1 * Math.cos(i));
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({
          inputShape: [d],
          units: k,
          useBias: false,
          weights: [tf.tensor2d(w0, [d, k])],
        }),
      ],
    });
    const x = tf.tensor2d(xs, [n, d]);
    const y = tf.tensor1d(ys, 'int32');
    const schedule = { type: 'step', milestones: [1, 2], factor: 0.25 } as const;
    const r = await train(
      model,
      { x, y },
      {
        epochs: 3,
        batchSize: n,
        optimizer: 'sgd',
        learningRate: 0.5,
        schedule,
        shuffle: false,
      },
    );
    expect(r.history.map((h) => h.learningRate)).toEqual([0.5, 0.125, 0.03125]);
    const w = [...w0];
    for (const lr of [0.5, 0.125, 0.03125]) {
      const grad = new Array(d * k).fill(0);
      for (let i = 0; i < n; i++) {
        const z = [0, 1].map((c) =>
          xs.slice(i * d, i * d + d).reduce((a, v, j) => a + v * w[j * k + c]!, 0),
        );
        const m = Math.max(...z);
        const e = z.map((v) => Math.exp(v - m));
        const p = e.map((v) => v / (e[0]! + e[1]!));
        for (let j = 0; j < d; j++)
          for (let c = 0; c < k; c++)
            grad[j * k + c] += (xs[i * d + j]! * (p[c]! - (ys[i] === c ? 1 : 0))) / n;
      }
      for (let q = 0; q < d * k; q++) w[q] = w[q]! - lr * grad[q];
    }
    const got = Array.from(model.getWeights()[0]!.dataSync());
    for (const [q, v] of got.entries()) expect(v).toBeCloseTo(w[q]!, 5);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('sets the rate of Adam and of your own optimizer, and refuses a bad schedule', async () => {
    const data = blobs(32, 2);
    const model = smallNet('fa');
    const before = () => model.getWeights().map((t) => Array.from(t.dataSync()));
    const distance = (a: number[][], b: number[][]) =>
      Math.sqrt(a.flat().reduce((s, v, i) => s + (v - b.flat()[i]!) ** 2, 0));
    // epoch 2 at a rate of 1e-9 x the first: Adam's steps (about lr each) all but stop
    const w0 = before();
    await train(model, data, { epochs: 1, batchSize: 16, learningRate: 0.01, seed: 1 });
    const w1 = before();
    const optimizer = tf.train.adam(0.01);
    const r = await train(model, data, {
      epochs: 2,
      batchSize: 16,
      optimizer,
      schedule: { type: 'step', milestones: [1], factor: 1e-9 },
      seed: 1,
    });
    expect(r.history.map((h) => h.learningRate)).toEqual([0.01, 0.01 * 1e-9]);
    const w2 = before();
    await train(model, data, { epochs: 1, batchSize: 16, optimizer, seed: 5 });
    const w3 = before();
    expect(distance(w3, w2)).toBeLessThan(1e-6 * distance(w1, w0));
    // a learningRate given with your optimizer is set on it
    await train(model, data, { epochs: 1, batchSize: 16, optimizer, learningRate: 0.003 });
    expect((optimizer as unknown as { learningRate: number }).learningRate).toBe(0.003);
    for (const bad of [
      { type: 'step', milestones: [0], factor: 0.1 },
      { type: 'step', milestones: [2], factor: -1 },
      { type: 'cosine', min: -1 },
      { type: 'linear' },
    ])
      await expect(train(model, data, { schedule: bad as never })).rejects.toThrow(
        /train: option 'schedule' must be \{ type: 'constant' \}, \{ type: 'step'/,
      );
    await expect(
      train(model, data, { schedule: () => Number.NaN, optimizer: 'sgd' }),
    ).rejects.toThrow(/option 'schedule' must be to give a learning rate > 0 for epoch 1, not NaN/);
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
    model.dispose();
  });
});

describe('model.fit', () => {
  it('trains feedback layers as well (the feedback lives in the gradients); brsf redraws each batch', async () => {
    const data = blobs(32, 8);
    const model = smallNet('brsf');
    model.compile({
      optimizer: tf.train.adam(0.01),
      loss: (y: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, logits),
    });
    const y = tf.oneHot(data.y, 2);
    const h = await model.fit(data.x, y, { epochs: 6, batchSize: 8, shuffle: false, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(loss.at(-1)!).toBeLessThan(loss[0]!);
    expect((model.layers[0] as ReturnType<typeof conv2d>).feedbackState.draws).toBe(6 * 4);
    tf.dispose([data.x, data.y, y]);
    model.dispose();
  });
});

describe('lenet training steps', () => {
  it.each(FEEDBACK_MODES)('%s: one step on lenet leaves the tensor count unchanged', (feedback) => {
    const model = lenet({ dataset: 'mnist', feedback, seed: 1 });
    const optimizer = tf.train.sgd(0.01);
    const x = tf.abs(seededTensor([4, 28, 28, 1], 9, 0.5));
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () =>
      optimizer.minimize(
        () =>
          tf.losses.softmaxCrossEntropy(
            y,
            model.apply(x, { training: true }) as tf.Tensor,
          ) as tf.Scalar,
        false,
        vars,
      );
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });
});
