/**
 * Helpers the packages' tests share (a private workspace package, never published). Tests
 * import it as `@fa-robust/test-utils`; vitest and tsc read the TypeScript source directly.
 */

/** n seeded draws of mulberry32 in [0, 1), each mapped by `f` (in float64) into a Float32Array. */
function mulberry32(n: number, seed: number, f: (r: number) => number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = f(((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** A seeded uniform [0, 1) Float32Array (mulberry32), so tests are deterministic. */
export function seededUniform(n: number, seed: number): Float32Array {
  return mulberry32(n, seed, (r) => r);
}

/** A seeded uniform [-1, 1) Float32Array (mulberry32), so tests are deterministic. */
export function seededValues(n: number, seed: number): Float32Array {
  return mulberry32(n, seed, (r) => r * 2 - 1);
}
