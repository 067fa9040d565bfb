/**
 * setupBackend in a browser (the package's `browser` entry): the first of webgpu, webgl, wasm
 * and cpu (or the order given) that the page has registered and that starts. wasm is always
 * there: this entry imports @tensorflow/tfjs-backend-wasm, a peer dependency. Backends are
 * registered by importing their package (`import '@tensorflow/tfjs-backend-webgl'`); a browser
 * bundle cannot load optional packages on its own.
 */

import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from './errors.js';
import { registerWasmTrainingKernels } from './kernels/index.js';
import type { BackendInfo } from './setup.js';

export type BrowserBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** The order 'auto' tries backends in: the GPU ones first, then wasm (SIMD), then cpu. */
export const BROWSER_ORDER: readonly BrowserBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BrowserSetupOptions {
  /** 'auto' (default): the first of `order` that is registered and starts; or one backend. */
  backend?: 'auto' | BrowserBackend;
  /** The order 'auto' tries. Default BROWSER_ORDER. */
  order?: readonly BrowserBackend[];
  /**
   * Where the tfjs-backend-wasm .wasm files are served: a folder URL (ending in '/') or a map
   * of file name to URL (tfjs' setWasmPaths). Default: tfjs' own, the folder of the script
   * that runs tfjs (the page's, or the worker script's); in a Vite app the `tfjsWasm()` plugin
   * of `@fa-robust/backend/vite` puts the files there.
   */
  wasmPaths?: string | Record<string, string>;
}

const PACKAGES: Record<BrowserBackend, string> = {
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  webgl: '@tensorflow/tfjs-backend-webgl',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

let wasmPathsSet = false;

/** Chooses and starts a tfjs backend in a browser; registers the kernels wasm lacks for training. */
export async function setupBackend(options: BrowserSetupOptions = {}): Promise<BackendInfo> {
  const requested = options.backend ?? 'auto';
  if (requested !== 'auto' && !BROWSER_ORDER.includes(requested)) {
    throw new BackendError(
      `setupBackend: backend must be 'auto' or one of ${BROWSER_ORDER.map((b) => `'${b}'`).join(', ')} in a browser; found '${String(requested)}'` +
        (String(requested) === 'tensorflow' ? " ('tensorflow' is tfjs-node, Node only)" : ''),
    );
  }
  const order = requested === 'auto' ? (options.order ?? BROWSER_ORDER) : [requested];
  for (const b of order) {
    if (!BROWSER_ORDER.includes(b))
      throw new BackendError(`setupBackend: options.order: unknown backend '${String(b)}'`);
  }
  if (options.wasmPaths != null && !wasmPathsSet) {
    setWasmPaths(options.wasmPaths as string);
    wasmPathsSet = true;
  }
  const skipped: BackendInfo['skipped'] = [];
  let name: string | null = null;
  for (const b of order) {
    if (tf.findBackendFactory(b) == null) {
      skipped.push({ backend: b, why: `not registered (import '${PACKAGES[b]}' in the page)` });
      continue;
    }
    let ok = false;
    try {
      ok = await tf.setBackend(b);
    } catch (e) {
      skipped.push({ backend: b, why: `failed to start: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    if (ok) {
      name = b;
      break;
    }
    skipped.push({
      backend: b,
      why:
        b === 'wasm'
          ? "failed to start: its .wasm files could not be loaded (with Vite add the plugin tfjsWasm() of '@fa-robust/backend/vite'; else serve them and pass wasmPaths, the folder URL holding tfjs-backend-wasm*.wasm)"
          : `failed to start (no ${b === 'webgpu' ? 'WebGPU adapter' : b === 'webgl' ? 'WebGL context' : 'support'} here)`,
    });
  }
  if (name == null) {
    throw new BackendError(
      `setupBackend: no tfjs backend could be started in this browser. Tried ${skipped.map((s) => `${s.backend} (${s.why})`).join(', ')}. ` +
        "Import '@tensorflow/tfjs-backend-webgl' for the GPU, or serve the wasm files and pass wasmPaths.",
    );
  }
  await tf.ready();
  const addedKernels = name === 'wasm' ? registerWasmTrainingKernels('wasm') : [];
  const gradients = tf.getGradient('Conv2D') != null;
  const first = skipped.length === 0;
  return {
    name,
    requested: requested as BackendInfo['requested'],
    reason:
      requested !== 'auto'
        ? `${name} was requested`
        : first
          ? `${name} is the first of ${order.join(', ')} here`
          : `${name}: ${skipped.map((s) => `${s.backend} ${s.why}`).join('; ')}`,
    simd: name === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : null,
    skipped,
    addedKernels,
    gradients,
    tfjsVersion: tf.version_core,
  };
}
