import { AttackInputError, describe } from './errors.js';
import type { AttackName, Norm, Variant } from './types.js';

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
