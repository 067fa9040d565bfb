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
import {
  createOptimizer,
  defaultLearningRate,
  disposeOptimizer,
  type OptimizerName,
} from './optimizers.js';
import {
  type AllReduceReplica,
  allReduceStep,
  type GradientReplica,
  isAllReduceReplica,
  learningRateOf,
  parallelStep,
  replicaState,
  setLearningRate,
  trainableVariables,
} from './replicas.js';
import { evaluate, scores, withPenalties } from './scores.js';

/**
 * The learning rate of each epoch, from the base rate (`learningRate`, or the optimizer's own):
 * - `{ type: 'constant' }` (the default);
 * - `{ type: 'step', milestones, factor }`: times `factor` after each milestone epoch, as
 *   PyTorch's MultiStepLR steps per epoch (BioTorch: milestones [50, 75], factor 0.1 give epochs
 *   1-50 the base rate, 51-75 a tenth, 76-100 a hundredth);
 * - `{ type: 'cosine', min? }`: min + (base - min)(1 + cos(pi (epoch - 1) / epochs)) / 2, as
 *   PyTorch's CosineAnnealingLR with T_max = epochs stepped per epoch (min default 0);
 * - a function of the 1-based epoch, the epoch count and the base rate.
 */
export type LearningRateSchedule =
  | { type: 'constant' }
  | { type: 'step'; milestones: readonly number[]; factor: number }
  | { type: 'cosine'; min?: number }
  | ((epoch: number, epochs: number, base: number) => number);

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
  /**
   * The base learning rate. Default 1e-3 for adam, 0.01 for sgd and momentum; for a
   * tf.Optimizer, its own (given, it is set on your optimizer, as a schedule sets each epoch's).
   */
  learningRate?: number;
  /** How the learning rate changes from epoch to epoch. Default constant. */
  schedule?: LearningRateSchedule;
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
   * shards' mean gradients are averaged (weighted by shard size, in a fixed order). Two
   * protocols:
   * - AllReduceReplica (workerReplicas' replicas): each replica takes the model's weights and
   *   optimizer state once, at the start, then every step gets the other shards' gradients and
   *   applies the same update to its own copy as this thread does: no weights travel, and no
   *   one waits on another's optimizer step;
   * - GradientReplica: each step sends the weights, takes the replica's gradients back, and the
   *   optimizer step is taken here.
   * The same seed and replica count give the same weights, run after run, whichever protocol;
   * another replica count computes the same sums in another order, so the weights differ by
   * float32 rounding (they are not bit for bit those of training without replicas). A replica
   * must be a copy of the model (same layers and seeds): its weights, brsf draws and
   * non-trainable weights are sent to it, its layer configuration is not.
   */
  replicas?: readonly GradientReplica[] | readonly AllReduceReplica[];
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
  /** The learning rate this epoch trained with. */
  learningRate: number;
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

/** The learning rate of the 1-based `epoch` of `epochs` (see LearningRateSchedule). */
export function scheduledRate(
  schedule: LearningRateSchedule | undefined,
  base: number,
  epoch: number,
  epochs: number,
): number {
  if (schedule == null || (typeof schedule === 'object' && schedule.type === 'constant'))
    return base;
  if (typeof schedule === 'function') return schedule(epoch, epochs, base);
  if (schedule.type === 'step')
    return base * schedule.factor ** schedule.milestones.filter((m) => epoch > m).length;
  const min = schedule.min ?? 0;
  return min + ((base - min) * (1 + Math.cos((Math.PI * (epoch - 1)) / epochs))) / 2;
}

function checkSchedule(schedule: unknown): void {
  if (schedule == null || typeof schedule === 'function') return;
  const s = schedule as Record<string, unknown>;
  const ok =
    typeof s === 'object' &&
    (s.type === 'constant' ||
      (s.type === 'step' &&
        Array.isArray(s.milestones) &&
        s.milestones.every((m) => Number.isInteger(m) && (m as number) >= 1) &&
        typeof s.factor === 'number' &&
        s.factor > 0) ||
      (s.type === 'cosine' && (s.min == null || (typeof s.min === 'number' && s.min >= 0))));
  if (!ok)
    throw new FeedbackOptionError(
      WHERE,
      'schedule',
      "{ type: 'constant' }, { type: 'step', milestones: [epochs >= 1], factor > 0 }, { type: 'cosine', min? >= 0 } or a function",
      schedule,
    );
}

/** Sets a tfjs optimizer's learning rate; throws for one without a learning rate. */
function setRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: unknown; learningRate?: unknown };
  if (typeof o.setLearningRate !== 'function' && typeof o.learningRate !== 'number')
    throw new FeedbackOptionError(
      WHERE,
      'schedule',
      'an optimizer with a learning rate (this one has no learningRate field)',
      optimizer.getClassName(),
    );
  setLearningRate(optimizer, lr);
}

function makeOptimizer(options: TrainOptions): { optimizer: tf.Optimizer; dispose: () => void } {
  const o = options.optimizer ?? 'adam';
  if (o instanceof tf.Optimizer) {
    if (options.learningRate != null) {
      const lr = options.learningRate;
      if (typeof lr !== 'number' || !(lr > 0))
        throw new FeedbackOptionError(WHERE, 'learningRate', 'a number > 0', lr);
    }
    return { optimizer: o, dispose: () => {} };
  }
  if (o !== 'adam' && o !== 'sgd' && o !== 'momentum')
    throw new FeedbackOptionError(
      WHERE,
      'optimizer',
      "a tf.Optimizer, 'sgd', 'momentum' or 'adam'",
      o,
    );
  const optimizer = createOptimizer(o, options.learningRate ?? defaultLearningRate(o), WHERE);
  return { optimizer, dispose: () => disposeOptimizer(optimizer) };
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
  const replicas: readonly (GradientReplica | AllReduceReplica)[] = options.replicas ?? [];
  const allReduce = replicas.length > 0 && replicas.every(isAllReduceReplica);
  if (
    !Array.isArray(replicas) ||
    (!allReduce &&
      replicas.some((r) => typeof (r as Partial<GradientReplica>)?.gradients !== 'function'))
  ) {
    throw new FeedbackOptionError(
      WHERE,
      'replicas',
      'an array of GradientReplica (objects with a gradients(job) method) or of AllReduceReplica (begin, shard, update, weights, end)',
      replicas,
    );
  }
  checkSchedule(options.schedule);
  const { optimizer, dispose: releaseOptimizer } = makeOptimizer(options);
  const baseRate = options.learningRate ?? learningRateOf(optimizer);
  // a schedule sets the rate every epoch; a learningRate given with your optimizer, once
  const scheduled =
    (options.schedule != null &&
      !(typeof options.schedule === 'object' && options.schedule.type === 'constant')) ||
    (typeof options.optimizer === 'object' &&
      options.optimizer instanceof tf.Optimizer &&
      options.learningRate != null);
  if (scheduled && baseRate == null) {
    releaseOptimizer();
    throw new FeedbackOptionError(
      WHERE,
      'learningRate',
      'a base rate for the schedule (this optimizer has no learningRate field)',
      undefined,
    );
  }
  const vars = trainableVariables(model);
  const synced = new Set<GradientReplica>();
  // all-reduce: the replicas' updates still running (each step awaits the last step's)
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const history: EpochLog[] = [];
  let aborted = false;

  try {
    if (allReduce) {
      const state = await replicaState(model, vars, optimizer);
      await Promise.all((replicas as AllReduceReplica[]).map((r) => r.begin(state)));
    }
    for (let epoch = 0; epoch < epochs && !aborted; epoch++) {
      const t0 = performance.now();
      const rate = scheduled
        ? scheduledRate(options.schedule, baseRate!, epoch + 1, epochs)
        : baseRate;
      if (scheduled) {
        if (!(typeof rate === 'number' && rate > 0 && Number.isFinite(rate)))
          throw new FeedbackOptionError(
            WHERE,
            'schedule',
            `to give a learning rate > 0 for epoch ${epoch + 1}, not ${String(rate)}`,
            rate,
          );
        setRate(optimizer, rate);
      }
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
            if (allReduce) {
              batchScores = await allReduceStep(
                model,
                vars,
                optimizer,
                replicas as AllReduceReplica[],
                b,
                labels,
                pending,
              );
            } else if (replicas.length > 0) {
              batchScores = await parallelStep(
                model,
                vars,
                optimizer,
                replicas as GradientReplica[],
                b,
                labels,
                synced,
              );
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
            learningRate: rate ?? Number.NaN,
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
    // the replicas' last updates: a failure there fails this train()
    await Promise.all(pending.splice(0));
  } finally {
    releaseOptimizer();
    if (allReduce) {
      await Promise.allSettled(pending);
      await Promise.allSettled((replicas as AllReduceReplica[]).map((r) => r.end()));
    }
  }
  return { history, aborted, seconds: (performance.now() - started) / 1000 };
}
