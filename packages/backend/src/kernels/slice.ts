import * as tf from '@tensorflow/tfjs-core';
import { isWasmHeapBackend } from './heap.js';

/**
 * Slice, copying only the elements it returns. wasm's own kernel first reads the whole input
 * out of the heap (readSync copies it) and then copies the slice out of that copy: taking a
 * batch of 64 images out of MNIST's 60,000 copied 188 MB. This one reads the input where it
 * lies, through a view of the heap, and copies each contiguous run of the slice once.
 * Returns null for a backend without heap views, a string tensor or a scalar (the caller then runs the
 * backend's own kernel).
 */
export function sliceOnHeap(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo | null {
  const { backend } = args;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as unknown as tf.SliceAttrs;
  if (
    !isWasmHeapBackend(backend) ||
    x.dtype === 'string' ||
    x.dtype === 'complex64' ||
    x.shape.length === 0
  )
    return null;
  const parsed = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin, attrs.size);
  const begin = parsed[0]!;
  const size = parsed[1]!;
  // Allocate first: a new tensor can grow the wasm memory, which detaches older views.
  const out = backend.makeOutput(size, x.dtype);
  const total = tf.util.sizeFromShape(size);
  if (total === 0) return out;
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  // The slice is a sequence of runs along the innermost axes it takes whole, plus the first
  // axis it takes partly: find the longest contiguous run.
  let inner = rank - 1;
  let run = size[inner]!;
  while (inner > 0 && size[inner] === x.shape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner]!;
  }
  // `inner` is the outermost axis inside a run; iterate over the axes before it.
  const outer = size.slice(0, inner);
  const runs = total / run;
  const idx = new Array<number>(inner).fill(0);
  let base = 0;
  for (let a = 0; a <= inner; a++) base += begin[a]! * (strides[a] ?? 1);
  let at = 0;
  for (let r = 0; r < runs; r++) {
    let from = base;
    for (let a = 0; a < inner; a++) from += idx[a]! * strides[a]!;
    dst.set(src.subarray(from, from + run), at);
    at += run;
    // next index over the outer axes, last fastest
    for (let a = inner - 1; a >= 0; a--) {
      if (++idx[a]! < outer[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}
