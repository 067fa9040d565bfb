import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FeedbackOptionError } from './errors.js';
import { type FeedbackArgs, registeredLayerClass } from './feedback.js';
import { feedbackConv2d } from './kernels.js';
import { type KernelLayerFields, withFeedback } from './layer.js';

/** Every option of tf.layers.conv2d. */
export type Conv2DLayerArgs = Parameters<typeof tfl.layers.conv2d>[0];
/** Every option of tf.layers.conv2d, plus `feedback`, `seed` and the other feedback options. */
export type FaConv2DArgs = Conv2DLayerArgs & FeedbackArgs;

type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** The fields of tfjs-layers' Conv2D this class builds on (set by its constructor and build()). */
export interface Conv2DFields extends KernelLayerFields {
  filters: number;
  strides: number[];
  padding: string;
  dataFormat: 'channelsFirst' | 'channelsLast';
  dilationRate: number | number[];
}

const Conv2D = registeredLayerClass('Conv2D') as new (
  args: Conv2DLayerArgs,
) => tfl.layers.Layer & Conv2DFields;

const FeedbackConv2D = withFeedback<FaConv2DArgs, tfl.layers.Layer & Conv2DFields>(Conv2D, {
  where: 'conv2d',
  ownUnits: () => null,
  checkArgs(args) {
    const dilation = args.dilationRate ?? 1;
    if ((Array.isArray(dilation) ? dilation : [dilation]).some((d) => d !== 1)) {
      throw new FeedbackOptionError(
        'conv2d',
        'dilationRate',
        '1 (tfjs has no gradient for dilated conv2d)',
        dilation,
      );
    }
  },
});

/**
 * tf.layers.conv2d whose backward pass sends the error to the layer below through feedback
 * weights instead of W. The forward pass and the kernel's gradient (conv2DBackpropFilter) are
 * those of tf.layers.conv2d; only the input gradient changes: conv2DBackpropInput(dy, B), or
 * e·B_dfa reshaped to the input in dfa.
 *
 * Weights, in order: 'kernel' [kh, kw, inC, filters], 'bias' [filters] (if useBias), then
 * 'feedback' (fa: B, frsf/brsf: M, kp: B (trainable), all in the kernel's shape; dfa: B_dfa
 * [dfaOutputUnits, h·w·c of the input]; none in bp and usf).
 *
 * Dilation rates other than 1 are refused: tfjs has no gradient for dilated conv2d either.
 */
export class FaConv2D extends FeedbackConv2D {
  static className = 'FaConv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      let x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const state = this.feedbackState;
      state.beforeForward(kwargs?.training as boolean | undefined, this.kernel);
      const channelsFirst = this.dataFormat === 'channelsFirst';
      if (channelsFirst) x = tf.transpose(x, [0, 2, 3, 1]);
      const attrs = {
        ...state.attrs(this.name),
        strides: [this.strides[0]!, this.strides[1]!] as [number, number],
        pad: (this.padding === 'same' ? 'same' : 'valid') as 'same' | 'valid',
      };
      let y: tf.Tensor = feedbackConv2d(
        x,
        this.kernel!.read() as tf.Tensor4D,
        state.weight?.read() ?? null,
        attrs,
      );
      if (this.bias != null) y = tf.add(y, this.bias.read());
      if (channelsFirst) y = tf.transpose(y, [0, 3, 1, 2]);
      return this.activation.apply(y);
    });
  }
}

tf.serialization.registerClass(
  FaConv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);

/**
 * A 2D convolution with pluggable feedback: every option of tf.layers.conv2d, plus `feedback`
 * (default 'fa') and `seed`.
 *
 * @example
 * const layer = conv2d({ filters: 6, kernelSize: 5, activation: 'relu', feedback: 'fa', seed: 1 });
 */
export function conv2d(args: FaConv2DArgs): FaConv2D {
  return new FaConv2D(args);
}
