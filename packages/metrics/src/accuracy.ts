import { MetricsInputError } from './errors.js';
import { type ClassInput, type MaskInput, sameLength, toClassIndices, toMask } from './input.js';
import { type IntervalOptions, type Proportion, proportion } from './stats.js';

/**
 * 1 where the predicted class equals the label, else 0. Predictions and labels may each be
 * class indices or score rows (logits, probabilities, one-hot), as arrays or tensors.
 */
export function correctMask(predictions: ClassInput, labels: ClassInput): Uint8Array {
  const p = toClassIndices('correctMask', 'predictions', predictions);
  const y = toClassIndices('correctMask', 'labels', labels);
  sameLength('correctMask', 'predictions', p.length, 'labels', y.length);
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = p[i] === y[i] ? 1 : 0;
  return out;
}

function countOnes(mask: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < mask.length; i++) c += mask[i]!;
  return c;
}

/** Clean accuracy: the fraction of examples classified correctly, with its Wilson interval. */
export function accuracy(
  predictions: ClassInput,
  labels: ClassInput,
  options: IntervalOptions = {},
): Proportion {
  const m = correctMask(predictions, labels);
  return proportion(countOnes(m), m.length, options);
}

/**
 * Adversarial accuracy as the paper reports it: accuracy on the adversarial versions of ALL
 * test examples, including those the model already got wrong before the attack. Same
 * computation as `accuracy`, named for what it means.
 */
export function adversarialAccuracy(
  adversarialPredictions: ClassInput,
  labels: ClassInput,
  options: IntervalOptions = {},
): Proportion {
  return accuracy(adversarialPredictions, labels, options);
}

/** Accuracy from a per-example correctness mask. */
export function maskAccuracy(correct: MaskInput, options: IntervalOptions = {}): Proportion {
  const m = toMask('maskAccuracy', 'correct', correct);
  return proportion(countOnes(m), m.length, options);
}

export interface RobustAccuracy extends Proportion {
  /** 1 where the example is correct under every attack given (the worst case per example). */
  robust: Uint8Array;
  /** Per attack: how many examples it made wrong (an example may be counted by several). */
  brokenBy: Record<string, number>;
  /** Per attack: how many examples only it made wrong; what the ensemble loses without it. */
  onlyBrokenBy: Record<string, number>;
}

/**
 * Robust accuracy: an example counts only if it is classified correctly under EVERY attack
 * (worst case per example over attacks), so it is at most the lowest single-attack accuracy.
 * Pass the clean correctness too (as an entry, e.g. `clean`) when an example wrong before any
 * attack must not count as robust; per-attack adversarial correctness already implies that for
 * attacks that keep wrong examples wrong.
 *
 * @param correct per attack, a correctness mask over the same examples: an object
 *   `{ fgsm: mask, pgd: mask }` or a list (named '0', '1', ...).
 */
export function robustAccuracy(
  correct: Readonly<Record<string, MaskInput>> | readonly MaskInput[],
  options: IntervalOptions = {},
): RobustAccuracy {
  const entries: [string, MaskInput][] = Array.isArray(correct)
    ? correct.map((m, i) => [String(i), m])
    : Object.entries(correct as Record<string, MaskInput>);
  if (entries.length === 0) {
    throw new MetricsInputError('robustAccuracy', 'correct', 'at least one attack', 'none');
  }
  const masks = entries.map(
    ([name, m]) => [name, toMask('robustAccuracy', `correct.${name}`, m)] as const,
  );
  const n = masks[0]![1].length;
  for (const [name, m] of masks)
    sameLength('robustAccuracy', `correct.${masks[0]![0]}`, n, `correct.${name}`, m.length);
  const robust = new Uint8Array(n).fill(1);
  const brokenBy: Record<string, number> = {};
  const onlyBrokenBy: Record<string, number> = {};
  for (const [name] of masks) {
    brokenBy[name] = 0;
    onlyBrokenBy[name] = 0;
  }
  for (let i = 0; i < n; i++) {
    let wrong = 0;
    let last = '';
    for (const [name, m] of masks) {
      if (m[i] === 0) {
        robust[i] = 0;
        brokenBy[name]!++;
        wrong++;
        last = name;
      }
    }
    if (wrong === 1) onlyBrokenBy[last]!++;
  }
  return { ...proportion(countOnes(robust), n, options), robust, brokenBy, onlyBrokenBy };
}

/**
 * Attack success rate on the examples that were correct before the attack: among those, the
 * fraction the attack made wrong. `n` is the number of initially correct examples; examples
 * already wrong are left out (they are not the attack's doing).
 */
export function successRate(
  cleanCorrect: MaskInput,
  adversarialCorrect: MaskInput,
  options: IntervalOptions = {},
): Proportion {
  const clean = toMask('successRate', 'cleanCorrect', cleanCorrect);
  const adv = toMask('successRate', 'adversarialCorrect', adversarialCorrect);
  sameLength('successRate', 'cleanCorrect', clean.length, 'adversarialCorrect', adv.length);
  let n = 0;
  let fooled = 0;
  for (let i = 0; i < clean.length; i++) {
    if (clean[i] === 1) {
      n++;
      if (adv[i] === 0) fooled++;
    }
  }
  return proportion(fooled, n, options);
}
