/**
 * Phase 3b of a dataset's study (the audit): how far the FA network's feedback-path input
 * gradient is from its true one, per test image, from fa-layers' two gradients and metrics'
 * float64 angles.
 */
import { inputGradients } from '@fa-robust/fa-layers';
import { concatTyped } from '@fa-robust/internal';
import { alignmentRecord, gradientAlignment } from '@fa-robust/metrics';
import * as tf from '@tensorflow/tfjs-core';
import type { AlignmentRecord } from './assemble.js';
import { forTestBatches } from './models.js';
import type { StepContext } from './steps.js';

const f32 = (n: number) => new Float32Array(n);

/** Reads a tensor out of tfjs and disposes it. */
function take(t: tf.Tensor): Float32Array {
  const v = Float32Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** The angles between `model`'s own and true input gradients on the first `n` test images. */
export async function gradientAlignmentOf(
  ctx: StepContext,
  model: string,
  n: number,
  signal?: AbortSignal,
): Promise<AlignmentRecord> {
  const net = ctx.models[model];
  if (!net) throw new Error(`${ctx.dataset}: no model '${model}' to measure its gradients`);
  const twin = await ctx.twin(model);
  const own: Float32Array[] = [];
  const truth: Float32Array[] = [];
  await forTestBatches(
    ctx.test,
    n,
    ctx.batchSize,
    async (x, y) => {
      const labels = tf.tensor1d(y, 'int32');
      try {
        // 'mean', as every stored study measured them (the angles are the same up to rounding)
        const g = await inputGradients(net, x, labels, { twin, reduction: 'mean' });
        own.push(take(g.own));
        truth.push(take(g.true));
      } finally {
        labels.dispose();
      }
    },
    signal,
  );
  return alignmentRecord({
    dataset: ctx.dataset,
    model,
    comparison: 'own-vs-true',
    alignment: gradientAlignment(concatTyped(own, f32), concatTyped(truth, f32), { examples: n }),
  });
}
