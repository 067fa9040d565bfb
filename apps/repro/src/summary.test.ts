import { describe, expect, it } from 'vitest';
import { spearman } from './summary.js';

/** Pearson's correlation, in float64, of two lists: the reference for ranks. */
function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

describe('spearman', () => {
  it('is 1 for any increasing relation and -1 for a decreasing one', () => {
    expect(spearman([1, 2, 3, 4], [10, 200, 3000, 40000])).toBeCloseTo(1, 12);
    expect(spearman([90, 45, 10], [0.9, 0.5, 0.6])).toBeCloseTo(0.5, 12); // ranks 3,2,1 vs 3,1,2
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it("is Pearson's correlation of the ranks, ties given their average rank", () => {
    // a: 5, 1, 3, 3 -> ranks 4, 1, 2.5, 2.5; b: 2, 7, 7, 1 -> ranks 2, 3.5, 3.5, 1
    expect(spearman([5, 1, 3, 3], [2, 7, 7, 1])).toBeCloseTo(
      pearson([4, 1, 2.5, 2.5], [2, 3.5, 3.5, 1]),
      12,
    );
  });

  it('says nothing for fewer than 3 values or a constant list', () => {
    expect(spearman([1, 2], [2, 1])).toBeNull();
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(spearman([1, 2, 3], [1, 2])).toBeNull();
  });
});
