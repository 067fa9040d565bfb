import type { AttackOptions, Norm } from './types.js';

/** An option an attack reads beyond the ones every attack takes (epsilon, bounds, loss, ...). */
export type AttackOptionName =
  | 'gradient'
  | 'variant'
  | 'clipToBounds'
  | 'steps'
  | 'alpha'
  | 'decay'
  | 'norm'
  | 'randomStart'
  | 'restarts'
  | 'samples'
  | 'samplesPerBatch'
  | 'delta'
  | 'learningRate'
  | 'pInit'
  | 'binarySearchSteps'
  | 'initialConst'
  | 'confidence'
  | 'abortEarly'
  | 'targetClasses'
  | 'alphaMax'
  | 'eta'
  | 'beta'
  | 'rho'
  | 'repeats';

/** What one attack costs per example, in model evaluations. */
export interface AttackCost {
  /** Forward-and-backward evaluations (one input gradient each). */
  gradients: number;
  /** Forward-only evaluations (queries). */
  forwards: number;
}

/** The options that set an attack's cost, as its own options take them. */
export interface AttackCostOptions {
  steps?: number;
  restarts?: number;
  samples?: number;
  /** CW: searches over its constant c (each of up to `steps` gradient steps). */
  binarySearchSteps?: number;
  /** FAB-T, APGD-T: targeted runs, one per most likely wrong class. */
  targetClasses?: number;
  /** Noise: independent random draws per example (one query each). */
  repeats?: number;
  /** The model's classes (FAB untargeted: one gradient per class per step). Default 10. */
  classes?: number;
}

/**
 * What an attack is, read by callers that treat attacks generically (the batched runner, an
 * evaluation plan, a progress estimate) instead of special-casing names.
 */
export interface AttackInfo {
  readonly name: string;
  /** The paper, as the attack's doc comment names it. */
  readonly paper: string;
  /** The norms it attacks in. */
  readonly norms: readonly Norm[];
  /** Never asks for a gradient: needs only the model's outputs (no gradient source taken). */
  readonly gradientFree: boolean;
  /**
   * Bumped when the attack's outputs change for the same options and seed (a fix, not a new
   * option), so that stored results of the earlier version are not taken for this one's.
   * Absent: the first version.
   */
  readonly revision?: number;
  /**
   * The attack-specific options it reads. With the common ones (COMMON_OPTIONS) they are all
   * it takes: any other option is refused (an AttackInputError naming it), never ignored.
   */
  readonly options: readonly AttackOptionName[];
  /**
   * Model evaluations per example with these options (defaults where unset), not counting the
   * clean forward pass every attack makes first. An upper bound where the attack stops early
   * on fooled examples.
   */
  cost(options?: AttackCostOptions): AttackCost;
}

/** The options every attack that steps along a gradient sign reads. */
export const GRADIENT_STEP_OPTIONS: readonly AttackOptionName[] = [
  'gradient',
  'variant',
  'clipToBounds',
];

/** Every key of AttackOptions, once: a key added there without a line here fails to compile. */
const COMMON: Record<keyof AttackOptions, true> = {
  epsilon: true,
  bounds: true,
  loss: true,
  target: true,
  keepBest: true,
  seed: true,
  signal: true,
  validate: true,
};

/**
 * The options every attack takes (AttackOptions, read by the attack context and the input
 * validation), epsilon first. An attack takes these, its AttackInfo.options, a `gradient`
 * (refused with its own message by the gradient-free attacks) and a `norm` equal to its one
 * norm; anything else is refused.
 */
export const COMMON_OPTIONS: readonly (keyof AttackOptions)[] = Object.freeze(
  Object.keys(COMMON) as (keyof AttackOptions)[],
);
