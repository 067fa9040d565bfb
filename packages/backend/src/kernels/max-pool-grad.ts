import * as tf from '@tensorflow/tfjs-core';
import { isWasmHeapBackend } from './heap.js';

/**
 * MaxPoolGrad (dL/dx of a 2-D max pool, NHWC) as a scatter: each output position's gradient
 * is added to the input position that won its window. The winner is the first maximum in
 * row-major window order (a strictly greater value replaces it), as in the cpu backend, so ties
 * (the zeros after a ReLU) send the gradient to the same place; padding, -Infinity and NaN
 * never win.
 *
 * It reads x and dy and writes dx on the wasm heap, in plain JS, one pass over the windows.
 * On LeNet-5's two pools (batch 64) it took 4.7 ms per step where wasm's own kernel took 10.9
 * (apps/bench/profile.mjs, one run on a loaded machine). Returns null for a backend without heap views, a
 * non-float32 or non-NHWC-rank-4 input (the caller then runs the backend's own kernel).
 */
export function maxPoolGradOnHeap(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo | null {
  const { backend } = args;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as unknown as tf.MaxPoolGradAttrs;
  if (!isWasmHeapBackend(backend) || input.dtype !== 'float32' || dy.dtype !== 'float32')
    return null;
  if (input.shape.length !== 4 || dy.shape.length !== 4) return null;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  if (dy.shape[0] !== batchSize || dy.shape[1] !== OH || dy.shape[2] !== OW || dy.shape[3] !== C)
    return null;
  // Pooling has no dilation (computePool2DInfo was given 1): each window is a plain box.
  const { strideHeight: sh, strideWidth: sw } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  // Allocate first: a new tensor can grow the wasm memory, which detaches older views.
  const out = backend.makeOutput([...input.shape], 'float32');
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  const rowX = W * C;
  const imgX = H * rowX;
  let o = 0; // index into dy, in NHWC order
  for (let b = 0; b < batchSize; b++) {
    const xb = b * imgX;
    for (let oh = 0; oh < OH; oh++) {
      // the window's rows inside the input (the rest is padding, which never wins)
      const h0 = Math.max(oh * sh - top, 0);
      const h1 = Math.min(oh * sh - top + fh, H);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(ow * sw - left, 0);
        const w1 = Math.min(ow * sw - left + fw, W);
        for (let c = 0; c < C; c++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let h = h0; h < h1; h++) {
            const row = xb + h * rowX + c;
            for (let w = w0; w < w1; w++) {
              const i = row + w * C;
              const v = x[i]!;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at]! += g[o]!;
        }
      }
    }
  }
  return out;
}
