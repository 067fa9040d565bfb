import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../setup.js';
import { maxAbs, maxAbsDiff, onBackend, seededValues } from '../test-utils.js';
import { maxPoolGradOnHeap, registerWasmTrainingKernels, sliceOnHeap } from './index.js';

/** The raw kernel, as tf.conv2d's gradient calls it (tfjs does not export the op). */
function backpropFilter(x: tf.Tensor, dy: tf.Tensor, attrs: Record<string, unknown>): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    dataFormat: 'NHWC',
    ...attrs,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

beforeAll(async () => {
  const info = await setupBackend({ backend: 'wasm' });
  expect(info.name).toBe('wasm');
  expect(info.addedKernels).toContain('Conv2DBackpropFilter');
});

type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

// Odd sizes, non-square inputs and filters, stride 1 and 2 (and mixed), every padding kind.
const cases: Case[] = [
  { x: [2, 7, 7, 3], k: [3, 3], co: 4, strides: 1, pad: 'valid' },
  { x: [2, 7, 7, 3], k: [3, 3], co: 4, strides: 1, pad: 'same' },
  { x: [3, 9, 8, 2], k: [3, 2], co: 5, strides: 2, pad: 'valid' },
  { x: [3, 9, 8, 2], k: [3, 2], co: 5, strides: 2, pad: 'same' },
  { x: [1, 10, 11, 1], k: [4, 4], co: 3, strides: 2, pad: 'same' },
  { x: [2, 8, 13, 3], k: [5, 3], co: 2, strides: [2, 1], pad: 'valid' },
  { x: [2, 11, 6, 2], k: [2, 5], co: 3, strides: [1, 3], pad: 'same' },
  { x: [4, 32, 32, 1], k: [5, 5], co: 6, strides: 1, pad: 'valid' }, // LeNet conv1
  { x: [4, 14, 14, 6], k: [5, 5], co: 16, strides: 1, pad: 'valid' }, // LeNet conv2
  { x: [4, 5, 5, 16], k: [5, 5], co: 12, strides: 1, pad: 'valid' }, // LeNet conv3: 1x1 output
  { x: [3, 6, 5, 2], k: [5, 5], co: 3, strides: 2, pad: 'valid' }, // 1x1 output, one row unused
  { x: [2, 9, 9, 2], k: [3, 3], co: 2, strides: 2, pad: 1 },
  { x: [2, 10, 9, 2], k: [3, 3], co: 2, strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  {
    x: [2, 6, 7, 2],
    k: [3, 3],
    co: 3,
    strides: 1,
    pad: [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ],
  },
  { x: [1, 1, 1, 4], k: [1, 1], co: 2, strides: 1, pad: 'valid' },
];

describe('Conv2DBackpropFilter on wasm', () => {
  it.each(cases.map((c, i) => [i, c] as const))(
    'case %i matches the cpu backend: %j',
    async (i, c) => {
      const xv = seededValues(
        c.x.reduce((a, b) => a * b),
        100 + i,
      );
      const filterShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.co];
      const dyShape = tf.tidy(
        () =>
          tf.conv2d(
            tf.zeros(c.x) as tf.Tensor4D,
            tf.zeros(filterShape) as tf.Tensor4D,
            c.strides,
            c.pad,
            'NHWC',
            1,
            c.dimRoundingMode,
          ).shape,
      );
      const dyv = seededValues(
        dyShape.reduce((a, b) => a * b),
        200 + i,
      );
      const run = () =>
        backpropFilter(
          tf.tensor4d(xv, c.x),
          tf.tensor4d(dyv, dyShape as [number, number, number, number]),
          {
            filterShape,
            strides: c.strides,
            pad: c.pad,
            dimRoundingMode: c.dimRoundingMode,
          },
        );
      const [cpu] = await onBackend('cpu', run);
      const [wasm] = await onBackend('wasm', run);
      expect(maxAbs(cpu!)).toBeGreaterThan(0);
      expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-4 * Math.max(1, maxAbs(cpu!)));
    },
  );

  it('matches cpu for NCHW data via the raw kernel', async () => {
    const x = seededValues(2 * 3 * 7 * 6, 7);
    const dy = seededValues(2 * 4 * 5 * 5, 8);
    const run = () =>
      tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x: tf.tensor4d(x, [2, 3, 7, 6]), dy: tf.tensor4d(dy, [2, 4, 5, 5]) },
        {
          strides: [1, 1],
          pad: 'valid',
          dataFormat: 'NCHW',
          filterShape: [3, 2, 3, 4],
        },
      ) as tf.Tensor;
    // Reference: the same computation in NHWC on cpu.
    const ref = () =>
      backpropFilter(
        tf.transpose(tf.tensor4d(x, [2, 3, 7, 6]), [0, 2, 3, 1]),
        tf.transpose(tf.tensor4d(dy, [2, 4, 5, 5]), [0, 2, 3, 1]),
        { filterShape: [3, 2, 3, 4], strides: 1, pad: 'valid' },
      );
    const [cpu] = await onBackend('cpu', ref);
    const [wasm] = await onBackend('wasm', run);
    expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-4);
  });

  it('gives the gradient of tf.conv2d with respect to the filter (tf.grad on wasm)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 1), [2, 8, 8, 3]);
    const w = tf.tensor4d(seededValues(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]);
    const target = tf.tensor4d(seededValues(2 * 4 * 4 * 4, 3), [2, 4, 4, 4]);
    const loss = (wt: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(x, wt as tf.Tensor4D, 2, 'same'), target));
    const g = tf.grad(loss)(w);
    // Finite differences of the (linear-in-w) loss, in float64 on the cpu side of JS.
    const wv = w.dataSync();
    const gv = g.dataSync();
    const eps = 1e-2;
    for (const idx of [0, 17, 50, 107]) {
      const plus = Float32Array.from(wv);
      const minus = Float32Array.from(wv);
      plus[idx]! += eps;
      minus[idx]! -= eps;
      const fd = tf.tidy(
        () =>
          (loss(tf.tensor4d(plus, w.shape)).dataSync()[0]! -
            loss(tf.tensor4d(minus, w.shape)).dataSync()[0]!) /
          (2 * eps),
      );
      expect(gv[idx]!).toBeCloseTo(fd, 2);
    }
    tf.dispose([x, w, target, g]);
  });

  it('leaks no tensors and no backend buffers', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seededValues(2 * 9 * 9 * 2, 1), [2, 9, 9, 2]);
    const dy = tf.tensor4d(seededValues(2 * 5 * 5 * 3, 2), [2, 5, 5, 3]);
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    for (let i = 0; i < 20; i++)
      tf.dispose(backpropFilter(x, dy, { filterShape: [3, 3, 2, 3], strides: 2, pad: 'same' }));
    // and through the gradient path, as training hits it
    const w = tf.ones([3, 3, 2, 3]) as tf.Tensor4D;
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => {
        tf.grad((t: tf.Tensor) => tf.sum(tf.conv2d(x, t as tf.Tensor4D, 2, 'same')))(w);
      });
    }
    w.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    tf.dispose([x, dy]);
  });
});

describe('Conv2DBackpropInput on wasm (replaced by a stride-1 Conv2D)', () => {
  it.each(cases.map((c, i) => [i, c] as const))(
    'case %i matches the cpu backend: %j',
    async (i, c) => {
      const filterShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.co];
      const wv = seededValues(
        filterShape.reduce((a, b) => a * b),
        300 + i,
      );
      const dyShape = tf.tidy(
        () =>
          tf.conv2d(
            tf.zeros(c.x) as tf.Tensor4D,
            tf.zeros(filterShape) as tf.Tensor4D,
            c.strides,
            c.pad,
            'NHWC',
            1,
            c.dimRoundingMode,
          ).shape,
      );
      const dyv = seededValues(
        dyShape.reduce((a, b) => a * b),
        400 + i,
      );
      const run = () =>
        tf.engine().runKernel(
          'Conv2DBackpropInput',
          {
            dy: tf.tensor4d(dyv, dyShape as [number, number, number, number]),
            filter: tf.tensor4d(wv, filterShape),
          },
          {
            inputShape: c.x,
            strides: c.strides,
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: c.dimRoundingMode,
          } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor;
      const [cpu] = await onBackend('cpu', run);
      const [wasm] = await onBackend('wasm', run);
      expect(maxAbs(cpu!)).toBeGreaterThan(0);
      expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-4 * Math.max(1, maxAbs(cpu!)));
    },
  );

  it('is the input gradient of tf.conv2d (finite differences) and leaks nothing', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seededValues(2 * 9 * 9 * 2, 21), [2, 9, 9, 2]);
    const w = tf.tensor4d(seededValues(3 * 3 * 2 * 3, 22), [3, 3, 2, 3]);
    const target = tf.tensor4d(seededValues(2 * 5 * 5 * 3, 23), [2, 5, 5, 3]);
    const loss = (xt: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xt as tf.Tensor4D, w, 2, 'same'), target));
    const g = tf.grad(loss)(x);
    const xv = x.dataSync();
    const eps = 1e-2;
    for (const idx of [0, 40, 99, 161, 323]) {
      const plus = Float32Array.from(xv);
      const minus = Float32Array.from(xv);
      plus[idx]! += eps;
      minus[idx]! -= eps;
      const fd = tf.tidy(
        () =>
          (loss(tf.tensor4d(plus, x.shape)).dataSync()[0]! -
            loss(tf.tensor4d(minus, x.shape)).dataSync()[0]!) /
          (2 * eps),
      );
      expect(g.dataSync()[idx]!).toBeCloseTo(fd, 2);
    }
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    for (let i = 0; i < 10; i++) tf.dispose(tf.grad(loss)(x));
    // the matmul path (1x1 output) too
    const x5 = tf.tensor4d(seededValues(2 * 5 * 5 * 4, 24), [2, 5, 5, 4]);
    const w5 = tf.tensor4d(seededValues(5 * 5 * 4 * 3, 25), [5, 5, 4, 3]);
    for (let i = 0; i < 10; i++)
      tf.dispose(
        tf.grad((xt: tf.Tensor) => tf.sum(tf.conv2d(xt as tf.Tensor4D, w5, 1, 'valid')))(x5),
      );
    tf.dispose([x5, w5]);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    tf.dispose([x, w, target, g]);
  });
});

interface PoolCase {
  x: [number, number, number, number];
  size: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

// LeNet's 2x2/2 pools, overlapping windows (a position can win several), 'same' padding at
// the borders, odd sizes, non-square windows and strides.
const poolCases: PoolCase[] = [
  { x: [4, 24, 24, 6], size: 2, strides: 2, pad: 'valid' }, // LeNet pool1 (MNIST)
  { x: [4, 10, 10, 16], size: 2, strides: 2, pad: 'valid' }, // LeNet pool2 (CIFAR-10)
  { x: [2, 7, 7, 3], size: 3, strides: 1, pad: 'same' },
  { x: [2, 9, 8, 2], size: 3, strides: 2, pad: 'same' },
  { x: [3, 7, 9, 2], size: [2, 3], strides: [1, 2], pad: 'valid' },
  { x: [1, 5, 5, 1], size: 5, strides: 1, pad: 'valid' },
  { x: [2, 11, 6, 4], size: 3, strides: 3, pad: 'same' },
  { x: [2, 9, 9, 2], size: 3, strides: 2, pad: 1, dimRoundingMode: 'ceil' },
];

/** Seeded values where a third are exactly 0 and some repeat: the ties a ReLU before a pool makes. */
function valuesWithTies(n: number, seed: number): Float32Array {
  const v = seededValues(n, seed);
  for (let i = 0; i < n; i++) {
    if (v[i]! < -0.3) v[i] = 0;
    else if (i % 7 === 3) v[i] = v[i - 1]!;
  }
  return v;
}

describe('MaxPoolGrad on wasm (replaced by a scatter on the heap)', () => {
  function poolGrad(xv: Float32Array, c: PoolCase, dyv?: Float32Array) {
    const x = tf.tensor4d(xv, c.x);
    const y = tf.maxPool(
      x,
      c.size as [number, number],
      c.strides as [number, number],
      c.pad,
      c.dimRoundingMode,
    );
    const dy = tf.tensor4d(
      dyv ?? seededValues(y.size, 900),
      y.shape as [number, number, number, number],
    );
    return tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, {
      filterSize: c.size,
      strides: c.strides,
      pad: c.pad,
      dimRoundingMode: c.dimRoundingMode,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }

  it.each(poolCases.map((c, i) => [i, c] as const))(
    'case %i matches the cpu backend, ties included: %j',
    async (i, c) => {
      const xv = valuesWithTies(
        c.x.reduce((a, b) => a * b),
        500 + i,
      );
      const run = () => poolGrad(xv, c);
      const [cpu] = await onBackend('cpu', run);
      const [wasm] = await onBackend('wasm', run);
      expect(maxAbs(cpu!)).toBeGreaterThan(0);
      expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpu!)));
    },
  );

  it('treats -Infinity and NaN as the cpu backend does (they never win; a window of them gets nothing)', async () => {
    const xv = valuesWithTies(2 * 6 * 6 * 2, 61);
    for (let i = 0; i < xv.length; i += 3) xv[i] = Number.NEGATIVE_INFINITY;
    for (let i = 1; i < xv.length; i += 11) xv[i] = Number.NaN;
    for (const i of [0, 2, 12, 14]) xv[i] = Number.NEGATIVE_INFINITY; // one whole 2x2 window, channel 0
    for (const c of [poolCases[0]!, poolCases[2]!].map((p) => ({
      ...p,
      x: [2, 6, 6, 2] as [number, number, number, number],
    }))) {
      const [cpu] = await onBackend('cpu', () => poolGrad(xv, c));
      const [wasm] = await onBackend('wasm', () => poolGrad(xv, c));
      expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-5);
    }
  });

  it('is the gradient of tf.maxPool (finite differences) and leaks nothing', async () => {
    await tf.setBackend('wasm');
    // distinct values, so the max is differentiable everywhere
    const xv = seededValues(2 * 6 * 6 * 3, 31);
    const x = tf.tensor4d(xv, [2, 6, 6, 3]);
    const target = tf.tensor4d(seededValues(2 * 3 * 3 * 3, 32), [2, 3, 3, 3]);
    const loss = (t: tf.Tensor) =>
      tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 3, 2, 'same'), target));
    const g = tf.grad(loss)(x);
    const gv = g.dataSync();
    const eps = 1e-3;
    let nonzero = 0;
    for (let idx = 0; idx < xv.length; idx += 5) {
      const plus = Float32Array.from(xv);
      const minus = Float32Array.from(xv);
      plus[idx]! += eps;
      minus[idx]! -= eps;
      const fd = tf.tidy(
        () =>
          (loss(tf.tensor4d(plus, x.shape)).dataSync()[0]! -
            loss(tf.tensor4d(minus, x.shape)).dataSync()[0]!) /
          (2 * eps),
      );
      expect(gv[idx]!).toBeCloseTo(fd, 2);
      if (gv[idx] !== 0) nonzero++;
    }
    expect(nonzero).toBeGreaterThan(3);
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    for (let i = 0; i < 10; i++) tf.dispose(tf.grad(loss)(x));
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    tf.dispose([x, target, g]);
  });

  it('is the kernel wasm runs (registered by setupBackend) and computes on the heap', async () => {
    await tf.setBackend('wasm');
    expect(registerWasmTrainingKernels()).toContain('MaxPoolGrad');
    const x = tf.tensor4d([1, 3, 2, 3], [1, 2, 2, 1]);
    const dy = tf.tensor4d([5], [1, 1, 1, 1]);
    const inputs = { dy, input: x, output: dy } as unknown as tf.NamedTensorInfoMap;
    const out = maxPoolGradOnHeap({
      inputs,
      backend: tf.backend(),
      attrs: { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap,
    });
    expect(out).not.toBeNull();
    // the first of the two 3s wins the tie
    const dx = tf.engine().makeTensorFromTensorInfo(out!);
    expect(Array.from(dx.dataSync())).toEqual([0, 5, 0, 0]);
    dx.dispose();
    // not a wasm heap: declines, so the backend's own kernel runs
    expect(
      maxPoolGradOnHeap({
        inputs,
        backend: {},
        attrs: { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap,
      }),
    ).toBeNull();
    tf.dispose([x, dy]);
  });

  it('stays right when the output allocation grows the wasm memory (views made before it would be detached)', async () => {
    await tf.setBackend('wasm');
    const heap = () =>
      (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
    // 128 MB in and 128 MB out: more than the heap keeps free, so allocating dx must grow it.
    const [h, w] = [4096, 8192];
    const xv = new Float32Array(h * w);
    // each 2x2 window holds 0, 1, 2, 3: its bottom-right element wins
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) xv[r * w + c] = (r % 2) * 2 + (c % 2);
    const x = tf.tensor4d(xv, [1, h, w, 1]);
    const dyv = seededValues((h / 2) * (w / 2), 42);
    const dy = tf.tensor4d(dyv, [1, h / 2, w / 2, 1]);
    const before = heap();
    const out = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: dy }, {
      filterSize: 2,
      strides: 2,
      pad: 'valid',
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    expect(heap()).not.toBe(before); // the premise: the memory did grow
    const dx = out.dataSync();
    tf.dispose([x, dy, out]);
    let wrong = 0;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const want = r % 2 === 1 && c % 2 === 1 ? dyv[((r - 1) / 2) * (w / 2) + (c - 1) / 2]! : 0;
        if (dx[r * w + c] !== want) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });
});

describe('BatchMatMul and _FusedMatMul on wasm (transposed operands made explicit)', () => {
  // [aShape, bShape, transposeA, transposeB]: LeNet's dense shapes, batched, broadcast batch
  const mmCases: [number[], number[], boolean, boolean][] = [
    [[64, 120], [400, 120], false, true], // conv3's input gradient as a product
    [[64, 120], [64, 84], true, false], // a dense layer's dW = xᵀ·dy
    [[7, 5], [3, 7], true, true],
    [[3, 4, 6], [3, 5, 6], false, true],
    [[3, 6, 4], [3, 6, 5], true, false],
    [[1, 6, 4], [3, 5, 6], true, true], // broadcast batch
    [[4, 6], [6, 5], false, false],
  ];
  it.each(mmCases.map((c, i) => [i, c] as const))(
    'case %i matches the cpu backend: %j',
    async (i, [as, bs, ta, tb]) => {
      const av = seededValues(
        as.reduce((x, y) => x * y),
        700 + i,
      );
      const bv = seededValues(
        bs.reduce((x, y) => x * y),
        800 + i,
      );
      const run = () => tf.matMul(tf.tensor(av, as), tf.tensor(bv, bs), ta, tb);
      const [cpu] = await onBackend('cpu', run);
      const [wasm] = await onBackend('wasm', run);
      expect(maxAbs(cpu!)).toBeGreaterThan(0);
      expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-5 * Math.max(1, maxAbs(cpu!)));
    },
  );

  it('fused products (bias + relu) with transposed operands match the cpu backend', async () => {
    const a = seededValues(6 * 4, 1);
    const b = seededValues(5 * 6, 2);
    const bias = seededValues(5, 3);
    for (const [ta, tb] of [
      [true, true],
      [true, false],
      [false, true],
    ] as const) {
      const run = () =>
        tf.fused.matMul({
          a: tf.tensor2d(a, ta ? [6, 4] : [4, 6]),
          b: tf.tensor2d(b, tb ? [5, 6] : [6, 5]),
          transposeA: ta,
          transposeB: tb,
          bias: tf.tensor1d(bias),
          activation: 'relu',
        });
      const [cpu] = await onBackend('cpu', run);
      const [wasm] = await onBackend('wasm', run);
      expect(maxAbs(cpu!)).toBeGreaterThan(0);
      expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-5);
    }
  });

  it("gives tf.matMul's gradients (finite differences) and leaks nothing", async () => {
    await tf.setBackend('wasm');
    const a = tf.tensor2d(seededValues(5 * 4, 11), [5, 4]);
    const b = tf.tensor2d(seededValues(4 * 3, 12), [4, 3]);
    const target = tf.tensor2d(seededValues(5 * 3, 13), [5, 3]);
    const loss = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), target));
    const [ga, gb] = tf.grads(loss)([a, b]);
    const eps = 1e-2;
    for (const [t, g, other, first] of [
      [a, ga!, b, true],
      [b, gb!, a, false],
    ] as const) {
      const v = t.dataSync();
      for (let idx = 0; idx < v.length; idx += 3) {
        const plus = Float32Array.from(v);
        const minus = Float32Array.from(v);
        plus[idx]! += eps;
        minus[idx]! -= eps;
        const at = (vals: Float32Array) => {
          const x = tf.tensor(vals, t.shape);
          return tf.tidy(() => (first ? loss(x, other) : loss(other, x)).dataSync()[0]!);
        };
        expect(g.dataSync()[idx]!).toBeCloseTo((at(plus) - at(minus)) / (2 * eps), 2);
      }
    }
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    for (let i = 0; i < 10; i++) tf.dispose(tf.grads(loss)([a, b]));
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    tf.dispose([a, b, target, ga!, gb!]);
  });
});

describe('Identity on wasm (shares memory instead of copying)', () => {
  it('clones read the same values, outlive their source, and free the data with the last one', async () => {
    await tf.setBackend('wasm');
    const dataBefore = tf.engine().backend.numDataIds();
    const a = tf.tensor2d(seededValues(12, 5), [3, 4]);
    const b = tf.clone(a);
    const c = tf.engine().runKernel('Identity', { x: b }) as tf.Tensor;
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore + 1); // one buffer, three tensors
    const want = Array.from(a.dataSync());
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual(want);
    b.dispose();
    expect(Array.from(c.dataSync())).toEqual(want);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore + 1);
    c.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
  });

  it('leaves the values a gradient saved intact while the forward tensors are freed (matches cpu)', async () => {
    const xv = seededValues(2 * 6 * 6 * 2, 71);
    const wv = seededValues(3 * 3 * 2 * 3, 72);
    const run = () => {
      const x = tf.tensor4d(xv, [2, 6, 6, 2]);
      const w = tf.tensor4d(wv, [3, 3, 2, 3]);
      // exp and relu save their outputs, conv2d its inputs: all through Identity
      const f = (t: tf.Tensor) =>
        tf.sum(tf.exp(tf.relu(tf.conv2d(t as tf.Tensor4D, w, 1, 'same'))));
      return tf.grad(f)(x);
    };
    const [cpu] = await onBackend('cpu', run);
    const [wasm] = await onBackend('wasm', run);
    expect(maxAbs(cpu!)).toBeGreaterThan(0);
    expect(maxAbsDiff(cpu!, wasm!)).toBeLessThan(1e-4 * maxAbs(cpu!));
    await tf.setBackend('wasm');
    const before = tf.engine().backend.numDataIds();
    for (let i = 0; i < 5; i++) tf.dispose(tf.tidy(run));
    expect(tf.engine().backend.numDataIds()).toBe(before);
  });
});

describe('Select on wasm', () => {
  it('selects bool values correctly (wasm 4.22 writes 4 bytes per bool) and leaks nothing', async () => {
    const cond = [1, 0, 0, 1, 1, 0, 1];
    const a = [1, 1, 0, 0, 1, 0, 1];
    const b = [0, 1, 1, 1, 0, 0, 0];
    const run = () =>
      tf.where(tf.tensor1d(cond, 'bool'), tf.tensor1d(a, 'bool'), tf.tensor1d(b, 'bool'));
    const [cpu] = await onBackend('cpu', run);
    const [wasm] = await onBackend('wasm', run);
    expect(Array.from(cpu!)).toEqual(cond.map((c, i) => (c ? a[i] : b[i])));
    expect(Array.from(wasm!)).toEqual(Array.from(cpu!));
    // other dtypes keep wasm's own kernel and stay right
    const f = () =>
      tf.where(
        tf.tensor1d(cond, 'bool'),
        tf.tensor1d([1, 2, 3, 4, 5, 6, 7]),
        tf.tensor1d([-1, -2, -3, -4, -5, -6, -7]),
      );
    expect(Array.from((await onBackend('wasm', f))[0]!)).toEqual([1, -2, -3, 4, 5, -6, 7]);
    const before = tf.engine().backend.numDataIds();
    for (let i = 0; i < 10; i++) tf.dispose(tf.tidy(run));
    expect(tf.engine().backend.numDataIds()).toBe(before);
  });
});

describe('cpu-fallback kernels on wasm', () => {
  it('depthwise conv2d gradients match the cpu backend', async () => {
    const x = seededValues(2 * 7 * 7 * 3, 11);
    const w = seededValues(3 * 3 * 3 * 2, 12);
    const grads = () => {
      const xt = tf.tensor4d(x, [2, 7, 7, 3]);
      const wt = tf.tensor4d(w, [3, 3, 3, 2]);
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
      return tf.grads(f)([xt, wt]);
    };
    const cpu = await onBackend('cpu', grads);
    const wasm = await onBackend('wasm', grads);
    for (let i = 0; i < 2; i++) {
      expect(maxAbs(cpu[i]!)).toBeGreaterThan(0);
      expect(maxAbsDiff(cpu[i]!, wasm[i]!)).toBeLessThan(1e-4 * maxAbs(cpu[i]!));
    }
  });

  it('UnsortedSegmentSum (the gradient of gather) matches the cpu backend', async () => {
    const run = () =>
      tf.grad((t: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.gather(t, tf.tensor1d([0, 2, 2, 1, 0], 'int32')),
            tf.reshape(tf.range(1, 6), [5, 1]),
          ),
        ),
      )(tf.tensor2d(seededValues(12, 3), [4, 3]));
    const [cpu] = await onBackend('cpu', run);
    const [wasm] = await onBackend('wasm', run);
    expect(Array.from(wasm!)).toEqual(Array.from(cpu!));
  });
});

describe('Slice on wasm (copies only the slice)', () => {
  // shape, begin, size (-1: to the end)
  const cases: [number[], number[], number[]][] = [
    [
      [10, 4, 4, 1],
      [3, 0, 0, 0],
      [5, -1, -1, -1],
    ], // a batch of images: one run
    [
      [10, 4, 4, 1],
      [0, 0, 0, 0],
      [10, 4, 4, 1],
    ], // everything
    [
      [6, 5, 4, 3],
      [1, 2, 1, 0],
      [3, 2, 2, 3],
    ], // runs of the last axis
    [
      [6, 5, 4, 3],
      [2, 1, 0, 1],
      [2, 3, 4, 2],
    ], // partial last axis
    [
      [7, 9],
      [2, 3],
      [4, 5],
    ],
    [
      [7, 9],
      [0, 4],
      [7, 1],
    ], // one column
    [[12], [5], [4]],
    [
      [3, 1, 4, 1, 5, 2],
      [1, 0, 1, 0, 2, 1],
      [2, 1, 2, 1, 3, 1],
    ], // rank 6
    [
      [4, 3],
      [1, 0],
      [0, 3],
    ], // empty
  ];
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`gives the cpu backend's values (${dtype}, ranks 1-6, partial and whole axes, empty)`, async () => {
      for (const [shape, begin, size] of cases) {
        const n = shape.reduce((a, b) => a * b, 1);
        const vals = seededValues(n, n + shape.length).map((v) =>
          dtype === 'bool' ? (v > 0 ? 1 : 0) : dtype === 'int32' ? Math.round(v * 100) : v,
        );
        const run = () => tf.slice(tf.tensor(vals, shape, dtype), begin, size);
        const [want] = await onBackend('cpu', run);
        const [got] = await onBackend('wasm', run);
        expect(Array.from(got!), `${shape} from ${begin} size ${size}`).toEqual(Array.from(want!));
      }
    });
  }

  it('is the kernel wasm runs, computes on the heap, and declines strings and non-heap backends', async () => {
    await tf.setBackend('wasm');
    expect(registerWasmTrainingKernels()).toContain('Slice');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const out = sliceOnHeap({
      inputs: { x } as unknown as tf.NamedTensorInfoMap,
      backend: tf.backend(),
      attrs: { begin: [1, 0], size: [2, 2] } as unknown as tf.NamedAttrMap,
    });
    const t = tf.engine().makeTensorFromTensorInfo(out!);
    expect(Array.from(t.dataSync())).toEqual([3, 4, 5, 6]);
    expect(
      sliceOnHeap({
        inputs: { x } as unknown as tf.NamedTensorInfoMap,
        backend: {},
        attrs: { begin: [0, 0], size: [1, 1] } as unknown as tf.NamedAttrMap,
      }),
    ).toBeNull();
    const strings = tf.tensor1d(['a', 'b', 'c'], 'string');
    expect(Array.from(tf.slice(strings, 1, 2).dataSync() as unknown as string[])).toEqual([
      'b',
      'c',
    ]);
    const before = tf.engine().backend.numDataIds();
    for (let i = 0; i < 3; i++) tf.dispose(tf.slice(x, [1, 1], [1, 1]));
    expect(tf.engine().backend.numDataIds()).toBe(before);
    tf.dispose([x, t, strings]);
  });
});
