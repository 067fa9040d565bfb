import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Batch } from './data.js';
import { outputClasses } from './data.js';
import { TrainDataError } from './errors.js';
import { disposeOptimizer } from './optimizers.js';
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
  checkShard(job, classes, 'shardGradients');
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
  return shardResult(model, vars, classes, job);
}

/** Throws unless a job's images and labels have the sizes its shape and the classes say. */
function checkShard(
  job: Pick<ShardJob, 'x' | 'xShape' | 'labels'>,
  classes: number,
  where: string,
): void {
  const n = job.xShape[0]!;
  if (job.labels.length !== n * classes || job.x.length !== tf.util.sizeFromShape(job.xShape)) {
    throw new TrainDataError(
      where,
      'job',
      `images of shape [${job.xShape}] (${tf.util.sizeFromShape(job.xShape)} values) and ${n * classes} one-hot label values`,
      `${job.x.length} image values, ${job.labels.length} label values`,
    );
  }
}

/** A shard's gradients (flat), loss sum and correct count, at the model's current weights. */
function shardResult(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  classes: number,
  job: Pick<ShardJob, 'x' | 'xShape' | 'labels'>,
): ReplicaResult {
  const t = tf.tidy(() =>
    shardTerms(
      model,
      vars,
      tf.tensor(job.x, job.xShape, 'float32'),
      tf.tensor2d(job.labels, [job.xShape[0]!, classes], 'float32'),
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
 * The replicas' shards of a batch, as typed arrays (null for a replica without images): shard
 * k + 1 of `sizes`, this thread's being the first.
 */
function replicaShards(b: Batch, labels: tf.Tensor, sizes: readonly number[]): (ShardJob | null)[] {
  const xShape = b.x.shape.slice(1);
  let start = sizes[0]!;
  return sizes.slice(1).map((len) => {
    const from = start;
    start += len;
    if (len === 0) return null;
    // read outside tf.tidy: it would walk a returned typed array element by element
    const shard = tf.tidy(() => [
      tf.cast(tf.slice(b.x, from, len), 'float32'),
      tf.slice(labels, from, len),
    ]);
    const [x, y] = shard.map((t) => t.dataSync() as Float32Array);
    tf.dispose(shard);
    return { x: x!, xShape: [len, ...xShape], labels: y! };
  });
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
  const jobs = replicaShards(b, labels, sizes);
  const pending = replicas.map((r, k) => {
    const job = jobs[k];
    if (job == null) return null;
    // the non-trainable weights go with each replica's first job of this train() call
    const state: Partial<ReplicaJob> = {};
    if (!synced.has(r)) {
      nonTrainable ??= flatten(model.nonTrainableWeights.map((w) => w.read() as tf.Variable));
      state.nonTrainable = nonTrainable;
      synced.add(r);
    }
    return r.gradients({ weights, draws, ...job, ...state });
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
    applyWithPenalties(model, vars, optimizer, named);
    return batchScores(
      own,
      parts.filter((r) => r != null),
    );
  } finally {
    tf.dispose([own.lossSum, own.correct, ...Object.values(own.grads)]);
  }
}

/**
 * Adds the gradient of the model's regularisation penalties (if any: a penalty is a term of the
 * batch's loss, not of each shard's, so it counts once per step) to `named`, takes one
 * optimizer step and disposes `named`.
 */
function applyWithPenalties(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  named: tf.NamedTensorMap,
): void {
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
}

/** The batch's loss sum and correct count: this thread's shard's and the replicas'. */
function batchScores(
  own: { lossSum: tf.Scalar; correct: tf.Scalar },
  others: readonly ReplicaResult[],
): { lossSum: tf.Scalar; correct: tf.Scalar } {
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
}

// ---------------------------------------------------------------------------------------------
// All-reduce: every participant keeps its own weights and optimizer and applies the same
// averaged update itself; only the shards' gradients travel.

/** An optimizer's state, as a replica rebuilds it (see AllReduceReplica.begin). */
export interface OptimizerState {
  /** Its registered class name (tf.serialization), e.g. 'Adam'. */
  className: string;
  config: tf.serialization.ConfigDict;
  /** optimizer.getWeights(): the step count and the slots (moments...), in variable order. */
  weights: { name: string; shape: number[]; values: Float32Array }[];
  /**
   * tfjs' Adam and Adamax keep beta1^t (and beta2^t) in variables that getWeights leaves out and
   * setWeights recomputes with pow(), which rounds otherwise than the running product: their
   * values, so that every replica steps with the same ones.
   */
  powers?: Record<string, number>;
}

/** What an all-reduce replica takes at the start of each train() call. */
export interface ReplicaState {
  /** The trainable weights, flat, in `model.trainableWeights` order. */
  weights: Float32Array;
  /** The non-trainable weights, flat, in `model.nonTrainableWeights` order. */
  nonTrainable: Float32Array;
  /** Each feedback layer's draw counter (feedbackLayers order). */
  draws: number[];
  optimizer: OptimizerState;
}

/** One shard of a step, computed at the replica's own weights. */
export interface ShardJob {
  x: Float32Array;
  xShape: number[];
  labels: Float32Array;
}

/** The step's update, as every participant applies it. */
export interface UpdateJob {
  /**
   * Every participant's shard gradients, flat, this thread's first, then the replicas' in order;
   * null for the receiving replica's own (it has them) and for a participant without a shard.
   */
  gradients: (Float32Array | null)[];
  /** The receiving replica's index in `gradients`. */
  self: number;
  /** Shard sizes, in the same order: the gradients are averaged with weights n_k / n. */
  sizes: number[];
  /** The feedback layers' draw counters after the step (a replica without a shard drew none). */
  draws: number[];
  /** The optimizer's learning rate for this step (a schedule changes it between epochs). */
  learningRate: number | null;
}

/**
 * A copy of the model that keeps its own weights and optimizer (see TrainOptions.replicas): it
 * takes the trained model's state once per train() call (`begin`), then, every step, computes
 * its shard's gradients (`shard`) and applies the averaged update (`update`) as this thread
 * does, so no weights travel and nothing waits on one thread's optimizer step. `update` is not
 * awaited before the next `shard`: a replica must run its calls in order.
 */
export interface AllReduceReplica {
  begin(state: ReplicaState): Promise<void>;
  shard(job: ShardJob): Promise<ReplicaResult>;
  update(job: UpdateJob): Promise<void>;
  /** The replica's trainable weights, flat (to check that it is in step). */
  weights(): Promise<Float32Array>;
  /** The end of a train() call: the replica may free its optimizer. */
  end(): Promise<void>;
}

export function isAllReduceReplica(r: unknown): r is AllReduceReplica {
  const o = r as Partial<AllReduceReplica> | null;
  return (
    o != null &&
    typeof o.begin === 'function' &&
    typeof o.shard === 'function' &&
    typeof o.update === 'function' &&
    typeof o.weights === 'function' &&
    typeof o.end === 'function'
  );
}

const POWER_FIELDS = ['accBeta1', 'accBeta2'] as const;

/** An optimizer's state, to rebuild it elsewhere (see OptimizerState). */
export async function optimizerState(optimizer: tf.Optimizer): Promise<OptimizerState> {
  const named = await optimizer.getWeights();
  const o = optimizer as unknown as Record<string, unknown>;
  const powers: Record<string, number> = {};
  for (const f of POWER_FIELDS) {
    const v = o[f];
    if (v instanceof tf.Variable) powers[f] = v.dataSync()[0]!;
  }
  const weights = named.map((w) => ({
    name: w.name,
    shape: w.tensor.shape,
    values: Float32Array.from(w.tensor.dataSync()),
  }));
  // the step count comes as a new tensor; the slots are the optimizer's own variables
  tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  return {
    className: optimizer.getClassName(),
    config: optimizer.getConfig(),
    weights,
    ...(Object.keys(powers).length > 0 ? { powers } : {}),
  };
}

/** Rebuilds an optimizer from its state: the same class, configuration and slots. */
export async function restoreOptimizer(state: OptimizerState): Promise<tf.Optimizer> {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[state.className];
  if (entry == null) {
    throw new TrainDataError(
      'AllReduceReplica.begin',
      'optimizer',
      "an optimizer class registered with tf.serialization.registerClass where the replica runs (register yours in the replica's workerModule)",
      state.className,
    );
  }
  const [cls, fromConfig] = entry;
  const optimizer = fromConfig(cls, state.config) as tf.Optimizer;
  if (state.weights.length > 0) {
    const named = state.weights.map((w) => ({
      name: w.name,
      tensor: tf.tensor(w.values, w.shape, 'float32'),
    }));
    await optimizer.setWeights(named);
    tf.dispose(named.map((w) => w.tensor));
  }
  const o = optimizer as unknown as Record<string, unknown>;
  for (const [f, value] of Object.entries(state.powers ?? {})) {
    const v = o[f];
    if (v instanceof tf.Variable) tf.tidy(() => v.assign(tf.scalar(value)));
  }
  return optimizer;
}

/** The step's averaged gradients applied: Σ_k (n_k / n) g_k over the participants, in order. */
function applyAveraged(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  parts: readonly (Float32Array | null)[],
  sizes: readonly number[],
): void {
  const n = sizes.reduce((s, k) => s + k, 0);
  const named: tf.NamedTensorMap = {};
  tf.tidy(() => {
    let at = 0;
    for (const v of vars) {
      let g: tf.Tensor | null = null;
      parts.forEach((p, k) => {
        if (p == null) return;
        const t = tf.mul(tf.tensor(p.subarray(at, at + v.size), v.shape), sizes[k]! / n);
        g = g == null ? t : tf.add(g, t);
      });
      named[v.name] = tf.keep(g ?? tf.zerosLike(v));
      at += v.size;
    }
  });
  applyWithPenalties(model, vars, optimizer, named);
}

/** Sets a learning rate the way train() does (SGD and momentum keep it in a scalar). */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
    learningRate?: number;
  };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else if (typeof o.learningRate === 'number') o.learningRate = lr;
}

export function learningRateOf(optimizer: tf.Optimizer): number | null {
  const lr = (optimizer as unknown as { learningRate?: unknown }).learningRate;
  return typeof lr === 'number' ? lr : null;
}

/**
 * The replica side of all-reduce training, over `model` (a copy of the trained model: same
 * layers and trainableWeights order; its weights are overwritten) in this thread's tfjs. The
 * worker threads of `@fa-robust/fa-layers/node` run one each; in one thread it is a reference
 * to test against.
 */
export function allReduceReplica(model: tfl.LayersModel): AllReduceReplica {
  const vars = trainableVariables(model);
  const layers = feedbackLayers(model);
  const classes = outputClasses(model);
  let optimizer: tf.Optimizer | null = null;
  let own: Float32Array | null = null;
  const free = () => {
    if (optimizer != null) disposeOptimizer(optimizer);
    optimizer = null;
  };
  const setDraws = (draws: readonly number[], field: string) => {
    if (draws.length !== layers.length) {
      throw new TrainDataError(
        'AllReduceReplica',
        field,
        `${layers.length} draw counters (one per feedback layer)`,
        draws.length,
      );
    }
    layers.forEach((l, i) => {
      l.feedbackState.draws = draws[i]!;
    });
  };
  return {
    async begin(state) {
      assignFlat(
        model.nonTrainableWeights.map((w) => w.read() as tf.Variable),
        state.nonTrainable,
        'state.nonTrainable',
      );
      assignFlat(vars, state.weights, 'state.weights');
      setDraws(state.draws, 'state.draws');
      free();
      optimizer = await restoreOptimizer(state.optimizer);
      own = null;
    },
    async shard(job) {
      checkShard(job, classes, 'AllReduceReplica.shard');
      const r = shardResult(model, vars, classes, job);
      own = r.gradients;
      return r;
    },
    async update(job) {
      if (optimizer == null)
        throw new TrainDataError('AllReduceReplica.update', 'begin', 'called first', 'not called');
      const parts = job.gradients.slice();
      parts[job.self] = job.sizes[job.self]! > 0 ? own : null;
      own = null;
      if (job.learningRate != null && job.learningRate !== learningRateOf(optimizer))
        setLearningRate(optimizer, job.learningRate);
      applyAveraged(model, vars, optimizer, parts, job.sizes);
      setDraws(job.draws, 'job.draws');
    },
    async weights() {
      return flatten(vars);
    },
    async end() {
      free();
      own = null;
    },
  };
}

/** The model's state for its all-reduce replicas, at the start of a train() call. */
export async function replicaState(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
): Promise<ReplicaState> {
  return {
    weights: flatten(vars),
    nonTrainable: flatten(model.nonTrainableWeights.map((w) => w.read() as tf.Variable)),
    draws: feedbackLayers(model).map((l) => l.feedbackState.draws),
    optimizer: await optimizerState(optimizer),
  };
}

/**
 * One all-reduce step: the replicas compute their shards at their own weights while this
 * thread computes the first; every participant then gets the others' gradients and applies the
 * same averaged update (Σ (n_k / n) g_k in participant order, plus the penalties' gradient) to
 * its own weights. The replicas' updates are not awaited here: they are pushed onto `pending`,
 * which the next step (or the end of train()) awaits with its own work. Returns the batch's
 * loss sum and correct count.
 */
export async function allReduceStep(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  replicas: readonly AllReduceReplica[],
  b: Batch,
  labels: tf.Tensor,
  pending: Promise<void>[],
): Promise<{ lossSum: tf.Scalar; correct: tf.Scalar }> {
  const n = b.x.shape[0]!;
  const sizes = shardSizes(n, replicas.length + 1);
  const jobs = replicaShards(b, labels, sizes);
  const shards = replicas.map((r, k) => (jobs[k] == null ? null : r.shard(jobs[k])));
  // the last step's updates and this step's shards: none may reject unobserved meanwhile
  const earlier = pending.splice(0);
  const results = Promise.all([Promise.all(earlier), Promise.all(shards)]);
  results.catch(() => {});
  const own = tf.tidy(() =>
    shardTerms(model, vars, tf.slice(b.x, 0, sizes[0]!), tf.slice(labels, 0, sizes[0]!)),
  );
  try {
    const ownFlat = flatten(vars.map((v) => own.grads[v.name]!));
    const [, parts] = await results;
    const gradients = [ownFlat, ...parts.map((r) => r?.gradients ?? null)];
    const draws = feedbackLayers(model).map((l) => l.feedbackState.draws);
    const learningRate = learningRateOf(optimizer);
    replicas.forEach((r, k) => {
      const sent = gradients.slice();
      sent[k + 1] = null;
      const done = r.update({ gradients: sent, self: k + 1, sizes, draws, learningRate });
      done.catch(() => {});
      pending.push(done);
    });
    applyAveraged(model, vars, optimizer, gradients, sizes);
    return batchScores(
      own,
      parts.filter((r) => r != null),
    );
  } finally {
    tf.dispose([own.lossSum, own.correct, ...Object.values(own.grads)]);
  }
}
