import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSystem, setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaDense } from './dense.js';
import { lenet } from './lenet.js';
import { FEEDBACK_MODES } from './modes.js';
import { registerFaLayers } from './register.js';
import { seededTensor } from './test-utils.js';
import { train } from './train.js';

let dir: string;
beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'fa-layers-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function weightsByName(model: tfl.LayersModel): Map<string, number[]> {
  return new Map(model.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));
}

async function step(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<void> {
  await train(
    model,
    { x, y },
    { epochs: 1, batchSize: 4, optimizer: 'sgd', learningRate: 0.05, shuffle: false },
  );
}

describe.each(['wasm', 'cpu'])('save and load on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it.each(FEEDBACK_MODES)(
    '%s: weights, config and outputs round-trip exactly, and training goes on identically',
    async (feedback) => {
      const x = seededTensor([4, 28, 28, 1], 41, 0.5);
      const y = tf.tensor1d([1, 7, 3, 0], 'int32');
      const model = lenet({ dataset: 'mnist', feedback, seed: 9 });
      await step(model, x, y); // trained once before saving (brsf: one redraw)
      const folder = join(dir, `${backend}-${feedback}`);
      await model.save(fileSystem(folder));

      const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
      const layers = json.modelTopology.config.layers as {
        class_name: string;
        config: Record<string, unknown>;
      }[];
      expect(layers.map((l) => l.class_name)).toEqual([
        'InputLayer',
        'FaConv2D',
        'MaxPooling2D',
        'FaConv2D',
        'MaxPooling2D',
        'FaConv2D',
        'Flatten',
        'FaDense',
        'FaDense',
      ]);
      expect(layers[1]!.config.feedback).toBe(feedback);
      if (feedback === 'brsf') expect(layers[1]!.config.feedback_draws).toBe(1);

      const again = await tfl.loadLayersModel(fileSystem(folder));
      expect(again.getLayer('fc2')).toBeInstanceOf(FaDense);
      expect((again.getLayer('fc2') as FaDense).getConfig()).toEqual(
        (model.getLayer('fc2') as FaDense).getConfig(),
      );
      const [w0, w1] = [weightsByName(model), weightsByName(again)];
      expect([...w1.keys()].sort()).toEqual([...w0.keys()].sort());
      for (const [name, v] of w0) expect(w1.get(name)).toEqual(v); // bitwise, feedback weights included
      const [p0, p1] = [model.predict(x) as tf.Tensor, again.predict(x) as tf.Tensor];
      expect(Array.from(p1.dataSync())).toEqual(Array.from(p0.dataSync()));
      tf.dispose([p0, p1]);

      // The same training step on the original and on the reloaded copy gives the same model.
      await step(model, x, y);
      await step(again, x, y);
      const [a0, a1] = [weightsByName(model), weightsByName(again)];
      expect(a0.get('conv1/kernel')).not.toEqual(w0.get('conv1/kernel'));
      for (const [name, v] of a0) expect(a1.get(name)).toEqual(v);
      tf.dispose([x, y]);
      model.dispose();
      again.dispose();
    },
  );
});

describe('registration', () => {
  it('registerFaLayers is safe to call repeatedly and names the classes', () => {
    expect(registerFaLayers()).toEqual(['FaDense', 'FaConv2D']);
    expect(registerFaLayers()).toEqual(['FaDense', 'FaConv2D']);
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    expect(map.FaDense?.[0]).toBe(FaDense);
  });
});
