import * as tf from '@tensorflow/tfjs-core';
import { KernelComposer } from './compose.js';

/**
 * Conv2DBackpropInput (dL/dx of a conv2d) as one stride-1 Conv2D, which wasm runs through
 * XNNPACK, instead of wasm's own direct loop (several times slower on LeNet's shapes).
 *
 *   dx[n, h, w, ci] = sum_{i, j, kh, kw, co : i*s + kh - top = h, j*s + kw - left = w} dy[n, i, j, co] * W[kh, kw, ci, co]
 *
 * Insert s-1 zeros between the rows and columns of dy (Reshape, PadV2, Reshape: all wasm
 * kernels), then dx is a stride-1 convolution of it by W rotated 180 degrees with in and out
 * channels swapped, padded by (k - 1 - pad) on the leading side and whatever makes the output
 * exactly x's size on the trailing side. Returns null where that padding would be negative
 * (the caller then uses the backend's own kernel).
 */
export function conv2DBackpropInputViaConv2D(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
  backendName: string,
): tf.TensorInfo | null {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropInputAttrs;
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = attrs;
  const dy0 = inputs.dy as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  if (dataFormat === 'NCHW' || dy0.shape.length !== 4 || filter.shape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const [n, h, w, ci] = inputShape;
  const [kh, kw, , co] = filter.shape as [number, number, number, number];
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const dh = (oh - 1) * sh + 1; // height of dy with zeros inserted
  const dw = (ow - 1) * sw + 1;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = h - dh - top + kh - 1;
  const right = w - dw - left + kw - 1;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;

  const c = new KernelComposer(backend, backendName);
  try {
    if (
      oh === 1 &&
      ow === 1 &&
      kh === h &&
      kw === w &&
      info.padInfo.top === 0 &&
      info.padInfo.left === 0
    ) {
      // The filter covers the whole input (LeNet's last conv): dx = dy · W^T, one matmul.
      const dy2 = c.run('Reshape', { x: dy0 }, { shape: [1, n, co] });
      const w2 = c.run('Reshape', { x: filter }, { shape: [1, kh * kw * ci, co] });
      const prod = c.run('BatchMatMul', { a: dy2, b: w2 }, { transposeA: false, transposeB: true });
      return c.keep(c.run('Reshape', { x: prod }, { shape: [n, h, w, ci] }));
    }
    let dy = dy0;
    if (sh > 1 || sw > 1) {
      // [n, oh, ow, co] -> [n, oh, 1, ow, 1, co] -> pad after with zeros -> [n, oh*sh, ow*sw, co] -> slice
      const r = c.run('Reshape', { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
      const p = c.run(
        'PadV2',
        { x: r },
        {
          paddings: [
            [0, 0],
            [0, 0],
            [0, sh - 1],
            [0, 0],
            [0, sw - 1],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      const flat = c.run('Reshape', { x: p }, { shape: [n, oh * sh, ow * sw, co] });
      dy = c.run('Slice', { x: flat }, { begin: [0, 0, 0, 0], size: [n, dh, dw, co] });
    }
    const rotated = c.run('Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = c.run('Transpose', { x: rotated }, { perm: [0, 1, 3, 2] }); // [kh, kw, co, ci]
    const dx = c.run('Conv2D', { x: dy, filter: swapped }, {
      strides: 1,
      dilations: 1,
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap);
    if (dx.shape[1] !== h || dx.shape[2] !== w || dx.shape[3] !== ci) {
      throw new Error(
        `Conv2DBackpropInput: computed ${JSON.stringify(dx.shape)}, expected ${JSON.stringify(inputShape)}`,
      );
    }
    return c.keep(dx);
  } finally {
    c.dispose();
  }
}
