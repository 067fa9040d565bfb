import * as tf from '@tensorflow/tfjs-core';
import { FeedbackOptionError } from './errors.js';
import { usfScale } from './init.js';

/**
 * The feedback modes, one table entry each. Everything that differs between modes lives in its
 * entry: the layers (feedback.ts), the kernels (kernels.ts), `currentFeedback` / `alignment`
 * and the backprop twin read it and never test a mode's name. A new mode is a new entry (and
 * its tests).
 *
 * In every mode the weight gradient is the true one and the forward pass is the ordinary one;
 * only the error sent to the layer below (the input gradient) changes. B has the kernel's
 * shape: the layer below receives dy·B^T (dense) or conv2DBackpropInput(dy, B) (conv), where
 * backprop uses W. A `direct` mode (dfa) sends e·B_dfa instead, e the error at the model output.
 */
export interface ModeSpec {
  /** What the layer below receives, in words (with the reference). */
  readonly summary: string;
  /** The layer's 'feedback' weight (saved with the model), or null when the mode has none. */
  readonly weight: FeedbackWeightSpec | null;
  /** The `weightDecay` when none is given. */
  readonly defaultWeightDecay: number;
  /** A constant of the kernel's shape that `matrix` receives (usf's scale). Default 0. */
  readonly scale?: (kernelShape: readonly number[]) => number;
  /**
   * B in the kernel's shape, from the kernel W, the feedback weight (undefined without one) and
   * `scale`, as the backward pass uses it: the one place B is computed (the kernels' input
   * gradient and `currentFeedback` both call it). It may return W or the feedback weight
   * itself. null in a direct mode.
   */
  readonly matrix: ((w: tf.Tensor, fb: tf.Tensor | undefined, scale: number) => tf.Tensor) | null;
  /**
   * Direct feedback (dfa): the layer sends e·B_dfa, e the gradient at the output of the model's
   * `dfaOutput` layer; its weight is B_dfa [dfaOutputUnits, input size], and it takes the
   * options `dfaOutput` and `dfaOutputUnits`. Default false.
   */
  readonly direct?: boolean;
  /**
   * Weight mirroring (wm): at every training step the layer is driven with seeded noise and
   * `mirrorEstimate` correlates its input with its output; the weight's `gradient` receives
   * that estimate of W, got without reading W into the feedback path. The step count
   * (`feedbackDraws`) seeds the noise. Default false.
   */
  readonly mirror?: boolean;
}

export interface FeedbackWeightSpec {
  /** Its name in docs and messages: 'B', 'M', 'B_dfa'. */
  readonly name: string;
  /**
   * 'initializer': drawn once by `feedbackInitializer` (default Xavier-uniform, seeded), which
   * the user may give. 'redrawn': Xavier-uniform again at every training batch, draw t seeded
   * from (seed, t); the draw count is the layer option `feedbackDraws` (written to the config).
   */
  readonly values: 'initializer' | 'redrawn';
  /**
   * The weight's gradient, when it trains (it is then a trainable weight): from the kernel's
   * true gradient (computed once for both), the weight and the layer's weight decay. Absent:
   * a fixed, non-trainable weight (its gradient is zero if anyone asks).
   */
  readonly gradient?: (
    kernelGradient: tf.Tensor,
    fb: tf.Tensor,
    decay: number,
    /** wm: the mirror estimate of W for this step (`mirrorEstimate`). */
    mirror: () => tf.Tensor,
  ) => tf.Tensor;
}

/** The weight decay kp uses when none is given; every other mode defaults to 0. */
export const KP_DEFAULT_WEIGHT_DECAY = 1e-4;

/** |M| ∘ sign(W): the sign-concordant B of frsf and brsf. */
const signConcordant = (w: tf.Tensor, m: tf.Tensor | undefined) => tf.mul(tf.abs(m!), tf.sign(w));

const MODES = {
  bp: {
    summary: 'B = W: ordinary backprop through the same code path (the fair baseline)',
    weight: null,
    defaultWeightDecay: 0,
    matrix: (w) => w,
  },
  fa: {
    summary: 'B fixed, drawn once from a seeded Xavier-uniform initializer (Lillicrap et al. 2016)',
    weight: { name: 'B', values: 'initializer' },
    defaultWeightDecay: 0,
    matrix: (_w, fb) => fb!,
  },
  usf: {
    summary:
      'B = sign(W)·sqrt(2/(fanIn+fanOut)), recomputed every step (Liao et al. 2016, Xiao et al. 2018)',
    weight: null,
    defaultWeightDecay: 0,
    scale: usfScale,
    matrix: (w, _fb, scale) => tf.mul(tf.sign(w), tf.scalar(scale)),
  },
  frsf: {
    summary: 'B = |M| ∘ sign(W), M fixed at init (Xavier uniform)',
    weight: { name: 'M', values: 'initializer' },
    defaultWeightDecay: 0,
    matrix: signConcordant,
  },
  brsf: {
    summary: 'B = |M| ∘ sign(W), M redrawn (Xavier uniform) at every training batch',
    weight: { name: 'M', values: 'redrawn' },
    defaultWeightDecay: 0,
    matrix: signConcordant,
  },
  kp: {
    summary:
      'Kolen-Pollack: B is trained with the same gradient as W plus the same weight decay, so ' +
      'W - B decays to zero and B converges to W (Akrout et al. 2019)',
    weight: {
      name: 'B',
      values: 'initializer',
      // W's true gradient plus decay·B (W's is plus decay·W): W - B shrinks by (1 - lr·decay)
      gradient: (g, fb, decay) =>
        decay > 0 ? tf.add(g, tf.mul(fb, tf.scalar(decay))) : tf.clone(g),
    },
    defaultWeightDecay: KP_DEFAULT_WEIGHT_DECAY,
    matrix: (_w, fb) => fb!,
  },
  wm: {
    summary:
      'weight mirroring (Akrout et al. 2019): at every training step the layer is driven with ' +
      'seeded uniform noise x and B moves towards x^T(xW)/(N·var(x)), an unbiased estimate of W ' +
      'made by the forward path itself, so B tracks W without weight transport',
    weight: {
      name: 'B',
      values: 'initializer',
      // B - Ŵ: an SGD step of rate lr makes B (1 - lr)·B + lr·Ŵ, a running mean of the estimates
      gradient: (_g, fb, _decay, mirror) => tf.sub(fb, mirror()),
    },
    defaultWeightDecay: 0,
    matrix: (_w, fb) => fb!,
    mirror: true,
  },
  dfa: {
    summary:
      'direct feedback alignment (Nøkland 2016): the layer sends e·B_dfa to the layer below, ' +
      "e the gradient at the model's output, B_dfa a fixed [outputUnits, inputSize] matrix",
    weight: { name: 'B_dfa', values: 'initializer' },
    defaultWeightDecay: 0,
    matrix: null,
    direct: true,
  },
} as const satisfies Record<string, ModeSpec>;

/**
 * How a layer sends the error to the layer below (its input gradient); see each entry's
 * `summary` in the mode table (modes.ts) and the package README.
 *
 * - `bp`: B = W, ordinary backprop through the same code path (the fair baseline).
 * - `fa`: B fixed, drawn once from a seeded Xavier-uniform initializer (Lillicrap et al. 2016).
 * - `usf`: B = sign(W)·sqrt(2/(fanIn+fanOut)), recomputed every step.
 * - `frsf`: B = |M| ∘ sign(W), M fixed at init (Xavier uniform).
 * - `brsf`: B = |M| ∘ sign(W), M redrawn (Xavier uniform) at every training batch.
 * - `kp`: Kolen-Pollack: B trained with W's gradient plus the same weight decay.
 * - `wm`: weight mirroring: B trained towards a noise-driven estimate of W, every step.
 * - `dfa`: direct feedback alignment: the layer sends e·B_dfa, e the error at the model output.
 */
export type FeedbackMode = keyof typeof MODES;

/** Every feedback mode, in the table's order. */
export const FEEDBACK_MODES: readonly FeedbackMode[] = Object.keys(MODES) as FeedbackMode[];

/** The table entry of a mode. */
export function modeSpec(mode: FeedbackMode): ModeSpec {
  return MODES[mode];
}

/** The modes whose entry satisfies `test`, quoted, for messages: "'dfa'", "'fa' or 'kp'". */
export function modesWhere(test: (spec: ModeSpec) => boolean): string {
  const names = FEEDBACK_MODES.filter((m) => test(modeSpec(m))).map((m) => `'${m}'`);
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

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

/**
 * B in the kernel's shape as the backward pass of a layer in `mode` uses it (null in a direct
 * mode): the table's `matrix`. May return `w` or `fb` itself.
 */
export function feedbackMatrix(
  mode: FeedbackMode,
  w: tf.Tensor,
  fb: tf.Tensor | undefined,
  scale: number,
): tf.Tensor | null {
  return modeSpec(mode).matrix?.(w, fb, scale) ?? null;
}
