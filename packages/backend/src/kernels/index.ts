import * as tf from '@tensorflow/tfjs-core';
import { KernelComposer } from './compose.js';
import { conv2DBackpropFilterViaConv2D } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputViaConv2D } from './conv2d-backprop-input.js';
import { cpuFallbackKernel } from './cpu-fallback.js';
import { matMulUntransposed } from './matmul.js';
import { maxPoolGradOnHeap } from './max-pool-grad.js';
import { sliceOnHeap } from './slice.js';

/** Kernels that tfjs-backend-wasm 4.x lacks and that we add, with how each is computed. */
export const WASM_ADDED_KERNELS = {
  Conv2DBackpropFilter:
    'composed: Transpose + Conv2D (stride and dilation swapped) + Slice on wasm',
  Conv2DBackpropInput:
    "replaced: one stride-1 Conv2D of the zero-dilated dy by the rotated filter (XNNPACK); wasm's own kernel where the padding does not fit",
  MaxPoolGrad:
    "replaced: a JS scatter of dy to each window's first maximum, on the wasm heap (2.3x faster than wasm's own on LeNet's pools); wasm's own for other dtypes",
  BatchMatMul:
    "replaced when an operand is transposed: an explicit Transpose, then wasm's untransposed product (wasm's transposed path is a slow loop, 3-10x slower on LeNet's shapes)",
  _FusedMatMul: 'replaced when an operand is transposed: as BatchMatMul',
  Identity:
    "replaced: shares the input's memory (one more reference, as the cpu backend does) instead of copying it; tfjs clones every tensor a gradient saves through Identity, 30+ copies per LeNet step",
  Slice:
    "replaced: copies only the slice, read through a view of the heap; wasm's own first copies the whole input out of the heap (188 MB for a batch of MNIST's 60,000 training images)",
  Select:
    "fixed for bool: wasm's Select writes 4 bytes per bool element (wrong values, corrupted memory); bool goes through int32",
  DepthwiseConv2dNativeBackpropFilter: 'cpu fallback (copies to the cpu backend and back)',
  DepthwiseConv2dNativeBackpropInput: 'cpu fallback (copies to the cpu backend and back)',
  UnsortedSegmentSum: 'cpu fallback (copies to the cpu backend and back)',
} as const;

export type AddedKernelName = keyof typeof WASM_ADDED_KERNELS;

/**
 * Registers, for the wasm backend, the kernels it lacks for training and attacking conv nets.
 * Idempotent; a kernel that is already registered (by tfjs itself in a later version, or by an
 * earlier call) is left alone. Returns the names of the kernels this package has registered
 * for that backend (in this call or an earlier one).
 */
/** Select with bool branches computed in int32, then cast back to bool. */
function selectBoolSafe(
  args: Parameters<tf.KernelFunc>[0],
  original: tf.KernelFunc,
  backendName: string,
): tf.TensorInfo | tf.TensorInfo[] {
  const { t, e } = args.inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
  if (t.dtype !== 'bool') return original(args);
  const c = new KernelComposer(args.backend as tf.KernelBackend, backendName);
  try {
    const ti = c.run('Cast', { x: t }, { dtype: 'int32' });
    const ei = c.run('Cast', { x: e }, { dtype: 'int32' });
    const out = c.track(
      original({ ...args, inputs: { ...args.inputs, t: ti, e: ei } }) as tf.TensorInfo,
    );
    return c.keep(c.run('Cast', { x: out }, { dtype: 'bool' }));
  } finally {
    c.dispose();
  }
}

/**
 * Identity as a second reference to the same data (tensor data is immutable in tfjs, and the
 * cpu backend's Identity does the same). wasm's own copies the bytes, and the engine runs
 * Identity on every tensor a gradient saves for the backward pass.
 */
function identityShared(
  args: Parameters<tf.KernelFunc>[0],
  original: tf.KernelFunc,
): tf.TensorInfo | tf.TensorInfo[] {
  const x = (args.inputs as { x: tf.TensorInfo }).x;
  const backend = args.backend as tf.KernelBackend & { incRef?: (id: tf.DataId) => void };
  if (x.dtype === 'string' || typeof backend.incRef !== 'function') return original(args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const ours = new Map<string, Set<AddedKernelName>>();

/** Kernels wasm has but gets wrong or slow: each wraps wasm's own, which it may still call. */
const REPLACEMENTS: Partial<
  Record<AddedKernelName, (original: tf.KernelFunc, backendName: string) => tf.KernelFunc>
> = {
  // a slow direct loop in wasm: the fast path, and the original where the padding does not fit
  Conv2DBackpropInput: (original, backendName) => (args) =>
    conv2DBackpropInputViaConv2D(
      { ...args, backend: args.backend as tf.KernelBackend },
      backendName,
    ) ?? original(args),
  Select: (original, backendName) => (args) => selectBoolSafe(args, original, backendName),
  BatchMatMul: (original, backendName) => (args) => matMulUntransposed(args, original, backendName),
  _FusedMatMul: (original, backendName) => (args) =>
    matMulUntransposed(args, original, backendName),
  Identity: (original) => (args) => identityShared(args, original),
  MaxPoolGrad: (original) => (args) => maxPoolGradOnHeap(args) ?? original(args),
  Slice: (original) => (args) => sliceOnHeap(args) ?? original(args),
};

export function registerWasmTrainingKernels(backendName = 'wasm'): AddedKernelName[] {
  const added = ours.get(backendName) ?? new Set<AddedKernelName>();
  ours.set(backendName, added);
  for (const name of Object.keys(WASM_ADDED_KERNELS) as AddedKernelName[]) {
    if (added.has(name)) continue;
    const existing = tf.getKernel(name, backendName);
    const replace = REPLACEMENTS[name];
    if (replace) {
      if (existing == null) continue;
      tf.unregisterKernel(name, backendName);
      // keep the original's setupFunc/disposeFunc: the wrapper still calls its kernelFunc
      tf.registerKernel({
        ...existing,
        kernelName: name,
        backendName,
        kernelFunc: replace(existing.kernelFunc, backendName),
      });
    } else if (existing != null) {
      continue; // registered already (by a later tfjs, or by the user)
    } else if (name === 'Conv2DBackpropFilter') {
      tf.registerKernel({
        kernelName: name,
        backendName,
        kernelFunc: (args) =>
          conv2DBackpropFilterViaConv2D(
            { ...args, backend: args.backend as tf.KernelBackend },
            backendName,
          ),
      });
    } else {
      tf.registerKernel(cpuFallbackKernel(name, backendName));
    }
    added.add(name);
  }
  return [...added];
}

export {
  conv2DBackpropFilterViaConv2D,
  conv2DBackpropInputViaConv2D,
  cpuFallbackKernel,
  matMulUntransposed,
  maxPoolGradOnHeap,
  sliceOnHeap,
};
