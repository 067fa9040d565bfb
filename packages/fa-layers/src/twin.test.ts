import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { alignment, inputGradientAngles, inputGradients } from './alignment.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { lenet } from './lenet.js';
import { FEEDBACK_MODES, type FeedbackMode } from './modes.js';
import { angleDegrees, maxAbs, maxAbsDiff, seededTensor, values } from './test-utils.js';
import { backpropTwin } from './twin.js';

let labels: tf.Tensor1D;
beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  labels = tf.tensor1d([3, 1, 4], 'int32');
});
const lossOf = (model: tfl.LayersModel) => (x: tf.Tensor) =>
  tf.losses.softmaxCrossEntropy(
    tf.oneHot(labels, 10),
    model.apply(x) as tf.Tensor,
    undefined,
    undefined,
    tf.Reduction.SUM,
  ) as tf.Scalar;

describe('backpropTwin', () => {
  it.each(FEEDBACK_MODES)(
    '%s: same forward function, stock layers, no feedback weights',
    async (feedback) => {
      const model = lenet({ dataset: 'mnist', feedback, seed: 5 });
      const twin = await backpropTwin(model);
      expect(twin.layers.map((l) => l.getClassName())).toEqual([
        'InputLayer',
        'Conv2D',
        'MaxPooling2D',
        'Conv2D',
        'MaxPooling2D',
        'Conv2D',
        'Flatten',
        'Dense',
        'Dense',
      ]);
      expect(twin.weights.map((w) => w.originalName)).toEqual(
        model.trainableWeights
          .filter((w) => !w.originalName.endsWith('/feedback'))
          .map((w) => w.originalName),
      );
      const x = tf.abs(seededTensor([3, 28, 28, 1], 51, 0.5));
      const [a, b] = [model.predict(x) as tf.Tensor, twin.predict(x) as tf.Tensor];
      expect(maxAbsDiff(values(a), values(b))).toBeLessThan(1e-5 * Math.max(1, maxAbs(values(a))));
      tf.dispose([x, a, b]);
      model.dispose();
      twin.dispose();
    },
  );

  it("gives the true input gradient: equal to the bp model's, and to finite differences of the feedback model's forward", async () => {
    const fa = lenet({ dataset: 'mnist', feedback: 'fa', seed: 6 });
    const bp = lenet({ dataset: 'mnist', feedback: 'bp', seed: 6 }); // same forward weights
    const twin = await backpropTwin(fa);
    const x = tf.abs(seededTensor([3, 28, 28, 1], 52, 0.5));
    const [gTwin, gBp, gFa] = [
      tf.grad(lossOf(twin))(x),
      tf.grad(lossOf(bp))(x),
      tf.grad(lossOf(fa))(x),
    ];
    // the same function's gradient through stock tfjs ops and through this package's kernels
    expect(maxAbsDiff(values(gTwin), values(gBp))).toBeLessThan(1e-5 * maxAbs(values(gBp)));
    // the fa model's own backward path is far from it
    expect(angleDegrees(values(gFa), values(gTwin))).toBeGreaterThan(30);
    // Directional finite differences of the fa model's forward pass, (f(x+hu) - f(x-hu)) / 2h,
    // equal g·u for the twin's gradient g: along g itself and along a random direction.
    const f = (t: tf.Tensor) => tf.tidy(() => lossOf(fa)(t).dataSync()[0]!);
    const directional = (u: tf.Tensor, h = 1e-2) =>
      tf.tidy(() => {
        const unit = tf.div(u, tf.norm(u));
        const fd = (f(tf.add(x, tf.mul(unit, h))) - f(tf.sub(x, tf.mul(unit, h)))) / (2 * h);
        return {
          fd,
          twin: tf.sum(tf.mul(gTwin, unit)).dataSync()[0]!,
          fa: tf.sum(tf.mul(gFa, unit)).dataSync()[0]!,
        };
      });
    const norm = Math.hypot(...values(gTwin));
    const random = seededTensor(x.shape, 57);
    for (const u of [gTwin, random]) {
      const d = directional(u);
      expect(Math.abs(d.fd - d.twin)).toBeLessThan(0.02 * norm);
    }
    random.dispose();
    // ...while the fa backward path mispredicts how the loss changes along its own direction
    const alongFa = directional(gFa);
    expect(alongFa.fa - alongFa.fd).toBeGreaterThan(0.3 * Math.hypot(...values(gFa)));
    tf.dispose([x, gTwin, gBp, gFa]);
    for (const m of [fa, bp, twin]) m.dispose();
  });

  it('copies the weights: a snapshot that later training of the model does not change, and that outlives it', async () => {
    const model = lenet({ dataset: 'mnist', feedback: 'fa', seed: 7 });
    const twin = await backpropTwin(model);
    const before = twin.weights.map((w) => Array.from(w.read().dataSync()));
    const opt = tf.train.sgd(0.1);
    const x = tf.abs(seededTensor([3, 28, 28, 1], 53, 0.5));
    opt.minimize(() => lossOf(model)(x));
    expect(Array.from(model.getLayer('conv1').getWeights()[0]!.dataSync())).not.toEqual(before[0]);
    expect(twin.weights.map((w) => Array.from(w.read().dataSync()))).toEqual(before);
    model.dispose();
    const out = twin.predict(x) as tf.Tensor;
    expect(out.shape).toEqual([3, 10]);
    tf.dispose([out, x]);
    opt.dispose();
    twin.dispose();
  });

  it('keeps layers it does not know, and works for functional models', async () => {
    const input = tfl.input({ shape: [5] });
    const h = dense({ units: 4, activation: 'tanh', feedback: 'usf', seed: 1, name: 'h' }).apply(
      input,
    ) as tfl.SymbolicTensor;
    const d = tfl.layers.dropout({ rate: 0.5, name: 'drop' }).apply(h) as tfl.SymbolicTensor;
    const out = dense({ units: 3, feedback: 'fa', seed: 2, name: 'out' }).apply(
      d,
    ) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const twin = await backpropTwin(model);
    expect(twin.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'Dense',
      'Dropout',
      'Dense',
    ]);
    const x = seededTensor([2, 5], 54);
    const [a, b] = [model.predict(x) as tf.Tensor, twin.predict(x) as tf.Tensor];
    expect(maxAbsDiff(values(a), values(b))).toBeLessThan(1e-6);
    tf.dispose([x, a, b]);
    model.dispose();
    twin.dispose();
  });
});

describe('alignment', () => {
  it('per layer: the angle between W and the B its backward pass uses, computed independently', () => {
    for (const feedback of FEEDBACK_MODES) {
      const model = lenet({ dataset: 'mnist', feedback, seed: 8 });
      const result = alignment(model);
      expect(result.map((r) => r.layer)).toEqual(['conv1', 'conv2', 'conv3', 'fc1', 'fc2']);
      for (const r of result) {
        expect(r.feedback).toBe(feedback);
        if (feedback === 'dfa') {
          expect(r.angle).toBeNull();
          continue;
        }
        const layer = model.getLayer(r.layer) as ReturnType<typeof dense>;
        const w = values(layer.kernel!.read());
        const fb =
          layer.feedbackState.weight == null ? null : values(layer.feedbackState.weight.read());
        const shape = layer.kernel!.shape as number[];
        const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
        const scale = Math.sqrt(2 / (receptive * (shape.at(-2)! + shape.at(-1)!)));
        const b = w.map((v, i) =>
          feedback === 'bp'
            ? v
            : feedback === 'fa' || feedback === 'kp' || feedback === 'wm'
              ? fb![i]!
              : feedback === 'usf'
                ? Math.sign(v) * scale
                : Math.abs(fb![i]!) * Math.sign(v),
        );
        expect(r.angle!).toBeCloseTo(angleDegrees(w, b), 1);
      }
      model.dispose();
    }
  });
  it.each(['wasm', 'cpu'])(
    'on %s: null, not 180 degrees, for a layer whose W or B is exactly zero',
    async (backend) => {
      // wasm is what these tests run on, and where clipByValue(NaN, -1, 1) gives -1
      await tf.setBackend(backend);
      try {
        for (const feedback of ['bp', 'fa', 'usf'] as const) {
          const model = tfl.sequential({
            layers: [
              dense({ units: 4, feedback, seed: 1, inputShape: [3], name: 'zero' }),
              dense({ units: 2, feedback, seed: 2, name: 'kept' }),
            ],
          });
          const layer = model.getLayer('zero') as ReturnType<typeof dense>;
          layer.kernel!.write(tf.zerosLike(layer.kernel!.read()));
          const [zero, kept] = alignment(model);
          expect(zero!.angle).toBeNull(); // usf: B = sign(W) * scale is zero too
          expect(Number.isFinite(kept!.angle)).toBe(true);
          model.dispose();
        }
      } finally {
        await tf.setBackend('wasm');
      }
    },
  );
});

describe('inputGradientAngles', () => {
  it('is about 0 for bp and large for fa, per image, and matches an independent computation', async () => {
    const x = tf.abs(seededTensor([3, 28, 28, 1], 55, 0.5));
    const result: Partial<Record<FeedbackMode, Float32Array>> = {};
    for (const feedback of ['bp', 'fa'] as const) {
      const model = lenet({ dataset: 'mnist', feedback, seed: 9 });
      const before = tf.memory().numTensors;
      const { angles, mean } = await inputGradientAngles(model, x, labels, { batchSize: 2 });
      expect(tf.memory().numTensors).toBe(before);
      expect(angles).toHaveLength(3);
      expect(mean).toBeCloseTo((angles[0]! + angles[1]! + angles[2]!) / 3, 4);
      result[feedback] = angles;
      if (feedback === 'fa') {
        const twin = await backpropTwin(model);
        const [g, t] = [tf.grad(lossOf(model))(x), tf.grad(lossOf(twin))(x)];
        const expected = [0, 1, 2].map((i) =>
          angleDegrees(
            values(g).subarray(i * 784, (i + 1) * 784),
            values(t).subarray(i * 784, (i + 1) * 784),
          ),
        );
        for (let i = 0; i < 3; i++) expect(angles[i]!).toBeCloseTo(expected[i]!, 1);
        tf.dispose([g, t]);
        twin.dispose();
      }
      model.dispose();
    }
    for (const a of result.bp!) expect(a).toBeLessThan(1);
    for (const a of result.fa!) expect(a).toBeGreaterThan(30);
    x.dispose();
  });

  it('works on a conv-only model with a given twin', async () => {
    const model = tfl.sequential({
      layers: [
        conv2d({ filters: 2, kernelSize: 3, feedback: 'frsf', seed: 1, inputShape: [5, 5, 1] }),
        tfl.layers.flatten(),
        dense({ units: 10, feedback: 'frsf', seed: 2 }),
      ],
    });
    const twin = await backpropTwin(model);
    const x = seededTensor([3, 5, 5, 1], 56);
    const { angles } = await inputGradientAngles(model, x, tf.oneHot(labels, 10), { twin });
    for (const a of angles) {
      expect(a).toBeGreaterThan(0.1);
      expect(a).toBeLessThan(90); // sign-concordant feedback stays in the same half-space
    }
    expect(twin.layers).toHaveLength(3); // the given twin is not disposed
    tf.dispose(x);
    model.dispose();
    twin.dispose();
  });
  it.each(['wasm', 'cpu'])(
    'on %s: NaN, not 180 degrees, for an image whose gradient is exactly zero, left out of the mean',
    async (backend) => {
      // wasm is what these tests run on, and where clipByValue(NaN, -1, 1) gives -1
      await tf.setBackend(backend);
      try {
        // A ReLU layer with zero biases: an all-zero image gives pre-activations of exactly 0,
        // where the ReLU's derivative is 0 (dead ReLUs), so both of its input gradients are zero.
        const model = tfl.sequential({
          layers: [
            dense({ units: 6, activation: 'relu', feedback: 'fa', seed: 3, inputShape: [5] }),
            dense({ units: 10, feedback: 'fa', seed: 4 }),
          ],
        });
        const x = tf.concat([tf.zeros([1, 5]), tf.abs(seededTensor([2, 5], 58))]);
        const g = await inputGradients(model, x, labels);
        expect(maxAbs(values(g.own).subarray(0, 5))).toBe(0);
        expect(maxAbs(values(g.true).subarray(0, 5))).toBe(0);
        for (const batchSize of [1, 3]) {
          const { angles, mean } = await inputGradientAngles(model, x, labels, { batchSize });
          expect(angles[0]).toBeNaN();
          expect(Number.isFinite(angles[1]) && Number.isFinite(angles[2])).toBe(true);
          expect(mean).toBeCloseTo((angles[1]! + angles[2]!) / 2, 4);
        }
        const allZero = tf.zeros([3, 5]);
        const none = await inputGradientAngles(model, allZero, labels);
        expect([...none.angles].every(Number.isNaN)).toBe(true);
        expect(none.mean).toBeNaN();
        tf.dispose([g.own, g.true, x, allZero]);
        model.dispose();
      } finally {
        await tf.setBackend('wasm');
      }
    },
  );
});

describe('inputGradients', () => {
  it("own is the model's backward path, true is the forward function's gradient (finite differences)", async () => {
    const model = tfl.sequential({
      layers: [
        dense({ units: 6, activation: 'tanh', feedback: 'fa', seed: 3, inputShape: [5] }),
        dense({ units: 10, feedback: 'fa', seed: 4 }),
      ],
    });
    const x = seededTensor([3, 5], 57);
    const before = tf.memory().numTensors;
    const g = await inputGradients(model, x, labels);
    expect(tf.memory().numTensors).toBe(before + 2); // the two gradients, nothing else
    // the true gradient against central differences of the summed cross-entropy, in float32
    const f = (xv: Float32Array) =>
      tf.tidy(() => lossOf(model)(tf.tensor2d(xv, [3, 5])).dataSync()[0]!);
    const x0 = values(x);
    const h = 1e-2;
    const fd = Float32Array.from(x0, (_, i) => {
      const up = Float32Array.from(x0);
      const down = Float32Array.from(x0);
      up[i]! += h;
      down[i]! -= h;
      return (f(up) - f(down)) / (2 * h);
    });
    expect(maxAbsDiff(values(g.true), fd)).toBeLessThan(2e-3 * Math.max(1, maxAbs(fd)));
    // the own gradient follows B, not W^T: far from the true one
    expect(angleDegrees(values(g.own), values(g.true))).toBeGreaterThan(20);
    // 'mean' divides every gradient by the batch size
    const m = await inputGradients(model, x, labels, { reduction: 'mean' });
    expect(
      maxAbsDiff(
        values(m.own),
        values(g.own).map((v) => v / 3),
      ),
    ).toBeLessThan(1e-6);
    tf.dispose([g.own, g.true, m.own, m.true, x]);
    model.dispose();
  });

  it('refuses labels that do not match the images', async () => {
    const model = lenet({ dataset: 'mnist', feedback: 'bp', seed: 1 });
    const x = tf.zeros([2, 28, 28, 1]);
    await expect(inputGradients(model, x, labels)).rejects.toThrow(/2 labels.*shape \[3\]/);
    tf.dispose(x);
    model.dispose();
  });
});
