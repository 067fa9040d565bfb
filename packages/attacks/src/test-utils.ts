/** Test helpers: seeded data, small models with closed-form gradients, a model with a custom backward path. */

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { setupBackend } from '@fa-robust/backend';
import { seededUniform } from '@fa-robust/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll } from 'vitest';

/** A seeded uniform [0, 1) Float32Array (mulberry32). */
export const uniform = seededUniform;

/** Seeded values in [-scale, scale). */
export function symmetric(n: number, seed: number, scale = 1): Float32Array {
  return uniform(n, seed).map((v) => (v * 2 - 1) * scale);
}

/** A linear softmax classifier z = flatten(x) W + b, with its weights as plain arrays for closed forms. */
export interface LinearModel {
  model: (x: tf.Tensor) => tf.Tensor;
  W: Float32Array; // [d, k] row-major
  b: Float32Array; // [k]
  d: number;
  k: number;
  dispose(): void;
}

export function linearModel(d: number, k: number, seed: number, scale = 1): LinearModel {
  const W = symmetric(d * k, seed, scale);
  const b = symmetric(k, seed + 1, 0.1);
  const Wt = tf.tensor2d(W, [d, k]);
  const bt = tf.tensor1d(b);
  return {
    model: (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0]!, d]), Wt), bt),
    W,
    b,
    d,
    k,
    dispose: () => tf.dispose([Wt, bt]),
  };
}

/** Logits of the linear model in float64, per example. */
export function linearLogits(m: LinearModel, x: ArrayLike<number>, i: number): number[] {
  const z: number[] = [];
  for (let j = 0; j < m.k; j++) {
    let s = m.b[j]!;
    for (let p = 0; p < m.d; p++) s += x[i * m.d + p]! * m.W[p * m.k + j]!;
    z.push(s);
  }
  return z;
}

/**
 * Closed-form d loss / dx of the linear model for example i (float64): for CE,
 * (softmax(z) - e_y) W^T; targeted CE, -(softmax(z) - e_t) W^T; margin, W[:, j*] - W[:, y].
 */
export function linearGradient(
  m: LinearModel,
  x: ArrayLike<number>,
  i: number,
  y: number,
  loss: 'ce' | 'margin',
  target?: number,
): number[] {
  const z = linearLogits(m, x, i);
  const coef = new Array<number>(m.k).fill(0);
  if (loss === 'ce') {
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, v) => a + v, 0);
    const p = e.map((v) => v / s);
    const c = target ?? y;
    for (let j = 0; j < m.k; j++) coef[j] = (p[j]! - (j === c ? 1 : 0)) * (target != null ? -1 : 1);
  } else {
    const c = target ?? y;
    let best = -1;
    for (let j = 0; j < m.k; j++) if (j !== c && (best < 0 || z[j]! > z[best]!)) best = j;
    if (target != null) {
      coef[c] = 1;
      coef[best] = -1;
    } else {
      coef[best] = 1;
      coef[c] = -1;
    }
  }
  const g: number[] = [];
  for (let p = 0; p < m.d; p++) {
    let s = 0;
    for (let j = 0; j < m.k; j++) s += coef[j]! * m.W[p * m.k + j]!;
    g.push(s);
  }
  return g;
}

export const clampTo = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * A two-layer MLP with two backward paths over one forward function: `bp` (tf.grad, W^T) and
 * `fa` (feedback alignment: the input gradient of each dense layer uses a fixed random B
 * instead of W^T, through tf.customGrad). Also `faGradient`, the FA input gradient written out
 * by hand as an independent reference.
 */
export interface TwinModels {
  bp: (x: tf.Tensor) => tf.Tensor;
  fa: (x: tf.Tensor) => tf.Tensor;
  /** d(sum dy * z)/dx along the FA path, by hand: ((dy B2) * relu'(a1)) B1. */
  faBackward(x: tf.Tensor, dy: tf.Tensor): tf.Tensor;
  dispose(): void;
}

export function twinModels(d: number, h: number, k: number, seed: number): TwinModels {
  const W1 = tf.tensor2d(symmetric(d * h, seed, Math.sqrt(6 / (d + h))), [d, h]);
  const b1 = tf.tensor1d(symmetric(h, seed + 1, 0.1));
  const W2 = tf.tensor2d(symmetric(h * k, seed + 2, Math.sqrt(6 / (h + k))), [h, k]);
  const b2 = tf.tensor1d(symmetric(k, seed + 3, 0.1));
  // Feedback matrices, shaped like W^T.
  const B1 = tf.tensor2d(symmetric(h * d, seed + 4, Math.sqrt(6 / (d + h))), [h, d]);
  const B2 = tf.tensor2d(symmetric(k * h, seed + 5, Math.sqrt(6 / (h + k))), [k, h]);
  const faDense = (W: tf.Tensor2D, B: tf.Tensor2D) =>
    tf.customGrad((input) => ({
      value: tf.matMul(input as tf.Tensor2D, W),
      gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, B),
    }));
  const fa1 = faDense(W1 as tf.Tensor2D, B1 as tf.Tensor2D);
  const fa2 = faDense(W2 as tf.Tensor2D, B2 as tf.Tensor2D);
  const flat = (x: tf.Tensor) => tf.reshape(x, [x.shape[0]!, d]);
  return {
    bp: (x) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(flat(x), W1), b1)), W2), b2),
    fa: (x) => tf.add(fa2(tf.relu(tf.add(fa1(flat(x)), b1))), b2),
    faBackward: (x, dy) =>
      tf.tidy(() => {
        const a1 = tf.add(tf.matMul(flat(x), W1), b1);
        const dh = tf.mul(tf.matMul(dy as tf.Tensor2D, B2), tf.cast(tf.greater(a1, 0), 'float32'));
        return tf.reshape(tf.matMul(dh as tf.Tensor2D, B1), x.shape);
      }),
    dispose: () => tf.dispose([W1, b1, W2, b2, B1, B2]),
  };
}

/** Cosine similarity of two flat arrays. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * An easy synthetic task: k classes of h x w x 1 images, class c a bright vertical bar at
 * column band c plus noise. Returns NHWC values in [0, 1] and labels.
 */
export function barImages(
  n: number,
  h: number,
  w: number,
  k: number,
  seed: number,
): { x: Float32Array; y: Int32Array } {
  const noise = uniform(n * h * w, seed);
  const x = new Float32Array(n * h * w);
  const y = new Int32Array(n);
  const band = w / k;
  for (let i = 0; i < n; i++) {
    const c = i % k;
    y[i] = c;
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        const on = col >= c * band && col < (c + 1) * band;
        x[(i * h + r) * w + col] = on
          ? 0.6 + 0.4 * noise[(i * h + r) * w + col]!
          : 0.3 * noise[(i * h + r) * w + col]!;
      }
    }
  }
  return { x, y };
}

/** The MNIST directory from FA_ROBUST_DATA_DIR (relative paths from the repository root), or null. */
export function mnistDir(): string | null {
  const base = process.env.FA_ROBUST_DATA_DIR;
  if (!base) return null;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = join(resolve(root, base), 'mnist');
  const files = ['train', 't10k'].flatMap((s) => [
    `${s}-images-idx3-ubyte.gz`,
    `${s}-labels-idx1-ubyte.gz`,
  ]);
  return files.every((f) => existsSync(join(dir, f))) ? dir : null;
}

/** Reads an MNIST split (idx format, gzip) as NHWC floats in [0, 1]. */
export function readMnist(
  dir: string,
  split: 'train' | 't10k',
  limit: number,
): { x: Float32Array; y: Int32Array; n: number } {
  const images = gunzipSync(readFileSync(join(dir, `${split}-images-idx3-ubyte.gz`)));
  const labels = gunzipSync(readFileSync(join(dir, `${split}-labels-idx1-ubyte.gz`)));
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049)
    throw new Error(`${dir}: not MNIST idx files`);
  const n = Math.min(limit, images.readUInt32BE(4));
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) x[i] = images[16 + i]! / 255;
  const y = Int32Array.from(labels.subarray(8, 8 + n));
  return { x, y, n };
}

/**
 * An accurate, undefended linear model for barImages: the logit of class c is
 * scale * (mean of band c - mean of the image). No training needed.
 */
export function barModel(h: number, w: number, k: number, scale = 10): LinearModel {
  const d = h * w;
  const W = new Float32Array(d * k);
  const band = w / k;
  for (let r = 0; r < h; r++) {
    for (let col = 0; col < w; col++) {
      for (let c = 0; c < k; c++) {
        const on = col >= c * band && col < (c + 1) * band;
        W[(r * w + col) * k + c] = scale * ((on ? 1 / (h * band) : 0) - 1 / d);
      }
    }
  }
  const b = new Float32Array(k);
  const Wt = tf.tensor2d(W, [d, k]);
  const bt = tf.tensor1d(b);
  return {
    model: (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0]!, d]), Wt), bt),
    W,
    b,
    d,
    k,
    dispose: () => tf.dispose([Wt, bt]),
  };
}

/**
 * A small dense ReLU net trained for the strength tests: on 2,000 real MNIST images (200 test
 * images, eps 0.03 and 0.05) when FA_ROBUST_DATA_DIR has them, else on the bar task (100 test
 * images, eps 0.2 and 0.22). Seeded; about 20 s on MNIST. The caller disposes `net` and the
 * data tensors.
 */
export async function smallTrainedNet(): Promise<{
  net: tfl.Sequential;
  data: { xt: tf.Tensor; yt: tf.Tensor; xs: tf.Tensor; ys: Int32Array; k: number };
  epsilons: number[];
  dir: string | null;
}> {
  const dir = mnistDir();
  let data: { xt: tf.Tensor; yt: tf.Tensor; xs: tf.Tensor; ys: Int32Array; k: number };
  let epsilons: number[];
  if (dir) {
    const train = readMnist(dir, 'train', 2000);
    const test = readMnist(dir, 't10k', 200);
    data = tf.tidy(() => ({
      xt: tf.tensor2d(train.x, [train.n, 784]),
      yt: tf.oneHot(tf.tensor1d(train.y, 'int32'), 10),
      xs: tf.tensor2d(test.x, [test.n, 784]),
      ys: test.y,
      k: 10,
    }));
    epsilons = [0.03, 0.05];
  } else {
    const train = barImages(800, 10, 10, 5, 1);
    const test = barImages(100, 10, 10, 5, 2);
    data = tf.tidy(() => ({
      xt: tf.tensor2d(train.x, [800, 100]),
      yt: tf.oneHot(tf.tensor1d(train.y, 'int32'), 5),
      xs: tf.tensor2d(test.x, [100, 100]),
      ys: test.y,
      k: 5,
    }));
    epsilons = [0.2, 0.22];
  }
  const net = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [data.xt.shape[1]!],
        units: 32,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.dense({
        units: data.k,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  net.compile({
    optimizer: tf.train.adam(0.01),
    loss: (a: tf.Tensor, b: tf.Tensor) => tf.losses.softmaxCrossEntropy(a, b),
  });
  // ~300 steps (MNIST: 10 epochs of 32 batches), ~40 (bars: the task saturates beyond)
  await net.fit(data.xt, data.yt, {
    epochs: dir ? 10 : 3,
    batchSize: 64,
    shuffle: false,
    verbose: 0,
  });
  return { net, data, epsilons, dir };
}

/**
 * The bar task for a test file: `n` images of h x w (8 x 8), k (4) classes, and the accurate
 * `barModel` on them, made in beforeAll (on the wasm backend) and freed in afterAll. Read its
 * fields inside tests.
 */
export function useBarTask(
  n: number,
  seed: number,
  h = 8,
  w = 8,
  k = 4,
): { m: LinearModel; x: tf.Tensor4D; y: number[] } {
  const task = {} as { m: LinearModel; x: tf.Tensor4D; y: number[] };
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm' });
    task.m = barModel(h, w, k);
    const data = barImages(n, h, w, k, seed);
    task.x = tf.tensor4d(data.x, [n, h, w, 1]);
    task.y = Array.from(data.y);
  });
  afterAll(() => {
    task.m.dispose();
    task.x.dispose();
  });
  return task;
}
