import { describe, expect, it } from 'vitest';
import { concatTyped, mulberry32, shuffleInPlace } from './index.js';

describe('mulberry32', () => {
  it('matches the reference sequence for seed 0', () => {
    // Reference values computed independently, in float64, from the published C source
    // (uint32_t z = (x += 0x6D2B79F5); z = (z ^ z >> 15) * (z | 1); ...).
    const ref = referenceMulberry(0, 3);
    const r = mulberry32(0);
    expect([r(), r(), r()]).toEqual(ref);
  });
  it('is deterministic per seed and differs across seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe('shuffleInPlace', () => {
  it('permutes and every position is reachable', () => {
    const seen = new Set<string>();
    for (let s = 0; s < 200; s++) {
      const a = shuffleInPlace(new Int32Array([0, 1, 2]), mulberry32(s));
      expect([...a].sort()).toEqual([0, 1, 2]);
      seen.add(a.join(','));
    }
    expect(seen.size).toBe(6);
  });
});

describe('concatTyped', () => {
  it('joins parts in order and keeps the type', () => {
    const out = concatTyped([
      new Float32Array([1, 2]),
      new Float32Array([]),
      new Float32Array([3]),
    ]);
    expect(out).toBeInstanceOf(Float32Array);
    expect([...out]).toEqual([1, 2, 3]);
  });
  it('needs `make` when there are no parts', () => {
    expect(() => concatTyped([])).toThrow(/no parts/);
    expect(concatTyped([], (n) => new Uint8Array(n)).length).toBe(0);
  });
});

/** mulberry32 in BigInt arithmetic (exact 32-bit wrap-around), as an independent reference. */
function referenceMulberry(seed: number, n: number): number[] {
  const M = 0xffffffffn;
  let x = BigInt(seed >>> 0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x + 0x6d2b79f5n) & M;
    let z = x;
    z = ((z ^ (z >> 15n)) * (z | 1n)) & M;
    z = (z ^ (z + (((z ^ (z >> 7n)) * (z | 61n)) & M))) & M;
    out.push(Number(z ^ (z >> 14n)) / 4294967296);
  }
  return out;
}
