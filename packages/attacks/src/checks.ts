import { AttackInputError, describe } from './errors.js';
import { findAttackInfo } from './registry.js';
import type { EpsilonResult, RunResult } from './runner-types.js';
import type { SanityFlag } from './types.js';

/** Whether a run's attack needs no gradient, as the attack describes itself. */
const gradientFree = (attack: string) => findAttackInfo(attack)?.gradientFree ?? false;

export interface MaskingCheckOptions {
  /** Differences in success rate up to this are not flagged. Default 0.01. */
  tolerance?: number;
}

function sameData(a: RunResult, b: RunResult): boolean {
  if (a.count !== b.count || a.labels.length !== b.labels.length) return false;
  for (let i = 0; i < a.labels.length; i++) if (a.labels[i] !== b.labels[i]) return false;
  return true;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/**
 * Cross-run evidence of gradient masking, over runs of the same model on the same examples
 * (compared at the epsilons they share, untargeted runs only):
 *
 * - 'gradient-free-stronger': a gradient-free attack (spsa, square, even random noise) succeeds
 *   more often than a gradient attack: the gradient is a poor guide, so gradient-attack
 *   robustness is not robustness.
 * - 'other-gradient-stronger': a gradient attack through another source (a true-gradient twin,
 *   a surrogate) succeeds more often than the same kind of attack through the model's own
 *   backward path: the own gradient is the weak link (the feedback-alignment question).
 *
 * `count` is the number of examples the stronger run fooled and the weaker did not.
 */
export function maskingFlags(
  runs: readonly RunResult[],
  options: MaskingCheckOptions = {},
): SanityFlag[] {
  if (!Array.isArray(runs))
    throw new AttackInputError(
      'maskingFlags',
      'runs',
      'an array of runAttack results',
      describe(runs),
    );
  const tolerance = options.tolerance ?? 0.01;
  const flags: SanityFlag[] = [];
  const untargeted = runs.filter((r) => !r.targeted);
  for (const strong of untargeted) {
    for (const weak of untargeted) {
      if (strong === weak || !sameData(strong, weak)) continue;
      const strongFree = gradientFree(strong.attack);
      const weakFree = gradientFree(weak.attack);
      let code: SanityFlag['code'] | null = null;
      if (strongFree && !weakFree) code = 'gradient-free-stronger';
      else if (
        !strongFree &&
        !weakFree &&
        weak.gradientKind === 'own' &&
        strong.gradientKind !== 'own' &&
        strong.gradientKind != null
      ) {
        code = 'other-gradient-stronger';
      }
      if (!code) continue;
      for (const se of strong.perEpsilon) {
        const we = weak.perEpsilon.find((w: EpsilonResult) => w.epsilon === se.epsilon);
        if (!we || se.successRate <= we.successRate + tolerance) continue;
        let count = 0;
        for (let i = 0; i < se.success.length; i++) if (se.success[i] && !we.success[i]) count++;
        const strongName = strongFree
          ? strong.attack
          : `${strong.attack} via '${strong.gradientSource}'`;
        const weakName = `${weak.attack} via '${weak.gradientSource}'`;
        flags.push({
          code,
          epsilon: se.epsilon,
          count,
          message:
            `at epsilon ${se.epsilon}, ${strongName} succeeds on ${pct(se.successRate)} of examples and ${weakName} on ${pct(we.successRate)} ` +
            `(${count} examples fooled only by the former): ` +
            (code === 'gradient-free-stronger'
              ? 'a gradient-free attack beating a gradient attack is the signature of gradient masking.'
              : "the model's own backward path is a worse guide than another gradient: robustness to it is not robustness of the function."),
        });
      }
    }
  }
  return flags;
}

/** Flags a success rate that falls (by more than tolerance) from a smaller to a larger epsilon. */
export function monotonicityFlags(
  perEpsilon: readonly EpsilonResult[],
  tolerance: number,
  count: number,
): SanityFlag[] {
  const sorted = [...perEpsilon].sort((a, b) => a.epsilon - b.epsilon);
  const flags: SanityFlag[] = [];
  let best = sorted[0];
  for (const cur of sorted.slice(1)) {
    if (!best) break;
    if (cur.epsilon > best.epsilon && cur.successRate < best.successRate - tolerance) {
      const lost = Math.round((best.successRate - cur.successRate) * count);
      flags.push({
        code: 'success-not-monotone',
        epsilon: cur.epsilon,
        count: lost,
        message:
          `success rate ${(cur.successRate * 100).toFixed(1)}% at epsilon ${cur.epsilon} is below ${(best.successRate * 100).toFixed(1)}% ` +
          `at the smaller epsilon ${best.epsilon}: a larger budget contains every smaller one, so the attack is not finding what exists ` +
          '(too few steps, a step size tied to epsilon, or a misleading gradient).',
      });
    }
    if (cur.successRate > best.successRate) best = cur;
  }
  return flags;
}
