/**
 * Integration over real MNIST test images (FA_ROBUST_DATA_DIR, skipped when absent): a small
 * LeNet-style conv net trained here on 4,000 training images, attacked by every attack through
 * both gradient sources: its own backward path, where the dense layers send errors through
 * fixed random feedback matrices (feedback alignment), and its true-gradient twin.
 */
import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskingFlags } from './checks.js';
import { modelGradient } from './gradient.js';
import { runAttack } from './runner.js';
import type { RunResult } from './runner-types.js';
import { mnistDir, readMnist, symmetric } from './test-utils.js';

const dir = mnistDir();
if (!dir) {
  console.warn(
    'mnist.test.ts skipped: set FA_ROBUST_DATA_DIR to a folder holding mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (CI: ../shared/data)',
  );
}

const TRAIN = 4000;
const TEST = 100;
let net: tfl.LayersModel;
let bp: (x: tf.Tensor) => tf.Tensor;
let fa: (x: tf.Tensor) => tf.Tensor;
let test: { x: Float32Array; y: Int32Array; shape: number[] };
let held: tf.Tensor[] = [];

beforeAll(async () => {
  if (!dir) return;
  await setupBackend({ backend: 'wasm' });
  const t0 = Date.now();
  const train = readMnist(dir, 'train', TRAIN);
  const t10k = readMnist(dir, 't10k', TEST);
  test = { x: t10k.x, y: t10k.y, shape: [TEST, 28, 28, 1] };
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  net = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 6,
        kernelSize: 5,
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({
        filters: 16,
        kernelSize: 5,
        activation: 'relu',
        kernelInitializer: init(2),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 84, activation: 'relu', kernelInitializer: init(3) }),
      tfl.layers.dense({ units: 10, kernelInitializer: init(4) }),
    ],
  });
  net.compile({
    optimizer: tf.train.adam(0.003),
    loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp),
  });
  const xs = tf.tensor4d(train.x, [TRAIN, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(train.y, 'int32'), 10);
  await net.fit(xs, ys, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  console.log(
    `mnist.test.ts: trained a LeNet-style net on ${TRAIN} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );

  // The same forward function twice: `bp` backpropagates through W^T, `fa` sends the errors of
  // both dense layers through fixed random matrices B (a feedback-alignment backward path).
  const [k1, b1, k2, b2, w3, b3, w4, b4] = net.getWeights() as tf.Tensor[];
  const B3 = tf.tensor2d(symmetric(84 * 256, 31, Math.sqrt(6 / (256 + 84))), [84, 256]);
  const B4 = tf.tensor2d(symmetric(10 * 84, 32, Math.sqrt(6 / (84 + 10))), [10, 84]);
  held = [B3, B4];
  const faMatMul = (w: tf.Tensor, b: tf.Tensor) =>
    tf.customGrad((h) => ({
      value: tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, b as tf.Tensor2D),
    }));
  const fa3 = faMatMul(w3!, B3);
  const fa4 = faMatMul(w4!, B4);
  const features = (x: tf.Tensor) => {
    const c1 = tf.maxPool(
      tf.relu(
        tf.add(tf.conv2d(x as tf.Tensor4D, k1 as tf.Tensor4D, 1, 'valid'), b1!),
      ) as tf.Tensor4D,
      2,
      2,
      'valid',
    );
    const c2 = tf.maxPool(
      tf.relu(tf.add(tf.conv2d(c1, k2 as tf.Tensor4D, 1, 'valid'), b2!)) as tf.Tensor4D,
      2,
      2,
      'valid',
    );
    return tf.reshape(c2, [x.shape[0]!, 256]);
  };
  bp = (x) =>
    tf.add(
      tf.matMul(tf.relu(tf.add(tf.matMul(features(x), w3 as tf.Tensor2D), b3!)), w4 as tf.Tensor2D),
      b4!,
    );
  fa = (x) => tf.add(fa4(tf.relu(tf.add(fa3(features(x)), b3!))), b4!);
});

afterAll(() => {
  tf.dispose(held);
  net?.dispose();
});

const rate = (r: RunResult, e: number) => r.perEpsilon[e]!.successRate;

describe.skipIf(!dir)('real MNIST test images, LeNet-style net, both gradient sources', () => {
  it('the functional twins match the trained net, which is accurate', async () => {
    const x = tf.tensor4d(test.x, [TEST, 28, 28, 1]);
    const [a, b, c] = [
      tf.tidy(() => net.apply(x) as tf.Tensor),
      tf.tidy(() => bp(x)),
      tf.tidy(() => fa(x)),
    ];
    const d1 = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
    const d2 = tf.tidy(() => tf.max(tf.abs(tf.sub(a, c))));
    expect(d1.dataSync()[0]).toBeLessThan(1e-4);
    expect(d2.dataSync()[0]).toBeLessThan(1e-4);
    const pred = tf.tidy(() => tf.argMax(a, 1));
    const acc = Array.from(pred.dataSync()).filter((p, i) => p === test.y[i]).length / TEST;
    console.log(`mnist.test.ts: clean accuracy ${acc} on ${TEST} test images`);
    expect(acc).toBeGreaterThan(0.9);
    tf.dispose([x, a, b, c, d1, d2, pred]);
  });

  it('every gradient attack runs through both sources; the true gradient is the stronger guide', async () => {
    const start = tf.memory().numTensors;
    const eps = [0.1, 0.3];
    const runs: RunResult[] = [];
    const lines: string[] = [];
    for (const attack of ['fgsm', 'bim', 'mifgsm', 'pgd'] as const) {
      const options = attack === 'pgd' ? { steps: 10 } : {};
      const t0 = Date.now();
      const own = await runAttack({
        model: fa,
        attack,
        data: test,
        epsilons: eps,
        batchSize: 50,
        options,
      });
      const twin = await runAttack({
        model: fa,
        attack,
        data: test,
        epsilons: eps,
        batchSize: 50,
        options,
        gradient: modelGradient(bp, 'bp-twin'),
      });
      lines.push(
        `${attack}: own ${eps.map((_, e) => rate(own, e).toFixed(2))} twin ${eps.map((_, e) => rate(twin, e).toFixed(2))} (${Date.now() - t0} ms)`,
      );
      runs.push(own, twin);
      // the true gradient fools nearly everything at eps 0.3 (iterative attacks)
      if (attack !== 'fgsm') expect(rate(twin, 1)).toBeGreaterThan(0.9);
      expect(rate(twin, 1)).toBeGreaterThanOrEqual(rate(own, 1));
      for (const r of [own, twin])
        for (const e of r.perEpsilon)
          expect(Math.max(...e.linf)).toBeLessThanOrEqual(e.epsilon + 1e-6);
    }
    console.log(`mnist.test.ts success rates at eps ${eps}:\n  ${lines.join('\n  ')}`);
    const flags = maskingFlags(runs);
    expect(flags.some((f) => f.code === 'other-gradient-stronger')).toBe(true);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("the paper's variants run and report the perturbation they reach", async () => {
    const mi = await runAttack({
      model: fa,
      attack: 'mifgsm',
      data: test,
      epsilons: [0.1],
      batchSize: 50,
      options: { variant: 'paper' },
    });
    const bimPaper = await runAttack({
      model: fa,
      attack: 'bim',
      data: test,
      epsilons: [0.1],
      batchSize: 50,
      options: { variant: 'paper' },
    });
    expect(Math.max(...mi.perEpsilon[0]!.linf)).toBeGreaterThan(0.1); // unprojected: beyond eps
    expect(Math.max(...bimPaper.perEpsilon[0]!.linf)).toBeLessThanOrEqual(0.1 + 1e-6);
    expect(mi.variant).toBe('paper');
  });

  it('SPSA and Square fool the net without any gradient', async () => {
    const few = {
      x: test.x.subarray(0, 20 * 784),
      y: test.y.subarray(0, 20),
      shape: [20, 28, 28, 1],
    };
    const t0 = Date.now();
    const sq = await runAttack({
      model: fa,
      attack: 'square',
      data: few,
      epsilons: [0.3],
      options: { steps: 300, pInit: 0.3 },
    });
    const t1 = Date.now();
    const sp = await runAttack({
      model: fa,
      attack: 'spsa',
      data: few,
      epsilons: [0.3],
      options: { steps: 30, samples: 32 },
    });
    console.log(
      `mnist.test.ts: square ${rate(sq, 0)} (${t1 - t0} ms), spsa ${rate(sp, 0)} (${Date.now() - t1} ms) at eps 0.3 on 20 images`,
    );
    expect(rate(sq, 0)).toBeGreaterThan(0.5);
    expect(rate(sp, 0)).toBeGreaterThan(0.3);
  });
});
