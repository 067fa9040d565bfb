import { mulberry32 } from '@fa-robust/internal';

/**
 * A small seeded PRNG (mulberry32, from @fa-robust/internal). Every random choice an attack
 * makes (random starts, SPSA directions, Square Attack windows) comes from one of these, so a
 * seed fixes the result. Math.random is never used.
 */
export class Random {
  /** mulberry32's next uniform in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    // Mix the seed so that nearby seeds (0, 1, 2...) start far apart.
    this.next = mulberry32(hash32(Math.floor(seed) >>> 0));
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  /** A 31-bit seed for tfjs random ops (tf.randomUniform takes a number seed). */
  seed(): number {
    return Math.floor(this.next() * 2147483647);
  }
}

/** A 32-bit integer hash (murmur3 finaliser), used to derive independent seeds. */
export function hash32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seed derived from a base seed and a list of indices (batch, epsilon...). */
export function deriveSeed(base: number, ...parts: number[]): number {
  let h = hash32(Math.floor(base) >>> 0);
  for (const p of parts) h = hash32((h ^ (Math.floor(p) >>> 0)) + 0x9e3779b9);
  return h & 0x7fffffff;
}
