import { mulberry32 as prng, shuffleInPlace } from '@fa-robust/internal';
import type { Split } from './types.js';

/**
 * Helpers on in-memory splits: seeded permutations, shuffling, subsets. Pure, browser-safe.
 */

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; same seed, same sequence everywhere. */
export function mulberry32(seed: number): () => number {
  return prng(seed);
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
}

/** A seeded uniform random permutation of 0..n-1 (Fisher-Yates driven by mulberry32). */
export function permutation(n: number, seed: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`n must be a non-negative integer, got ${n}`);
  checkSeed(seed);
  const rand = mulberry32(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffleInPlace(p, rand);
}

/** Floats per image. */
export function imageSize(split: Split): number {
  return split.shape[1] * split.shape[2] * split.shape[3];
}

/**
 * The images at `indices`, in that order, as a new split (a copy). Indices may repeat.
 * @throws RangeError for an index outside 0..count-1.
 */
export function subset(split: Split, indices: ArrayLike<number>): Split {
  const count = split.shape[0];
  const size = imageSize(split);
  const images = new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw new RangeError(`index ${i} at position ${k} is outside the split (0..${count - 1})`);
    }
    images.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = split.labels[i]!;
  }
  return {
    images,
    labels,
    shape: [indices.length, split.shape[1], split.shape[2], split.shape[3]],
    classes: split.classes,
  };
}

/**
 * `n` images starting at `start` (default 0), e.g. the first 1000 test images. A view sharing
 * memory with `split` (like TypedArray.subarray): cheap, and changes show through both ways.
 * @throws RangeError when the split holds fewer than start + n images.
 */
export function take(split: Split, n: number, start = 0): Split {
  const count = split.shape[0];
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(start) || start < 0 || start + n > count) {
    throw new RangeError(`take(${n}, start ${start}): the split holds ${count} images`);
  }
  const size = imageSize(split);
  return {
    images: split.images.subarray(start * size, (start + n) * size),
    labels: split.labels.subarray(start, start + n),
    shape: [n, split.shape[1], split.shape[2], split.shape[3]],
    classes: split.classes,
  };
}

/** A shuffled copy: the same image/label pairs in a seeded random order. */
export function shuffle(split: Split, seed: number): Split {
  return subset(split, permutation(split.shape[0], seed));
}

/** How many images of each class the split holds (index = label). */
export function classCounts(split: Split): number[] {
  const counts: number[] = new Array(split.classes.length).fill(0);
  for (const l of split.labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}
