/**
 * The types of the batched runner: its data, options, progress reports and results (plain
 * typed arrays, no tensors).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { GradientSource } from './gradient.js';
import type { LabelsInput, Model } from './model.js';
import type { LossName } from './objective.js';
import type { AttackName, AttackResult, Norm, SanityFlag, Variant } from './types.js';

/** Any attack with the signature of the built-in ones. */
export type AttackFunction = (
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  // biome-ignore lint/suspicious/noExplicitAny: each attack has its own options type
  options: any,
) => Promise<AttackResult>;

/** A whole dataset in memory: `x` holds shape[0] examples of shape shape.slice(1), row-major (NHWC for images). */
export interface DatasetArrays {
  x: Float32Array;
  y: ArrayLike<number>;
  /** [examples, ...exampleShape], e.g. [10000, 28, 28, 1]. */
  shape: readonly number[];
}

/** The same, named as @fa-robust/datasets names it ({ images, labels, shape }). */
export interface DatasetImages {
  images: Float32Array;
  labels: ArrayLike<number>;
  shape: readonly number[];
  /** Class names (a @fa-robust/datasets Split has them); not used. */
  classes?: readonly string[];
}

/** One batch from an iterator: a tensor (not disposed by the runner) or a Float32Array with its shape. */
export interface DataBatch {
  x: Float32Array | tf.Tensor;
  y: ArrayLike<number> | tf.Tensor;
  /** [batch, ...exampleShape]; required when x is a Float32Array. */
  shape?: readonly number[];
  /** Target labels for a targeted attack. */
  target?: ArrayLike<number>;
}

export type RunData =
  | DatasetArrays
  | DatasetImages
  | Iterable<DataBatch>
  | AsyncIterable<DataBatch>;

export interface RunProgress {
  /** Attack calls finished (one per batch and epsilon). */
  calls: number;
  /** Examples whose every epsilon is done. */
  examplesDone: number;
  /** Examples in the dataset; undefined for an iterator. */
  total: number | undefined;
  /** The epsilon just finished. */
  epsilon: number;
  batchIndex: number;
  /** Fraction of the whole run done, in [0, 1]; undefined for an iterator. */
  fraction: number | undefined;
  elapsedMs: number;
}

/** What onBatch receives after each attack call: the batch's results at one epsilon. */
export interface BatchReport {
  batchIndex: number;
  /** Index of the batch's first example in the run. */
  offset: number;
  epsilon: number;
  epsilonIndex: number;
  result: Omit<AttackResult, 'adversarial'>;
  /** The adversarial batch, [batch * prod(exampleShape)], same layout as the input. */
  adversarial: Float32Array;
  exampleShape: readonly number[];
}

export interface RunAttackOptions {
  /** The attacked model: a tf.LayersModel or a function returning logits. */
  model: Model;
  /** A built-in attack's name, or an attack function. */
  attack: AttackName | AttackFunction;
  /** The attack's own options (steps, alpha, variant, loss, bounds...), the same for every epsilon. */
  // biome-ignore lint/suspicious/noExplicitAny: the options of the chosen attack
  options?: Record<string, any>;
  data: RunData;
  /** The budgets to attack at, e.g. [0, 0.1, ..., 1]. Every example is attacked at every one. */
  epsilons: readonly number[];
  /** Examples per attack call (bounds memory). Default 100. Iterators' batches are used as they come. */
  batchSize?: number;
  /** The gradient source of gradient attacks. Default: the model's own (ownGradient(model)). */
  gradient?: GradientSource;
  /** Target labels (one per example) for a targeted attack over DatasetArrays; iterators give batch.target. */
  target?: ArrayLike<number>;
  /** Keep every adversarial example in the result (memory: examples x features x epsilons floats). Default false. */
  keepAdversarial?: boolean;
  /** Called after every attack call with that batch's results and adversarial images (e.g. to stream them to disk). */
  onBatch?: (report: BatchReport) => void | Promise<void>;
  onProgress?: (progress: RunProgress) => void;
  /** Aborts between steps and batches with an AttackAbortedError (name 'AbortError'). */
  signal?: AbortSignal;
  /** Base seed; each (batch, epsilon) call gets a seed derived from it. Default 0. */
  seed?: number;
  /** A success rate that falls by more than this between a smaller and a larger epsilon is flagged. Default 0.01. */
  tolerance?: number;
}

/** One epsilon's per-example results over the whole run (arrays of length `count`). */
export interface EpsilonResult {
  epsilon: number;
  /** 1 where the attack succeeded (untargeted: misclassified; targeted: classified as the target), re-predicted on the adversarial. */
  success: Uint8Array;
  /** 1 where the prediction on the adversarial equals the true label. */
  correctAfter: Uint8Array;
  predictions: Int32Array;
  /** Perturbation reached, per example. */
  linf: Float32Array;
  l2: Float32Array;
  /** Per example, gradient evaluations that returned an exactly-zero gradient (null for gradient-free attacks). */
  zeroGradientSteps: Int32Array | null;
  /** Mean of success over all examples. */
  successRate: number;
  /** Mean of correctAfter over all examples. */
  robustAccuracy: number;
  /** With keepAdversarial: [count * prod(exampleShape)], the input's layout. */
  adversarial?: Float32Array;
}

/** What runAttack returns: plain typed arrays, no tensors. */
export interface RunResult {
  attack: string;
  variant: Variant | null;
  norm: Norm | null;
  loss: LossName | null;
  targeted: boolean;
  /** The gradient source's label (null for gradient-free attacks) and kind. */
  gradientSource: string | null;
  gradientKind: GradientSource['kind'] | null;
  /** The attack's options as given (without epsilon). */
  options: Record<string, unknown>;
  epsilons: number[];
  /** Examples attacked. */
  count: number;
  exampleShape: number[];
  labels: Int32Array;
  target: Int32Array | null;
  cleanPredictions: Int32Array;
  /** 1 where the clean prediction equals the label. */
  cleanCorrect: Uint8Array;
  cleanAccuracy: number;
  /** In the order of `epsilons`. */
  perEpsilon: EpsilonResult[];
  /** Evidence of evaluation problems seen in this run. */
  flags: SanityFlag[];
  elapsedMs: number;
}

/** A RunResult with every typed array as a plain number array, for JSON.stringify. */
export type RunResultJSON = Omit<
  RunResult,
  'labels' | 'target' | 'cleanPredictions' | 'cleanCorrect' | 'perEpsilon'
> & {
  labels: number[];
  target: number[] | null;
  cleanPredictions: number[];
  cleanCorrect: number[];
  perEpsilon: (Omit<
    EpsilonResult,
    'success' | 'correctAfter' | 'predictions' | 'linf' | 'l2' | 'zeroGradientSteps' | 'adversarial'
  > & {
    success: number[];
    correctAfter: number[];
    predictions: number[];
    linf: number[];
    l2: number[];
    zeroGradientSteps: number[] | null;
    adversarial?: number[];
  })[];
};
