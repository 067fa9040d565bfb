import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
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

/** A small conv net; named layers give the same weight names to every copy (default: unique). */
function model(options: { filters?: number; named?: boolean } = {}): tfl.LayersModel {
  const name = (n: string) => (options.named ? { name: n } : {});
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: [8, 8, 1],
      filters: options.filters ?? 3,
      kernelSize: 3,
      activation: 'relu',
      ...name('conv'),
    }),
  );
  m.add(tfl.layers.flatten(name('flat')));
  m.add(tfl.layers.dense({ units: 4, ...name('out') }));
  m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  return m;
}

const input = () => tf.tensor4d(seededValues(2 * 64, 5), [2, 8, 8, 1]);
const WEIGHTS_FILE = /^weights-[0-9a-f]{12}\.bin$/;

/** The weights file the folder's model.json names (its only one). */
async function weightsFileOf(folder: string): Promise<string> {
  const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
  return join(folder, json.weightsManifest[0].paths[0]);
}

const weightValues = (m: tfl.LayersModel) => m.getWeights().map((t) => Array.from(t.dataSync()));

/**
 * A folder in the layout fileSystem() wrote before checksums (and tfjs-node writes):
 * model.json with modelTopology and weightsManifest naming weights.bin, no checksum record.
 */
async function oldLayoutFolder(m: tfl.LayersModel, folder: string): Promise<void> {
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      await mkdir(folder, { recursive: true });
      const bytes = new Uint8Array(a.weightData as ArrayBuffer);
      await writeFile(join(folder, 'weights.bin'), bytes);
      const json = {
        modelTopology: a.modelTopology,
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      };
      await writeFile(join(folder, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
}

describe.each(['wasm', 'cpu'])('model files on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('round-trips a layers model through a folder in the tfjs-node layout', async () => {
    const m = model();
    const folder = join(dir, `rt-${backend}`);
    await m.save(fileSystem(folder));
    const files = (await readdir(folder)).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toBe('model.json');
    expect(files[1]).toMatch(WEIGHTS_FILE);
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual([files[1]]);
    expect(json.format).toBe('layers-model');
    // the checksum record: the weights file's SHA-256 (its name starts with it) and the weights
    const record = json.weightsIntegrity;
    expect(record.algorithm).toBe('SHA-256');
    expect(record.files).toHaveLength(1);
    expect(record.files[0].path).toBe(files[1]);
    expect(record.files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(files[1]).toBe(`weights-${record.files[0].sha256.slice(0, 12)}.bin`);
    expect(record.files[0].bytes).toBe((await stat(join(folder, files[1]!))).size);
    expect(record.weights).toEqual(
      json.weightsManifest[0].weights.map((w: tf.io.WeightsManifestEntry) => ({
        name: w.name,
        shape: w.shape,
        dtype: w.dtype,
      })),
    );
    expect(record.weights.map((w: { shape: number[] }) => w.shape)).toEqual([
      [3, 3, 1, 3],
      [3],
      [108, 4],
      [4],
    ]);
    const before = tf.memory().numTensors;
    const again = await tfl.loadLayersModel(fileSystem(folder));
    const x = input();
    const [a, b] = [m.predict(x) as tf.Tensor, again.predict(x) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, x]);
    again.dispose();
    expect(tf.memory().numTensors).toBe(before); // the load's own checks keep nothing
    m.dispose();
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
    const weights = await weightsFileOf(folder);
    await truncate(weights, 10);
    const truncated = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
    expect(truncated).toBeInstanceOf(ModelFileError);
    expect(truncated.file).toBe(weights);
    expect(truncated.message).toMatch(
      /corrupt weights: .*weights-[0-9a-f]{12}\.bin hold 10 bytes, but .*model\.json describes 1864 bytes/,
    );
    await rm(weights);
    const err = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toMatch(
      /weights file not found or unreadable: .*weights-[0-9a-f]{12}\.bin/,
    );
  });

  it('refuses a model.json without a weightsManifest instead of loading random weights', async () => {
    const folder = await saved('no-manifest');
    const jsonPath = join(folder, 'model.json');
    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    delete json.weightsManifest;
    await writeFile(jsonPath, JSON.stringify(json));
    const err = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.file).toBe(jsonPath);
    expect(err.message).toMatch(
      /corrupt model file .*no-manifest\/model\.json: it has no "weightsManifest".*random initial weights/,
    );
    for (const bad of [{}, [{ paths: 'weights.bin', weights: [] }], [{ paths: [], weights: 3 }]]) {
      await writeFile(jsonPath, JSON.stringify({ ...json, weightsManifest: bad }));
      const e = await tfl.loadLayersModel(fileSystem(folder)).catch((x) => x);
      expect(e).toBeInstanceOf(ModelFileError);
      expect(e.message).toMatch(/corrupt model file .*model\.json: weightsManifest/);
    }
  });

  it('refuses weights whose bytes changed after saving (checksum), naming the file', async () => {
    const folder = await saved('flipped');
    const weights = await weightsFileOf(folder);
    const bytes = await readFile(weights);
    bytes[100] = bytes[100]! ^ 0x10; // one flipped bit: same size, a plausible float
    await writeFile(weights, bytes);
    const err = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.file).toBe(weights);
    expect(err.message).toMatch(
      /corrupt weights: .*weights-[0-9a-f]{12}\.bin does not match the SHA-256 recorded in .*flipped\/model\.json \(found [0-9a-f]{64}, recorded [0-9a-f]{64}\)/,
    );
  });

  it('refuses a checksum record that disagrees with the manifest', async () => {
    const folder = await saved('record');
    const jsonPath = join(folder, 'model.json');
    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    const edited = structuredClone(json);
    edited.weightsIntegrity.weights[2].shape = [4, 108];
    await writeFile(jsonPath, JSON.stringify(edited));
    await expect(tfl.loadLayersModel(fileSystem(folder))).rejects.toThrow(
      /corrupt model file .*model\.json: its weightsManifest does not match its checksum record: weight 2 is "[^"]+" \[108,4\] float32 in the manifest, "[^"]+" \[4,108\] float32 in the record/,
    );
    const otherFile = structuredClone(json);
    otherFile.weightsIntegrity.files[0].path = 'weights-000000000000.bin';
    await writeFile(jsonPath, JSON.stringify(otherFile));
    await expect(tfl.loadLayersModel(fileSystem(folder))).rejects.toThrow(
      /its weightsManifest does not match its checksum record: .*weights-[0-9a-f]{12}\.bin.*weights-000000000000\.bin/,
    );
  });

  it('refuses weights paths that leave the model folder', async () => {
    const folder = await saved('escape');
    const jsonPath = join(folder, 'model.json');
    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    delete json.weightsIntegrity; // as in a folder saved before checksums
    // a file outside the folder with exactly the bytes the manifest describes: it would load
    const outside = join(dir, 'outside.bin');
    await writeFile(outside, await readFile(await weightsFileOf(folder)));
    for (const path of ['../outside.bin', outside, '../../etc/hostname', '/etc/hostname']) {
      json.weightsManifest[0].paths = [path];
      await writeFile(jsonPath, JSON.stringify(json));
      const err = await tfl.loadLayersModel(fileSystem(folder)).catch((e) => e);
      expect(err, path).toBeInstanceOf(ModelFileError);
      expect(err.file).toBe(jsonPath);
      expect(err.message).toMatch(
        /^unsafe weights path in .*escape\/model\.json: weightsManifest\[0\]\.paths\[0\] = ".*" (is absolute|leaves the model folder)/,
      );
    }
  });

  it('refuses weights saved for another architecture, naming the weight and the file', async () => {
    // model.json of one architecture (3 filters), the manifest and weights of another (5)
    const [three, five] = [model({ named: true }), model({ named: true, filters: 5 })];
    const [a, b] = [join(dir, 'arch-3'), join(dir, 'arch-5')];
    await three.save(fileSystem(a));
    await five.save(fileSystem(b));
    const jsonA = JSON.parse(await readFile(join(a, 'model.json'), 'utf8'));
    const jsonB = JSON.parse(await readFile(join(b, 'model.json'), 'utf8'));
    const weightsB = await weightsFileOf(b);
    const mixed = join(dir, 'arch-mixed');
    await mkdir(mixed, { recursive: true });
    await writeFile(join(mixed, jsonB.weightsManifest[0].paths[0]), await readFile(weightsB));
    const { modelTopology: _b, ...restB } = jsonB;
    const mixedJson = { ...restB, modelTopology: jsonA.modelTopology };
    await writeFile(join(mixed, 'model.json'), JSON.stringify(mixedJson));
    const err = await tfl.loadLayersModel(fileSystem(mixed)).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.file).toBe(join(mixed, 'model.json'));
    expect(err.message).toMatch(
      /^weights that do not fit the model in .*arch-mixed\/model\.json \(weights saved for another architecture\?\): "conv\/kernel" is \[3,3,1,5\] in its weightsManifest but \[3,3,1,3\] in its modelTopology; "conv\/bias" is \[5\] .* but \[3\]/,
    );
    three.dispose();
    five.dispose();
  });

  it('leaves no temporary files and replaces an existing model whole', async () => {
    const folder = await saved('replace');
    await writeFile(join(folder, 'train-info.json'), '{}'); // other files in the folder stay
    const m = model();
    await m.save(fileSystem(folder));
    const files = (await readdir(folder)).sort();
    expect(files.slice(0, 2)).toEqual(['model.json', 'train-info.json']);
    expect(files).toHaveLength(3); // the replaced weights file is gone
    expect(join(folder, files[2]!)).toBe(await weightsFileOf(folder));
    const again = await tfl.loadLayersModel(fileSystem(folder));
    expect(again.getWeights()[0]!.dataSync()).toEqual(m.getWeights()[0]!.dataSync());
    m.dispose();
    again.dispose();
  });

  it('removes temporary files only when stale: their writer gone, or older than 10 minutes', async () => {
    const folder = await saved('stale');
    const weights = (await weightsFileOf(folder)).split('/').at(-1)!;
    // a process that has exited
    const dead = await new Promise<number>((done) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('exit', () => done(child.pid!));
    });
    const live = process.ppid; // a live process, not this one
    const tmp = (target: string, pid: number) => `${target}.tmp-${pid}-abc123`;
    const names = {
      deadJson: tmp('model.json', dead),
      deadWeights: tmp('weights.bin', dead),
      liveJson: tmp('model.json', live),
      liveOld: tmp(weights, live),
      ownFresh: tmp('model.json', process.pid),
      orphanFresh: 'weights-0123456789ab.bin',
      orphanOld: 'weights-ba9876543210.bin',
      unrelated: 'notes.txt.tmp-1-x',
    };
    for (const name of Object.values(names)) await writeFile(join(folder, name), 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const name of [names.liveOld, names.orphanOld]) {
      await utimes(join(folder, name), hourAgo, hourAgo);
    }
    const m = model();
    await m.save(fileSystem(folder));
    const left = new Set(await readdir(folder));
    for (const gone of [names.deadJson, names.deadWeights, names.liveOld, names.orphanOld]) {
      expect(left.has(gone), gone).toBe(false);
    }
    for (const kept of [names.liveJson, names.ownFresh, names.orphanFresh, names.unrelated]) {
      expect(left.has(kept), kept).toBe(true);
    }
    const again = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(again)).toEqual(weightValues(m));
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
    expect(existsSync(await weightsFileOf(folder))).toBe(true);
    m.dispose();
  });
});

describe('folders saved before checksums (model.json + weights.bin, no checksum record)', () => {
  it('load exactly as before, with the manifest and path checks, and are replaced whole by a new save', async () => {
    const m = model();
    const folder = join(dir, 'old-layout');
    await oldLayoutFolder(m, folder);
    expect((await readdir(folder)).sort()).toEqual(['model.json', 'weights.bin']);
    const again = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(again)).toEqual(weightValues(m));
    const [a, b] = [m.predict(input()) as tf.Tensor, again.predict(input()) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
    // the size check still applies
    await truncate(join(folder, 'weights.bin'), 12);
    await expect(tfl.loadLayersModel(fileSystem(folder))).rejects.toThrow(
      /corrupt weights: .*weights\.bin hold 12 bytes/,
    );
    // saving over it: the new layout, weights.bin removed once model.json no longer names it
    await oldLayoutFolder(m, folder);
    const n = model();
    await n.save(fileSystem(folder));
    const files = (await readdir(folder)).sort();
    expect(files[0]).toBe('model.json');
    expect(files.slice(1)).toEqual([expect.stringMatching(WEIGHTS_FILE)]);
    const third = await tfl.loadLayersModel(fileSystem(folder));
    expect(weightValues(third)).toEqual(weightValues(n));
    for (const x of [m, n, again, third]) x.dispose();
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
    const bin = await readFile(await weightsFileOf(folder));
    expect(floats(new Uint8Array(bin).buffer)).toEqual([1, 2, 3, 4, 5]);
    const empty = join(dir, 'no-weights');
    await fileSystem(empty).save!({ modelTopology: {}, weightSpecs: [] });
    expect((await readFile(await weightsFileOf(empty))).length).toBe(0);
    expect((await fileSystem(empty).load!()).weightSpecs).toEqual([]);
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
