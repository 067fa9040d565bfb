/**
 * Helpers the packages' tests share (a private workspace package, never published). Tests
 * import it as `@fa-robust/test-utils`; vitest and tsc read the TypeScript source directly.
 */
import { mulberry32 } from '@fa-robust/internal';

/** n seeded draws of mulberry32 in [0, 1), each mapped by `f` (in float64) into a Float32Array. */
function draws(n: number, seed: number, f: (r: number) => number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(rand());
  return out;
}

/** A seeded uniform [0, 1) Float32Array (mulberry32), so tests are deterministic. */
export function seededUniform(n: number, seed: number): Float32Array {
  return draws(n, seed, (r) => r);
}

/** A seeded uniform [-1, 1) Float32Array (mulberry32), so tests are deterministic. */
export function seededValues(n: number, seed: number): Float32Array {
  return draws(n, seed, (r) => r * 2 - 1);
}
