import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FeedbackOptionError } from './errors.js';
import { type FeedbackArgs, type Initializer, registeredLayerClass } from './feedback.js';
import { feedbackMatMul } from './kernels.js';
import { type KernelLayerFields, withFeedback } from './layer.js';

/** Every option of tf.layers.dense. */
export type DenseLayerArgs = Parameters<typeof tfl.layers.dense>[0];
/** Every option of tf.layers.dense, plus `feedback`, `seed` and the other feedback options. */
export type FaDenseArgs = DenseLayerArgs & FeedbackArgs;

type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** The fields of tfjs-layers' Dense this class builds on (set by its constructor and build()). */
export interface DenseFields extends KernelLayerFields {
  units: number;
  kernelInitializer: Initializer;
}

const Dense = registeredLayerClass('Dense') as new (
  args: DenseLayerArgs,
) => tfl.layers.Layer & DenseFields;

const FeedbackDense = withFeedback<FaDenseArgs, tfl.layers.Layer & DenseFields>(Dense, {
  where: 'dense',
  ownUnits: (args) => args.units,
  checkInput(layer, state, shape) {
    if (state.direct && shape.length !== 2) {
      throw new FeedbackOptionError(
        layer.name,
        'inputShape',
        `rank 2 ([batch, features]) in mode '${state.mode}'`,
        shape,
      );
    }
  },
});

/**
 * tf.layers.dense whose backward pass sends the error to the layer below through feedback
 * weights instead of W^T. The forward pass and the kernel's gradient (x^T·dy) are those of
 * tf.layers.dense; only the input gradient changes (dy·B^T, or e·B_dfa in dfa).
 *
 * Weights, in order: 'kernel' [in, units], 'bias' [units] (if useBias), then 'feedback'
 * (fa: B [in, units]; frsf/brsf: M [in, units]; kp: B [in, units], trainable; dfa: B_dfa
 * [dfaOutputUnits, in]; none in bp and usf). Fixed feedback weights are non-trainable: saved
 * with the model, never touched by an optimizer.
 */
export class FaDense extends FeedbackDense {
  static className = 'FaDense';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const state = this.feedbackState;
      state.beforeForward(kwargs?.training as boolean | undefined, this.kernel);
      const w = this.kernel!.read() as tf.Tensor2D;
      const x2 = (x.rank === 2 ? x : tf.reshape(x, [-1, w.shape[0]])) as tf.Tensor2D;
      let y: tf.Tensor = feedbackMatMul(
        x2,
        w,
        state.weight?.read() ?? null,
        state.attrs(this.name),
      );
      if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
      if (this.bias != null) y = tf.add(y, this.bias.read());
      return this.activation.apply(y);
    });
  }
}

tf.serialization.registerClass(
  FaDense as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);

/**
 * A dense layer with pluggable feedback: every option of tf.layers.dense, plus `feedback`
 * (default 'fa') and `seed`.
 *
 * @example
 * const layer = dense({ units: 84, activation: 'relu', feedback: 'fa', seed: 1 });
 */
export function dense(args: FaDenseArgs): FaDense {
  return new FaDense(args);
}
