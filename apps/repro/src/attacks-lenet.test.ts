import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type AttackResult,
  bim,
  fgsm,
  mifgsm,
  modelGradient,
  ownGradient,
  pgd,
  spsa,
  square,
} from '@fa-robust/attacks';
import { setupBackend } from '@fa-robust/backend';
import { loadMnist } from '@fa-robust/datasets';
import { backpropTwin, lenet, train } from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';

// Every attack of @fa-robust/attacks against fa-layers' FA LeNet on real MNIST test images,
// through both gradient sources, on the wasm backend: the packages meet here.
const dataDir = process.env.FA_ROBUST_DATA_DIR;
const have =
  dataDir != null && existsSync(join(resolve(dataDir), 'mnist', 't10k-images-idx3-ubyte.gz'));
if (!have) console.warn('attacks-vs-LeNet test skipped: no MNIST under FA_ROBUST_DATA_DIR');

describe.skipIf(!have)('every attack against an FA LeNet on real MNIST (wasm)', () => {
  let fa: tfl.LayersModel;
  let twin: tfl.LayersModel;
  let x: tf.Tensor4D;
  let y: Int32Array;
  beforeAll(async () => {
    expect((await setupBackend({ backend: 'wasm' })).name).toBe('wasm');
    const { train: tr, test } = await loadMnist({
      dataDir: resolve(dataDir!),
      download: false,
      limit: { train: 2000, test: 32 },
    });
    fa = lenet({ dataset: 'mnist', feedback: 'fa', seed: 2 });
    const xs = tf.tensor4d(tr.images, tr.shape as [number, number, number, number]);
    const ys = tf.tensor1d(Int32Array.from(tr.labels), 'int32');
    await train(fa, { x: xs, y: ys }, { epochs: 2, batchSize: 32, seed: 1 });
    tf.dispose([xs, ys]);
    twin = await backpropTwin(fa);
    x = tf.tensor4d(test.images, test.shape as [number, number, number, number]);
    y = Int32Array.from(test.labels);
  });

  const attacks: [string, (gradient: 'own' | 'true') => Promise<AttackResult>][] = [
    [
      'fgsm',
      (g) =>
        fgsm(fa, x, y, {
          epsilon: 0.2,
          gradient: g === 'own' ? ownGradient(fa) : modelGradient(twin),
        }),
    ],
    [
      'bim',
      (g) =>
        bim(fa, x, y, {
          epsilon: 0.2,
          steps: 5,
          gradient: g === 'own' ? ownGradient(fa) : modelGradient(twin),
        }),
    ],
    [
      'mifgsm',
      (g) =>
        mifgsm(fa, x, y, {
          epsilon: 0.2,
          steps: 5,
          gradient: g === 'own' ? ownGradient(fa) : modelGradient(twin),
        }),
    ],
    [
      'pgd',
      (g) =>
        pgd(fa, x, y, {
          epsilon: 0.2,
          steps: 5,
          seed: 3,
          gradient: g === 'own' ? ownGradient(fa) : modelGradient(twin),
        }),
    ],
  ];

  it.each(attacks)(
    '%s runs through the feedback path and the true gradient, inside the eps-ball, success re-predicted',
    async (_name, run) => {
      const own = await run('own');
      const truth = await run('true');
      for (const r of [own, truth]) {
        expect(r.success).toHaveLength(32);
        for (const v of r.linf) expect(v).toBeLessThanOrEqual(0.2 + 1e-5);
        const pred = tf.tidy(() =>
          tf.argMax(fa.predict(r.adversarial) as tf.Tensor, -1).dataSync(),
        );
        expect(Array.from(r.predictions)).toEqual(Array.from(pred));
        expect(Array.from(r.success)).toEqual(Array.from(pred, (p, i) => (p !== y[i] ? 1 : 0)));
      }
      // the two gradient sources are different guides: the adversarial inputs differ
      const diff = tf.tidy(
        () => tf.max(tf.abs(tf.sub(own.adversarial, truth.adversarial))).dataSync()[0]!,
      );
      expect(diff).toBeGreaterThan(0);
      tf.dispose([own.adversarial, truth.adversarial]);
    },
  );

  it.each([
    ['spsa', () => spsa(fa, x, y, { epsilon: 0.2, steps: 5, samples: 16, seed: 4 })],
    ['square', () => square(fa, x, y, { epsilon: 0.2, steps: 30, seed: 5 })],
  ] as const)(
    '%s (gradient-free) runs inside the eps-ball and the pixel bounds',
    async (_name, run) => {
      const r = await run();
      expect(r.gradientSource).toBeNull();
      for (const v of r.linf) expect(v).toBeLessThanOrEqual(0.2 + 1e-5);
      const [lo, hi] = tf.tidy(() => [
        tf.min(r.adversarial).dataSync()[0]!,
        tf.max(r.adversarial).dataSync()[0]!,
      ]);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      r.adversarial.dispose();
    },
  );
});
