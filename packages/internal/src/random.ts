/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): small, fast, well mixed, and the same
 * sequence for the same seed on every platform. Returns a function giving uniforms in [0, 1).
 * The seed is taken modulo 2^32 (as `seed >>> 0`).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writable, indexable numbers: a typed array or a number[]. */
type Indexable = { [i: number]: number; readonly length: number };

/**
 * Fisher-Yates (Durstenfeld) shuffle of `a` in place, drawing from `rand` (uniform [0, 1)):
 * every permutation equally likely. Returns `a`.
 */
export function shuffleInPlace<T extends Indexable>(a: T, rand: () => number): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}
