import { FeedbackOptionError } from './errors.js';

/**
 * Seeds and initializer bounds shared by the layers and the mode table: how a seed is checked,
 * drawn and split into independent streams, and the fans and Xavier bounds of a kernel.
 */

export function checkSeed(where: string, seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new FeedbackOptionError(where, 'seed', 'an integer in [0, 2^32)', seed);
  }
  return seed;
}

/** A seed for when the user gave none: recorded in the layer config, so saved models keep it. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/**
 * Derives an independent 31-bit seed from a base seed and a stream number (murmur3 finaliser),
 * so that the kernel, the feedback weights and each brsf redraw get seeds that do not collide.
 */
export function mixSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h & 0x7fffffff;
}

/** Seed streams: which derived seed each random draw uses. */
export const SEED_STREAM = { kernel: 1, feedback: 2, mirror: 3, brsfDraw: 1000 } as const;

/** fanIn and fanOut of a dense [in, out] or conv [kh, kw, inC, outC] kernel, as Keras and PyTorch count them. */
export function fans(kernelShape: readonly number[]): { fanIn: number; fanOut: number } {
  if (kernelShape.length === 2) return { fanIn: kernelShape[0]!, fanOut: kernelShape[1]! };
  const receptive = kernelShape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: receptive * kernelShape.at(-2)!, fanOut: receptive * kernelShape.at(-1)! };
}

/** The usf scale sqrt(2/(fanIn+fanOut)) (the Xavier-normal standard deviation), as BioTorch uses. */
export function usfScale(kernelShape: readonly number[]): number {
  const { fanIn, fanOut } = fans(kernelShape);
  return Math.sqrt(2 / (fanIn + fanOut));
}

/** The Xavier-uniform bound sqrt(6/(fanIn+fanOut)). */
export function xavierLimit(shape: readonly number[]): number {
  const { fanIn, fanOut } = fans(shape);
  return Math.sqrt(6 / (fanIn + fanOut));
}
