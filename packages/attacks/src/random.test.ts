import { describe, expect, it } from 'vitest';
import { deriveSeed, hash32, Random } from './random.js';

/** The mulberry32 step Random inlined before it drew from @fa-robust/internal, as reference. */
function inlined(seed: number): () => number {
  let state = hash32(Math.floor(seed) >>> 0) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Random', () => {
  it('draws the same numbers as the mulberry32 it inlined, for any seed', () => {
    for (const seed of [0, 1, 2, 7.9, -3, 2 ** 31 + 5, 123456789]) {
      const r = new Random(seed);
      const ref = inlined(seed);
      for (let i = 0; i < 200; i++) expect(r.next()).toBe(ref());
    }
  });

  it('int and seed are derived from next: in range, and the same for the same seed', () => {
    const a = new Random(5);
    const b = new Random(5);
    const ref = inlined(5);
    for (let i = 0; i < 100; i++) {
      const n = a.int(7);
      expect(n).toBe(Math.min(6, Math.floor(ref() * 7)));
      expect(b.int(7)).toBe(n);
      const s = a.seed();
      expect(s).toBe(Math.floor(ref() * 2147483647));
      expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
      b.seed();
    }
    expect(new Random(0).next()).not.toBe(new Random(1).next());
  });

  it('deriveSeed is a 31-bit function of its parts', () => {
    expect(deriveSeed(0, 1, 2)).toBe(deriveSeed(0, 1, 2));
    expect(deriveSeed(0, 1, 2)).not.toBe(deriveSeed(0, 2, 1));
    expect(deriveSeed(3, 4) >>> 31).toBe(0);
  });
});
