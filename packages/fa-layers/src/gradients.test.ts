import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d, type FaConv2D } from './conv2d.js';
import { dense, type FaDense } from './dense.js';
import { DfaSignalError } from './errors.js';
import { FEEDBACK_MODES, type FeedbackMode } from './modes.js';
import {
  finiteDifferences,
  jsMatMul,
  jsMatMulTA,
  maxAbs,
  maxAbsDiff,
  seededTensor,
  values,
} from './test-utils.js';

/**
 * For every mode and both layer types: the input gradient tf.grad computes through the layer
 * equals dy·B^T (dense) / conv2DBackpropInput(dy, B) (conv) with B built independently from the
 * layer's weights by the mode's definition, and the weight gradient is the true one. For bp both
 * also equal finite differences of the forward function.
 *
 * Independent references: dense in plain JS float64; conv through tf.grad of a plain tf.conv2d
 * with B (or W) as its filter, i.e. tfjs's own Conv2D gradient, not this package's kernels.
 */

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

type FaLayer = FaDense | FaConv2D;

function feedbackValues(layer: FaLayer): Float32Array | null {
  const w = layer.feedbackState.weight;
  return w == null ? null : values(w.read());
}

/** B in the kernel's shape, computed from the layer's weights by the mode's definition. */
function expectedB(
  mode: FeedbackMode,
  w: Float32Array,
  fb: Float32Array | null,
  fanIn: number,
  fanOut: number,
): Float64Array {
  const out = new Float64Array(w.length);
  const scale = Math.sqrt(2 / (fanIn + fanOut));
  for (let i = 0; i < w.length; i++) {
    const s = Math.sign(w[i]!);
    if (mode === 'bp') out[i] = w[i]!;
    else if (mode === 'fa' || mode === 'kp' || mode === 'wm') out[i] = fb![i]!;
    else if (mode === 'usf') out[i] = s * scale;
    else if (mode === 'frsf' || mode === 'brsf') out[i] = Math.abs(fb![i]!) * s;
    else throw new Error(mode);
  }
  return out;
}

/** Relative closeness for float32 results against a float64 reference. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-5): void {
  expect(maxAbs(expected)).toBeGreaterThan(0);
  expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(rel * Math.max(1, maxAbs(expected)));
}

describe.each(['wasm', 'cpu'])('gradients on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  describe.each(FEEDBACK_MODES)('dense, feedback %s', (mode) => {
    it('input gradient = dy·B^T, weight gradient = x^T·dy', () => {
      const before = tf.memory().numTensors;
      const [n, inDim, units] = [3, 5, 4];
      // weightDecay 0: kp's default decay would add 1e-4·W to the weight gradient (tested below)
      const layer = dense({
        units,
        feedback: mode,
        seed: 7,
        weightDecay: 0,
        ...(mode === 'dfa' ? { dfaOutput: true } : {}),
      });
      const x = seededTensor([n, inDim], 1);
      const r = seededTensor([n, units], 2);
      tf.dispose(layer.apply(x) as tf.Tensor);
      // loss = sum(y ⊙ r), so dy = r at the layer's output
      const loss = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, r)) as tf.Scalar;
      const gx = tf.grad(loss)(x);
      const kernel = layer.kernel!.read() as tf.Variable;
      const { value: _v, grads } = tf.variableGrads(() => loss(x), [kernel]);

      const [xv, rv, wv, fb] = [values(x), values(r), values(kernel), feedbackValues(layer)];
      const expectedDx =
        mode === 'dfa'
          ? jsMatMul(rv, fb!, n, units, inDim)
          : jsMatMul(rv, expectedB(mode, wv, fb, inDim, units), n, units, inDim, true);
      expectClose(values(gx), expectedDx);
      expectClose(values(grads[kernel.name]!), jsMatMulTA(xv, rv, n, inDim, units));
      if (mode !== 'bp') {
        // the feedback path really differs from backprop's
        expect(maxAbsDiff(values(gx), jsMatMul(rv, wv, n, units, inDim, true))).toBeGreaterThan(
          1e-3,
        );
      }
      tf.dispose([x, r, gx, _v, grads[kernel.name]!]);
      layer.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  describe.each(FEEDBACK_MODES)('conv2d, feedback %s', (mode) => {
    it.each([
      { strides: 1, padding: 'same' as const },
      { strides: 2, padding: 'valid' as const },
    ])(
      'input gradient = conv2DBackpropInput(dy, B), weight gradient true (%o)',
      ({ strides, padding }) => {
        const before = tf.memory().numTensors;
        const layer = conv2d({
          filters: 4,
          kernelSize: 3,
          strides,
          padding,
          feedback: mode,
          seed: 11,
          weightDecay: 0,
          ...(mode === 'dfa' ? { dfaOutputUnits: 3 } : {}),
        });
        const x = seededTensor([2, 7, 7, 3], 3) as tf.Tensor4D;
        const y0 = layer.apply(x) as tf.Tensor;
        const r = seededTensor(y0.shape, 4);
        tf.dispose(y0);
        const kernel = layer.kernel!.read() as tf.Variable;
        const pad = padding;
        const [sh, sw] = [strides, strides];
        let gx: tf.Tensor;
        let expectedDx: tf.Tensor;
        if (mode === 'dfa') {
          // A conv layer only reads the output error; put a dfa output layer on top of it.
          const top = dense({ units: 3, feedback: 'dfa', dfaOutput: true, seed: 12 });
          const e = seededTensor([2, 3], 5);
          const model = (xx: tf.Tensor) =>
            top.apply(tf.reshape(layer.apply(xx) as tf.Tensor, [2, -1])) as tf.Tensor;
          tf.tidy(() => tf.dispose(model(x)));
          const loss = (xx: tf.Tensor) => tf.sum(tf.mul(model(xx), e)) as tf.Scalar;
          gx = tf.grad(loss)(x);
          const bConv = layer.feedbackState.weight!.read() as tf.Tensor2D;
          expectedDx = tf.tidy(() => tf.reshape(tf.matMul(e as tf.Tensor2D, bConv), x.shape));
          // the conv's weight gradient is the true one for the error that reached its output,
          // which in dfa is e·B_top (the top layer's projection), reshaped to the conv output
          const bTop = top.feedbackState.weight!.read() as tf.Tensor2D;
          const delta = tf.tidy(() => tf.reshape(tf.matMul(e as tf.Tensor2D, bTop), r.shape));
          const { value: _v, grads } = tf.variableGrads(() => loss(x), [kernel]);
          const expectedDw = tf.grad((ww: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, [sh, sw], pad), delta)),
          )(kernel);
          expectClose(values(grads[kernel.name]!), values(expectedDw));
          tf.dispose([delta, expectedDw, _v, grads[kernel.name]!, e]);
          top.dispose();
        } else {
          const loss = (xx: tf.Tensor) =>
            tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, r)) as tf.Scalar;
          gx = tf.grad(loss)(x);
          const [kh, kw, cin, cout] = kernel.shape as number[];
          const B = tf.tensor(
            Float32Array.from(
              expectedB(
                mode,
                values(kernel),
                feedbackValues(layer),
                kh! * kw! * cin!,
                kh! * kw! * cout!,
              ),
            ),
            kernel.shape as [number, number, number, number],
            'float32',
          ) as tf.Tensor4D;
          expectedDx = tf.grad((xx: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, B, [sh, sw], pad), r)),
          )(x);
          const { value: _v, grads } = tf.variableGrads(() => loss(x), [kernel]);
          const expectedDw = tf.grad((ww: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, [sh, sw], pad), r)),
          )(kernel);
          expectClose(values(grads[kernel.name]!), values(expectedDw));
          if (mode !== 'bp') {
            const bpDx = tf.grad((xx: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, kernel as tf.Tensor4D, [sh, sw], pad), r)),
            )(x);
            expect(maxAbsDiff(values(gx), values(bpDx))).toBeGreaterThan(1e-3);
            tf.dispose(bpDx);
          }
          tf.dispose([B, expectedDw, _v, grads[kernel.name]!]);
        }
        expectClose(values(gx), values(expectedDx));
        tf.dispose([x, r, gx, expectedDx]);
        layer.dispose();
        expect(tf.memory().numTensors).toBe(before);
      },
    );
  });
});

describe('bp gradients equal finite differences', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });

  it('dense (tanh): input and weight gradients', () => {
    const layer = dense({ units: 3, activation: 'tanh', feedback: 'bp', seed: 3 });
    const x = seededTensor([2, 4], 8);
    const r = seededTensor([2, 3], 9);
    tf.dispose(layer.apply(x) as tf.Tensor);
    const kernel = layer.kernel!.read() as tf.Variable;
    const lossOfX = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, r)) as tf.Scalar;
    const gx = tf.grad(lossOfX)(x);
    expect(maxAbsDiff(values(gx), finiteDifferences(lossOfX, x))).toBeLessThan(2e-3);
    const { value: _v, grads } = tf.variableGrads(() => lossOfX(x), [kernel]);
    const w0 = kernel.clone();
    const lossOfW = (ww: tf.Tensor) => {
      kernel.assign(ww);
      return lossOfX(x);
    };
    const fd = finiteDifferences(lossOfW, w0);
    kernel.assign(w0);
    expect(maxAbsDiff(values(grads[kernel.name]!), fd)).toBeLessThan(2e-3);
    tf.dispose([x, r, gx, w0, _v, grads[kernel.name]!]);
    layer.dispose();
  });

  it('conv2d (tanh, stride 2, same padding): input and weight gradients', () => {
    const layer = conv2d({
      filters: 2,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'tanh',
      feedback: 'bp',
      seed: 4,
    });
    const x = seededTensor([1, 5, 5, 2], 10);
    const y0 = layer.apply(x) as tf.Tensor;
    const r = seededTensor(y0.shape, 11);
    tf.dispose(y0);
    const kernel = layer.kernel!.read() as tf.Variable;
    const lossOfX = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, r)) as tf.Scalar;
    const gx = tf.grad(lossOfX)(x);
    expect(maxAbsDiff(values(gx), finiteDifferences(lossOfX, x))).toBeLessThan(2e-3);
    const { value: _v, grads } = tf.variableGrads(() => lossOfX(x), [kernel]);
    const w0 = kernel.clone();
    const fd = finiteDifferences((ww) => {
      kernel.assign(ww);
      return lossOfX(x);
    }, w0);
    kernel.assign(w0);
    expect(maxAbsDiff(values(grads[kernel.name]!), fd)).toBeLessThan(2e-3);
    tf.dispose([x, r, gx, w0, _v, grads[kernel.name]!]);
    layer.dispose();
  });
});

describe('weight decay and kp', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });

  it("adds decay·W to the kernel gradient, and in kp decay·B to B's (the same true gradient)", () => {
    for (const mode of ['fa', 'kp'] as const) {
      const decay = 0.25;
      const layer = dense({ units: 3, feedback: mode, seed: 5, weightDecay: decay });
      const x = seededTensor([4, 2], 12);
      const r = seededTensor([4, 3], 13);
      tf.dispose(layer.apply(x) as tf.Tensor);
      const kernel = layer.kernel!.read() as tf.Variable;
      const fb = layer.feedbackState.weight!.read() as tf.Variable;
      expect(fb.trainable).toBe(mode === 'kp');
      const vars = mode === 'kp' ? [kernel, fb] : [kernel];
      const { value: _v, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, r)) as tf.Scalar,
        vars,
      );
      const trueGrad = jsMatMulTA(values(x), values(r), 4, 2, 3);
      const wv = values(kernel);
      expectClose(
        values(grads[kernel.name]!),
        trueGrad.map((g, i) => g + decay * wv[i]!),
      );
      if (mode === 'kp') {
        const bv = values(fb);
        expectClose(
          values(grads[fb.name]!),
          trueGrad.map((g, i) => g + decay * bv[i]!),
        );
      } else {
        expect(grads[fb.name]).toBeUndefined();
      }
      tf.dispose([x, r, _v, ...Object.values(grads)]);
      layer.dispose();
    }
  });
});

describe('dfa', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });

  it('every layer sends e·B_l down, e being the gradient at the model output', () => {
    const hidden = dense({
      units: 6,
      activation: 'relu',
      feedback: 'dfa',
      dfaOutputUnits: 3,
      seed: 21,
    });
    const out = dense({ units: 3, feedback: 'dfa', dfaOutput: true, seed: 22 });
    const model = tfl.sequential({
      layers: [tfl.layers.inputLayer({ inputShape: [4] }), hidden, out],
    });
    const x = seededTensor([5, 4], 14);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1], 'int32'), 3);
    const lossOf = (xx: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(xx) as tf.Tensor) as tf.Scalar;
    const gx = tf.grad(lossOf)(x);
    // e = dL/dlogits = (softmax(logits) - labels) / n, computed independently
    const logits = model.predict(x) as tf.Tensor2D;
    const e = tf.div(tf.sub(tf.softmax(logits), labels), 5) as tf.Tensor2D;
    const expected = tf.matMul(e, hidden.feedbackState.weight!.read() as tf.Tensor2D);
    expectClose(values(gx), values(expected));
    // the hidden layer's weight gradient: x^T·((e·B_out) ⊙ relu'(a))
    const kernel = hidden.kernel!.read() as tf.Variable;
    const { value: _v, grads } = tf.variableGrads(() => lossOf(x), [kernel]);
    const a = tf.add(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D), hidden.bias!.read());
    const delta = tf.mul(tf.matMul(e, out.feedbackState.weight!.read() as tf.Tensor2D), tf.step(a));
    expectClose(values(grads[kernel.name]!), jsMatMulTA(values(x), values(delta), 5, 4, 6));
    tf.dispose([x, labels, gx, logits, e, expected, a, delta, _v, grads[kernel.name]!]);
    model.dispose();
  });

  it('throws DfaSignalError when no dfa output layer supplied the error', () => {
    const hidden = dense({
      units: 2,
      feedback: 'dfa',
      dfaOutputUnits: 3,
      seed: 1,
      inputShape: [4],
    });
    const x = seededTensor([2, 4], 15);
    tf.dispose(hidden.apply(x) as tf.Tensor);
    // a fresh forward pass of an output layer clears any error left by earlier passes
    const out = dense({ units: 3, feedback: 'dfa', dfaOutput: true, seed: 2 });
    tf.dispose(out.apply(tf.zeros([2, 2])) as tf.Tensor);
    expect(() =>
      tf.grad((xx: tf.Tensor) => tf.sum(hidden.apply(xx) as tf.Tensor) as tf.Scalar)(x),
    ).toThrow(DfaSignalError);
    expect(() =>
      tf.grad((xx: tf.Tensor) => tf.sum(hidden.apply(xx) as tf.Tensor) as tf.Scalar)(x),
    ).toThrow(/no output error to project/);
    tf.dispose(x);
    hidden.dispose();
    out.dispose();
  });
});
