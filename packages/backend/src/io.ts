import { concatTyped } from '@fa-robust/internal';
import * as tf from '@tensorflow/tfjs-core';
import { ModelFileError } from './errors.js';

/**
 * Model files in Node without tfjs-node: the same folder layout tfjs-node uses
 * (model.json + weights.bin), so models move freely between the two.
 *
 * Saving is atomic per file: each is written under a temporary name, flushed, then renamed
 * over the old one, weights first and model.json last. A crash leaves either the old model or
 * the new one readable; a weights file that disagrees with its model.json (e.g. a crash
 * between the two renames) is caught on load by its byte length.
 */

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

async function nodeModules(): Promise<{ fs: FsPromises; path: PathModule }> {
  // Imported lazily so that browser bundles of this package never see node: modules.
  const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  return { fs, path };
}

function stripScheme(url: string): string {
  return url.startsWith('file://') ? url.slice('file://'.length) : url;
}

async function writeAtomic(
  fs: FsPromises,
  target: string,
  data: string | Uint8Array,
): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, target);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
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

function expectedBytes(specs: tf.io.WeightsManifestEntry[]): number {
  let bytes = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const dtype = s.quantization?.dtype ?? s.dtype;
    const per = dtype === 'uint8' ? 1 : dtype === 'uint16' || dtype === 'float16' ? 2 : 4;
    if (s.dtype === 'string') return Number.NaN; // variable length: cannot be checked
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

/**
 * An IOHandler that saves to and loads from a folder in Node.
 *
 * @param dir the folder (created when saving), or a path to its model.json when loading;
 *   a `file://` prefix is accepted.
 * @example
 * await model.save(fileSystem('./out/lenet'));
 * const again = await tf.loadLayersModel(fileSystem('./out/lenet'));
 */
export function fileSystem(dir: string): tf.io.IOHandler {
  const root = stripScheme(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const { fs, path } = await nodeModules();
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelFileError(
          'saving binary (graph-model) topologies is not supported; save a layers model',
          root,
        );
      }
      const folder = root.endsWith('.json') ? path.dirname(root) : root;
      await fs.mkdir(folder, { recursive: true });
      const weightsManifest: tf.io.WeightsManifestConfig = [
        { paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] },
      ];
      const modelJSON = toModelJSON(artifacts, weightsManifest);
      const weights = concatWeightData(artifacts.weightData);
      await writeAtomic(fs, path.join(folder, WEIGHTS_BIN), weights);
      await writeAtomic(fs, path.join(folder, MODEL_JSON), JSON.stringify(modelJSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { fs, path } = await nodeModules();
      const jsonPath = root.endsWith('.json') ? root : path.join(root, MODEL_JSON);
      let text: string;
      try {
        text = await fs.readFile(jsonPath, 'utf8');
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new ModelFileError(
          code === 'ENOENT'
            ? `model file not found: expected ${jsonPath} (a folder saved with fileSystem() or tfjs-node)`
            : `cannot read model file ${jsonPath}: ${(error as Error).message}`,
          jsonPath,
          { cause: error },
        );
      }
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
      const folder = path.dirname(jsonPath);
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          const groupBuffers: Uint8Array[] = [];
          for (const file of group.paths) {
            const weightsPath = path.join(folder, file);
            try {
              groupBuffers.push(await fs.readFile(weightsPath));
            } catch (error) {
              throw new ModelFileError(
                `weights file not found or unreadable: ${weightsPath}, named by ${jsonPath} (${(error as Error).message})`,
                weightsPath,
                { cause: error },
              );
            }
          }
          const bytes = concatWeightData(groupBuffers);
          const expected = expectedBytes(group.weights);
          if (!Number.isNaN(expected) && bytes.byteLength !== expected) {
            throw new ModelFileError(
              `corrupt weights: ${group.paths.map((p) => path.join(folder, p)).join(', ')} hold ${bytes.byteLength} bytes, ` +
                `but ${jsonPath} describes ${expected} bytes of weights`,
              path.join(folder, group.paths[0] ?? WEIGHTS_BIN),
            );
          }
          specs.push(...group.weights);
          buffers.push(bytes.buffer as ArrayBuffer);
        }
        return [specs, concatWeightData(buffers).buffer as ArrayBuffer];
      });
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
