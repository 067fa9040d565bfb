import { FeedbackOptionError } from './errors.js';

/**
 * How a layer sends the error to the layer below (its input gradient). The weight gradient is
 * the true one in every mode. B has the shape of the kernel W; the layer below receives
 * dy·B^T (dense) or conv2DBackpropInput(dy, B) (conv), where backprop uses W.
 *
 * - `bp`: B = W, ordinary backprop through the same code path (the fair baseline).
 * - `fa`: B fixed, drawn once from a seeded Xavier-uniform initializer (Lillicrap et al. 2016).
 * - `usf`: B = sign(W)·sqrt(2/(fanIn+fanOut)), recomputed every step (Liao et al. 2016,
 *   Xiao et al. 2018).
 * - `frsf`: B = |M| ∘ sign(W), M fixed at init (Xavier uniform).
 * - `brsf`: B = |M| ∘ sign(W), M redrawn (Xavier uniform) at every training batch.
 * - `kp`: Kolen-Pollack: B is trained with the same gradient as W plus the same weight decay,
 *   so W - B decays to zero and B converges to W (Akrout et al. 2019).
 * - `dfa`: direct feedback alignment (Nøkland 2016): the layer sends e·B_dfa to the layer
 *   below, where e is the gradient at the model's output and B_dfa is a fixed
 *   [outputUnits, inputSize] matrix.
 */
export type FeedbackMode = 'bp' | 'fa' | 'usf' | 'frsf' | 'brsf' | 'kp' | 'dfa';

export const FEEDBACK_MODES: readonly FeedbackMode[] = [
  'bp',
  'fa',
  'usf',
  'frsf',
  'brsf',
  'kp',
  'dfa',
];

/** Modes that keep a weight named 'feedback' (B for fa/kp/dfa, M for frsf/brsf). */
export function hasFeedbackWeight(mode: FeedbackMode): boolean {
  return mode === 'fa' || mode === 'frsf' || mode === 'brsf' || mode === 'kp' || mode === 'dfa';
}

/** The weight decay kp uses when none is given; every other mode defaults to 0. */
export const KP_DEFAULT_WEIGHT_DECAY = 1e-4;

export function checkMode(where: string, mode: unknown): FeedbackMode {
  if (typeof mode !== 'string' || !(FEEDBACK_MODES as readonly string[]).includes(mode)) {
    throw new FeedbackOptionError(
      where,
      'feedback',
      `one of ${FEEDBACK_MODES.map((m) => `'${m}'`).join(', ')}`,
      mode,
    );
  }
  return mode as FeedbackMode;
}

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
export const SEED_STREAM = { kernel: 1, feedback: 2, brsfDraw: 1000 } as const;

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
