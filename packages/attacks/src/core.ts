/**
 * The loop-invariant parts every attack shares: input validation, the clean forward pass,
 * best-so-far bookkeeping with tensor ops, gradient statistics, projections, and the result.
 * An attack file holds only its update rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AttackAbortedError, AttackInputError, describe, ModelOutputError } from './errors.js';
import { type GradientSource, ownGradient } from './gradient.js';
import {
  type LabelsInput,
  type LogitsFunction,
  logitsFunction,
  type Model,
  readLabels,
} from './model.js';
import {
  fooledMask,
  LOSS_NAMES,
  type LossName,
  type Objective,
  objectiveLoss,
} from './objective.js';
import { Random } from './random.js';

export type Norm = 'linf' | 'l2';
export type Variant = 'standard' | 'paper';
export type AttackName = 'fgsm' | 'bim' | 'mifgsm' | 'pgd' | 'spsa' | 'square';

/** Options every attack takes. */
export interface AttackOptions {
  /** Perturbation budget (L-inf or L2 radius), in pixel units. Required, finite, >= 0. */
  epsilon: number;
  /** Pixel range [low, high]; inputs outside it are refused. Default [0, 1]. */
  bounds?: readonly [number, number];
  /** Attack loss: 'ce' (default for gradient attacks), 'margin' or 'dlr'. */
  loss?: LossName;
  /** Target labels (one per example): targeted mode, success means predicting the target. */
  target?: LabelsInput;
  /**
   * Keep the best adversarial found so far (default true): an example fooled at any step is
   * returned as the latest iterate that fooled it. false returns the final iterate, as the
   * equations of the papers do. Success is re-predicted on what is returned in both cases.
   */
  keepBest?: boolean;
  /** Seed of every random choice (random start, SPSA directions, Square windows). Default 0. */
  seed?: number;
  /** Stops the attack between steps with an AttackAbortedError (name 'AbortError'). */
  signal?: AbortSignal;
  /**
   * Check pixels against the bounds and the model's output for logits (one data read at the
   * start). Default true; false saves that read for callers that validated already.
   */
  validate?: boolean;
}

/** Options of the attacks that follow a gradient. */
export interface GradientAttackOptions extends AttackOptions {
  /** Where the input gradient comes from. Default: ownGradient(model), the model's own backward path. */
  gradient?: GradientSource;
}

export type SanityFlagCode =
  | 'zero-gradient'
  | 'non-finite-gradient'
  | 'success-not-monotone'
  | 'gradient-free-stronger'
  | 'other-gradient-stronger';

/** Evidence of a problem with the evaluation, found in the numbers themselves. */
export interface SanityFlag {
  code: SanityFlagCode;
  /** One sentence: what was seen and what it suggests. */
  message: string;
  /** How many examples show it, where that applies. */
  count?: number;
  /** The epsilon it was seen at, where that applies. */
  epsilon?: number;
}

/** What every attack returns. Per-example arrays have one entry per example of the batch. */
export interface AttackResult {
  attack: AttackName;
  variant: Variant;
  norm: Norm;
  epsilon: number;
  bounds: readonly [number, number];
  /** Whether the adversarial was clipped to the pixel bounds (false only for the paper variants, by default). */
  clippedToBounds: boolean;
  loss: LossName;
  targeted: boolean;
  /** The gradient source's label; null for the gradient-free attacks. */
  gradientSource: string | null;
  /** The adversarial batch, shaped like x. The caller disposes it. */
  adversarial: tf.Tensor;
  /** 1 where the attack succeeded, from a fresh prediction on `adversarial` (untargeted: prediction != label; targeted: prediction == target). */
  success: Uint8Array;
  /** The model's prediction on `adversarial`. */
  predictions: Int32Array;
  /** The model's prediction on the clean input. */
  cleanPredictions: Int32Array;
  labels: Int32Array;
  target: Int32Array | null;
  /** Per-example L-inf norm of adversarial - x actually reached. */
  linf: Float32Array;
  /** Per-example L2 norm of adversarial - x actually reached. */
  l2: Float32Array;
  /** Iterations of the update rule. */
  iterations: number;
  /** Input-gradient evaluations per example. */
  gradientEvaluations: number;
  /** Forward passes of the attacked model per example made by the update rule (gradient-free attacks: its queries). */
  queries: number;
  /** Per example, how many gradient evaluations returned an exactly-zero gradient (null for gradient-free attacks). */
  zeroGradientSteps: Int32Array | null;
  flags: SanityFlag[];
}

export interface SetupDefaults {
  loss: LossName;
  /** Gradient-free attacks take no gradient source. */
  gradientFree?: boolean;
}

const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

/** Reshapes a per-example vector [B] to [B, 1, 1, ...] so it broadcasts against x. */
export function perExample(v: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(v, [v.shape[0]!, ...new Array(rank - 1).fill(1)]);
}

/**
 * Per-example choice: a where the mask (bool [B], or float 0/1 broadcastable to a) is true,
 * else b. Computed as a * m + b * (1 - m), exact for finite values (x * 1 = x, x * 0 = 0):
 * on wasm, tf.where with a broadcast condition tiles a bool tensor, which is ~40x slower.
 */
export function blend(mask: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m =
      mask.rank === 1 && a.rank > 1
        ? perExample(tf.cast(mask, 'float32'), a.rank)
        : tf.cast(mask, 'float32');
    return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m)));
  });
}

/** The non-batch axes of a tensor. */
export function exampleAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i + 1);
}

/** Per-example L2 norm, shaped [B, 1, 1, ...] for broadcasting. */
export function l2Norm(t: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(t), exampleAxes(t.rank), true));
}

/** Per-example L1 norm, shaped [B, 1, 1, ...]. */
export function l1Norm(t: tf.Tensor): tf.Tensor {
  return tf.sum(tf.abs(t), exampleAxes(t.rank), true);
}

/** Projection onto the L-inf ball of radius eps around x0. */
export function projectLinf(x: tf.Tensor, x0: tf.Tensor, eps: number): tf.Tensor {
  return tf.minimum(tf.maximum(x, tf.sub(x0, eps)), tf.add(x0, eps));
}

/** Projection onto the L2 ball of radius eps around x0 (per example). */
export function projectL2(x: tf.Tensor, x0: tf.Tensor, eps: number): tf.Tensor {
  const d = tf.sub(x, x0);
  const factor = tf.minimum(1, tf.div(eps, tf.maximum(l2Norm(d), 1e-12)));
  return tf.add(x0, tf.mul(d, factor));
}

/** Best adversarial so far, per example, kept with tensor ops (no data reads). */
export class Tracker {
  best: tf.Tensor | null = null;
  fooled: tf.Tensor | null = null;
  loss: tf.Tensor | null = null;

  constructor(private readonly objective: Objective) {}

  /** Latest fooling iterate wins; an example not fooled yet takes the latest iterate. */
  observe(x: tf.Tensor, logits: tf.Tensor): void {
    const prev = [this.best, this.fooled, this.loss];
    const [best, fooled, loss] = tf.tidy(() => {
      const f = fooledMask(logits, this.objective);
      const l = objectiveLoss(logits, this.objective);
      if (this.best == null) return [tf.clone(x), f, l];
      const take = tf.logicalOr(f, tf.logicalNot(this.fooled!));
      return [
        blend(take, x, this.best),
        tf.logicalOr(this.fooled!, f),
        tf.where(take, l, this.loss!),
      ];
    });
    this.best = best!;
    this.fooled = fooled!;
    this.loss = loss!;
    tf.dispose(prev.filter((t): t is tf.Tensor => t != null));
  }

  /** Merges another run (a restart): its fooled examples win, and unfooled ones where its loss is higher. */
  merge(other: Tracker): void {
    if (other.best == null) return;
    if (this.best == null) {
      [this.best, this.fooled, this.loss] = [other.best, other.fooled, other.loss];
      other.best = other.fooled = other.loss = null;
      return;
    }
    const prev: tf.Tensor[] = [this.best, this.fooled!, this.loss!];
    const [best, fooled, loss] = tf.tidy(() => {
      const take = tf.logicalOr(
        other.fooled!,
        tf.logicalAnd(tf.logicalNot(this.fooled!), tf.greater(other.loss!, this.loss!)),
      );
      return [
        blend(take, other.best!, this.best!),
        tf.logicalOr(this.fooled!, other.fooled!),
        tf.where(take, other.loss!, this.loss!),
      ];
    });
    [this.best, this.fooled, this.loss] = [best!, fooled!, loss!];
    tf.dispose(prev);
    other.dispose();
  }

  dispose(): void {
    tf.dispose([this.best, this.fooled, this.loss].filter((t): t is tf.Tensor => t != null));
    this.best = this.fooled = this.loss = null;
  }
}

/**
 * One attack call's state. Created by `AttackContext.create`, which validates the inputs and
 * runs the clean forward pass; `finish` re-predicts and builds the result; `dispose` frees
 * everything but the returned adversarial (call it in a finally block).
 */
export class AttackContext {
  readonly objective: Objective;
  readonly forward: LogitsFunction;
  readonly source: GradientSource | null;
  readonly rng: Random;
  readonly keepBest: boolean;
  readonly rank: number;
  readonly batch: number;
  readonly numClasses: number;
  iterations = 0;
  gradientEvaluations = 0;
  queries = 0;
  private readonly tensors: tf.Tensor[] = [];
  private readonly slots = new Map<string, tf.Tensor>();
  private tracker: Tracker | null;
  private zeroSteps: tf.Tensor | null = null;
  private nonFiniteSteps: tf.Tensor | null = null;
  private readonly cleanPred: tf.Tensor;
  private readonly labels: Int32Array;
  private readonly target: Int32Array | null;
  /** The gradient source is the attacked model itself: its logits double as bookkeeping. */
  private readonly sourceIsModel: boolean;

  private constructor(
    readonly fn: AttackName,
    readonly model: Model,
    readonly x0: tf.Tensor,
    readonly epsilon: number,
    readonly bounds: readonly [number, number],
    readonly options: AttackOptions & GradientAttackOptions,
    init: {
      forward: LogitsFunction;
      labels: Int32Array;
      target: Int32Array | null;
      loss: LossName;
      cleanLogits: tf.Tensor2D;
      source: GradientSource | null;
    },
  ) {
    this.forward = init.forward;
    this.labels = init.labels;
    this.target = init.target;
    this.rank = x0.rank;
    this.batch = x0.shape[0]!;
    this.numClasses = init.cleanLogits.shape[1];
    const labelsT = tf.tensor1d(init.labels, 'int32');
    const targetT = init.target ? tf.tensor1d(init.target, 'int32') : null;
    this.tensors.push(labelsT, ...(targetT ? [targetT] : []));
    this.objective = {
      loss: init.loss,
      labels: labelsT,
      target: targetT,
      numClasses: this.numClasses,
    };
    this.source = init.source;
    this.sourceIsModel = init.source != null && init.source.model === model;
    this.rng = new Random(options.seed ?? 0);
    this.keepBest = options.keepBest ?? true;
    this.cleanPred = tf.tidy(() => tf.argMax(init.cleanLogits, 1));
    this.tensors.push(this.cleanPred);
    this.tracker = this.keepBest ? new Tracker(this.objective) : null;
    this.tracker?.observe(x0, init.cleanLogits);
  }

  /** Validates the arguments, runs the clean forward pass and checks the model returns logits. */
  static async create(
    fn: AttackName,
    model: Model,
    x: tf.Tensor,
    y: LabelsInput,
    options: GradientAttackOptions,
    defaults: SetupDefaults,
  ): Promise<AttackContext> {
    if (options == null || typeof options !== 'object') {
      throw new AttackInputError(
        fn,
        'options',
        'an object with at least { epsilon }',
        describe(options),
      );
    }
    const forward = logitsFunction(fn, model);
    if (!(x instanceof tf.Tensor))
      throw new AttackInputError(fn, 'x', 'a tf.Tensor batch of inputs', describe(x));
    if (x.isDisposed) throw new AttackInputError(fn, 'x', 'a live tensor', 'a disposed tensor');
    if (x.dtype !== 'float32')
      throw new AttackInputError(fn, 'x', 'a float32 tensor', `dtype '${x.dtype}'`);
    if (x.rank < 2 || x.shape[0] === 0) {
      throw new AttackInputError(
        fn,
        'x',
        'a batch of shape [batch >= 1, ...features]',
        describe(x),
      );
    }
    const eps = options.epsilon;
    if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) {
      throw new AttackInputError(fn, 'options.epsilon', 'a finite number >= 0', describe(eps));
    }
    const bounds = options.bounds ?? ([0, 1] as const);
    if (
      !Array.isArray(bounds) ||
      bounds.length !== 2 ||
      !bounds.every((b) => typeof b === 'number' && Number.isFinite(b)) ||
      !(bounds[0] < bounds[1])
    ) {
      throw new AttackInputError(
        fn,
        'options.bounds',
        '[low, high] with finite low < high',
        describe(bounds),
      );
    }
    const loss = options.loss ?? defaults.loss;
    if (!LOSS_NAMES.includes(loss)) {
      throw new AttackInputError(
        fn,
        'options.loss',
        `one of ${LOSS_NAMES.map((l) => `'${l}'`).join(', ')}`,
        describe(loss),
      );
    }
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new AttackInputError(fn, 'options.seed', 'a finite number', describe(seed));
    }
    if (options.signal?.aborted) throw new AttackAbortedError(fn, { cause: options.signal.reason });
    let source: GradientSource | null = null;
    if (!defaults.gradientFree) {
      source = options.gradient ?? ownGradient(model);
      if (typeof source?.evaluate !== 'function') {
        throw new AttackInputError(
          fn,
          'options.gradient',
          'a GradientSource (ownGradient, modelGradient, customGradient)',
          describe(source),
        );
      }
    } else if (options.gradient != null) {
      throw new AttackInputError(
        fn,
        'options.gradient',
        `absent: ${fn} is gradient-free`,
        'a gradient source',
      );
    }
    const batch = x.shape[0]!;
    const labels = readLabels(fn, 'y', y, batch);
    const target =
      options.target != null ? readLabels(fn, 'options.target', options.target, batch) : null;

    const cleanLogits = tf.tidy(() => forward(x)) as tf.Tensor2D;
    try {
      if (
        !(cleanLogits instanceof tf.Tensor) ||
        cleanLogits.rank !== 2 ||
        cleanLogits.shape[0] !== batch ||
        cleanLogits.shape[1] < 2
      ) {
        throw new ModelOutputError(
          fn,
          `logits of shape [${batch}, classes >= 2]`,
          describe(cleanLogits),
        );
      }
      const k = cleanLogits.shape[1];
      const minClasses = loss === 'dlr' ? (target ? 4 : 3) : 2;
      if (k < minClasses) {
        throw new AttackInputError(
          fn,
          'options.loss',
          `a loss the model's ${k} classes allow ('dlr' needs ${minClasses})`,
          `'${loss}'`,
        );
      }
      for (const [name, arr] of [
        ['y', labels],
        ['options.target', target],
      ] as const) {
        if (!arr) continue;
        const bad = arr.findIndex((v) => v >= k);
        if (bad >= 0)
          throw new AttackInputError(
            fn,
            `${name}[${bad}]`,
            `a class index < ${k} (the model's classes)`,
            String(arr[bad]),
          );
      }
      if (options.validate ?? true) {
        const stats = tf.tidy(() => {
          const finiteX = tf.isFinite(x);
          const xs = tf.where(finiteX, x, tf.zerosLike(x));
          const rowDev = tf.max(tf.abs(tf.sub(tf.sum(cleanLogits, 1), 1)));
          return tf.stack([
            tf.min(xs),
            tf.max(xs),
            tf.sum(tf.cast(tf.logicalNot(finiteX), 'float32')),
            tf.sum(tf.cast(tf.logicalNot(tf.isFinite(cleanLogits)), 'float32')),
            tf.min(cleanLogits),
            tf.max(cleanLogits),
            rowDev,
          ]);
        });
        const [xmin, xmax, xBad, zBad, zmin, zmax, dev] = Array.from(await stats.data());
        stats.dispose();
        if (xBad! > 0)
          throw new AttackInputError(
            fn,
            'x',
            'finite pixel values',
            `${xBad} NaN or infinite values`,
          );
        const tol = 1e-6 * Math.max(1, Math.abs(bounds[0]), Math.abs(bounds[1]));
        if (xmin! < bounds[0] - tol || xmax! > bounds[1] + tol) {
          throw new AttackInputError(
            fn,
            'x',
            `pixels within options.bounds [${bounds[0]}, ${bounds[1]}]`,
            `values in [${xmin}, ${xmax}]`,
          );
        }
        if (zBad! > 0)
          throw new ModelOutputError(
            fn,
            'finite logits on the clean input',
            `${zBad} NaN or infinite values`,
          );
        if (zmin! >= 0 && zmax! <= 1 && dev! < 1e-3) {
          throw new ModelOutputError(
            fn,
            'logits (remove the final softmax: the losses and gradients here assume logits)',
            'probabilities: every value in [0, 1] and every row summing to 1',
          );
        }
      }
      return new AttackContext(fn, model, x, eps, bounds, options, {
        forward,
        labels,
        target,
        loss,
        cleanLogits,
        source,
      });
    } finally {
      cleanLogits.dispose();
    }
  }

  /**
   * Holds an attack's state tensor (the iterate, the momentum) under a name: disposes what the
   * name held before (never the clean input), and frees it on dispose() if the attack throws.
   */
  hold<T extends tf.Tensor>(name: string, t: T): T {
    const prev = this.slots.get(name);
    if (prev && prev !== t && prev !== this.x0) prev.dispose();
    this.slots.set(name, t);
    return t;
  }

  /** Takes a held tensor back (the caller owns it again). */
  release(name: string): tf.Tensor {
    const t = this.slots.get(name);
    if (!t) throw new Error(`${this.fn}: nothing held as '${name}' (internal error)`);
    this.slots.delete(name);
    return t;
  }

  /** Throws AttackAbortedError when the signal fired; yields to the event loop so it can fire. */
  async checkAbort(): Promise<void> {
    const signal = this.options.signal;
    if (!signal) return;
    await yieldToEventLoop();
    if (signal.aborted) throw new AttackAbortedError(this.fn, { cause: signal.reason });
  }

  /** Logits of the attacked model at x (counts as a query). */
  logits(x: tf.Tensor): tf.Tensor2D {
    return this.forward(x) as tf.Tensor2D;
  }

  /** Records iterate x for best-so-far bookkeeping (one forward pass unless logits are given). */
  observe(x: tf.Tensor, logits?: tf.Tensor): void {
    if (!this.tracker) return;
    if (logits) this.tracker.observe(x, logits);
    else {
      const z = tf.tidy(() => this.forward(x));
      try {
        this.tracker.observe(x, z);
      } finally {
        z.dispose();
      }
    }
  }

  /**
   * The input gradient at x from the gradient source, with non-finite entries zeroed (and
   * counted). Observes x for the bookkeeping unless x is the clean input (observed already),
   * reusing the source's logits when the source is the attacked model.
   */
  gradient(x: tf.Tensor): tf.Tensor {
    if (!this.source) throw new Error(`${this.fn}: no gradient source (internal error)`);
    const { gradient, logits } = this.source.evaluate(x, this.objective);
    this.gradientEvaluations++;
    try {
      if (x !== this.x0) this.observe(x, this.sourceIsModel ? logits : undefined);
      const prev = [this.zeroSteps, this.nonFiniteSteps];
      const [g, zero, nonFinite] = tf.tidy(() => {
        const axes = exampleAxes(x.rank);
        const finite = tf.isFinite(gradient);
        const clean = tf.where(finite, gradient, tf.zerosLike(gradient));
        const z = tf.cast(tf.equal(tf.max(tf.abs(clean), axes), 0), 'int32');
        const nf = tf.cast(tf.logicalNot(tf.all(finite, axes)), 'int32');
        return [clean, prev[0] ? tf.add(prev[0], z) : z, prev[1] ? tf.add(prev[1], nf) : nf];
      });
      tf.dispose(prev.filter((t): t is tf.Tensor => t != null));
      this.zeroSteps = zero!;
      this.nonFiniteSteps = nonFinite!;
      return g!;
    } finally {
      tf.dispose([gradient, ...(logits ? [logits] : [])]);
    }
  }

  /** Uniform random start in the L-inf ball (clipped to bounds when `clip`). */
  randomStartLinf(clip: boolean): tf.Tensor {
    const seed = this.rng.seed();
    return tf.tidy(() => {
      const x = tf.add(
        this.x0,
        tf.randomUniform(this.x0.shape, -this.epsilon, this.epsilon, 'float32', seed),
      );
      return clip ? this.clip(x) : x;
    });
  }

  /** Uniform random start in the L2 ball: a Gaussian direction, radius eps * u^(1/d). */
  randomStartL2(clip: boolean): tf.Tensor {
    const s1 = this.rng.seed();
    const s2 = this.rng.seed();
    return tf.tidy(() => {
      const d = this.x0.size / this.batch;
      const dir = tf.randomNormal(this.x0.shape, 0, 1, 'float32', s1);
      const unit = tf.div(dir, tf.maximum(l2Norm(dir), 1e-12));
      const u = tf.randomUniform([this.batch], 0, 1, 'float32', s2);
      const r = perExample(tf.mul(this.epsilon, tf.pow(u, 1 / d)), this.rank);
      const x = tf.add(this.x0, tf.mul(unit, r));
      return clip ? this.clip(x) : x;
    });
  }

  /** Clips to the pixel bounds. */
  clip(x: tf.Tensor): tf.Tensor {
    return tf.clipByValue(x, this.bounds[0], this.bounds[1]);
  }

  /** Starts an independent bookkeeping run (a PGD restart); `endRun` merges it. */
  beginRun(): Tracker | null {
    if (!this.tracker) return null;
    const outer = this.tracker;
    this.tracker = new Tracker(this.objective);
    return outer;
  }

  endRun(outer: Tracker | null): void {
    if (!outer || !this.tracker) return;
    outer.merge(this.tracker);
    this.tracker = outer;
  }

  /**
   * Builds the result from the final iterate: observes it, takes the best so far (or the
   * final iterate when keepBest is false), re-predicts, measures, and reads everything in one go.
   * Takes ownership of `final`; null when the attack observed its final iterates itself (restarts).
   */
  async finish(
    final: tf.Tensor | null,
    meta: { variant: Variant; norm: Norm; clippedToBounds: boolean },
  ): Promise<AttackResult> {
    let adversarial: tf.Tensor;
    if (this.tracker) {
      if (final) this.observe(final);
      adversarial = this.tracker.best!;
      this.tracker.best = null;
      if (final && final !== this.x0) final.dispose();
    } else {
      if (!final) throw new Error(`${this.fn}: no final iterate (internal error)`);
      adversarial = final === this.x0 ? tf.clone(final) : final;
    }
    const [pred, success, linf, l2] = tf.tidy(() => {
      const z = this.forward(adversarial);
      const p = tf.argMax(z, 1);
      const s = tf.cast(fooledMask(z, this.objective), 'int32');
      const d = tf.sub(adversarial, this.x0);
      const axes = exampleAxes(this.rank);
      return [p, s, tf.max(tf.abs(d), axes), tf.sqrt(tf.sum(tf.square(d), axes))];
    });
    const reads = [
      pred!,
      success!,
      linf!,
      l2!,
      this.cleanPred,
      this.zeroSteps,
      this.nonFiniteSteps,
    ].map((t) => (t ? t.data() : Promise.resolve(null)));
    const [p, s, li, l2v, cp, zs, nf] = await Promise.all(reads);
    tf.dispose([pred!, success!, linf!, l2!]);
    const flags: SanityFlag[] = [];
    const zeroSteps = zs ? Int32Array.from(zs as Int32Array) : null;
    if (zeroSteps && this.gradientEvaluations > 0) {
      const any = zeroSteps.filter((v) => v > 0).length;
      const all = zeroSteps.filter((v) => v >= this.gradientEvaluations).length;
      if (any > 0) {
        flags.push({
          code: 'zero-gradient',
          count: any,
          epsilon: this.epsilon,
          message:
            `${any} of ${this.batch} examples had an exactly-zero input gradient at one or more steps ` +
            `(${all} at every step) from source '${this.source?.label}': the attack could not move them there. ` +
            `Gradient masking or a saturated loss; try loss: 'margin', another gradient source, or spsa/square.`,
        });
      }
    }
    if (nf) {
      const count = (nf as Int32Array).filter((v) => v > 0).length;
      if (count > 0) {
        flags.push({
          code: 'non-finite-gradient',
          count,
          epsilon: this.epsilon,
          message: `${count} of ${this.batch} examples had NaN or infinite input-gradient entries (set to 0 for the step) from source '${this.source?.label}'.`,
        });
      }
    }
    return {
      attack: this.fn,
      variant: meta.variant,
      norm: meta.norm,
      epsilon: this.epsilon,
      bounds: this.bounds,
      clippedToBounds: meta.clippedToBounds,
      loss: this.objective.loss,
      targeted: this.target != null,
      gradientSource: this.source?.label ?? null,
      adversarial,
      success: Uint8Array.from(s as Int32Array),
      predictions: Int32Array.from(p as Int32Array),
      cleanPredictions: Int32Array.from(cp as Int32Array),
      labels: this.labels,
      target: this.target,
      linf: Float32Array.from(li as Float32Array),
      l2: Float32Array.from(l2v as Float32Array),
      iterations: this.iterations,
      gradientEvaluations: this.gradientEvaluations,
      queries: this.queries,
      zeroGradientSteps: this.source ? (zeroSteps ?? new Int32Array(this.batch)) : null,
      flags,
    };
  }

  /** Frees the context's tensors (not the caller's x, not the returned adversarial). */
  dispose(): void {
    for (const t of this.slots.values()) if (t !== this.x0) t.dispose();
    this.slots.clear();
    this.tracker?.dispose();
    tf.dispose(this.tensors);
    tf.dispose([this.zeroSteps, this.nonFiniteSteps].filter((t): t is tf.Tensor => t != null));
    this.zeroSteps = this.nonFiniteSteps = null;
  }
}

/** Runs an attack body with a context, disposing the context (and on error, the iterate) whatever happens. */
export async function runWithContext(
  ctx: AttackContext,
  body: (ctx: AttackContext) => Promise<AttackResult>,
): Promise<AttackResult> {
  try {
    return await body(ctx);
  } finally {
    ctx.dispose();
  }
}
