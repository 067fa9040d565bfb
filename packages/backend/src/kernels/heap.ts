import type * as tf from '@tensorflow/tfjs-core';

/**
 * The part of tfjs-backend-wasm's backend object the JS kernels on its heap use: views of a
 * tensor's bytes on the wasm heap, and a new output tensor there. Both are public methods of
 * BackendWasm. Allocate outputs before taking views: an allocation can grow the wasm memory,
 * which detaches older views.
 */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

export function isWasmHeapBackend(b: unknown): b is WasmHeapBackend {
  const o = b as Partial<WasmHeapBackend> | null;
  return (
    o != null && typeof o.makeOutput === 'function' && typeof o.typedArrayFromHeap === 'function'
  );
}
