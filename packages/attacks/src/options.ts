import { AttackInputError, describe } from './errors.js';
import { type AttackInfo, COMMON_OPTIONS } from './info.js';
import type { AttackName, Norm, Variant } from './types.js';

/** Levenshtein distance, case-insensitive (a misspelled option is usually one or two edits off). */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[t.length]!;
}

/** The known name `key` most likely misspells, if one is close enough (a third of its letters, at most 2). */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.ceil(key.length / 3));
  for (const name of known) {
    const d = editDistance(key, name);
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Refuses any key of `value` not in `known`: a misspelled option must not be ignored (the
 * default would run in its place). The error names the key (`prefix.key`), `owner`'s known
 * names and the one it most likely misspells, e.g. "bim: options.step must be one of bim's
 * options (epsilon, ...); found 'step' (did you mean 'steps'?)".
 */
export function checkOptionNames(
  fn: string,
  prefix: string,
  value: object,
  known: readonly string[],
  owner: string,
  skip: (key: string) => boolean = () => false,
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key) || skip(key)) continue;
    const guess = closest(key, known);
    throw new AttackInputError(
      fn,
      prefix ? `${prefix}.${key}` : key,
      `one of ${owner} (${known.join(', ')})`,
      `'${key}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
    );
  }
}

/**
 * The names an attack takes: epsilon, its own options (AttackInfo.options), then the other
 * common ones (COMMON_OPTIONS).
 */
export function attackOptionNames(info: AttackInfo): string[] {
  const [first, ...rest] = COMMON_OPTIONS;
  return [first!, ...info.options, ...rest];
}

/**
 * Refuses an attack's options that it does not take (see attackOptionNames). Two keys are let
 * through to the checks that explain them: `gradient` on a gradient-free attack (refused with
 * "absent: ... is gradient-free"), and `norm` on an attack without that option when it names
 * the attack's one norm (any other norm is refused here: it would not be the norm attacked).
 * Options that are not an object are left to checkCall's own error.
 */
export function checkAttackOptions(fn: AttackName, options: unknown, info: AttackInfo): void {
  if (options == null || typeof options !== 'object') return;
  const takesNorm = info.options.includes('norm');
  const norm = (options as { norm?: unknown }).norm;
  if (!takesNorm && norm !== undefined && !info.norms.includes(norm as Norm)) {
    throw new AttackInputError(
      fn,
      'options.norm',
      `${info.norms.map((n) => `'${n}'`).join(' or ')} (${fn} attacks in the ${info.norms.join(', ')} norm only)`,
      describe(norm),
    );
  }
  checkOptionNames(
    fn,
    'options',
    options,
    attackOptionNames(info),
    `${fn}'s options`,
    (key) => (key === 'gradient' && info.gradientFree) || (key === 'norm' && !takesNorm),
  );
}

export function checkVariant(fn: AttackName, variant: unknown): Variant {
  if (variant === undefined) return 'standard';
  if (variant === 'standard' || variant === 'paper') return variant;
  throw new AttackInputError(fn, 'options.variant', "'standard' or 'paper'", describe(variant));
}

/** The `norm` option: 'linf' (the default) or 'l2'. */
export function checkNorm(fn: string, norm: unknown): Norm {
  if (norm == null) return 'linf';
  if (norm === 'linf' || norm === 'l2') return norm;
  throw new AttackInputError(fn, 'options.norm', "'linf' or 'l2'", describe(norm));
}

/** A positive integer option, or its default. */
export function positiveInt(
  fn: AttackName,
  field: string,
  value: unknown,
  fallback: number,
  min = 1,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new AttackInputError(fn, `options.${field}`, `an integer >= ${min}`, describe(value));
  }
  return value;
}

/** A finite number option (>= min), or its default. */
export function finiteNumber(
  fn: AttackName,
  field: string,
  value: unknown,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new AttackInputError(
      fn,
      `options.${field}`,
      `a finite number >= ${min}`,
      describe(value),
    );
  }
  return value;
}
