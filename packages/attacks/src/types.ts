/**
 * The public types every attack shares: options, results, sanity flags. No code.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { GradientSource } from './gradient.js';
import type { LabelsInput } from './model.js';
import type { LossName } from './objective.js';

export type Norm = 'linf' | 'l2';
export type Variant = 'standard' | 'paper';

import type { AttackName } from './registry.js';

export type { AttackName };

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
