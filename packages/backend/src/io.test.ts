import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError } from './errors.js';
import { fileSystem } from './io.js';
import { setupBackend } from './setup.js';
import { seededValues } from './test-utils.js';

let dir: string;
beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'fa-robust-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function model(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
  );
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 4 }));
  m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  return m;
}

const input = () => tf.tensor4d(seededValues(2 * 64, 5), [2, 8, 8, 1]);

describe.each(['wasm', 'cpu'])('model files on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('round-trips a layers model through a folder in the tfjs-node layout', async () => {
    const m = model();
    const folder = join(dir, `rt-${backend}`);
    await m.save(fileSystem(folder));
    expect((await readdir(folder)).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.format).toBe('layers-model');
    const again = await tfl.loadLayersModel(fileSystem(folder));
    const [a, b] = [m.predict(input()) as tf.Tensor, again.predict(input()) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
    m.dispose();
    again.dispose();
  });

  it('works through file:// URLs, to a folder or its model.json', async () => {
    const m = model();
    const folder = join(dir, `url-${backend}`);
    await m.save(`file://${folder}`);
    const viaFolder = await tfl.loadLayersModel(fileSystem(`file://${folder}`));
    const viaJson = await tfl.loadLayersModel(`file://${folder}/model.json`);
    for (const other of [viaFolder, viaJson]) {
      const w = other.getWeights().map((t) => Array.from(t.dataSync()));
      expect(w).toEqual(m.getWeights().map((t) => Array.from(t.dataSync())));
      other.dispose();
    }
    m.dispose();
  });
});

describe('model file errors', () => {
  async function saved(name: string): Promise<string> {
    const m = model();
    const folder = join(dir, name);
    await m.save(fileSystem(folder));
    m.dispose();
    return folder;
  }

  it('names the missing model.json', async () => {
    const folder = join(dir, 'nothing-here');
    const err = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.file).toBe(join(folder, 'model.json'));
    expect(err.message).toMatch(/model file not found: expected .*nothing-here\/model\.json/);
  });

  it('refuses a model.json that is not JSON, or not a model', async () => {
    const folder = await saved('bad-json');
    await writeFile(join(folder, 'model.json'), '{"modelTopology": ');
    await expect(tfl.loadLayersModel(fileSystem(folder))).rejects.toThrow(
      /corrupt model file .*model\.json: expected JSON/,
    );
    await writeFile(join(folder, 'model.json'), '{"hello": 1}');
    await expect(tfl.loadLayersModel(fileSystem(folder))).rejects.toThrow(
      /"modelTopology" field, found object with keys \["hello"\]/,
    );
  });

  it('names a missing weights file and refuses a truncated one', async () => {
    const folder = await saved('bad-weights');
    await truncate(join(folder, 'weights.bin'), 10);
    await expect(tfl.loadLayersModel(fileSystem(folder))).rejects.toThrow(
      /corrupt weights: .*weights\.bin hold 10 bytes, but .* describes \d+ bytes/,
    );
    await rm(join(folder, 'weights.bin'));
    const err = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toMatch(/weights file not found or unreadable: .*weights\.bin/);
  });

  it('leaves no temporary files and replaces an existing model whole', async () => {
    const folder = await saved('replace');
    const m = model();
    await m.save(fileSystem(folder));
    expect((await readdir(folder)).sort()).toEqual(['model.json', 'weights.bin']);
    const again = await tfl.loadLayersModel(fileSystem(folder));
    expect(again.getWeights()[0]!.dataSync()).toEqual(m.getWeights()[0]!.dataSync());
    m.dispose();
    again.dispose();
  });

  it('keeps the old model when a save fails, and leaves no temporary file', async () => {
    const folder = await saved('failing');
    const before = await readFile(join(folder, 'model.json'), 'utf8');
    const m = model();
    // A layers model whose save throws while serialising weights: nothing is renamed.
    const failing: tf.io.IOHandler = fileSystem(folder);
    const broken = {
      ...failing,
      save: (a: tf.io.ModelArtifacts) => failing.save!({ ...a, modelTopology: new ArrayBuffer(4) }),
    };
    await expect(m.save(broken)).rejects.toThrow(ModelFileError);
    expect(await readFile(join(folder, 'model.json'), 'utf8')).toBe(before);
    expect((await readdir(folder)).some((f) => f.includes('.tmp-'))).toBe(false);
    expect(existsSync(join(folder, 'weights.bin'))).toBe(true);
    m.dispose();
  });
});

describe('weight bytes', () => {
  const spec = (name: string, n: number) => ({ name, shape: [n], dtype: 'float32' as const });
  const floats = (b: ArrayBuffer) => [...new Float32Array(b)];

  it('writes weight data given in several buffers end to end, and none as an empty file', async () => {
    const folder = join(dir, 'buffers');
    await fileSystem(folder).save!({
      modelTopology: {},
      weightSpecs: [spec('a', 3), spec('b', 2)],
      weightData: [Float32Array.from([1, 2, 3]).buffer, Float32Array.from([4, 5]).buffer],
    });
    const bin = await readFile(join(folder, 'weights.bin'));
    expect(floats(new Uint8Array(bin).buffer)).toEqual([1, 2, 3, 4, 5]);
    const empty = join(dir, 'no-weights');
    await fileSystem(empty).save!({ modelTopology: {}, weightSpecs: [] });
    expect((await readFile(join(empty, 'weights.bin'))).length).toBe(0);
  });

  it('reads groups of several shard files, cut anywhere, as one buffer', async () => {
    const folder = join(dir, 'shards');
    const all = new Uint8Array(Float32Array.from([1, 2, 3, 4, 5]).buffer);
    await fileSystem(folder).save!({ modelTopology: {}, weightSpecs: [] });
    await writeFile(join(folder, 's1'), all.subarray(0, 5));
    await writeFile(join(folder, 's2'), all.subarray(5, 12));
    await writeFile(join(folder, 's3'), all.subarray(12));
    const weightsManifest = [
      { paths: ['s1', 's2'], weights: [spec('a', 3)] },
      { paths: ['s3'], weights: [spec('b', 2)] },
    ];
    await writeFile(
      join(folder, 'model.json'),
      JSON.stringify({ modelTopology: {}, weightsManifest }),
    );
    const artifacts = await fileSystem(folder).load!();
    expect(artifacts.weightSpecs?.map((s) => s.name)).toEqual(['a', 'b']);
    expect((artifacts.weightData as ArrayBuffer).byteLength).toBe(20);
    expect(floats(artifacts.weightData as ArrayBuffer)).toEqual([1, 2, 3, 4, 5]);
  });
});
