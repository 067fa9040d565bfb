import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FeedbackOptionError } from './errors.js';
import { checkSeed, mixSeed, randomSeed, SEED_STREAM, xavierLimit } from './init.js';
import { clearDfaSignal, type FeedbackAttrs, MIRROR_BATCH, mirrorEstimate } from './kernels.js';
import { checkMode, type FeedbackMode, type ModeSpec, modeSpec, modesWhere } from './modes.js';

/** A tfjs-layers initializer (tf.initializers.*). */
export type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** An initializer in the form tfjs writes to model.json. */
export interface SerializedInitializer {
  className: string;
  config: tf.serialization.ConfigDict;
}

/** The options every feedback layer takes on top of those of tf.layers.dense / tf.layers.conv2d. */
export interface FeedbackArgs {
  /** How the error is sent to the layer below. Default 'fa'. */
  feedback?: FeedbackMode;
  /**
   * Seeds the kernel initializer (when `kernelInitializer` is not given), the feedback weights
   * and brsf's redraws: the same seed gives the same W and B on every backend. Default: a random
   * seed, recorded in the layer config so that a saved model keeps it.
   */
  seed?: number;
  /**
   * The initializer of the fixed feedback weights (fa: B, frsf: M, kp: the initial B, dfa:
   * B_dfa). Default Xavier-uniform (tf.initializers.glorotUniform) seeded from `seed`. Not
   * accepted in bp, usf (no feedback weight) or brsf (M is redrawn Xavier-uniform every batch).
   */
  feedbackInitializer?: Initializer | SerializedInitializer;
  /**
   * L2 weight decay added to the kernel's gradient (decay·W), and in kp to B's (decay·B).
   * Default 0, except kp: 1e-4 (Kolen-Pollack needs it for B to converge to W).
   */
  weightDecay?: number;
  /** dfa: the number of units of the model's output layer (the length of the error e). */
  dfaOutputUnits?: number;
  /** dfa: this layer's output is the model's output, whose gradient is the error e. Default false. */
  dfaOutput?: boolean;
  /**
   * brsf: how many times M has been redrawn; wm: how many mirror steps B has taken. State, not
   * a hyperparameter: it is written to the layer config so that a saved model continues the
   * same seeded sequence (of M, of mirror noise) when training resumes.
   */
  feedbackDraws?: number;
  /**
   * wm: mirror with a rate of its own, as the reference implementation does, instead of through
   * the model's optimizer. Before each training step (`training: true`) the layer sets
   * B ← (1 − mirrorRate)·B + mirrorRate·Ŵ, Ŵ the mirror's estimate of W from `mirrorBatch` noise
   * fields, and B's gradient is zero (the optimizer leaves it alone). In (0, 1]. Default: none,
   * B is trained by the optimizer with the gradient B − Ŵ.
   */
  mirrorRate?: number;
  /** wm: the noise receptive fields of each mirror step. Default 64 (MIRROR_BATCH). */
  mirrorBatch?: number;
}

/** Every feedback option, as the layers take them and write them to their config. */
export const FEEDBACK_KEYS = [
  'feedback',
  'seed',
  'feedbackInitializer',
  'weightDecay',
  'dfaOutputUnits',
  'dfaOutput',
  'feedbackDraws',
  'mirrorRate',
  'mirrorBatch',
] as const satisfies readonly (keyof FeedbackArgs)[];

/** The arguments minus the feedback options: what the tfjs base layer receives. */
export function baseArgs<T extends FeedbackArgs>(args: T): Omit<T, keyof FeedbackArgs> {
  const out = { ...args } as Record<string, unknown>;
  for (const k of FEEDBACK_KEYS) delete out[k];
  return out as Omit<T, keyof FeedbackArgs>;
}

function isInitializer(v: unknown): v is Initializer {
  return typeof v === 'object' && v != null && typeof (v as Initializer).apply === 'function';
}

function toInitializer(where: string, spec: unknown): Initializer {
  if (isInitializer(spec)) return spec;
  const expected = 'a tf.initializers.* instance or {className, config} as written in model.json';
  if (
    typeof spec !== 'object' ||
    spec == null ||
    typeof (spec as SerializedInitializer).className !== 'string'
  ) {
    throw new FeedbackOptionError(where, 'feedbackInitializer', expected, spec);
  }
  const { className, config } = spec as SerializedInitializer;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry == null)
    throw new FeedbackOptionError(
      where,
      'feedbackInitializer',
      `${expected} (a registered class)`,
      className,
    );
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config ?? {}) as unknown as Initializer;
}

function serializeInitializer(init: Initializer): SerializedInitializer {
  return { className: init.getClassName(), config: init.getConfig() };
}

/** The tfjs class registered under `className` (Dense, Conv2D), to extend. */
export function registeredLayerClass(className: string): unknown {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry == null) {
    throw new Error(
      `@fa-robust/fa-layers: tfjs-layers' ${className} is not registered; is @tensorflow/tfjs-layers loaded?`,
    );
  }
  return entry[0];
}

/**
 * The feedback half of a layer: its parsed options, its feedback weight and what the kernels
 * need at each step. Dense and Conv2D each hold one.
 */
export class FeedbackState {
  readonly mode: FeedbackMode;
  /** The mode's entry in the mode table. */
  readonly spec: ModeSpec;
  readonly seed: number;
  readonly weightDecay: number;
  readonly dfaOutput: boolean;
  readonly dfaOutputUnits: number | null;
  readonly initializer: Initializer | null;
  private readonly initializerGiven: boolean;
  /**
   * brsf: index of the current M in the seeded sequence of draws; wm: the mirror steps taken
   * (the current one's noise is seeded by it).
   */
  draws: number;
  /** wm: the mirror's own rate (FeedbackArgs.mirrorRate), or null: through the optimizer. */
  readonly mirrorRate: number | null;
  /** wm: noise fields per mirror step. */
  readonly mirrorBatch: number;
  private readonly mirrorBatchGiven: boolean;
  /** The 'feedback' weight (B, M or B_dfa), once built; null in bp and usf. */
  weight: tfl.LayerVariable | null = null;
  private scale = 0;

  constructor(
    readonly where: string,
    args: FeedbackArgs,
    /** For a dense layer, its units (the dfa output layer's error length). */
    ownUnits: number | null,
  ) {
    this.mode = checkMode(where, args.feedback ?? 'fa');
    const spec = modeSpec(this.mode);
    this.spec = spec;
    this.seed = args.seed == null ? randomSeed() : checkSeed(where, args.seed);
    const decay = args.weightDecay ?? spec.defaultWeightDecay;
    if (typeof decay !== 'number' || !Number.isFinite(decay) || decay < 0) {
      throw new FeedbackOptionError(where, 'weightDecay', 'a finite number >= 0', decay);
    }
    this.weightDecay = decay;

    this.initializerGiven = args.feedbackInitializer != null;
    const redrawn = spec.weight?.values === 'redrawn';
    if (this.initializerGiven && (spec.weight == null || redrawn)) {
      throw new FeedbackOptionError(
        where,
        'feedbackInitializer',
        `absent in mode '${this.mode}' (${redrawn ? `${spec.weight!.name} is redrawn Xavier-uniform every batch` : 'there is no feedback weight'})`,
        'an initializer',
      );
    }
    this.initializer =
      spec.weight == null
        ? null
        : this.initializerGiven
          ? toInitializer(where, args.feedbackInitializer)
          : redrawn
            ? null // made in build(): it needs the shape for the Xavier bound
            : tfl.initializers.glorotUniform({ seed: mixSeed(this.seed, SEED_STREAM.feedback) });

    if (spec.direct === true) {
      if (args.dfaOutput != null && typeof args.dfaOutput !== 'boolean') {
        throw new FeedbackOptionError(where, 'dfaOutput', 'a boolean', args.dfaOutput);
      }
      this.dfaOutput = args.dfaOutput ?? false;
      if (this.dfaOutput && ownUnits == null) {
        throw new FeedbackOptionError(
          where,
          'dfaOutput',
          'false for a conv2d layer (the dfa output layer is a dense layer)',
          true,
        );
      }
      const units = this.dfaOutput ? (args.dfaOutputUnits ?? ownUnits) : args.dfaOutputUnits;
      if (typeof units !== 'number' || !Number.isInteger(units) || units < 1) {
        throw new FeedbackOptionError(
          where,
          'dfaOutputUnits',
          `a positive integer in mode '${this.mode}' (the model's number of outputs)`,
          units,
        );
      }
      if (this.dfaOutput && units !== ownUnits) {
        throw new FeedbackOptionError(
          where,
          'dfaOutputUnits',
          `equal to units (${ownUnits}) on the dfa output layer`,
          units,
        );
      }
      this.dfaOutputUnits = units;
    } else {
      for (const k of ['dfaOutput', 'dfaOutputUnits'] as const) {
        if (args[k] != null)
          throw new FeedbackOptionError(
            where,
            k,
            `absent unless feedback is ${modesWhere((m) => m.direct === true)} (feedback is '${this.mode}')`,
            args[k],
          );
      }
      this.dfaOutput = false;
      this.dfaOutputUnits = null;
    }

    const draws = args.feedbackDraws ?? 0;
    if (args.feedbackDraws != null && !redrawn && spec.mirror !== true) {
      throw new FeedbackOptionError(
        where,
        'feedbackDraws',
        `absent unless feedback is ${modesWhere((m) => m.weight?.values === 'redrawn' || m.mirror === true)} (feedback is '${this.mode}')`,
        draws,
      );
    }
    if (!Number.isInteger(draws) || draws < 0)
      throw new FeedbackOptionError(where, 'feedbackDraws', 'an integer >= 0', draws);
    this.draws = draws;

    for (const k of ['mirrorRate', 'mirrorBatch'] as const) {
      if (args[k] != null && spec.mirror !== true)
        throw new FeedbackOptionError(
          where,
          k,
          `absent unless feedback is ${modesWhere((m) => m.mirror === true)} (feedback is '${this.mode}')`,
          args[k],
        );
    }
    const rate = args.mirrorRate;
    if (rate != null && (typeof rate !== 'number' || !(rate > 0 && rate <= 1)))
      throw new FeedbackOptionError(where, 'mirrorRate', 'a number in (0, 1]', rate);
    this.mirrorRate = rate ?? null;
    const batch = args.mirrorBatch ?? MIRROR_BATCH;
    if (!Number.isInteger(batch) || batch < 1)
      throw new FeedbackOptionError(where, 'mirrorBatch', 'an integer >= 1', batch);
    this.mirrorBatch = batch;
    this.mirrorBatchGiven = args.mirrorBatch != null;
  }

  /** Whether the feedback weight is redrawn every training batch (brsf). */
  get redrawn(): boolean {
    return this.spec.weight?.values === 'redrawn';
  }

  /** Whether the layer projects the model's output error directly (dfa). */
  get direct(): boolean {
    return this.spec.direct === true;
  }

  /**
   * B in the kernel's shape as the backward pass uses it now, from the kernel `w` (a new
   * tensor); null in a direct mode. The kernels compute it with the same table entry.
   */
  feedbackMatrix(w: tf.Tensor): tf.Tensor | null {
    const build = this.spec.matrix;
    if (build == null) return null;
    return tf.tidy(() => {
      const fb = this.weight?.read();
      const b = build(w, fb, this.scale);
      return b === w || b === fb ? tf.clone(b) : b;
    });
  }

  /** The kernel initializer when the user gave none: Xavier uniform, seeded. */
  defaultKernelInitializer(): Initializer {
    return tfl.initializers.glorotUniform({ seed: mixSeed(this.seed, SEED_STREAM.kernel) });
  }

  /** The shape of the feedback weight for a layer with this kernel and input shape. */
  feedbackShape(kernelShape: number[], inputShape: (number | null)[]): number[] | null {
    if (this.spec.weight == null) return null;
    if (!this.direct) return kernelShape;
    const dims = inputShape.slice(1);
    if (dims.some((d) => d == null)) {
      throw new FeedbackOptionError(
        this.where,
        'inputShape',
        "fully known (dfa's B_dfa spans the whole input)",
        inputShape,
      );
    }
    return [this.dfaOutputUnits!, (dims as number[]).reduce((a, b) => a * b, 1)];
  }

  /** The initializer for the feedback weight of this shape. */
  feedbackInitializer(shape: number[]): Initializer {
    if (this.redrawn && this.initializer == null) {
      // Draw `draws` of the seeded sequence: a reloaded layer rebuilds the M it had (the saved
      // weight then overwrites it with the same values anyway).
      const limit = xavierLimit(shape);
      return tfl.initializers.randomUniform({
        minval: -limit,
        maxval: limit,
        seed: this.drawSeed(this.draws),
      });
    }
    return this.initializer!;
  }

  setKernelShape(kernelShape: number[]): void {
    this.scale = this.spec.scale?.(kernelShape) ?? 0;
  }

  /**
   * The feedback half of a layer's build(), once its kernel exists: records the kernel shape
   * and adds the 'feedback' weight (trainable when its table entry has a gradient: kp) through
   * the layer's `add`.
   */
  build(
    kernelShape: number[],
    inputShape: (number | null)[],
    add: (
      name: string,
      shape: number[],
      initializer: Initializer,
      trainable: boolean,
    ) => tfl.LayerVariable,
  ): void {
    this.setKernelShape(kernelShape);
    const shape = this.feedbackShape(kernelShape, inputShape);
    if (shape != null && this.weight == null) {
      this.weight = add(
        'feedback',
        shape,
        this.feedbackInitializer(shape),
        this.spec.weight?.gradient != null,
      );
    }
  }

  private drawSeed(draw: number): number {
    return mixSeed(this.seed, SEED_STREAM.brsfDraw + draw);
  }

  /**
   * Runs before each forward pass: when training, wm counts a mirror step (and with
   * `mirrorRate`, moves B towards this step's estimate of the layer's `kernel`) and brsf draws a
   * new M; the dfa output layer forgets the error of the previous backward pass.
   */
  beforeForward(training: boolean | undefined, kernel?: tfl.LayerVariable | null): void {
    if (this.spec.mirror === true && training === true) {
      this.draws += 1;
      // a mirror of its own rate: B moves towards this step's estimate of W, before the step
      if (this.mirrorRate != null && this.weight != null && kernel != null) {
        const rate = this.mirrorRate;
        const b = tf.tidy(() =>
          tf.add(
            tf.mul(this.weight!.read(), tf.scalar(1 - rate)),
            tf.mul(
              mirrorEstimate(kernel.read(), this.mirrorSeed(), this.mirrorBatch),
              tf.scalar(rate),
            ),
          ),
        );
        this.weight.write(b);
        tf.dispose(b);
      }
    }
    if (this.redrawn && training === true && this.weight != null) {
      this.draws += 1;
      const shape = this.weight.shape as number[];
      const limit = xavierLimit(shape);
      const m = tf.randomUniform(shape, -limit, limit, 'float32', this.drawSeed(this.draws));
      this.weight.write(m);
      tf.dispose(m);
    }
    if (this.direct && this.dfaOutput) clearDfaSignal();
  }

  attrs(layer: string): FeedbackAttrs {
    return {
      mode: this.mode,
      decay: this.weightDecay,
      scale: this.scale,
      dfaOutput: this.dfaOutput,
      layer,
      mirrorSeed: this.spec.mirror === true ? this.mirrorSeed() : 0,
      mirrorBatch: this.mirrorBatch,
      mirrorOwnRate: this.mirrorRate != null,
    };
  }

  /** wm: the seed of the current mirror step's noise. */
  private mirrorSeed(): number {
    return mixSeed(mixSeed(this.seed, SEED_STREAM.mirror), this.draws);
  }

  /** The feedback options as written to the layer config (model.json). */
  getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      feedback: this.mode,
      seed: this.seed,
      weightDecay: this.weightDecay,
    };
    if (this.initializerGiven && this.initializer != null) {
      config.feedbackInitializer = serializeInitializer(
        this.initializer,
      ) as unknown as tf.serialization.ConfigDictValue;
    }
    if (this.direct) {
      config.dfaOutput = this.dfaOutput;
      config.dfaOutputUnits = this.dfaOutputUnits;
    }
    if (this.redrawn || this.spec.mirror === true) config.feedbackDraws = this.draws;
    if (this.mirrorRate != null) config.mirrorRate = this.mirrorRate;
    if (this.mirrorBatchGiven) config.mirrorBatch = this.mirrorBatch;
    return config;
  }
}
