import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from './errors.js';
import { registerFileRouters } from './io.js';
import { type AddedKernelName, registerWasmTrainingKernels } from './kernels/index.js';

export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface SetupBackendOptions {
  /**
   * Which backend to use. 'auto' (the default) takes tfjs-node (or tfjs-node-gpu) when it is
   * installed, else wasm with SIMD, else cpu. Naming one forces it: an error if it cannot load.
   * The environment variable FA_ROBUST_BACKEND overrides 'auto' (not an explicit choice).
   */
  backend?: BackendRequest;
  /** Where the .wasm files are served from (browser only; in Node they load from the package). */
  wasmPaths?: string;
  /** Register file:// save/load routers when tfjs-node does not provide them (default true in Node). */
  fileRouters?: boolean;
}

export interface BackendInfo {
  /** The active tfjs backend: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** What was asked for (in a browser: 'auto', 'webgpu', 'webgl', 'wasm' or 'cpu'). */
  requested: BackendRequest | 'webgpu' | 'webgl';
  /** One sentence on why this backend was chosen; print it at the start of a run. */
  reason: string;
  /** wasm only: whether the SIMD build is in use. */
  simd: boolean | null;
  /** Backends that were tried first and why they were passed over. */
  skipped: { backend: string; why: string }[];
  /** Kernels this call registered for the chosen backend (wasm gradient kernels). */
  addedKernels: AddedKernelName[];
  /**
   * Whether tfjs gradients are registered (tfjs-core alone registers none; loading
   * @tensorflow/tfjs-layers registers them all, and setupBackend loads it when installed).
   */
  gradients: boolean;
  /** The tfjs-core version in use. */
  tfjsVersion: string;
}

const isNode = typeof process !== 'undefined' && process.versions?.node != null;

// Specifiers in variables keep bundlers from trying to resolve optional packages at build time.
const OPTIONAL = {
  node: '@tensorflow/tfjs-node',
  nodeGpu: '@tensorflow/tfjs-node-gpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
  layers: '@tensorflow/tfjs-layers',
} as const;

async function load(specifier: string): Promise<Record<string, unknown>> {
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as Record<
    string,
    unknown
  >;
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (
    e?.code === 'ERR_MODULE_NOT_FOUND' ||
    e?.code === 'MODULE_NOT_FOUND' ||
    /Cannot find (module|package)|Could not (find|resolve)|Failed to (load|resolve) (url|import)/i.test(
      String(e?.message),
    )
  ) {
    return 'not installed';
  }
  return String(e?.message ?? error).split('\n')[0] ?? 'failed';
}

async function tryTensorflow(skipped: BackendInfo['skipped']): Promise<string | null> {
  for (const spec of [OPTIONAL.nodeGpu, OPTIONAL.node]) {
    try {
      await load(spec);
      if (tf.findBackendFactory('tensorflow') == null) {
        skipped.push({
          backend: 'tensorflow',
          why: `${spec} loaded but registered no 'tensorflow' backend (a second copy of tfjs-core?)`,
        });
        continue;
      }
      if (await tf.setBackend('tensorflow')) return spec;
      skipped.push({
        backend: 'tensorflow',
        why: `${spec} is installed but its backend failed to initialise`,
      });
    } catch (error) {
      skipped.push({ backend: 'tensorflow', why: `${spec}: ${describe(error)}` });
    }
  }
  return null;
}

/**
 * The wasm module's emscripten runtime installs process-wide 'uncaughtException' and
 * 'unhandledRejection' handlers when it starts in Node: afterwards any uncaught error of the
 * user's program exits with code 7 and prints a line of the minified runtime before the real
 * message. Returns a function that removes whatever such handlers were added since this call,
 * so Node's own reporting (the error, exit code 1) applies again.
 */
function keepProcessHandlers(): () => void {
  type Listener = (...args: unknown[]) => void;
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const emitter = process as unknown as {
    listeners(e: string): Listener[];
    removeListener(e: string, l: Listener): unknown;
  };
  const before = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
  return () => {
    for (const e of events) {
      for (const l of emitter.listeners(e)) {
        if (!before.get(e)!.has(l)) emitter.removeListener(e, l);
      }
    }
  };
}

async function tryWasm(
  options: SetupBackendOptions,
  skipped: BackendInfo['skipped'],
): Promise<boolean> {
  try {
    const wasm = await load(OPTIONAL.wasm);
    if (options.wasmPaths && typeof wasm.setWasmPaths === 'function') {
      (wasm.setWasmPaths as (p: string) => void)(options.wasmPaths);
    }
    // Node has SIMD but no wasm threads: the threaded build would fail to start there.
    if (isNode) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const restore = isNode ? keepProcessHandlers() : () => {};
    let ok: boolean;
    try {
      ok = await tf.setBackend('wasm');
    } finally {
      restore();
    }
    if (ok) return true;
    skipped.push({ backend: 'wasm', why: 'the wasm backend failed to initialise' });
  } catch (error) {
    skipped.push({ backend: 'wasm', why: `${OPTIONAL.wasm}: ${describe(error)}` });
  }
  return false;
}

async function loadCpu(): Promise<boolean> {
  try {
    await load(OPTIONAL.cpu);
    if (tf.findBackendFactory('cpu') == null) return false;
    // The cpu backend prints a "use tfjs-node" banner on first use; our reason says it already,
    // and with wasm chosen the cpu backend only serves fallback kernels.
    const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
    if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
    return true;
  } catch {
    return false;
  }
}

/** tfjs-core registers no gradients by itself; tfjs-layers registers all of them on load. */
async function ensureGradients(): Promise<boolean> {
  if (tf.getGradient('Conv2D') != null) return true;
  try {
    await load(OPTIONAL.layers);
  } catch {
    // not installed: reported through BackendInfo.gradients
  }
  return tf.getGradient('Conv2D') != null;
}

/**
 * Chooses and initialises the fastest tfjs backend available, registers the kernels it lacks
 * for training and attacking conv nets, and (in Node without tfjs-node) file:// model routers.
 * Returns which backend it chose and why.
 *
 * @example
 * const info = await setupBackend();
 * console.log(`backend: ${info.name} (${info.reason})`);
 */
export async function setupBackend(options: SetupBackendOptions = {}): Promise<BackendInfo> {
  const fromEnv = isNode ? process.env.FA_ROBUST_BACKEND : undefined;
  let requested: BackendRequest = options.backend ?? 'auto';
  if (requested === 'auto' && fromEnv) requested = fromEnv as BackendRequest;
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(requested)) {
    throw new BackendError(
      `setupBackend: backend must be one of 'auto', 'tensorflow', 'wasm', 'cpu'; found '${requested}'` +
        (fromEnv && options.backend == null ? ' (from FA_ROBUST_BACKEND)' : ''),
    );
  }
  const skipped: BackendInfo['skipped'] = [];
  let reason = '';
  // The cpu backend is loaded in every case: it is the last resort, and the reference that
  // wasm's fallback kernels run on.
  const haveCpu = await loadCpu();

  if (requested === 'auto' || requested === 'tensorflow') {
    const spec = isNode ? await tryTensorflow(skipped) : null;
    if (spec) reason = `${spec} is installed: native TensorFlow kernels`;
    else if (requested === 'tensorflow') {
      throw new BackendError(
        `setupBackend: backend 'tensorflow' was requested but could not be loaded: ` +
          (skipped.map((s) => s.why).join('; ') || 'not running in Node'),
      );
    }
  }
  if (!reason && (requested === 'auto' || requested === 'wasm')) {
    if (await tryWasm(options, skipped)) {
      reason =
        requested === 'wasm'
          ? 'wasm was requested'
          : 'tfjs-node is not installed; wasm is the fastest backend available';
    } else if (requested === 'wasm') {
      throw new BackendError(
        `setupBackend: backend 'wasm' was requested but failed: ${skipped.at(-1)?.why}`,
      );
    }
  }
  if (!reason) {
    if (!haveCpu || !(await tf.setBackend('cpu'))) {
      throw new BackendError(
        'setupBackend: no tfjs backend could be started. Install @tensorflow/tfjs-backend-wasm ' +
          `(or @tensorflow/tfjs-node). Tried: ${skipped.map((s) => `${s.backend} (${s.why})`).join(', ')}`,
      );
    }
    reason =
      requested === 'cpu'
        ? 'cpu was requested'
        : 'neither tfjs-node nor wasm could be loaded; cpu is slow for conv training';
  }
  await tf.ready();
  const gradients = await ensureGradients();
  const name = tf.getBackend();
  const addedKernels = name === 'wasm' ? registerWasmTrainingKernels('wasm') : [];
  if (isNode && name !== 'tensorflow' && options.fileRouters !== false) registerFileRouters();
  return {
    name,
    requested,
    reason,
    simd: name === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : null,
    skipped,
    addedKernels,
    gradients,
    tfjsVersion: tf.version_core,
  };
}
