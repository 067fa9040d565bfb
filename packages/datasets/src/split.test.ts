import { describe, expect, it } from 'vitest';
import { classCounts, mulberry32, permutation, shuffle, subset, take } from './split.js';
import type { Split } from './types.js';

/** n 2x2x1 images; image i is filled with i/255 and labelled i % 10. */
function numbered(n: number): Split {
  const images = new Float32Array(n * 4);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    images.fill(i / 255, i * 4, (i + 1) * 4);
    labels[i] = i % 10;
  }
  return {
    images,
    labels,
    shape: [n, 2, 2, 1],
    classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
  };
}

/** Which original image each image of `s` is (from its pixel value). */
const ids = (s: Split) =>
  Array.from({ length: s.shape[0] }, (_, k) => Math.round(s.images[k * 4]! * 255));

describe('permutation / mulberry32', () => {
  it('is a permutation, reproducible from its seed, different for another seed', () => {
    const p = permutation(1000, 7);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 7)).toEqual(p);
    expect(permutation(1000, 8)).not.toEqual(p);
    expect(Array.from(permutation(0, 1))).toEqual([]);
    expect(() => permutation(3, 0.5)).toThrow(RangeError);
  });

  it('draws uniform values: every position is equally likely to receive each element', () => {
    // Over 4000 shuffles of 4 items, item 0 lands at each position ~1000 times.
    const where = [0, 0, 0, 0];
    for (let seed = 0; seed < 4000; seed++) where[permutation(4, seed).indexOf(0)]! += 1;
    for (const w of where) expect(Math.abs(w - 1000)).toBeLessThan(120); // > 4 sigma
    const r = mulberry32(1);
    let sum = 0;
    for (let i = 0; i < 10000; i++) sum += r();
    expect(Math.abs(sum / 10000 - 0.5)).toBeLessThan(0.015);
  });
});

describe('shuffle / subset / take', () => {
  it('shuffle keeps every image with its own label, in a seeded order', () => {
    const s = numbered(50);
    const a = shuffle(s, 3);
    const order = ids(a);
    expect([...order].sort((x, y) => x - y)).toEqual(ids(s));
    expect(order).not.toEqual(ids(s));
    for (const [k, id] of order.entries()) expect(a.labels[k]).toBe(id % 10);
    expect(ids(shuffle(s, 3))).toEqual(order);
    expect(a.images).not.toBe(s.images);
  });

  it('subset copies the chosen images in order, repeats allowed', () => {
    const s = numbered(10);
    const sub = subset(s, [9, 2, 2]);
    expect(ids(sub)).toEqual([9, 2, 2]);
    expect(Array.from(sub.labels)).toEqual([9, 2, 2]);
    expect(sub.shape).toEqual([3, 2, 2, 1]);
    sub.images[0] = 7;
    expect(s.images[36]).toBe(Math.fround(9 / 255));
    expect(() => subset(s, [10])).toThrow(/index 10 at position 0 is outside the split \(0\.\.9\)/);
  });

  it('take is a view of the first n images (or n from start), sharing memory', () => {
    const s = numbered(10);
    const first = take(s, 3);
    expect(ids(first)).toEqual([0, 1, 2]);
    expect(ids(take(s, 2, 5))).toEqual([5, 6]);
    first.images[0] = 0.5;
    expect(s.images[0]).toBe(0.5);
    expect(() => take(s, 11)).toThrow(/the split holds 10 images/);
    expect(() => take(s, 5, 6)).toThrow(RangeError);
  });

  it('classCounts counts labels per class', () => {
    expect(classCounts(numbered(23))).toEqual([3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
  });
});
