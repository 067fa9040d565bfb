/**
 * One attack call's state, shared by every attack: the checked inputs, the objective, the
 * PRNG, named state tensors, gradient statistics, best-so-far bookkeeping and the result.
 * An attack file holds only its update rule (gradient attacks: its hooks of `iterate`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AttackAbortedError } from './errors.js';
import { gradientFlags } from './flags.js';
import { exampleAxes } from './geometry.js';
import type { GradientSource } from './gradient.js';
import type { LabelsInput, LogitsFunction, Model } from './model.js';
import { fooledMask, type Objective } from './objective.js';
import { Random } from './random.js';
import { type BestRule, Tracker } from './tracker.js';
import type {
  AttackName,
  AttackOptions,
  AttackResult,
  GradientAttackOptions,
  Norm,
  Variant,
} from './types.js';
import { type CheckedCall, checkCall, checkCleanPass, type SetupDefaults } from './validate.js';

/**
 * The names under which an attack holds its state tensors (`hold`, `release`): the iterate,
 * the gradient, the loop's direction, and each attack's own state.
 */
export type Slot =
  | 'x'
  | 'grad'
  | 'direction'
  // MI-FGSM
  | 'momentum'
  // APGD: the previous iterate, the best point, its gradient and loss, the per-example step
  // size, the loss increases since the last checkpoint, the state at that checkpoint, targets
  | 'xPrev'
  | 'xBest'
  | 'gradBest'
  | 'lossBest'
  | 'stepSize'
  | 'increases'
  | 'lossAtCheck'
  | 'halved'
  | 'targets'
  // SPSA: Adam's moments and the gradient estimate
  | 'm'
  | 'v'
  | 'estimate'
  // Square: the input as an image, the best loss and fooled mask, window coordinates
  | 'x0img'
  | 'loss'
  | 'fooled'
  | 'rows'
  | 'cols'
  // CW: the attack-space input and reconstruction, the offset, the smallest adversarial so far
  | 'w0'
  | 'xr'
  | 'delta'
  | 'best'
  | 'bestL2'
  | 'consts';

/** How long an attack without an AbortSignal runs before it yields to the event loop. */
const YIELD_EVERY_MS = 50;

const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

/**
 * Created by `AttackContext.create`, which validates the inputs and runs the clean forward
 * pass; `finish` re-predicts and builds the result; `dispose` frees everything but the
 * returned adversarial (call it in a finally block).
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
  readonly epsilon: number;
  readonly bounds: readonly [number, number];
  iterations = 0;
  gradientEvaluations = 0;
  private lastYield = performance.now();
  queries = 0;
  private readonly tensors: tf.Tensor[] = [];
  private readonly slots = new Map<Slot, tf.Tensor>();
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
    readonly options: AttackOptions & GradientAttackOptions,
    call: CheckedCall,
    cleanLogits: tf.Tensor2D,
    /** What keep-best keeps per example (see BestRule); 'highest' for APGD. */
    readonly bestRule: BestRule | 'none' = 'latest',
  ) {
    this.forward = call.forward;
    this.epsilon = call.epsilon;
    this.bounds = call.bounds;
    this.labels = call.labels;
    this.target = call.target;
    this.rank = x0.rank;
    this.batch = x0.shape[0]!;
    this.numClasses = cleanLogits.shape[1];
    const labelsT = tf.tensor1d(call.labels, 'int32');
    const targetT = call.target ? tf.tensor1d(call.target, 'int32') : null;
    this.tensors.push(labelsT, ...(targetT ? [targetT] : []));
    this.objective = {
      loss: call.loss,
      labels: labelsT,
      target: targetT,
      numClasses: this.numClasses,
    };
    this.source = call.source;
    this.sourceIsModel = call.source != null && call.source.model === model;
    this.rng = new Random(options.seed ?? 0);
    this.keepBest = options.keepBest ?? true;
    this.cleanPred = tf.tidy(() => tf.argMax(cleanLogits, 1));
    this.tensors.push(this.cleanPred);
    // 'none': the attack keeps its own best (FAB, CW: the smallest adversarial), so no tracker
    this.tracker =
      this.keepBest && bestRule !== 'none' ? new Tracker(this.objective, bestRule) : null;
    this.tracker?.observe(x0, cleanLogits);
  }

  /** Validates the arguments, runs the clean forward pass and checks the model returns logits. */
  static async create(
    fn: AttackName,
    model: Model,
    x: tf.Tensor,
    y: LabelsInput,
    options: GradientAttackOptions,
    defaults: SetupDefaults & { best?: BestRule | 'none' },
  ): Promise<AttackContext> {
    const call = checkCall(fn, model, x, y, options, defaults);
    const cleanLogits = tf.tidy(() => call.forward(x)) as tf.Tensor2D;
    try {
      await checkCleanPass(fn, x, cleanLogits, call, options.validate ?? true);
      return new AttackContext(fn, model, x, options, call, cleanLogits, defaults.best);
    } finally {
      cleanLogits.dispose();
    }
  }

  /**
   * Holds an attack's state tensor under a slot: disposes what the slot held before (never
   * the clean input), and frees it on dispose() if the attack throws.
   */
  hold<T extends tf.Tensor>(slot: Slot, t: T): T {
    const prev = this.slots.get(slot);
    if (prev && prev !== t && prev !== this.x0) prev.dispose();
    this.slots.set(slot, t);
    return t;
  }

  /** Takes a held tensor back (the caller owns it again). */
  release(slot: Slot): tf.Tensor {
    const t = this.slots.get(slot);
    if (!t) throw new Error(`${this.fn}: nothing held as '${slot}' (internal error)`);
    this.slots.delete(slot);
    return t;
  }

  /** Throws AttackAbortedError when the signal fired; yields to the event loop so it can fire. */
  async checkAbort(): Promise<void> {
    const signal = this.options.signal;
    if (!signal) {
      // Without a signal, still hand the event loop a turn every 50 ms: a long attack is all
      // synchronous tensor work between these awaits, and timers, I/O and a page's rendering
      // (or a test runner's heartbeat) would otherwise wait for the whole attack.
      const now = performance.now();
      if (now - this.lastYield < YIELD_EVERY_MS) return;
      this.lastYield = now;
      await yieldToEventLoop();
      return;
    }
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
   * reusing the source's logits when the source is the attacked model. With `keep`, also
   * hands back the attacked model's logits at x as keep.logits (the caller owns them): the
   * source's own when the source is the attacked model, else one forward pass (CW's hinge).
   * `objective` replaces the call's own for this evaluation (FAB: the gradient of -CE towards
   * one class at a time, whose differences are the logit differences' gradients).
   */
  gradient(
    x: tf.Tensor,
    keep?: { logits?: tf.Tensor2D },
    objective: Objective = this.objective,
  ): tf.Tensor {
    if (!this.source) throw new Error(`${this.fn}: no gradient source (internal error)`);
    const { gradient, logits } = this.source.evaluate(x, objective);
    this.gradientEvaluations++;
    try {
      // the attacked model's logits at x, once: the source's own when it is that model, else
      // one forward pass shared by the bookkeeping and the caller's `keep`
      const observing = x !== this.x0 && this.tracker != null;
      const own = this.sourceIsModel ? logits : undefined;
      const z = own ?? (observing || keep ? tf.tidy(() => this.logits(x)) : undefined);
      if (observing) this.observe(x, z);
      if (keep) keep.logits = z === own ? tf.clone(z!) : z!;
      else if (z !== own) z?.dispose();
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

  /** Clips to the pixel bounds. */
  clip(x: tf.Tensor): tf.Tensor {
    return tf.clipByValue(x, this.bounds[0], this.bounds[1]);
  }

  /** Starts an independent bookkeeping run (a PGD restart); `endRun` merges it. */
  beginRun(): Tracker | null {
    if (!this.tracker) return null;
    const outer = this.tracker;
    this.tracker = new Tracker(this.objective, this.bestRule as BestRule);
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
    const zeroSteps = zs ? Int32Array.from(zs as Int32Array) : null;
    const flags = gradientFlags({
      zeroSteps,
      nonFiniteSteps: nf as Int32Array | null,
      evaluations: this.gradientEvaluations,
      batch: this.batch,
      epsilon: this.epsilon,
      source: this.source?.label,
    });
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
