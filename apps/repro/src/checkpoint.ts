/**
 * Epoch checkpoints of a model in training: `<model folder>.partial/` holds the weights after
 * the last finished epoch (a tfjs model folder, brsf's and weight mirroring's draw counters in its
 * config), the optimizer's state (its slots, step count and Adam's beta powers) and the history so
 * far. A run that stops (Ctrl-C, a crash, a killed machine) resumes the model from the next epoch
 * instead of from scratch, and ends with the weights an uninterrupted run gives, bit for bit.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileSystem } from '@fa-robust/backend';
import { type OptimizerState, optimizerState, restoreOptimizer } from '@fa-robust/fa-layers';
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** What a checkpoint's state.json holds. */
interface CheckpointFile {
  /** The spec it was trained from (JSON): a checkpoint of another spec is not resumed. */
  spec: string;
  /** Epochs finished. */
  epochs: number;
  history: unknown[];
  seconds: number;
  optimizer: Omit<OptimizerState, 'weights'> & {
    weights: { name: string; shape: number[]; base64: string }[];
  };
}

export interface Checkpoint<H> {
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  epochs: number;
  history: H[];
  seconds: number;
}

export const checkpointDir = (dir: string) => `${dir}.partial`;

/** Saves a checkpoint of `model` after `epochs` epochs, replacing the previous one. */
export async function saveCheckpoint<H>(
  dir: string,
  spec: unknown,
  c: Omit<Checkpoint<H>, 'model' | 'optimizer'> & {
    model: tfl.LayersModel;
    optimizer: tf.Optimizer;
  },
): Promise<void> {
  const final = checkpointDir(dir);
  const tmp = `${final}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await c.model.save(fileSystem(tmp));
  const o = await optimizerState(c.optimizer);
  const file: CheckpointFile = {
    spec: JSON.stringify(spec),
    epochs: c.epochs,
    history: c.history,
    seconds: c.seconds,
    optimizer: {
      ...o,
      weights: o.weights.map((w) => ({
        name: w.name,
        shape: w.shape,
        base64: Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength).toString(
          'base64',
        ),
      })),
    },
  };
  await writeFile(join(tmp, 'state.json'), JSON.stringify(file));
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
}

/**
 * The checkpoint of `dir` if there is one for this spec (null otherwise: none, another spec's,
 * or one that cannot be read, which is then removed so that training starts afresh).
 */
export async function loadCheckpoint<H>(
  dir: string,
  spec: unknown,
  log?: (line: string) => void,
): Promise<Checkpoint<H> | null> {
  const at = checkpointDir(dir);
  if (!existsSync(join(at, 'state.json'))) return null;
  try {
    const file = JSON.parse(await readFile(join(at, 'state.json'), 'utf8')) as CheckpointFile;
    if (file.spec !== JSON.stringify(spec)) {
      log?.(`${at}: a checkpoint of another training spec; starting afresh`);
      await rm(at, { recursive: true, force: true });
      return null;
    }
    const model = await tfl.loadLayersModel(fileSystem(at));
    const optimizer = await restoreOptimizer({
      ...file.optimizer,
      weights: file.optimizer.weights.map((w) => {
        const bytes = Buffer.from(w.base64, 'base64');
        const values = new Float32Array(bytes.byteLength / 4);
        new Uint8Array(values.buffer).set(bytes);
        return { name: w.name, shape: w.shape, values };
      }),
    });
    return {
      model,
      optimizer,
      epochs: file.epochs,
      history: file.history as H[],
      seconds: file.seconds,
    };
  } catch (e) {
    log?.(`${at}: unreadable checkpoint (${(e as Error).message}); starting afresh`);
    await rm(at, { recursive: true, force: true });
    return null;
  }
}

export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(checkpointDir(dir), { recursive: true, force: true });
}
