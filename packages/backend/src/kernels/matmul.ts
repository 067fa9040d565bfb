import type * as tf from '@tensorflow/tfjs-core';
import { KernelComposer } from './compose.js';

/**
 * BatchMatMul and _FusedMatMul with a transposed operand, as an explicit Transpose and the
 * backend's own untransposed kernel. tfjs-backend-wasm 4.22 runs a transposed operand
 * through a slow loop: on LeNet's dense shapes (batch 64 x 120 x 400) a product with
 * `transposeB` took 3.6 ms against 0.46 ms without, and 1.3 ms as Transpose + plain product
 * (bench, one run). Every dense layer's backward pass asks for both (dx = dy·Wᵀ, dW = xᵀ·dy).
 * Untransposed calls go straight to the original kernel.
 */
export function matMulUntransposed(
  args: Parameters<tf.KernelFunc>[0],
  original: tf.KernelFunc,
  backendName: string,
): tf.TensorInfo | tf.TensorInfo[] {
  const attrs = args.attrs as unknown as { transposeA?: boolean; transposeB?: boolean };
  if (!attrs.transposeA && !attrs.transposeB) return original(args);
  const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const c = new KernelComposer(args.backend as tf.KernelBackend, backendName);
  try {
    const swapLast = (x: tf.TensorInfo) => {
      const perm = x.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
      return c.run('Transpose', { x }, { perm });
    };
    const a = attrs.transposeA ? swapLast(inputs.a!) : inputs.a!;
    const b = attrs.transposeB ? swapLast(inputs.b!) : inputs.b!;
    const out = original({
      ...args,
      inputs: { ...args.inputs, a, b },
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    });
    return out;
  } finally {
    c.dispose();
  }
}
