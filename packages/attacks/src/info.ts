import type { AttackName, Norm } from './types.js';

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
  | 'pInit';

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
}

/**
 * What an attack is, read by callers that treat attacks generically (the batched runner, an
 * evaluation plan, a progress estimate) instead of special-casing names.
 */
export interface AttackInfo {
  readonly name: AttackName;
  /** The paper, as the attack's doc comment names it. */
  readonly paper: string;
  /** The norms it attacks in. */
  readonly norms: readonly Norm[];
  /** Never asks for a gradient: needs only the model's outputs (no gradient source taken). */
  readonly gradientFree: boolean;
  /** The attack-specific options it reads (all others but the common ones are ignored). */
  readonly options: readonly AttackOptionName[];
  /**
   * Model evaluations per example with these options (defaults where unset), not counting the
   * clean forward pass every attack makes first. An upper bound where the attack stops early
   * on fooled examples.
   */
  cost(options?: AttackCostOptions): AttackCost;
}

const GRADIENT_STEP: readonly AttackOptionName[] = ['gradient', 'variant', 'clipToBounds'];

/** Every built-in attack, described. */
export const ATTACK_INFO: Readonly<Record<AttackName, AttackInfo>> = {
  fgsm: {
    name: 'fgsm',
    paper: 'Goodfellow et al., "Explaining and Harnessing Adversarial Examples", ICLR 2015',
    norms: ['linf'],
    gradientFree: false,
    options: GRADIENT_STEP,
    cost: () => ({ gradients: 1, forwards: 0 }),
  },
  bim: {
    name: 'bim',
    paper: 'Kurakin et al., "Adversarial examples in the physical world", ICLR workshop 2017',
    norms: ['linf'],
    gradientFree: false,
    options: [...GRADIENT_STEP, 'steps', 'alpha'],
    cost: (o) => ({ gradients: o?.steps ?? 10, forwards: 0 }),
  },
  mifgsm: {
    name: 'mifgsm',
    paper: 'Dong et al., "Boosting Adversarial Attacks with Momentum", CVPR 2018',
    norms: ['linf'],
    gradientFree: false,
    options: [...GRADIENT_STEP, 'steps', 'alpha', 'decay'],
    cost: (o) => ({ gradients: o?.steps ?? 10, forwards: 0 }),
  },
  pgd: {
    name: 'pgd',
    paper:
      'Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018',
    norms: ['linf', 'l2'],
    gradientFree: false,
    options: ['gradient', 'norm', 'steps', 'alpha', 'randomStart', 'restarts'],
    cost: (o) => ({ gradients: (o?.steps ?? 20) * (o?.restarts ?? 1), forwards: 0 }),
  },
  spsa: {
    name: 'spsa',
    paper:
      'Uesato et al., "Adversarial Risk and the Dangers of Evaluating Against Weak Attacks", ICML 2018',
    norms: ['linf'],
    gradientFree: true,
    options: ['steps', 'samples', 'samplesPerBatch', 'delta', 'learningRate', 'randomStart'],
    cost: (o) => ({ gradients: 0, forwards: 2 * (o?.samples ?? 128) * (o?.steps ?? 100) }),
  },
  square: {
    name: 'square',
    paper:
      'Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial attack via random search", ECCV 2020',
    norms: ['linf'],
    gradientFree: true,
    options: ['steps', 'pInit'],
    cost: (o) => ({ gradients: 0, forwards: 1 + (o?.steps ?? 1000) }),
  },
};

/** The description of a built-in attack; a clear error for any other name. */
export function attackInfo(name: string): AttackInfo {
  const info = (ATTACK_INFO as Record<string, AttackInfo | undefined>)[name];
  if (!info) {
    throw new RangeError(
      `attackInfo: expected one of ${Object.keys(ATTACK_INFO).join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
  return info;
}
