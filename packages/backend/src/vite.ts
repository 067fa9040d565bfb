/**
 * A Vite plugin that puts tfjs-backend-wasm's .wasm files where tfjs looks for them by default,
 * so that `setupBackend()` starts wasm in a Vite app with no `wasmPaths` option, in the page and
 * in workers, in `vite dev` and in `vite build`:
 *
 * ```ts
 * // vite.config.ts
 * import { defineConfig } from 'vite';
 * import { tfjsWasm } from '@fa-robust/backend/vite';
 * export default defineConfig({ plugins: [tfjsWasm()] });
 * ```
 *
 * tfjs (emscripten) fetches the files from the folder of the script that runs it: the page's
 * folder on the main thread, the worker script's folder in a worker. So the dev server answers a
 * request for any of the three file names in any folder, and a build writes them beside every
 * output that holds tfjs-backend-wasm: the page's folder for the page's chunks, the worker
 * script's folder for a worker's (the plugin adds itself to `worker.plugins` unless the app set
 * that list; then add `tfjsWasm()` there too). Node-only: it runs in Vite's config, never in a
 * page.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The three builds tfjs-backend-wasm chooses between (plain, SIMD, threaded SIMD). */
export const WASM_FILES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

export interface TfjsWasmOptions {
  /**
   * Where to resolve @tensorflow/tfjs-backend-wasm from (a folder). Default: Vite's root, so the
   * app's own copy is used, the one its bundle runs.
   */
  resolveFrom?: string;
}

type Middleware = (
  req: { url?: string },
  res: {
    setHeader(name: string, value: string): void;
    end(body: Uint8Array): void;
    statusCode: number;
  },
  next: () => void,
) => void;

/** An output chunk, as Rollup and Rolldown describe it (the fields this plugin reads). */
interface ChunkLike {
  type: string;
  fileName: string;
  moduleIds?: readonly string[];
  modules?: Record<string, unknown>;
}

/** The part of Vite's plugin interface this plugin uses (so the package needs no Vite types). */
export interface TfjsWasmPlugin {
  name: string;
  config(user: {
    worker?: { plugins?: unknown };
  }): { worker: { plugins: () => TfjsWasmPlugin[] } } | undefined;
  configResolved(config: { root: string; isWorker?: boolean }): void;
  configureServer(server: { middlewares: { use(fn: Middleware): void } }): void;
  generateBundle(
    this: { emitFile(file: { type: 'asset'; fileName: string; source: Uint8Array }): string },
    options: unknown,
    bundle: Record<string, ChunkLike | { type: string; fileName: string }>,
  ): void;
}

/** The folder holding tfjs-backend-wasm's .wasm files, resolved from `from`. */
export function tfjsWasmDir(from: string): string {
  const require = createRequire(join(from, 'package.json'));
  let pkg: string;
  try {
    pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  } catch {
    throw new Error(
      `tfjsWasm(): @tensorflow/tfjs-backend-wasm cannot be found from ${from}: install it (npm install @tensorflow/tfjs-backend-wasm) or pass resolveFrom`,
    );
  }
  return join(dirname(pkg), 'dist');
}

const WASM_MODULE = /[\\/]@tensorflow[\\/]tfjs-backend-wasm[\\/]/;

/** The Vite plugin: see the module comment. */
export function tfjsWasm(options: TfjsWasmOptions = {}): TfjsWasmPlugin {
  let dir: string | null = null;
  let isWorker = false;
  const files = new Map<string, Uint8Array>();
  const file = (name: string): Uint8Array => {
    let bytes = files.get(name);
    if (!bytes) {
      bytes = readFileSync(join(dir!, name));
      files.set(name, bytes);
    }
    return bytes;
  };
  return {
    name: 'fa-robust:tfjs-wasm',
    // workers are built with their own plugin list: put this plugin there too, unless the app
    // chose that list itself (then add tfjsWasm() to it)
    config(user) {
      if (user.worker?.plugins != null) return undefined;
      return { worker: { plugins: () => [tfjsWasm(options)] } };
    },
    configResolved(config) {
      dir = tfjsWasmDir(options.resolveFrom ?? config.root);
      isWorker = config.isWorker === true;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split(/[?#]/)[0]!;
        const name = path.slice(path.lastIndexOf('/') + 1);
        if (!(WASM_FILES as readonly string[]).includes(name)) return next();
        res.statusCode = 200;
        res.setHeader('Content-Type', 'application/wasm');
        res.end(file(name));
      });
    },
    generateBundle(_options, bundle) {
      // emscripten looks in the worker script's folder in a worker, in the page's on the main
      // thread: the files go there, once per folder, for every chunk that holds tfjs' wasm code
      const folders = new Set<string>();
      for (const out of Object.values(bundle)) {
        if (out.type !== 'chunk') continue;
        const chunk = out as ChunkLike;
        const ids = chunk.moduleIds ?? Object.keys(chunk.modules ?? {});
        if (!ids.some((id) => WASM_MODULE.test(id))) continue;
        folders.add(isWorker ? chunk.fileName.slice(0, chunk.fileName.lastIndexOf('/') + 1) : '');
      }
      for (const folder of folders) {
        for (const name of WASM_FILES) {
          if (`${folder}${name}` in bundle) continue;
          this.emitFile({ type: 'asset', fileName: `${folder}${name}`, source: file(name) });
        }
      }
    },
  };
}
