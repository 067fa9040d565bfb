import { concatTyped } from '@fa-robust/internal';
import * as tf from '@tensorflow/tfjs-core';
import { ModelFileError } from './errors.js';

/**
 * Model files in Node without tfjs-node: a folder holding model.json (topology, weights manifest)
 * and the weights file it names, the layout tfjs-node reads, so models move freely between the
 * two.
 *
 * Saving is all-or-nothing. The weights go to a file named after their SHA-256
 * (weights-<first 12 hex digits>.bin), written under a temporary name, flushed and renamed;
 * nothing names that file yet, so the folder still holds the old model, whole. Then model.json,
 * which names the new file and records its checksum, replaces the old one by one atomic rename:
 * the commit. Only then are the weights files the new model.json no longer names removed. A crash
 * at any point leaves the old model or the new one, never a mix. Temporary files and unnamed
 * weights files that crashed writers left behind are removed by a later save once stale (their
 * writer's pid gone, or older than STALE_MS), never while a live writer may still use them.
 *
 * Loading checks what it reads before tfjs sees it: a manifest must be there (without one tfjs
 * would silently build the model with random initial weights), weights paths must stay inside the
 * folder, the weights files must hold the bytes the manifest describes and, when model.json has
 * a checksum record (every save by this version on; older folders have none and still load), match
 * its SHA-256, and the weights must fit the model's layers. Each refusal is a ModelFileError
 * naming the file.
 */

const MODEL_JSON = 'model.json';
/** The weights file of folders saved before checksums (and of tfjs-node's). */
const LEGACY_WEIGHTS = 'weights.bin';
/** model.json's key for the checksum record: tfjs copies the keys it knows and ignores others. */
const INTEGRITY_KEY = 'weightsIntegrity';
const WEIGHTS_FILE = /^weights-[0-9a-f]{12}\.bin$/;
/** `${target}.tmp-${pid}-${random}`, as writeAtomic (and the version before this one) names them. */
const TEMP_FILE = /^(?:model\.json|weights(?:-[0-9a-f]{12})?\.bin)\.tmp-(\d+)-[0-9a-z]+$/;
/** How old a temporary or unnamed weights file must be before a live writer is ruled out. */
const STALE_MS = 10 * 60_000;
/** Reads of model.json when the weights it named vanish meanwhile (a writer replaced them). */
const LOAD_ATTEMPTS = 3;
const LAYERS = '@tensorflow/tfjs-layers';

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');
type CryptoModule = typeof import('node:crypto');
interface NodeModules {
  fs: FsPromises;
  path: PathModule;
  crypto: CryptoModule;
}

async function nodeModules(): Promise<NodeModules> {
  // Imported lazily so that browser bundles of this package never see node: modules.
  const [fs, path, crypto] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('node:crypto'),
  ]);
  return { fs, path, crypto };
}

/** The checksum record a save writes into model.json under INTEGRITY_KEY. */
interface WeightsIntegrity {
  algorithm: 'SHA-256';
  /** Every weights file the manifest names, in its order. */
  files: { path: string; bytes: number; sha256: string }[];
  /** Every weight the manifest lists, in its order. */
  weights: { name: string; shape: number[]; dtype: string }[];
}

function stripScheme(url: string): string {
  return url.startsWith('file://') ? url.slice('file://'.length) : url;
}

function sha256(crypto: CryptoModule, bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/** A short description of a JSON value, for messages. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 80)}`;
}

async function writeAtomic(
  { fs, crypto }: NodeModules,
  target: string,
  data: string | Uint8Array,
): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(tmp, target);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

/** Makes the renames in `folder` durable (best effort: not every platform can sync a folder). */
async function syncFolder(fs: FsPromises, folder: string): Promise<void> {
  let handle: Awaited<ReturnType<FsPromises['open']>> | undefined;
  try {
    handle = await fs.open(folder, 'r');
    await handle.sync();
  } catch {
    // e.g. EISDIR / EPERM on Windows
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Weight buffers (ArrayBuffers, or views such as the Buffers fs.readFile returns) end to end in
 * one new Uint8Array of exactly their size. The workspace's concatTyped, not tfjs': its
 * tf.io.concatenateArrayBuffers is deprecated in 4.22, and the CompositeArrayBuffer.join it
 * points to takes a typed array's whole `.buffer`, ignoring the view's offset and length.
 */
function concatWeightData(data: tf.io.WeightData | readonly Uint8Array[] | undefined): Uint8Array {
  if (data == null) return new Uint8Array(0);
  const parts = (Array.isArray(data) ? data : [data]) as readonly (ArrayBuffer | Uint8Array)[];
  return concatTyped(
    parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p))),
    (n) => new Uint8Array(n),
  );
}

/** Bytes per value as tfjs encodes weights (tf.io's DTYPE_VALUE_SIZE_MAP). */
const BYTES_PER_VALUE: Record<string, number> = {
  float32: 4,
  int32: 4,
  float16: 2,
  uint16: 2,
  uint8: 1,
  bool: 1,
  complex64: 8,
};

/** The bytes a manifest group's weights take; NaN when that cannot be known (strings). */
function expectedBytes(specs: tf.io.WeightsManifestEntry[]): number {
  let bytes = 0;
  for (const s of specs) {
    if (s.dtype === 'string') return Number.NaN; // variable length: cannot be checked
    const size = s.shape.reduce((a, b) => a * b, 1);
    const per = BYTES_PER_VALUE[s.quantization?.dtype ?? s.dtype] ?? Number.NaN;
    bytes += size * per;
  }
  return bytes;
}

/** model.json as tfjs writes it (tfjs-core does not export its own helper for this). */
function toModelJSON(
  a: tf.io.ModelArtifacts,
  weightsManifest: tf.io.WeightsManifestConfig,
): tf.io.ModelJSON {
  const json: tf.io.ModelJSON = {
    modelTopology: a.modelTopology as object,
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    weightsManifest,
  };
  if (a.signature != null) json.signature = a.signature;
  if (a.userDefinedMetadata != null) json.userDefinedMetadata = a.userDefinedMetadata;
  if (a.modelInitializer != null) json.modelInitializer = a.modelInitializer;
  if (a.initializerSignature != null) json.initializerSignature = a.initializerSignature;
  if (a.trainingConfig != null) json.trainingConfig = a.trainingConfig;
  return json;
}

const specLabel = (w: { name: string; shape: number[]; dtype: string }) =>
  `"${w.name}" [${w.shape}] ${w.dtype}`;

// ---------------------------------------------------------------------------------------------
// Saving, in steps (exported for the tests, which stop between them as a crash would; not part of
// the package's API).

/** One save, ready to write: what goes where. */
export interface PreparedSave {
  folder: string;
  /** The weights file's name in `folder`: weights-<sha12>.bin. */
  weightsFile: string;
  weights: Uint8Array;
  /** model.json's text, naming `weightsFile` and recording its checksum. */
  modelJSON: string;
}

/** Everything a save writes, computed before anything is written. */
export async function prepareSave(
  root: string,
  artifacts: tf.io.ModelArtifacts,
): Promise<PreparedSave> {
  const { path, crypto } = await nodeModules();
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new ModelFileError(
      'saving binary (graph-model) topologies is not supported; save a layers model',
      root,
    );
  }
  const folder = root.endsWith('.json') ? path.dirname(root) : root;
  const weights = concatWeightData(artifacts.weightData);
  const hash = sha256(crypto, weights);
  const weightsFile = `weights-${hash.slice(0, 12)}.bin`;
  const specs = artifacts.weightSpecs ?? [];
  const record: WeightsIntegrity = {
    algorithm: 'SHA-256',
    files: [{ path: weightsFile, bytes: weights.byteLength, sha256: hash }],
    weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype: s.dtype })),
  };
  const json = {
    ...toModelJSON(artifacts, [{ paths: [weightsFile], weights: specs }]),
    [INTEGRITY_KEY]: record,
  };
  return { folder, weightsFile, weights, modelJSON: JSON.stringify(json) };
}

/** Step 1: the weights, under their own new name; the folder's model.json does not name them. */
export async function writeWeightsFile(save: PreparedSave): Promise<void> {
  const n = await nodeModules();
  await n.fs.mkdir(save.folder, { recursive: true });
  await writeAtomic(n, n.path.join(save.folder, save.weightsFile), save.weights);
  await syncFolder(n.fs, save.folder);
}

/** The weights files a model.json names (null when it is missing or unreadable). */
async function namedFiles(n: NodeModules, jsonPath: string): Promise<Set<string> | null> {
  try {
    const json = JSON.parse(await n.fs.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
    const names = new Set<string>();
    for (const group of json?.weightsManifest ?? []) {
      for (const p of group?.paths ?? []) if (typeof p === 'string') names.add(p);
    }
    return names;
  } catch {
    return null;
  }
}

/**
 * Step 2, the commit: model.json replaced by one atomic rename. Returns the weights files the
 * replaced model.json named.
 */
export async function commitModelJSON(save: PreparedSave): Promise<string[]> {
  const n = await nodeModules();
  const jsonPath = n.path.join(save.folder, MODEL_JSON);
  const replaced = [...((await namedFiles(n, jsonPath)) ?? [])];
  await writeAtomic(n, jsonPath, save.modelJSON);
  await syncFolder(n.fs, save.folder);
  return replaced;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM'; // alive, another user's
  }
}

/**
 * Step 3: removes, from `folder` (never outside it), weights files that the model.json now in it
 * does not name: those the replaced model.json named (weights.bin or weights-<sha12>.bin), and
 * stale unnamed weights-<sha12>.bin; and stale temporary files of crashed writers. A temporary
 * file is stale when its writer (the pid in its name) is no longer running on this machine, or
 * when older than STALE_MS; an unnamed weights file only when older than STALE_MS (a live
 * writer may be about to name it). Best effort: a save has committed before this runs.
 */
export async function cleanFolder(folder: string, replaced: readonly string[]): Promise<void> {
  const n = await nodeModules();
  const current = await namedFiles(n, n.path.join(folder, MODEL_JSON));
  if (current == null) return; // cannot tell what is in use: leave everything
  let entries: string[];
  try {
    entries = await n.fs.readdir(folder);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of entries) {
    if (current.has(name)) continue;
    const temp = TEMP_FILE.exec(name);
    const weights = name === LEGACY_WEIGHTS || WEIGHTS_FILE.test(name);
    if (temp == null && !weights) continue;
    const file = n.path.join(folder, name);
    try {
      const info = await n.fs.stat(file);
      if (!info.isFile()) continue;
      const old = now - info.mtimeMs > STALE_MS;
      const pid = Number(temp?.[1]);
      const remove =
        temp != null
          ? old || (pid !== process.pid && !pidAlive(pid))
          : replaced.includes(name) || (WEIGHTS_FILE.test(name) && old);
      if (remove) await n.fs.rm(file, { force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

async function saveToFolder(root: string, artifacts: tf.io.ModelArtifacts): Promise<void> {
  const save = await prepareSave(root, artifacts);
  await writeWeightsFile(save);
  const n = await nodeModules();
  const weightsPath = n.path.join(save.folder, save.weightsFile);
  let replaced: string[];
  try {
    replaced = await commitModelJSON(save);
  } catch (error) {
    // The old model stays; the new weights file goes unless model.json names it (same weights).
    if (!(await namedFiles(n, n.path.join(save.folder, MODEL_JSON)))?.has(save.weightsFile)) {
      await n.fs.rm(weightsPath, { force: true }).catch(() => {});
    }
    throw error;
  }
  // A concurrent save's cleanup may have taken a file of the same name (same weights) meanwhile.
  try {
    await n.fs.stat(weightsPath);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') await writeWeightsFile(save);
  }
  await cleanFolder(save.folder, replaced);
}

// ---------------------------------------------------------------------------------------------
// Loading.

/** Errors for a weights file that is not there (a writer may have replaced it meanwhile). */
const missingWeights = new WeakSet<object>();

async function readModelText({ fs }: NodeModules, jsonPath: string): Promise<string> {
  try {
    return await fs.readFile(jsonPath, 'utf8');
  } catch (error) {
    throw new ModelFileError(
      errorCode(error) === 'ENOENT'
        ? `model file not found: expected ${jsonPath} (a folder saved with fileSystem() or tfjs-node)`
        : `cannot read model file ${jsonPath}: ${(error as Error).message}`,
      jsonPath,
      { cause: error },
    );
  }
}

function parseModelJSON(text: string, jsonPath: string): tf.io.ModelJSON {
  let modelJSON: tf.io.ModelJSON;
  try {
    modelJSON = JSON.parse(text) as tf.io.ModelJSON;
  } catch (error) {
    throw new ModelFileError(
      `corrupt model file ${jsonPath}: expected JSON, found ${text.length} bytes that do not parse (${(error as Error).message})`,
      jsonPath,
      { cause: error },
    );
  }
  if (modelJSON == null || typeof modelJSON !== 'object' || modelJSON.modelTopology == null) {
    throw new ModelFileError(
      `corrupt model file ${jsonPath}: expected an object with a "modelTopology" field, found ${modelJSON === null ? 'null' : typeof modelJSON}${modelJSON && typeof modelJSON === 'object' ? ` with keys ${JSON.stringify(Object.keys(modelJSON))}` : ''}`,
      jsonPath,
    );
  }
  return modelJSON;
}

function checkManifest(value: unknown, jsonPath: string): tf.io.WeightsManifestConfig {
  if (value == null) {
    throw new ModelFileError(
      `corrupt model file ${jsonPath}: it has no "weightsManifest", so it names no weights file; ` +
        'loading it would give the model random initial weights (restore the model.json saved ' +
        'with the weights, or save the model again)',
      jsonPath,
    );
  }
  const bad = (where: string, found: unknown, expected: string) =>
    new ModelFileError(
      `corrupt model file ${jsonPath}: weightsManifest${where} is ${describeValue(found)}, expected ${expected}`,
      jsonPath,
    );
  if (!Array.isArray(value)) throw bad('', value, 'a list of weight groups');
  value.forEach((group: { paths?: unknown; weights?: unknown } | null, g) => {
    if (group == null || typeof group !== 'object') {
      throw bad(`[${g}]`, group, 'an object with "paths" and "weights"');
    }
    const { paths, weights } = group;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) {
      throw bad(`[${g}].paths`, paths, 'a list of file names');
    }
    if (!Array.isArray(weights)) throw bad(`[${g}].weights`, weights, 'a list of weights');
    weights.forEach((w: { name?: unknown; shape?: unknown; dtype?: unknown } | null, i) => {
      const ok =
        w != null &&
        typeof w.name === 'string' &&
        typeof w.dtype === 'string' &&
        Array.isArray(w.shape) &&
        w.shape.every((d) => Number.isInteger(d) && d >= 0);
      if (!ok) throw bad(`[${g}].weights[${i}]`, w, '{ name, shape, dtype }');
    });
  });
  return value as tf.io.WeightsManifestConfig;
}

/** A manifest's weights file as a path to read, refused unless it lies in the folder. */
function weightsPathIn(
  { path }: NodeModules,
  folder: string,
  file: string,
  where: string,
  jsonPath: string,
): string {
  const unsafe = (why: string) =>
    new ModelFileError(
      `unsafe weights path in ${jsonPath}: ${where} = ${JSON.stringify(file)} ${why}; ` +
        `weights files must lie in the model folder ${folder}, named relative to it`,
      jsonPath,
    );
  if (file === '') throw unsafe('is empty');
  if (path.isAbsolute(file) || path.posix.isAbsolute(file) || path.win32.isAbsolute(file)) {
    throw unsafe('is absolute');
  }
  const base = path.resolve(folder);
  const full = path.resolve(base, file);
  const rel = path.relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw unsafe(`leaves the model folder (it resolves to ${full})`);
  }
  return path.join(folder, file);
}

/** The checksum record, checked against the manifest; null for folders saved without one. */
function checkRecord(
  value: unknown,
  manifest: tf.io.WeightsManifestConfig,
  jsonPath: string,
): WeightsIntegrity | null {
  if (value == null) return null;
  const corrupt = (what: string) =>
    new ModelFileError(`corrupt model file ${jsonPath}: ${what}`, jsonPath);
  const r = value as Partial<WeightsIntegrity>;
  if (typeof r !== 'object' || r.algorithm !== 'SHA-256') {
    throw corrupt(
      `its checksum record ("${INTEGRITY_KEY}") has algorithm ${describeValue(r?.algorithm)}, expected "SHA-256"`,
    );
  }
  const filesOk =
    Array.isArray(r.files) &&
    r.files.every(
      (f) =>
        f != null &&
        typeof f.path === 'string' &&
        Number.isInteger(f.bytes) &&
        typeof f.sha256 === 'string' &&
        /^[0-9a-f]{64}$/.test(f.sha256),
    );
  const weightsOk =
    Array.isArray(r.weights) &&
    r.weights.every(
      (w) =>
        w != null &&
        typeof w.name === 'string' &&
        typeof w.dtype === 'string' &&
        Array.isArray(w.shape),
    );
  if (!filesOk || !weightsOk) {
    throw corrupt(
      `its checksum record ("${INTEGRITY_KEY}") is malformed: expected "files" [{ path, bytes, sha256 }] and "weights" [{ name, shape, dtype }]`,
    );
  }
  const record = r as WeightsIntegrity;
  const mismatch = (what: string) =>
    corrupt(`its weightsManifest does not match its checksum record: ${what}`);
  const paths = manifest.flatMap((g) => g.paths);
  const recorded = record.files.map((f) => f.path);
  if (JSON.stringify(paths) !== JSON.stringify(recorded)) {
    throw mismatch(
      `the manifest names ${JSON.stringify(paths)}, the record ${JSON.stringify(recorded)}`,
    );
  }
  const specs = manifest.flatMap((g) => g.weights);
  if (specs.length !== record.weights.length) {
    throw mismatch(
      `the manifest lists ${specs.length} weights, the record ${record.weights.length}`,
    );
  }
  specs.forEach((s, i) => {
    const w = record.weights[i]!;
    if (s.name !== w.name || s.dtype !== w.dtype || `${s.shape}` !== `${w.shape}`) {
      throw mismatch(
        `weight ${i} is ${specLabel(s)} in the manifest, ${specLabel(w)} in the record`,
      );
    }
  });
  return record;
}

async function loadImport(specifier: string): Promise<Record<string, unknown>> {
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as Record<
    string,
    unknown
  >;
}

type LayersModelLike = {
  weights: { originalName: string; shape: (number | null)[] }[];
  dispose(): unknown;
};

/**
 * Refuses weights that do not fit the model's layers (saved for another architecture), which
 * tfjs-layers would report as a bare "Shape mismatch: [a] vs. [b]". The topology is built once
 * more here, with @tensorflow/tfjs-layers when it is installed, and its weight shapes compared with
 * the manifest's by name, as tfjs-layers matches them. Weights only one side has are left to
 * tfjs-layers and its `strict` option. Topologies it cannot build are left to it too (it reports
 * them as before).
 */
async function checkArchitecture(
  modelJSON: tf.io.ModelJSON,
  specs: tf.io.WeightsManifestEntry[],
  jsonPath: string,
): Promise<void> {
  const topology = modelJSON.modelTopology as { class_name?: unknown; model_config?: unknown };
  const config = (topology?.model_config ?? topology) as { class_name?: unknown } | undefined;
  if (specs.length === 0 || modelJSON.format === 'graph-model') return;
  if (typeof config?.class_name !== 'string') return;
  // keras v3 names ('layer/vars/0') are matched by position in tfjs-layers: not checked here.
  if (!Number.isNaN(Number.parseInt(specs[0]!.name.split('/').at(-1)!, 10))) return;
  let model: LayersModelLike;
  try {
    const layers = await loadImport(LAYERS);
    const models = layers.models as
      | { modelFromJSON?: (c: object) => Promise<LayersModelLike> }
      | undefined;
    if (typeof models?.modelFromJSON !== 'function') return;
    model = await models.modelFromJSON({ modelTopology: topology });
  } catch {
    return; // not installed, or a topology tfjs-layers will refuse with its own message
  }
  try {
    const shapes = new Map(model.weights.map((w) => [w.originalName, w.shape]));
    const wrong: string[] = [];
    for (const s of specs) {
      if (s.group === 'optimizer') continue;
      // tfjs-layers also accepts TF 2.2 names with a cell name inside: layer/cell/weight
      const t = s.name.split('/');
      const shape = shapes.get(s.name) ?? shapes.get([...t.slice(0, -2), t.at(-1)].join('/'));
      if (shape != null && `${shape}` !== `${s.shape}`) {
        wrong.push(
          `"${s.name}" is [${s.shape}] in its weightsManifest but [${shape}] in its modelTopology`,
        );
      }
    }
    if (wrong.length > 0) {
      const more = wrong.length > 4 ? `; and ${wrong.length - 4} more` : '';
      throw new ModelFileError(
        `weights that do not fit the model in ${jsonPath} (weights saved for another architecture?): ${wrong.slice(0, 4).join('; ')}${more}`,
        jsonPath,
      );
    }
  } finally {
    model.dispose();
  }
}

/** One attempt at loading: model.json's text as read, its weights read and checked. */
async function loadArtifacts(
  n: NodeModules,
  jsonPath: string,
  text: string,
): Promise<tf.io.ModelArtifacts> {
  const { fs, path, crypto } = n;
  const modelJSON = parseModelJSON(text, jsonPath);
  const manifest = checkManifest(modelJSON.weightsManifest, jsonPath);
  const folder = path.dirname(jsonPath);
  const files = manifest.map((group, g) =>
    group.paths.map((p, i) =>
      weightsPathIn(n, folder, p, `weightsManifest[${g}].paths[${i}]`, jsonPath),
    ),
  );
  const record = checkRecord(
    (modelJSON as unknown as Record<string, unknown>)[INTEGRITY_KEY],
    manifest,
    jsonPath,
  );
  const recorded = record?.files ?? [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  let fileIndex = 0;
  for (const [g, group] of manifest.entries()) {
    const groupBuffers: Uint8Array[] = [];
    for (const weightsPath of files[g]!) {
      let bytes: Uint8Array;
      try {
        bytes = await fs.readFile(weightsPath);
      } catch (error) {
        const e = new ModelFileError(
          `weights file not found or unreadable: ${weightsPath}, named by ${jsonPath} (${(error as Error).message})`,
          weightsPath,
          { cause: error },
        );
        if (errorCode(error) === 'ENOENT') missingWeights.add(e);
        throw e;
      }
      groupBuffers.push(bytes);
    }
    const bytes = concatWeightData(groupBuffers);
    const expected = expectedBytes(group.weights);
    if (!Number.isNaN(expected) && bytes.byteLength !== expected) {
      throw new ModelFileError(
        `corrupt weights: ${files[g]!.join(', ')} hold ${bytes.byteLength} bytes, ` +
          `but ${jsonPath} describes ${expected} bytes of weights`,
        files[g]![0] ?? path.join(folder, LEGACY_WEIGHTS),
      );
    }
    for (const [i, weightsPath] of files[g]!.entries()) {
      const want = recorded[fileIndex++];
      if (want == null) continue;
      const got = groupBuffers[i]!;
      if (got.byteLength !== want.bytes) {
        throw new ModelFileError(
          `corrupt weights: ${weightsPath} holds ${got.byteLength} bytes, but the checksum record in ${jsonPath} says ${want.bytes}`,
          weightsPath,
        );
      }
      const found = sha256(crypto, got);
      if (found !== want.sha256) {
        throw new ModelFileError(
          `corrupt weights: ${weightsPath} does not match the SHA-256 recorded in ${jsonPath} ` +
            `(found ${found}, recorded ${want.sha256}): the file changed after it was saved ` +
            '(damaged or overwritten); restore it or save the model again',
          weightsPath,
        );
      }
    }
    specs.push(...group.weights);
    buffers.push(bytes);
  }
  const weightData = concatWeightData(buffers).buffer as ArrayBuffer;
  await checkArchitecture(modelJSON, specs, jsonPath);
  return tf.io.getModelArtifactsForJSONSync(modelJSON, specs, weightData);
}

/**
 * An IOHandler that saves to and loads from a folder in Node.
 *
 * @param dir the folder (created when saving), or a path to its model.json when loading;
 *   a `file://` prefix is accepted.
 * @throws ModelFileError on load when model.json is missing, not JSON or not a model, has no
 *   weightsManifest, names a weights path outside the folder, or when a weights file is missing,
 *   holds the wrong number of bytes, fails its recorded SHA-256 or does not fit the model.
 * @example
 * await model.save(fileSystem('./out/lenet'));
 * const again = await tfl.loadLayersModel(fileSystem('./out/lenet'));
 */
export function fileSystem(dir: string): tf.io.IOHandler {
  const root = stripScheme(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await saveToFolder(root, artifacts);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const n = await nodeModules();
      const jsonPath = root.endsWith('.json') ? root : n.path.join(root, MODEL_JSON);
      for (let attempt = 1; ; attempt++) {
        const text = await readModelText(n, jsonPath);
        try {
          return await loadArtifacts(n, jsonPath, text);
        } catch (error) {
          // A save replaced model.json and removed the weights it named, between our two reads:
          // read the new model.json.
          const retry =
            attempt < LOAD_ATTEMPTS &&
            missingWeights.has(error as object) &&
            (await n.fs.readFile(jsonPath, 'utf8').catch(() => text)) !== text;
          if (!retry) throw error;
        }
      }
    },
  };
}

let routersRegistered = false;

/**
 * Lets `model.save('file://dir')` and `tf.loadLayersModel('file://dir/model.json')` work in
 * Node without tfjs-node. Idempotent. setupBackend() calls it unless tfjs-node is in use
 * (which registers its own file:// routers; two would make tfjs refuse to choose).
 */
export function registerFileRouters(): void {
  if (routersRegistered) return;
  routersRegistered = true;
  // tfjs routers return null for URLs they do not handle, though the type says IOHandler.
  const router = ((url: string | string[]) => {
    const u = Array.isArray(url) ? url[0] : url;
    return typeof u === 'string' && u.startsWith('file://') ? fileSystem(u) : null;
  }) as Parameters<typeof tf.io.registerSaveRouter>[0];
  tf.io.registerSaveRouter(router);
  tf.io.registerLoadRouter(router);
}
