import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FeedbackOptionError, TrainDataError } from './errors.js';
import { feedbackLayers } from './register.js';

/** One batch: images and labels (int class ids [n], or one-hot [n, classes]). */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
}

/**
 * Where batches come from. An Iterable or AsyncIterable that can be iterated again (an array, a
 * tf.data.Dataset's iterator factory...) serves every epoch; a function is called once per
 * epoch and returns that epoch's batches. train() never disposes the tensors it is given.
 */
export type BatchSource =
  | Iterable<Batch>
  | AsyncIterable<Batch>
  | ((epoch: number) => Iterable<Batch> | AsyncIterable<Batch>);

export type OptimizerName = 'sgd' | 'momentum' | 'adam';

export interface TrainOptions {
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Batch size, for tensor data. Default 64. */
  batchSize?: number;
  /**
   * A tf.Optimizer (yours: train does not dispose it) or a name: 'sgd', 'momentum' (0.9) or
   * 'adam' (made with `learningRate` and disposed at the end). Default 'adam'.
   */
  optimizer?: tf.Optimizer | OptimizerName;
  /** For a named optimizer. Default 1e-3 for adam, 0.01 for sgd and momentum. */
  learningRate?: number;
  /** Seeds the shuffling of tensor data. Default 0. */
  seed?: number;
  /** Shuffle tensor data every epoch. Default true. */
  shuffle?: boolean;
  /** Evaluated after every epoch (loss and accuracy, in batches of `batchSize`). */
  validationData?: Batch;
  /**
   * Called after every batch with its loss. Reading the loss waits for the device once per
   * batch: leave it unset where speed matters (onEpoch costs one wait per epoch).
   */
  onBatch?: (info: BatchLog) => void | Promise<void>;
  /** Called after every epoch. */
  onEpoch?: (info: EpochLog) => void | Promise<void>;
  /** Stops training between two batches; train() then resolves with `aborted: true`. */
  signal?: AbortSignal;
  /**
   * Data-parallel training: each batch is split into 1 + replicas.length shards; this thread
   * computes the first, each replica (a copy of the model elsewhere: a worker thread from
   * `@fa-robust/fa-layers/node`'s workerReplicas) one of the others, at the same weights. The
   * shards' mean gradients are averaged (weighted by shard size, in a fixed order) and one
   * optimizer step is taken here. The same seed and replica count give the same weights, run
   * after run; another replica count computes the same sums in another order, so the weights
   * differ by float32 rounding (they are not bit for bit those of training without replicas).
   * A replica must be a copy of the model (same layers and seeds): its weights, brsf draws and
   * non-trainable weights are sent to it, its layer configuration is not.
   */
  replicas?: readonly GradientReplica[];
}

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
   * d(mean cross-entropy of the shard)/d(weights) (with whatever the layers add, such as weight
   * decay), flat in trainableWeights order.
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

export interface BatchLog {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** Batches per epoch, when known (tensor data). */
  batches: number | null;
  /** Images in this batch. */
  size: number;
  /** Mean cross-entropy of this batch (before the update). */
  loss: number;
}

export interface EpochLog {
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** Mean training cross-entropy over the epoch (each batch before its update). */
  loss: number;
  /** Training accuracy over the epoch (each batch before its update). */
  accuracy: number;
  images: number;
  seconds: number;
  valLoss?: number;
  valAccuracy?: number;
}

export interface TrainResult {
  /** One entry per completed epoch. */
  history: EpochLog[];
  /** Whether `signal` stopped training early. */
  aborted: boolean;
  seconds: number;
}

const WHERE = 'train';

function positiveInt(field: string, v: unknown, dflt: number): number {
  const value = v ?? dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new FeedbackOptionError(WHERE, field, 'a positive integer', v);
  }
  return value;
}

function makeOptimizer(options: TrainOptions): { optimizer: tf.Optimizer; dispose: () => void } {
  const o = options.optimizer ?? 'adam';
  if (o instanceof tf.Optimizer) return { optimizer: o, dispose: () => {} };
  const lr = options.learningRate ?? (o === 'adam' ? 1e-3 : 0.01);
  if (typeof lr !== 'number' || !(lr > 0))
    throw new FeedbackOptionError(WHERE, 'learningRate', 'a number > 0', lr);
  const owned = (optimizer: tf.Optimizer) => ({ optimizer, dispose: () => optimizer.dispose() });
  if (o === 'adam') return owned(tf.train.adam(lr));
  if (o === 'sgd') return owned(tf.train.sgd(lr));
  if (o === 'momentum') {
    const optimizer = tf.train.momentum(lr, 0.9);
    return {
      optimizer,
      dispose: () => {
        optimizer.dispose();
        // tfjs 4.22: MomentumOptimizer.dispose() forgets the learning-rate scalar its SGD base keeps.
        (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
      },
    };
  }
  throw new FeedbackOptionError(
    WHERE,
    'optimizer',
    "a tf.Optimizer, 'sgd', 'momentum' or 'adam'",
    o,
  );
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over mulberry32). */
export function shuffledIndices(n: number, seed: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx;
}

function checkBatch(field: string, b: Batch, classes: number): void {
  if (b == null || !(b.x instanceof tf.Tensor) || !(b.y instanceof tf.Tensor)) {
    throw new TrainDataError(
      WHERE,
      field,
      '{ x: tf.Tensor, y: tf.Tensor }',
      b == null ? b : Object.keys(b),
    );
  }
  const n = b.x.shape[0];
  if (b.y.shape[0] !== n) {
    throw new TrainDataError(
      WHERE,
      `${field}.y`,
      `${n} labels (one per image of ${field}.x [${b.x.shape}])`,
      `shape [${b.y.shape}]`,
    );
  }
  if (!(b.y.rank === 1 || (b.y.rank === 2 && b.y.shape[1] === classes))) {
    throw new TrainDataError(
      WHERE,
      `${field}.y`,
      `class ids [n] or one-hot [n, ${classes}]`,
      `shape [${b.y.shape}]`,
    );
  }
}

/** One-hot float labels from class ids or one-hot labels. */
function oneHot(y: tf.Tensor, classes: number): tf.Tensor {
  return tf.tidy(() =>
    y.rank === 2 ? tf.cast(y, 'float32') : tf.oneHot(tf.cast(y, 'int32'), classes),
  );
}

/** Cross-entropy (sum over the batch) and number correct of logits against one-hot labels. */
function scores(logits: tf.Tensor, labels: tf.Tensor): { lossSum: tf.Scalar; correct: tf.Scalar } {
  return tf.tidy(() => {
    const lossSum = tf.mul(
      tf.losses.softmaxCrossEntropy(labels, logits),
      logits.shape[0]!,
    ) as tf.Scalar;
    const correct = tf.sum(
      tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(labels, 1)), 'float32'),
    ) as tf.Scalar;
    return { lossSum, correct };
  });
}

function outputClasses(model: tfl.LayersModel): number {
  const shape = model.outputs[0]?.shape;
  const classes = shape?.[shape.length - 1];
  if (shape == null || shape.length !== 2 || classes == null) {
    throw new TrainDataError(
      WHERE,
      'model',
      'a model with one output of shape [batch, classes] (logits)',
      shape ?? null,
    );
  }
  return classes;
}

/** The trainable weights of a model as tfjs variables, in trainableWeights order. */
function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
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
 * gradients of the mean cross-entropy of the job's shard with `training: true`. `model` must be a copy of the trained model (same layers, same
 * trainableWeights order); its weights are overwritten. Runs where the replica's tfjs runs.
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
 * order), one optimizer step.
 * Returns the batch's loss sum and correct count.
 */
async function parallelStep(
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

/**
 * Loss and accuracy of a model on data, in batches (no training flag: brsf draws nothing).
 * Returns plain numbers.
 */
export async function evaluate(
  model: tfl.LayersModel,
  data: Batch,
  batchSize = 256,
): Promise<{ loss: number; accuracy: number }> {
  const classes = outputClasses(model);
  checkBatch('data', data, classes);
  const n = data.x.shape[0]!;
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [l, c] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const y = oneHot(tf.slice(data.y, start, size), classes);
      const s = scores(model.predict(x) as tf.Tensor, y);
      return [tf.add(lossSum, s.lossSum), tf.add(correct, s.correct)];
    });
    tf.dispose([lossSum, correct]);
    lossSum = l as tf.Scalar;
    correct = c as tf.Scalar;
  }
  const [loss, acc] = [(await lossSum.data())[0]!, (await correct.data())[0]!];
  tf.dispose([lossSum, correct]);
  return { loss: loss / n, accuracy: acc / n };
}

function isTensorData(data: unknown): data is Batch {
  return typeof data === 'object' && data != null && (data as Batch).x instanceof tf.Tensor;
}

async function* tensorBatches(
  data: Batch,
  batchSize: number,
  order: Int32Array | null,
): AsyncGenerator<Batch> {
  const n = data.x.shape[0]!;
  const idx = order == null ? null : tf.tensor1d(order, 'int32');
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = tf.tidy(() => {
        if (idx == null)
          return { x: tf.slice(data.x, start, size), y: tf.slice(data.y, start, size) };
        const take = tf.slice(idx, start, size);
        return { x: tf.gather(data.x, take), y: tf.gather(data.y, take) };
      });
      try {
        yield batch;
      } finally {
        tf.dispose([batch.x, batch.y]);
      }
    }
  } finally {
    idx?.dispose();
  }
}

function epochSource(
  source: BatchSource,
  epoch: number,
  epochs: number,
): Iterable<Batch> | AsyncIterable<Batch> {
  const it = typeof source === 'function' ? source(epoch) : source;
  const sync = (it as Iterable<Batch>)?.[Symbol.iterator];
  const async = (it as AsyncIterable<Batch>)?.[Symbol.asyncIterator];
  if (typeof sync !== 'function' && typeof async !== 'function') {
    throw new TrainDataError(
      WHERE,
      'data',
      '{ x, y } tensors, an iterable of batches or a function returning one per epoch',
      typeof it,
    );
  }
  if (typeof source !== 'function' && epochs > 1) {
    // A generator (an iterator that is its own iterable) runs once: refuse it for several epochs.
    const self = (typeof sync === 'function' ? sync.call(it) : async.call(it)) === (it as unknown);
    if (self) {
      throw new TrainDataError(
        WHERE,
        'data',
        `re-iterable for ${epochs} epochs (an array, or a function returning each epoch's batches)`,
        'a one-shot iterator',
      );
    }
  }
  return it;
}

/**
 * Trains a model that returns logits with softmax cross-entropy, for any feedback mode: the
 * feedback lives in the layers' gradients, so one ordinary optimizer step is all it takes. Each
 * batch runs the model with `training: true` (brsf redraws M, dropout is on). Nothing leaks: the
 * tensor count is the same after every step.
 *
 * @param data `{ x, y }` tensors (x [n, ...], y class ids [n] or one-hot [n, classes]), shuffled
 *   each epoch with `seed`; or a BatchSource.
 * @example
 * const model = lenet({ dataset: 'mnist', feedback: 'fa', seed: 1 });
 * await train(model, { x, y }, { epochs: 1, batchSize: 64, optimizer: 'adam', seed: 1,
 *   onEpoch: (e) => console.log(e.epoch, e.loss, e.accuracy) });
 */
export async function train(
  model: tfl.LayersModel,
  data: Batch | BatchSource,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const epochs = positiveInt('epochs', options.epochs, 1);
  const batchSize = positiveInt('batchSize', options.batchSize, 64);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0)
    throw new FeedbackOptionError(WHERE, 'seed', 'an integer >= 0', seed);
  const classes = outputClasses(model);
  const tensorData = isTensorData(data);
  if (tensorData) checkBatch('data', data, classes);
  if (options.validationData != null) checkBatch('validationData', options.validationData, classes);
  const replicas = options.replicas ?? [];
  if (!Array.isArray(replicas) || replicas.some((r) => typeof r?.gradients !== 'function')) {
    throw new FeedbackOptionError(
      WHERE,
      'replicas',
      'an array of GradientReplica (objects with a gradients(job) method)',
      replicas,
    );
  }
  const { optimizer, dispose: disposeOptimizer } = makeOptimizer(options);
  const vars = trainableVariables(model);
  const synced = new Set<GradientReplica>();
  const started = performance.now();
  const history: EpochLog[] = [];
  let aborted = false;

  try {
    for (let epoch = 0; epoch < epochs && !aborted; epoch++) {
      const t0 = performance.now();
      const batches = tensorData
        ? tensorBatches(
            data,
            batchSize,
            options.shuffle === false ? null : shuffledIndices(data.x.shape[0]!, seed + epoch),
          )
        : epochSource(data as BatchSource, epoch, epochs);
      const batchCount = tensorData ? Math.ceil(data.x.shape[0]! / batchSize) : null;
      let lossSum = tf.scalar(0);
      let correct = tf.scalar(0);
      let images = 0;
      let batch = 0;
      try {
        for await (const b of batches) {
          if (options.signal?.aborted) {
            aborted = true;
            break;
          }
          if (!tensorData) checkBatch(`batch ${batch}`, b, classes);
          const size = b.x.shape[0]!;
          let batchScores: { lossSum: tf.Scalar; correct: tf.Scalar } | null = null;
          const labels = oneHot(b.y, classes);
          let cost: tf.Scalar | null = null;
          try {
            if (replicas.length > 0) {
              batchScores = await parallelStep(model, vars, optimizer, replicas, b, labels, synced);
              if (options.onBatch != null) cost = tf.div(batchScores.lossSum, size) as tf.Scalar;
            } else {
              cost = optimizer.minimize(
                () => {
                  const logits = model.apply(b.x, { training: true }) as tf.Tensor;
                  const s = scores(logits, labels);
                  batchScores = { lossSum: tf.keep(s.lossSum), correct: tf.keep(s.correct) };
                  return tf.div(s.lossSum, size) as tf.Scalar;
                },
                options.onBatch != null,
                vars,
              );
            }
          } finally {
            labels.dispose();
          }
          const s = batchScores as unknown as { lossSum: tf.Scalar; correct: tf.Scalar };
          const [l, c] = [
            tf.add(lossSum, s.lossSum) as tf.Scalar,
            tf.add(correct, s.correct) as tf.Scalar,
          ];
          tf.dispose([lossSum, correct, s.lossSum, s.correct]);
          lossSum = l;
          correct = c;
          images += size;
          if (options.onBatch != null && cost != null) {
            const loss = (await cost.data())[0]!;
            cost.dispose();
            await options.onBatch({ epoch, batch, batches: batchCount, size, loss });
          }
          batch++;
          // Let timers and the abort signal run between batches.
          await tf.nextFrame();
        }
      } finally {
        const totals = [(await lossSum.data())[0]!, (await correct.data())[0]!] as const;
        tf.dispose([lossSum, correct]);
        if (!aborted && images > 0) {
          const log: EpochLog = {
            epoch,
            epochs,
            loss: totals[0] / images,
            accuracy: totals[1] / images,
            images,
            seconds: (performance.now() - t0) / 1000,
          };
          history.push(log);
        }
      }
      const log = history.at(-1);
      if (!aborted && log != null && log.epoch === epoch) {
        if (options.validationData != null) {
          const v = await evaluate(model, options.validationData, Math.max(batchSize, 256));
          log.valLoss = v.loss;
          log.valAccuracy = v.accuracy;
        }
        await options.onEpoch?.(log);
      }
    }
  } finally {
    disposeOptimizer();
  }
  return { history, aborted, seconds: (performance.now() - started) / 1000 };
}
