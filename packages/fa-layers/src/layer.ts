import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { baseArgs, type FeedbackArgs, FeedbackState, type Initializer } from './feedback.js';
import type { FeedbackMode } from './modes.js';

type Shape = (number | null)[];

/** The fields of a tfjs-layers Dense / Conv2D the feedback layers build on. */
export interface KernelLayerFields {
  kernel: tfl.LayerVariable | null;
  bias: tfl.LayerVariable | null;
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };
}

/** What every feedback layer adds to the tfjs layer it extends. */
export interface FeedbackLayerFields {
  /** The feedback half of the layer: mode, seed, feedback weight. */
  readonly feedbackState: FeedbackState;
  /** The feedback mode. */
  readonly feedback: FeedbackMode;
}

/** How one kind of feedback layer differs from the others in the shared skeleton. */
export interface FeedbackLayerKind<A> {
  /** The name in error messages ('dense', 'conv2d'). */
  where: string;
  /** The layer's own units (the dfa output layer's error length); null for a conv layer. */
  ownUnits(args: A): number | null;
  /** Checks the layer options, after the feedback options are parsed and before tfjs parses the rest. */
  checkArgs?(args: A): void;
  /** Checks the input shape in build(), before the feedback weight is made. */
  checkInput?(layer: tfl.layers.Layer, state: FeedbackState, inputShape: Shape): void;
}

/**
 * The skeleton every feedback layer shares, around the tfjs-layers class `Base` (Dense, Conv2D)
 * whose forward pass and option parsing it keeps: the constructor (feedback options parsed into
 * a FeedbackState, the rest passed on to `Base` with a seeded Xavier kernel initializer when
 * none is given), `feedback`, `build()` (then the 'feedback' weight, after kernel and bias) and
 * `getConfig()` (the base's plus the feedback options). A layer class extends the result, sets
 * its literal `static className`, writes its `call()` and registers itself with
 * tf.serialization.registerClass, as tfjs-layers' own layers do.
 */
export function withFeedback<A extends FeedbackArgs & { kernelInitializer?: unknown }, I>(
  Base: new (args: Omit<A, keyof FeedbackArgs>) => I,
  kind: FeedbackLayerKind<A>,
): new (
  args: A,
) => I & KernelLayerFields & FeedbackLayerFields {
  const Layer = Base as unknown as new (args: object) => tfl.layers.Layer & KernelLayerFields;
  class FeedbackLayer extends Layer {
    readonly feedbackState: FeedbackState;

    constructor(args: A) {
      const state = new FeedbackState(kind.where, args, kind.ownUnits(args));
      kind.checkArgs?.(args);
      super({
        ...baseArgs(args),
        kernelInitializer:
          (args.kernelInitializer as Initializer | undefined) ?? state.defaultKernelInitializer(),
      });
      this.feedbackState = state;
    }

    get feedback(): FeedbackMode {
      return this.feedbackState.mode;
    }

    override build(inputShape: Shape | Shape[]): void {
      super.build(inputShape);
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      const kernelShape = this.kernel!.shape as number[];
      const state = this.feedbackState;
      kind.checkInput?.(this, state, shape);
      state.build(kernelShape, shape, (name, fbShape, init, trainable) =>
        this.addWeight(name, fbShape, 'float32', init, undefined, trainable),
      );
    }

    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.feedbackState.getConfig() };
    }
  }
  return FeedbackLayer as unknown as new (
    args: A,
  ) => I & KernelLayerFields & FeedbackLayerFields;
}
