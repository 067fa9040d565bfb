import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { FEEDBACK_MODES, modeSpec } from './modes.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

describe('the shared layer skeleton', () => {
  it('FaDense and FaConv2D both run the call hook, as tfjs layers do', () => {
    const layers = [
      dense({ units: 2, inputShape: [3], seed: 1 }),
      conv2d({ filters: 2, kernelSize: 1, inputShape: [2, 2, 1], seed: 1 }),
    ];
    const inputs = [tf.zeros([1, 3]), tf.zeros([1, 2, 2, 1])];
    layers.forEach((layer, i) => {
      const seen: unknown[] = [];
      layer.setCallHook((x) => {
        seen.push(x);
      });
      tf.dispose(layer.apply(inputs[i]!) as tf.Tensor);
      expect(seen).toEqual([inputs[i]]);
      layer.dispose();
    });
    tf.dispose(inputs);
  });

  it.each(FEEDBACK_MODES)(
    "%s: the layer's feedback weight is what its table entry says",
    (feedback) => {
      const spec = modeSpec(feedback);
      const layer = dense({
        units: 2,
        inputShape: [3],
        feedback,
        seed: 1,
        ...(spec.direct ? { dfaOutput: true } : {}),
      });
      const x = tf.zeros([1, 3]);
      tf.dispose([layer.apply(x) as tf.Tensor, x]);
      const fb = layer.feedbackState.weight;
      expect(fb != null).toBe(spec.weight != null);
      if (fb != null) expect(fb.trainable).toBe(spec.weight?.gradient != null);
      expect(layer.feedbackState.weightDecay).toBe(spec.defaultWeightDecay);
      expect(spec.matrix == null).toBe(spec.direct === true);
      layer.dispose();
    },
  );
});
