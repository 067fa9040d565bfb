import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterViaConv2D } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputViaConv2D } from './conv2d-backprop-input.js';
import { KernelComposer } from './compose.js';
import { cpuFallbackKernel } from './cpu-fallback.js';

/** Kernels that tfjs-backend-wasm 4.x lacks and that we add, with how each is computed. */
export const WASM_ADDED_KERNELS = {
  Conv2DBackpropFilter: 'composed: Transpose + Conv2D (stride and dilation swapped) + Slice on wasm',
  Conv2DBackpropInput:
    "replaced: one stride-1 Conv2D of the zero-dilated dy by the rotated filter (XNNPACK); wasm's own kernel where the padding does not fit",
  Select: "fixed for bool: wasm's Select writes 4 bytes per bool element (wrong values, corrupted memory); bool goes through int32",
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
function selectBoolSafe(args: Parameters<tf.KernelFunc>[0], original: tf.KernelFunc, backendName: string): tf.TensorInfo | tf.TensorInfo[] {
  const { t, e } = args.inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
  if (t.dtype !== 'bool') return original(args);
  const c = new KernelComposer(args.backend as tf.KernelBackend, backendName);
  try {
    const ti = c.run('Cast', { x: t }, { dtype: 'int32' });
    const ei = c.run('Cast', { x: e }, { dtype: 'int32' });
    const out = c.track(original({ ...args, inputs: { ...args.inputs, t: ti, e: ei } }) as tf.TensorInfo);
    return c.keep(c.run('Cast', { x: out }, { dtype: 'bool' }));
  } finally {
    c.dispose();
  }
}

const ours = new Map<string, Set<AddedKernelName>>();

export function registerWasmTrainingKernels(backendName = 'wasm'): AddedKernelName[] {
  const added = ours.get(backendName) ?? new Set<AddedKernelName>();
  ours.set(backendName, added);
  for (const name of Object.keys(WASM_ADDED_KERNELS) as AddedKernelName[]) {
    if (name === 'Conv2DBackpropInput') {
      // wasm has this kernel, but as a slow direct loop: replace it, keeping the original for
      // the cases the fast path does not cover.
      const original = tf.getKernel(name, backendName);
      if (original == null || added.has(name)) continue;
      tf.unregisterKernel(name, backendName);
      tf.registerKernel({
        kernelName: name,
        backendName,
        kernelFunc: (args) =>
          conv2DBackpropInputViaConv2D({ ...args, backend: args.backend as tf.KernelBackend }, backendName) ??
          original.kernelFunc(args),
      });
      added.add(name);
      continue;
    }
    if (name === 'Select') {
      const original = tf.getKernel(name, backendName);
      if (original == null || added.has(name)) continue;
      tf.unregisterKernel(name, backendName);
      tf.registerKernel({ kernelName: name, backendName, kernelFunc: (args) => selectBoolSafe(args, original.kernelFunc, backendName) });
      added.add(name);
      continue;
    }
    if (tf.getKernel(name, backendName) != null) continue;
    if (name === 'Conv2DBackpropFilter') {
      tf.registerKernel({
        kernelName: name,
        backendName,
        kernelFunc: (args) =>
          conv2DBackpropFilterViaConv2D({ ...args, backend: args.backend as tf.KernelBackend }, backendName),
      });
    } else {
      tf.registerKernel(cpuFallbackKernel(name, backendName));
    }
    added.add(name);
  }
  return [...added];
}

export { conv2DBackpropFilterViaConv2D, conv2DBackpropInputViaConv2D, cpuFallbackKernel };
