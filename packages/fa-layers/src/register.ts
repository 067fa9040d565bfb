import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FaConv2D } from './conv2d.js';
import { FaDense } from './dense.js';

/** The layer classes of this package, by the class name written to model.json. */
export const FA_LAYER_CLASSES = { FaDense, FaConv2D } as const;

/**
 * Registers FaDense and FaConv2D with tfjs serialization, so that tf.loadLayersModel can
 * rebuild a saved feedback model. Importing the package registers them already (the layer
 * modules do it when they load); this function exists for bundles that keep only what is
 * called, and is safe to call any number of times. Returns the registered class names.
 */
export function registerFaLayers(): string[] {
  for (const cls of Object.values(FA_LAYER_CLASSES)) {
    tf.serialization.registerClass(
      cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
    );
  }
  return Object.keys(FA_LAYER_CLASSES);
}

/** Every FaDense / FaConv2D of a model, nested models included, in order. */
export function feedbackLayers(model: tfl.LayersModel): (FaDense | FaConv2D)[] {
  const out: (FaDense | FaConv2D)[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const layer of layers) {
      if (layer instanceof FaDense || layer instanceof FaConv2D) out.push(layer);
      else if (layer instanceof tfl.LayersModel) visit(layer.layers);
    }
  };
  visit(model.layers);
  return out;
}
