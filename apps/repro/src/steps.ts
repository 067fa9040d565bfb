/**
 * The units of work of a run, written so that they run the same in the main thread and in a
 * worker thread: a step is described by plain data (structured-clone safe), and everything it
 * needs (test split, models, clean masks) comes from a StepContext built on either side.
 */
import {
  type AttackFunction,
  type AttackName,
  type AttackResult,
  attackInfo,
  autoAttack,
  type BatchReport,
  modelGradient,
  runAttack,
} from '@fa-robust/attacks';
import { fileSystem } from '@fa-robust/backend';
import { batches, type Split, take } from '@fa-robust/datasets';
import {
  backpropTwin,
  createOptimizer,
  disposeOptimizer,
  lenet,
  scheduledRate,
  train,
} from '@fa-robust/fa-layers';
import { type ResultCell, resultCell, transferSource } from '@fa-robust/metrics';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { DatasetName, Method, TrainSchedule } from './config.js';

/**
 * A finished experiment step: the result cells it produced and, for each cell (same index), the
 * per-example correctness after the attack, 1 = still correct (for robust accuracy).
 */
export interface StepOutput {
  cells: ResultCell[];
  masks: Uint8Array[];
}

/**
 * One attack step: `attack` on model `source` at `eps` over the first `n` test images; each
 * adversarial batch is also given to every model of `targets` (transfer).
 */
export interface AttackStepSpec {
  /** A built-in attack, or 'autoattack' (the cascade, run through autoAttack). */
  attack: AttackName | 'autoattack';
  eps: number;
  source: string;
  /** How the cell's source is tagged: the model's own backward path, its true gradient, or gradient-free. */
  gradientTag: 'own' | 'true' | 'none';
  /** Take the gradient from the source's backprop twin (its true gradient) instead of its own backward path. */
  trueGradient?: boolean;
  targets: string[];
  n: number;
  options: Record<string, unknown>;
  params: { [k: string]: number | string | boolean };
}

/** What a step reads: one dataset's test split, its models and their clean correctness. */
export interface StepContext {
  dataset: DatasetName;
  test: Split;
  labels: Int32Array;
  models: Record<string, tfl.LayersModel>;
  clean: Record<string, Uint8Array>;
  batchSize: number;
  seed: number;
  /** A model's backprop twin (its true gradient), built on first use. */
  twin: (model: string) => Promise<tfl.LayersModel>;
}

export interface StepHooks {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export function predictLabels(model: tfl.LayersModel, x: tf.Tensor): Int32Array {
  const labels = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, -1));
  // read outside the tidy: a typed array returned from tf.tidy is walked element by element
  const values = labels.dataSync() as Int32Array;
  labels.dispose();
  return values;
}

/** Examples of a batch (m examples, row-major) with a value outside `bounds` (float32 slack). */
export function countOutOfBounds(
  x: Float32Array,
  m: number,
  bounds: readonly [number, number],
): number {
  const dim = x.length / m;
  const lo = bounds[0] - 1e-6;
  const hi = bounds[1] + 1e-6;
  let count = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i * dim, end = j + dim; j < end; j++) {
      const v = x[j]!;
      if (!(v >= lo && v <= hi)) {
        count++;
        break;
      }
    }
  }
  return count;
}

/** Float32 slack of the ball check (AutoAttack's own). */
export const BALL_SLACK = 1e-5;

/** Per-example labels of a batch's y (class indices, or one-hot rows). */
function labelsOf(y: unknown): Int32Array {
  if (y instanceof tf.Tensor) {
    const t = y.rank === 2 ? tf.argMax(y, -1) : y;
    const v = Int32Array.from(t.dataSync());
    if (t !== y) t.dispose();
    return v;
  }
  return Int32Array.from(y as ArrayLike<number>);
}

/**
 * AutoAttack as an attack function of runAttack's kind, so the runner batches it, tracks its
 * progress and reports its norms like any other: the cascade's adversarials (each an in-ball
 * example that fooled the model, else the clean input), re-predicted here.
 */
export const autoAttackFunction: AttackFunction = async (model, x, y, options) => {
  const { epsilon, version, gradient, seed, signal, bounds } = options as {
    epsilon: number;
    version?: 'standard' | 'plus';
    gradient?: Parameters<typeof autoAttack>[3]['gradient'];
    seed?: number;
    signal?: AbortSignal;
    bounds?: readonly [number, number];
  };
  const r = await autoAttack(model, x, y, {
    epsilon,
    version: version ?? 'standard',
    ...(gradient ? { gradient } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(signal ? { signal } : {}),
    ...(bounds ? { bounds } : {}),
  });
  const labels = labelsOf(y);
  const lm = model as tfl.LayersModel;
  const predictions = predictLabels(lm, r.adversarial);
  const cleanPredictions = predictLabels(lm, x);
  const [linf, l2] = tf.tidy(() => {
    const d = tf.reshape(tf.sub(r.adversarial, x), [x.shape[0]!, -1]);
    return [tf.max(tf.abs(d), 1), tf.norm(d, 'euclidean', 1)];
  });
  const out: AttackResult = {
    attack: 'apgd',
    variant: 'standard',
    norm: r.norm,
    epsilon,
    bounds: r.bounds,
    clippedToBounds: true,
    loss: 'ce',
    targeted: false,
    gradientSource: gradient?.label ?? 'own',
    adversarial: r.adversarial,
    success: Uint8Array.from(predictions, (p, i) => (p !== labels[i] ? 1 : 0)),
    predictions,
    cleanPredictions,
    labels,
    target: null,
    linf: Float32Array.from(linf!.dataSync()),
    l2: Float32Array.from(l2!.dataSync()),
    iterations: 0,
    gradientEvaluations: r.attacks.reduce((a, s) => a + s.gradientEvaluations, 0),
    queries: r.attacks.reduce((a, s) => a + s.queries, 0),
    zeroGradientSteps: null,
    flags: r.flags,
  };
  tf.dispose([linf!, l2!]);
  return out;
};

/** Runs one attack step with @fa-robust/attacks' runAttack and returns its cells. */
export async function attackStep(
  ctx: StepContext,
  p: AttackStepSpec,
  hooks: StepHooks = {},
): Promise<StepOutput> {
  const started = performance.now();
  const { clean, models, labels } = ctx;
  const correctAfter: Record<string, Uint8Array> = {};
  let linf = new Float64Array(p.n);
  let l2 = new Float64Array(p.n);
  // examples with a pixel outside [0, 1] (the paper's equations do not clip), and gradient
  // evaluations that were exactly zero or not finite (null for gradient-free attacks)
  let outOfBounds = 0;
  let gradientCounts: { zero: number; nonFinite: number } | undefined;
  for (const id of [p.source, ...p.targets]) {
    if (!models[id] || !clean[id])
      throw new Error(
        `step ${p.attack} eps=${p.eps}: no model '${id}' in the ${ctx.dataset} context`,
      );
  }
  if (p.eps === 0) {
    // no perturbation is allowed: the adversarial examples are the clean images
    for (const id of [p.source, ...p.targets]) correctAfter[id] = clean[id]!.slice(0, p.n);
  } else {
    for (const t of p.targets) correctAfter[t] = new Uint8Array(p.n);
    const gradient = p.trueGradient ? modelGradient(await ctx.twin(p.source), 'true') : undefined;
    const run = await runAttack({
      model: models[p.source]!,
      attack: p.attack === 'autoattack' ? autoAttackFunction : p.attack,
      options: { ...p.options, bounds: [0, 1] },
      ...(gradient ? { gradient } : {}),
      data: take(ctx.test, p.n),
      epsilons: [p.eps],
      batchSize: ctx.batchSize,
      seed: ctx.seed,
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      onProgress: (r) => hooks.onProgress?.(r.examplesDone, p.n),
      onBatch: (b: BatchReport) => {
        const m = b.result.labels.length;
        outOfBounds += countOutOfBounds(b.adversarial, m, [0, 1]);
        if (!p.targets.length) return;
        const x = tf.tensor(b.adversarial, [m, ...b.exampleShape]);
        try {
          for (const t of p.targets) {
            const pt = predictLabels(models[t]!, x);
            for (let i = 0; i < m; i++)
              correctAfter[t]![b.offset + i] = pt[i] === labels[b.offset + i] ? 1 : 0;
          }
        } finally {
          x.dispose();
        }
      },
    });
    const r = run.perEpsilon[0]!;
    correctAfter[p.source] = r.correctAfter;
    if (r.zeroGradientSteps) {
      gradientCounts = {
        zero: r.zeroGradientSteps.filter((v) => v > 0).length,
        nonFinite: run.flags
          .filter((f) => f.code === 'non-finite-gradient')
          .reduce((a, f) => a + (f.count ?? 0), 0),
      };
    }
    linf = Float64Array.from(r.linf);
    l2 = Float64Array.from(r.l2);
  }
  const seconds = (performance.now() - started) / 1000;
  const out: StepOutput = { cells: [], masks: [] };
  const takesVariant =
    p.attack !== 'autoattack' && attackInfo(p.attack).options.includes('variant');
  // the threat model, checked per cell: every example inside the ball and the pixel range
  let linfMax = 0;
  for (const v of linf) if (!(v <= linfMax)) linfMax = v;
  const inBall = linfMax <= p.eps + BALL_SLACK;
  const add = (model: string, source: string) => {
    const c = resultCell({
      dataset: ctx.dataset,
      model,
      attack: p.attack,
      ...(takesVariant ? { variant: p.params.variant as string } : {}),
      norm: 'linf',
      epsilon: p.eps,
      source,
      cleanCorrect: clean[model]!.subarray(0, p.n),
      adversarialCorrect: correctAfter[model]!,
      perturbation: { linf, l2, outOfBounds },
      ...(gradientCounts ? { gradient: gradientCounts } : {}),
      threat: { inBall, inBounds: outOfBounds === 0 },
      params: p.params,
      seconds,
    });
    out.cells.push(c);
    out.masks.push(correctAfter[model]!);
  };
  add(p.source, p.gradientTag);
  const crafted = p.trueGradient ? ('true' as const) : undefined;
  for (const t of p.targets) add(t, transferSource(p.source, crafted));
  return out;
}

/** How one model is trained: everything that decides its weights (hashed into its folder name). */
export interface TrainSpec {
  dataset: DatasetName;
  id: string;
  method: Method;
  seed: number;
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd' | 'momentum';
  learningRate: number;
  schedule?: TrainSchedule;
  feedbackSeed?: number;
  /** wm: its mirror's own rate and noise fields (lenet's mirrorRate, mirrorBatch). */
  mirror?: { rate: number; batch: number };
}

/** One epoch of a model's training, as train-info.json and results.json keep it. */
export interface TrainEpoch {
  epoch: number;
  /** Mean training cross-entropy and accuracy over the epoch's batches. */
  loss: number;
  accuracy: number;
  learningRate: number;
  seconds: number;
}

export interface TrainHooks extends StepHooks {
  log?: (line: string) => void;
}

/**
 * Trains one LeNet on `data` and saves it to `dir`. Deterministic for a given spec and backend.
 * It trains epoch by epoch and keeps a checkpoint after each (`<dir>.partial/`, see
 * checkpoint.ts): an interrupted run resumes from the last finished epoch and ends with the
 * weights of an uninterrupted one.
 */
export async function trainModel(
  spec: TrainSpec,
  data: Split,
  dir: string,
  hooks: TrainHooks = {},
): Promise<{ model: tfl.LayersModel; seconds: number; history: TrainEpoch[] }> {
  // Fashion-MNIST's images are MNIST's shape: the same LeNet-5
  const arch = spec.dataset === 'cifar10' ? 'cifar10' : 'mnist';
  const resumed = await loadCheckpoint<TrainEpoch>(dir, spec, hooks.log);
  const model =
    resumed?.model ??
    lenet({
      dataset: arch,
      feedback: spec.method,
      seed: spec.seed,
      ...(spec.feedbackSeed != null ? { feedbackSeed: spec.feedbackSeed } : {}),
      ...(spec.mirror ? { mirrorRate: spec.mirror.rate, mirrorBatch: spec.mirror.batch } : {}),
    });
  const optimizer = resumed?.optimizer ?? createOptimizer(spec.optimizer, spec.learningRate);
  const history: TrainEpoch[] = resumed?.history ?? [];
  let seconds = resumed?.seconds ?? 0;
  const first = resumed?.epochs ?? 0;
  if (resumed)
    hooks.log?.(
      `  ${spec.dataset}/${spec.id}: resuming after epoch ${first}/${spec.epochs} (checkpoint)`,
    );
  const n = data.shape[0];
  let seen = n * first;
  const source = function* (epoch: number) {
    for (const b of batches(data, {
      batchSize: spec.batchSize,
      shuffle: true,
      seed: spec.seed * 1000 + epoch,
    })) {
      yield { x: b.x, y: b.y };
      tf.dispose([b.x, b.y]);
      seen += b.y.shape[0];
      hooks.onProgress?.(seen, n * spec.epochs);
    }
  };
  try {
    for (let e = first; e < spec.epochs; e++) {
      // one epoch per call, at the rate the whole run's schedule gives epoch e + 1: the same
      // updates as one train() call over every epoch
      const r = await train(model, (_k: number) => source(e), {
        epochs: 1,
        optimizer,
        learningRate: spec.learningRate,
        schedule: (_epoch, _epochs, base) => scheduledRate(spec.schedule, base, e + 1, spec.epochs),
        seed: spec.seed,
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      });
      if (r.aborted) throw hooks.signal?.reason ?? new Error('aborted');
      const log = r.history[0]!;
      seconds += r.seconds;
      history.push({
        epoch: e + 1,
        loss: log.loss,
        accuracy: log.accuracy,
        learningRate: log.learningRate,
        seconds: log.seconds,
      });
      hooks.log?.(
        `  ${spec.dataset}/${spec.id} epoch ${e + 1}/${spec.epochs}: loss ${log.loss.toFixed(4)}, train accuracy ${(100 * log.accuracy).toFixed(1)}%`,
      );
      if (e + 1 < spec.epochs)
        await saveCheckpoint(dir, spec, { model, optimizer, epochs: e + 1, history, seconds });
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    disposeOptimizer(optimizer);
  }
  await model.save(fileSystem(dir));
  await removeCheckpoint(dir);
  return { model, seconds, history };
}

/** A context whose twins are built once each, on first use. */
export function stepContext(c: Omit<StepContext, 'twin'>): StepContext & { dispose(): void } {
  const twins = new Map<string, Promise<tfl.LayersModel>>();
  return {
    ...c,
    twin: (id: string) => {
      const model = c.models[id];
      if (!model)
        return Promise.reject(
          new Error(`${c.dataset}: the true-gradient audit needs the '${id}' model`),
        );
      let twin = twins.get(id);
      if (!twin) {
        twin = backpropTwin(model);
        twins.set(id, twin);
      }
      return twin;
    },
    dispose: () => {
      for (const t of twins.values()) void t.then((m) => m.dispose());
    },
  };
}
