/**
 * The sanity flags a single gradient attack call raises from its own numbers: examples whose
 * input gradient was exactly zero, or had NaN or infinite entries, at some step.
 */
import type { SanityFlag } from './types.js';

export interface GradientCounts {
  /** Per example, the gradient evaluations that returned an exactly-zero gradient. */
  zeroSteps: Int32Array | null;
  /** Per example, the gradient evaluations with NaN or infinite entries. */
  nonFiniteSteps: Int32Array | null;
  /** Gradient evaluations per example. */
  evaluations: number;
  batch: number;
  epsilon: number;
  /** The gradient source's label. */
  source: string | undefined;
}

/** 'zero-gradient' and 'non-finite-gradient' flags of one attack call (none when all is well). */
export function gradientFlags(c: GradientCounts): SanityFlag[] {
  const flags: SanityFlag[] = [];
  if (c.zeroSteps && c.evaluations > 0) {
    const any = c.zeroSteps.filter((v) => v > 0).length;
    const all = c.zeroSteps.filter((v) => v >= c.evaluations).length;
    if (any > 0) {
      flags.push({
        code: 'zero-gradient',
        count: any,
        epsilon: c.epsilon,
        message:
          `${any} of ${c.batch} examples had an exactly-zero input gradient at one or more steps ` +
          `(${all} at every step) from source '${c.source}': the attack could not move them there. ` +
          `Gradient masking or a saturated loss; try loss: 'margin', another gradient source, or spsa/square.`,
      });
    }
  }
  if (c.nonFiniteSteps) {
    const count = c.nonFiniteSteps.filter((v) => v > 0).length;
    if (count > 0) {
      flags.push({
        code: 'non-finite-gradient',
        count,
        epsilon: c.epsilon,
        message: `${count} of ${c.batch} examples had NaN or infinite input-gradient entries (set to 0 for the step) from source '${c.source}'.`,
      });
    }
  }
  return flags;
}
