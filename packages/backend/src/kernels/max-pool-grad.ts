import * as tf from '@tensorflow/tfjs-core';

/**
 * The part of tfjs-backend-wasm's backend object this kernel uses: views of a tensor's bytes
 * on the wasm heap, and a new output tensor there. Both are public methods of BackendWasm.
 */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

function isWasmHeapBackend(b: unknown): b is WasmHeapBackend {
  const o = b as Partial<WasmHeapBackend> | null;
  return o != null && typeof o.makeOutput === 'function' && typeof o.typedArrayFromHeap === 'function';
}

/**
 * MaxPoolGrad (dL/dx of a 2-D max pool, NHWC) as a scatter: each output position's gradient
 * is added to the input position that won its window. The winner is the first maximum in
 * row-major window order (a strictly greater value replaces it), as in the cpu backend, so ties
 * (the zeros after a ReLU) send the gradient to the same place; padding never wins.
 *
 * It reads x and dy and writes dx in place on the wasm heap, in plain JS: one pass over the
 * windows (output size x window size reads) instead of wasm's kernel, which for every input
 * position searches every window that covers it (LeNet's 2x2/2 pools: 5-7x slower, measured
 * in the bench). Returns null for a backend without heap views or a non-float32 input (the
 * caller then runs the backend's own kernel).
 */
export function maxPoolGradOnHeap(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo | null {
  const { backend } = args;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as unknown as tf.MaxPoolGradAttrs;
  if (!isWasmHeapBackend(backend) || input.dtype !== 'float32' || dy.dtype !== 'float32') return null;
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
  if (dy.shape[0] !== batchSize || dy.shape[1] !== OH || dy.shape[2] !== OW || dy.shape[3] !== C) return null;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
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
  // Every window inside the input (no padding reached): the loop needs no bounds checks.
  const inside = top <= 0 && left <= 0 && (OH - 1) * sh - top + fh <= H && (OW - 1) * sw - left + fw <= W;
  let o = 0; // index into dy, in NHWC order
  for (let b = 0; b < batchSize; b++) {
    const xb = b * imgX;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - top;
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * sw - left;
        if (inside) {
          const p0 = xb + h0 * rowX + w0 * C;
          for (let c = 0; c < C; c++, o++) {
            let best = Number.NEGATIVE_INFINITY;
            let at = -1;
            for (let kh = 0; kh < fh; kh += dh) {
              const row = p0 + kh * rowX + c;
              for (let kw = 0; kw < fw; kw += dw) {
                const i = row + kw * C;
                const v = x[i]!;
                if (v > best) {
                  best = v;
                  at = i;
                }
              }
            }
            if (at >= 0) dx[at]! += g[o]!;
          }
          continue;
        }
        for (let c = 0; c < C; c++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let kh = 0; kh < fh; kh += dh) {
            const h = h0 + kh;
            if (h < 0 || h >= H) continue;
            const row = xb + h * rowX + c;
            for (let kw = 0; kw < fw; kw += dw) {
              const w = w0 + kw;
              if (w < 0 || w >= W) continue;
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
