import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type Batch,
  type BatchSource,
  checkBatch,
  epochSource,
  isTensorData,
  oneHot,
  outputClasses,
  shuffledIndices,
  tensorBatches,
} from './data.js';
import { FeedbackOptionError } from './errors.js';
import { type GradientReplica, parallelStep, trainableVariables } from './replicas.js';
import { evaluate, scores, withPenalties } from './scores.js';

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

export interface BatchLog {
  /** 1-based epoch, as the logs print it (epoch 1 of `epochs`). */
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
  /** 1-based epoch, as Keras' and the repro app's logs print it: 1, ..., `epochs`. */
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
 *   onEpoch: (e) => console.log(`epoch ${e.epoch}/${e.epochs}`, e.loss, e.accuracy) });
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
            } else {
              let crossEntropy: tf.Scalar | null = null;
              cost = optimizer.minimize(
                () => {
                  const logits = model.apply(b.x, { training: true }) as tf.Tensor;
                  const s = scores(logits, labels);
                  batchScores = { lossSum: tf.keep(s.lossSum), correct: tf.keep(s.correct) };
                  const ce = tf.div(s.lossSum, size) as tf.Scalar;
                  // kernelRegularizer, biasRegularizer...: minimised (as model.fit adds them), not reported
                  const total = withPenalties(model, ce);
                  if (total !== ce && options.onBatch != null) crossEntropy = tf.keep(ce);
                  return total;
                },
                options.onBatch != null,
                vars,
              );
              if (crossEntropy != null) {
                cost?.dispose();
                cost = crossEntropy;
              }
            }
            if (options.onBatch != null && cost == null) {
              const s = batchScores as unknown as { lossSum: tf.Scalar };
              cost = tf.div(s.lossSum, size) as tf.Scalar;
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
            await options.onBatch({ epoch: epoch + 1, batch, batches: batchCount, size, loss });
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
            epoch: epoch + 1,
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
      if (!aborted && log != null && log.epoch === epoch + 1) {
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
