import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupBackend } from '@fa-robust/backend';
import { batches, type Split } from '@fa-robust/datasets';
import { lenet, train } from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointDir } from './checkpoint.js';
import { type TrainSpec, trainModel } from './steps.js';

const root = mkdtempSync(join(tmpdir(), 'fa-robust-checkpoint-'));

let data: Split;
beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  data = tinySplit();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** 96 random MNIST-shaped images in 10 classes: a few batches an epoch. */
function tinySplit(): Split {
  const n = 96;
  const images = tf.tidy(() => tf.randomUniform([n * 784], 0, 1, 'float32', 3).dataSync());
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10);
  return {
    images: Float32Array.from(images),
    labels,
    shape: [n, 28, 28, 1],
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
  };
}

const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('trainModel: epoch checkpoints', () => {
  it.each(['fa', 'brsf', 'wm', 'wm-mirror'] as const)(
    '%s: gives the weights of one train() call over every epoch; an interrupted run resumes from its checkpoint and ends with the same weights, bit for bit',
    async (kind) => {
      // wm-mirror: weight mirroring with its own mirror, the layer's state B kept by the checkpoint
      const method = kind === 'wm-mirror' ? 'wm' : kind;
      const mirror = kind === 'wm-mirror' ? { rate: 0.5, batch: 128 } : undefined;
      const spec: TrainSpec = {
        dataset: 'mnist',
        id: kind,
        method,
        ...(mirror ? { mirror } : {}),
        seed: 5,
        epochs: 3,
        batchSize: 32,
        optimizer: 'adam',
        learningRate: 2e-3,
        schedule: { type: 'cosine' },
      };
      // the path the committed models were trained on: one train() call over every epoch
      const ref = lenet({
        dataset: 'mnist',
        feedback: method,
        seed: spec.seed,
        ...(mirror ? { mirrorRate: mirror.rate, mirrorBatch: mirror.batch } : {}),
      });
      await train(
        ref,
        function* (epoch: number) {
          for (const b of batches(data, {
            batchSize: spec.batchSize,
            shuffle: true,
            seed: spec.seed * 1000 + epoch,
          })) {
            yield { x: b.x, y: b.y };
            tf.dispose([b.x, b.y]);
          }
        },
        {
          epochs: spec.epochs,
          optimizer: 'adam',
          learningRate: spec.learningRate,
          schedule: { type: 'cosine' },
        },
      );
      const whole = await trainModel(spec, data, join(root, `${kind}-whole`));
      expect(weights(whole.model)).toEqual(weights(ref));
      expect(whole.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
      expect(existsSync(checkpointDir(join(root, `${kind}-whole`)))).toBe(false);

      // interrupted in epoch 3: the checkpoint after epoch 2 stays
      const dir = join(root, `${kind}-resumed`);
      const stop = new AbortController();
      await expect(
        trainModel(spec, data, dir, {
          signal: stop.signal,
          onProgress: (seen) => {
            if (seen >= 2 * 96 + 32) stop.abort(new Error('interrupted'));
          },
        }),
      ).rejects.toThrow('interrupted');
      const state = JSON.parse(readFileSync(join(checkpointDir(dir), 'state.json'), 'utf8'));
      expect(state.epochs).toBe(2);
      expect(existsSync(join(dir, 'model.json'))).toBe(false);
      const lines: string[] = [];
      const resumed = await trainModel(spec, data, dir, { log: (l) => lines.push(l) });
      expect(lines.some((l) => /resuming after epoch 2\/3/.test(l))).toBe(true);
      expect(weights(resumed.model)).toEqual(weights(whole.model));
      expect(resumed.history.map((h) => h.loss)).toEqual(whole.history.map((h) => h.loss));
      expect(existsSync(checkpointDir(dir))).toBe(false);
      for (const m of [ref, whole.model, resumed.model]) m.dispose();
    },
  );

  it('starts afresh from a checkpoint of another spec or one that cannot be read', async () => {
    const spec: TrainSpec = {
      dataset: 'mnist',
      id: 'bp',
      method: 'bp',
      seed: 2,
      epochs: 2,
      batchSize: 48,
      optimizer: 'momentum',
      learningRate: 0.01,
    };
    const dir = join(root, 'bp');
    const stop = new AbortController();
    await expect(
      trainModel(spec, data, dir, {
        signal: stop.signal,
        onProgress: (seen) => {
          if (seen > 96) stop.abort(new Error('interrupted'));
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(existsSync(join(checkpointDir(dir), 'state.json'))).toBe(true);
    const lines: string[] = [];
    const other = await trainModel({ ...spec, seed: 3 }, data, join(root, 'bp'), {
      log: (l) => lines.push(l),
    });
    expect(lines.some((l) => /another training spec; starting afresh/.test(l))).toBe(true);
    expect(other.history).toHaveLength(2);
    other.model.dispose();
    // a damaged checkpoint: said, removed, and training starts over
    const dir2 = join(root, 'bp-damaged');
    const stop2 = new AbortController();
    await expect(
      trainModel(spec, data, dir2, {
        signal: stop2.signal,
        onProgress: (seen) => {
          if (seen > 96) stop2.abort(new Error('interrupted'));
        },
      }),
    ).rejects.toThrow('interrupted');
    writeFileSync(join(checkpointDir(dir2), 'state.json'), '{"spec": ');
    const lines2: string[] = [];
    const fresh = await trainModel(spec, data, dir2, { log: (l) => lines2.push(l) });
    expect(lines2.some((l) => /unreadable checkpoint/.test(l))).toBe(true);
    expect(fresh.history.map((h) => h.epoch)).toEqual([1, 2]);
    fresh.model.dispose();
  });
});
