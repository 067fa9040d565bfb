import { mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileSystem } from './io.js';
import { setupBackend } from './setup.js';

/**
 * Faults injected into the fs calls fileSystem() makes (it imports node:fs/promises lazily, and
 * that import gets this mock): a save that dies where a crash would stop it, a reader that races
 * a writer. Everything else goes to the real fs.
 */
const faults = vi.hoisted(() => ({
  /** rename(tmp, target) to a target with this file name throws, as if the process died there. */
  failRenameTo: null as string | null,
  /** Runs (once) before the first readFile of a file with this name. */
  beforeRead: null as { file: string; run: () => Promise<void> } | null,
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const { basename } = await import('node:path');
  const rename: typeof real.rename = async (from, to) => {
    if (faults.failRenameTo != null && basename(String(to)) === faults.failRenameTo) {
      throw Object.assign(new Error(`injected crash before renaming ${String(to)}`), {
        code: 'EIO',
      });
    }
    return real.rename(from, to);
  };
  const readFile = (async (file: Parameters<typeof real.readFile>[0], ...rest: unknown[]) => {
    const hook = faults.beforeRead;
    if (hook != null && basename(String(file)) === hook.file) {
      faults.beforeRead = null;
      await hook.run();
    }
    return (real.readFile as (...a: unknown[]) => Promise<unknown>)(file, ...rest);
  }) as typeof real.readFile;
  return { ...real, default: { ...real, rename, readFile }, rename, readFile };
});

let dir: string;
beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'fa-robust-io-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  faults.failRenameTo = null;
  faults.beforeRead = null;
});

function model(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, name: 'conv' }),
      tfl.layers.flatten({ name: 'flat' }),
      tfl.layers.dense({ units: 3, name: 'out' }),
    ],
  });
}

const weightValues = (m: tfl.LayersModel) => m.getWeights().map((t) => Array.from(t.dataSync()));

async function manifestPaths(folder: string): Promise<string[]> {
  const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
  return json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths);
}

describe('a save that dies before its model.json is renamed', () => {
  it('leaves the old model loadable and intact (its model.json and its weights)', async () => {
    const folder = join(dir, 'crash-rename');
    const [oldModel, newModel] = [model(), model()]; // same architecture, other weights
    await oldModel.save(fileSystem(folder));
    const before = await readdir(folder);
    faults.failRenameTo = 'model.json';
    await expect(newModel.save(fileSystem(folder))).rejects.toThrow(/injected crash/);
    faults.failRenameTo = null;
    const loaded = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(loaded)).toEqual(weightValues(oldModel));
    // the failed save's own files are gone: its temporary model.json and its weights file
    expect((await readdir(folder)).sort()).toEqual(before.sort());
    // and the next save goes through
    await newModel.save(fileSystem(folder));
    const again = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(again)).toEqual(weightValues(newModel));
    for (const m of [oldModel, newModel, loaded, again]) m.dispose();
  });

  it('stopped dead after writing its weights (the internal steps, as a crash leaves them)', async () => {
    const { commitModelJSON, prepareSave, writeWeightsFile } = await import('./io.js');
    const folder = join(dir, 'crash-steps');
    const [oldModel, newModel] = [model(), model()];
    await oldModel.save(fileSystem(folder));
    let artifacts: tf.io.ModelArtifacts | undefined;
    await newModel.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
      }),
    );
    const prepared = await prepareSave(folder, artifacts!);
    await writeWeightsFile(prepared); // ...and the process dies here
    expect(await readdir(folder)).toContain(prepared.weightsFile);
    expect(await manifestPaths(folder)).not.toContain(prepared.weightsFile);
    const loaded = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(loaded)).toEqual(weightValues(oldModel));
    // A later save keeps the fresh orphan (it could be a live writer's, about to be named)...
    const third = model();
    await third.save(fileSystem(folder));
    expect(await readdir(folder)).toContain(prepared.weightsFile);
    // ...and removes it once it is stale.
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(folder, prepared.weightsFile), hourAgo, hourAgo);
    await third.save(fileSystem(folder));
    const files = (await readdir(folder)).sort();
    expect(files).toEqual(['model.json', ...(await manifestPaths(folder))].sort());
    // the steps, run to the end, make the new model the folder's
    await writeWeightsFile(prepared);
    await commitModelJSON(prepared);
    const last = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(last)).toEqual(weightValues(newModel));
    for (const m of [oldModel, newModel, loaded, third, last]) m.dispose();
  });
});

describe('a reader racing a writer', () => {
  it('reads model.json again when the weights file it named was replaced meanwhile', async () => {
    const folder = join(dir, 'race');
    const [first, second] = [model(), model()];
    await first.save(fileSystem(folder));
    const [oldWeights] = await manifestPaths(folder);
    // between the reader's model.json and its weights, a writer saves another model
    faults.beforeRead = {
      file: oldWeights!,
      run: async () => {
        await second.save(fileSystem(folder));
      },
    };
    const loaded = await tfl.loadLayersModel(fileSystem(folder));
    expect(faults.beforeRead).toBeNull(); // the race happened
    expect(await readdir(folder)).not.toContain(oldWeights);
    expect(weightValues(loaded)).toEqual(weightValues(second));
    for (const m of [first, second, loaded]) m.dispose();
  });
});
