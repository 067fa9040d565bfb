import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FaConv2D } from './conv2d.js';
import { FaDense } from './dense.js';
import { TrainDataError } from './errors.js';
import { FEEDBACK_KEYS } from './feedback.js';

type Json = { [key: string]: unknown };

/** The layer classes of this package and the stock tfjs class each one's forward pass is. */
const STOCK: Record<string, string> = {
  [FaDense.className]: 'Dense',
  [FaConv2D.className]: 'Conv2D',
};
/** The feedback options as tfjs writes them to model.json (snake_case, as tfjs converts keys). */
const FEEDBACK_CONFIG_KEYS = FEEDBACK_KEYS.map((k) =>
  k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
);

/** Rewrites every FaDense / FaConv2D in a model topology (model.json form) as stock Dense / Conv2D. */
function toStock(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStock);
  if (node == null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) out[k] = toStock(v);
  const className = out.class_name;
  if (
    typeof className === 'string' &&
    className in STOCK &&
    out.config != null &&
    typeof out.config === 'object'
  ) {
    out.class_name = STOCK[className];
    const config = { ...(out.config as Json) };
    for (const key of FEEDBACK_CONFIG_KEYS) delete config[key];
    out.config = config;
  }
  return out;
}

/**
 * The backprop twin of a model: the same forward function with ordinary gradients, for
 * white-box attacks on a network trained with feedback (its true input gradient), and as the
 * reference its backward-path gradient is compared with.
 *
 * Every FaDense / FaConv2D becomes a stock tf.layers.dense / tf.layers.conv2d with the same
 * options; every other layer is kept as is. The twin has no feedback weights and does not need
 * this package to be loaded again (save it, load it anywhere).
 *
 * Weights are COPIED, not shared: the twin is a snapshot of the model's forward weights at the
 * time of the call (the copy shares memory with the model until either is updated, so it costs
 * nothing until then). Call backpropTwin again after further training. Dispose the twin yourself.
 *
 * @example
 * const twin = await backpropTwin(faModel);
 * const trueGrad = tf.grad((x) => tf.losses.softmaxCrossEntropy(y, twin.apply(x)))(x);
 */
export async function backpropTwin(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const topology = toStock(model.toJSON(null, false)) as tf.io.ModelJSON['modelTopology'];
  const twin = await tfl.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON);
  const source = new Map<string, tfl.LayerVariable>();
  for (const w of model.weights) source.set(w.originalName, w);
  for (const w of twin.weights) {
    const from = source.get(w.originalName);
    if (from == null || from.shape.join() !== w.shape.join()) {
      twin.dispose();
      throw new TrainDataError(
        'backpropTwin',
        `weight '${w.originalName}'`,
        'a weight of the same name and shape in the model',
        from == null ? 'none' : `shape [${from.shape}]`,
      );
    }
    w.write(from.read());
  }
  return twin;
}
