import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Batch } from './data.js';
import { outputClasses } from './data.js';
import { TrainDataError } from './errors.js';
import { feedbackLayers } from './register.js';
import { penaltyGradients, scores } from './scores.js';

/**
 * The data-parallel protocol: what a replica is asked and answers, the replica side
 * (shardGradients) and one data-parallel step on this side (parallelStep).
 */

/** What a replica is asked: the gradients of a shard's mean cross-entropy at these weights. */
export interface ReplicaJob {
  /** The trainable weights, flat, in `model.trainableWeights` order. */
  weights: Float32Array;
  /** Each feedback layer's brsf draw counter before this step (feedbackLayers order). */
  draws: number[];
  /**
   * The non-trainable weights (fa's B, dfa's B, ...), flat in `model.nonTrainableWeights` order:
   * sent with the first step of each train() call, which is when they can have changed.
   */
  nonTrainable?: Float32Array;
  /** The shard's images (as float32), flat, and their shape [n, ...]. */
  x: Float32Array;
  xShape: number[];
  /** One-hot labels [n, classes], flat. */
  labels: Float32Array;
}

export interface ReplicaResult {
  /**
   * d(mean cross-entropy of the shard)/d(weights) (with whatever the layers add to their
   * gradients, such as weight decay; without the regularisation penalties, whose gradient
   * train() adds once per step), flat in trainableWeights order.
   */
  gradients: Float32Array;
  /** Sum of the shard's cross-entropies. */
  lossSum: number;
  /** Images of the shard classified correctly (before the update). */
  correct: number;
}

/** A copy of the model that computes shard gradients (see TrainOptions.replicas). */
export interface GradientReplica {
  gradients(job: ReplicaJob): Promise<ReplicaResult>;
}

/** The trainable weights of a model as tfjs variables, in trainableWeights order. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Variables' values, flat, one after the other. */
function flatten(vars: readonly tf.Tensor[]): Float32Array {
  const out = new Float32Array(vars.reduce((n, v) => n + v.size, 0));
  let at = 0;
  for (const v of vars) {
    out.set(v.dataSync() as Float32Array, at);
    at += v.size;
  }
  return out;
}

/**
 * Gradients of the mean cross-entropy of one shard (and its loss sum and correct count), with
 * `training: true`. Shards are combined with weights n_k / n, which sum to 1: a term the layers
 * add to their gradients (weight decay) then stays as it is in one-thread training, where the
 * sum of the shards' summed losses would count it once per shard.
 */
function shardTerms(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  x: tf.Tensor,
  labels: tf.Tensor,
): { grads: tf.NamedTensorMap; lossSum: tf.Scalar; correct: tf.Scalar } {
  let kept: { lossSum: tf.Scalar; correct: tf.Scalar } | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const s = scores(model.apply(x, { training: true }) as tf.Tensor, labels);
    kept = { lossSum: tf.keep(s.lossSum), correct: tf.keep(s.correct) };
    return tf.div(s.lossSum, x.shape[0]!) as tf.Scalar;
  }, vars);
  value.dispose();
  return { grads, ...(kept as unknown as { lossSum: tf.Scalar; correct: tf.Scalar }) };
}

/** Assigns flat values to variables, in order; throws unless the sizes add up. */
function assignFlat(vars: readonly tf.Variable[], flat: Float32Array, field: string): void {
  const size = vars.reduce((n, v) => n + v.size, 0);
  if (flat.length !== size) {
    throw new TrainDataError(
      'shardGradients',
      field,
      `${size} values (the model's)`,
      `${flat.length} values: the replica's model is not a copy of the trained one`,
    );
  }
  tf.tidy(() => {
    let at = 0;
    for (const v of vars) {
      v.assign(tf.tensor(flat.subarray(at, at + v.size), v.shape, 'float32'));
      at += v.size;
    }
  });
}

/**
 * The replica side of data-parallel training: sets `model`'s trainable weights, brsf draw
 * counters (and non-trainable weights, when the job has them) to the job's, and returns the
 * gradients of the mean cross-entropy of the job's shard with `training: true` (not those of the
 * regularisation penalties: train() adds them once per step). `model` must be a copy of the
 * trained model (same layers, same trainableWeights order); its weights are overwritten. Runs
 * where the replica's tfjs runs.
 */
export function shardGradients(model: tfl.LayersModel, job: ReplicaJob): ReplicaResult {
  const classes = outputClasses(model);
  const vars = trainableVariables(model);
  const layers = feedbackLayers(model);
  if (job.draws.length !== layers.length) {
    throw new TrainDataError(
      'shardGradients',
      'job.draws',
      `${layers.length} draw counters (one per feedback layer)`,
      job.draws.length,
    );
  }
  const n = job.xShape[0]!;
  if (job.labels.length !== n * classes || job.x.length !== tf.util.sizeFromShape(job.xShape)) {
    throw new TrainDataError(
      'shardGradients',
      'job',
      `images of shape [${job.xShape}] (${tf.util.sizeFromShape(job.xShape)} values) and ${n * classes} one-hot label values`,
      `${job.x.length} image values, ${job.labels.length} label values`,
    );
  }
  if (job.nonTrainable != null) {
    assignFlat(
      model.nonTrainableWeights.map((w) => w.read() as tf.Variable),
      job.nonTrainable,
      'job.nonTrainable',
    );
  }
  assignFlat(vars, job.weights, 'job.weights');
  layers.forEach((l, i) => {
    l.feedbackState.draws = job.draws[i]!;
  });
  const t = tf.tidy(() =>
    shardTerms(
      model,
      vars,
      tf.tensor(job.x, job.xShape, 'float32'),
      tf.tensor2d(job.labels, [n, classes], 'float32'),
    ),
  );
  try {
    return {
      gradients: flatten(vars.map((v) => t.grads[v.name]!)),
      lossSum: t.lossSum.dataSync()[0]!,
      correct: t.correct.dataSync()[0]!,
    };
  } finally {
    tf.dispose([t.lossSum, t.correct, ...Object.values(t.grads)]);
  }
}

/** Sizes of `parts` contiguous shards of n images, the first ones one larger. */
function shardSizes(n: number, parts: number): number[] {
  const base = Math.floor(n / parts);
  return Array.from({ length: parts }, (_, k) => base + (k < n % parts ? 1 : 0));
}

/**
 * One data-parallel step: this thread's shard and the replicas' at the same weights, their
 * mean gradients averaged with weights n_k / n (this thread's first, then the replicas' in
 * order), plus the gradient of the model's regularisation penalties (if any), computed once here (a penalty is a term of the batch's loss, not of each shard's); one
 * optimizer step. Returns the batch's loss sum and correct count.
 */
export async function parallelStep(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  replicas: readonly GradientReplica[],
  b: Batch,
  labels: tf.Tensor,
  synced: Set<GradientReplica>,
): Promise<{ lossSum: tf.Scalar; correct: tf.Scalar }> {
  const n = b.x.shape[0]!;
  let nonTrainable: Float32Array | null = null;
  const sizes = shardSizes(n, replicas.length + 1);
  const weights = flatten(vars);
  const draws = feedbackLayers(model).map((l) => l.feedbackState.draws);
  const xShape = b.x.shape.slice(1);
  let start = sizes[0]!;
  const pending = replicas.map((r, k) => {
    const len = sizes[k + 1]!;
    const from = start;
    start += len;
    if (len === 0) return null;
    // the non-trainable weights go with each replica's first job of this train() call
    const state: Partial<ReplicaJob> = {};
    if (!synced.has(r)) {
      nonTrainable ??= flatten(model.nonTrainableWeights.map((w) => w.read() as tf.Variable));
      state.nonTrainable = nonTrainable;
      synced.add(r);
    }
    // read outside tf.tidy: it would walk a returned typed array element by element
    const shard = tf.tidy(() => [
      tf.cast(tf.slice(b.x, from, len), 'float32'),
      tf.slice(labels, from, len),
    ]);
    const [x, y] = shard.map((t) => t.dataSync() as Float32Array);
    tf.dispose(shard);
    return r.gradients({ weights, draws, x: x!, xShape: [len, ...xShape], labels: y!, ...state });
  });
  // pending replica promises must not reject unobserved while this thread works
  const results = Promise.all(pending);
  results.catch(() => {});
  const own = tf.tidy(() =>
    shardTerms(model, vars, tf.slice(b.x, 0, sizes[0]!), tf.slice(labels, 0, sizes[0]!)),
  );
  try {
    const parts = await results;
    const named: tf.NamedTensorMap = {};
    tf.tidy(() => {
      let at = 0;
      for (const v of vars) {
        let g = tf.mul(own.grads[v.name]!, sizes[0]! / n);
        parts.forEach((r, k) => {
          if (r == null) return;
          const part = tf.tensor(r.gradients.subarray(at, at + v.size), v.shape);
          g = tf.add(g, tf.mul(part, sizes[k + 1]! / n));
        });
        named[v.name] = tf.keep(g);
        at += v.size;
      }
    });
    // the regularisation penalties count once per step: their gradient, here
    tf.tidy(() => {
      penaltyGradients(model, vars)?.forEach((pg, i) => {
        const name = vars[i]!.name;
        if (pg == null) return;
        const g = named[name]!;
        named[name] = tf.keep(tf.add(g, pg));
        g.dispose();
      });
    });
    optimizer.applyGradients(named);
    tf.dispose(Object.values(named));
    const others = parts.filter((r) => r != null) as ReplicaResult[];
    return tf.tidy(() => ({
      lossSum: tf.add(
        own.lossSum,
        others.reduce((s, r) => s + r.lossSum, 0),
      ) as tf.Scalar,
      correct: tf.add(
        own.correct,
        others.reduce((s, r) => s + r.correct, 0),
      ) as tf.Scalar,
    }));
  } finally {
    tf.dispose([own.lossSum, own.correct, ...Object.values(own.grads)]);
  }
}
