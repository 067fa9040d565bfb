import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tfjsWasm, tfjsWasmDir, WASM_FILES } from './vite.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const dist = join(
  dirname(
    createRequire(join(root, 'package.json')).resolve('@tensorflow/tfjs-backend-wasm/package.json'),
  ),
  'dist',
);

/** The plugin's server middleware, called as Vite's connect stack would. */
function serve(plugin: ReturnType<typeof tfjsWasm>, url: string) {
  let handler!: Parameters<Parameters<typeof plugin.configureServer>[0]['middlewares']['use']>[0];
  plugin.configureServer({ middlewares: { use: (fn) => (handler = fn) } });
  const out: { status?: number; type?: string; body?: Uint8Array; next: boolean } = { next: false };
  handler(
    { url },
    {
      set statusCode(v: number) {
        out.status = v;
      },
      setHeader: (name, value) => {
        if (name.toLowerCase() === 'content-type') out.type = value;
      },
      end: (body) => {
        out.body = body;
      },
    },
    () => {
      out.next = true;
    },
  );
  return out;
}

function emitted(plugin: ReturnType<typeof tfjsWasm>, bundle: Record<string, unknown>) {
  const files: { fileName: string; source: Uint8Array }[] = [];
  plugin.generateBundle.call(
    {
      emitFile: (f) => {
        files.push(f);
        return f.fileName;
      },
    },
    {},
    bundle as Parameters<typeof plugin.generateBundle>[1],
  );
  return files;
}

const wasmChunk = (fileName: string) => ({
  type: 'chunk',
  fileName,
  moduleIds: ['/x/src/worker.ts', '/x/node_modules/@tensorflow/tfjs-backend-wasm/dist/index.js'],
});

describe('tfjsWasm(): the Vite plugin that makes the default wasm location work', () => {
  it('serves the three files, byte for byte, at any folder, and passes everything else on', () => {
    const plugin = tfjsWasm();
    plugin.configResolved({ root });
    for (const name of WASM_FILES) {
      for (const url of [`/${name}`, `/node_modules/.vite/deps/${name}?v=1`, `/src/${name}`]) {
        const r = serve(plugin, url);
        expect(r.next).toBe(false);
        expect(r.status).toBe(200);
        expect(r.type).toBe('application/wasm');
        expect(Buffer.from(r.body!).equals(readFileSync(join(dist, name)))).toBe(true);
      }
    }
    expect(serve(plugin, '/src/main.ts').next).toBe(true);
    expect(serve(plugin, '/tfjs-backend-wasm.wasm.map').next).toBe(true);
  });

  it("writes the files beside the chunks that hold tfjs-backend-wasm: the worker's folder in a worker build, the page's in the page's", () => {
    const worker = tfjsWasm();
    worker.configResolved({ root, isWorker: true });
    const w = emitted(worker, {
      'assets/worker-abc.js': wasmChunk('assets/worker-abc.js'),
      'assets/other.js': { type: 'chunk', fileName: 'assets/other.js', moduleIds: ['/x/a.ts'] },
      'assets/style.css': { type: 'asset', fileName: 'assets/style.css' },
    });
    expect(w.map((f) => f.fileName).sort()).toEqual(WASM_FILES.map((n) => `assets/${n}`).sort());
    expect(
      Buffer.from(w[0]!.source).equals(readFileSync(join(dist, w[0]!.fileName.slice(7)))),
    ).toBe(true);

    const page = tfjsWasm();
    page.configResolved({ root });
    // the main thread looks in the page's folder, wherever the chunk lives; Rollup's `modules` too
    const p = emitted(page, {
      'assets/index.js': {
        type: 'chunk',
        fileName: 'assets/index.js',
        modules: { 'C:\\app\\node_modules\\@tensorflow\\tfjs-backend-wasm\\dist\\index.js': {} },
      },
    });
    expect(p.map((f) => f.fileName).sort()).toEqual([...WASM_FILES].sort());
    // no chunk with tfjs-backend-wasm: nothing written
    expect(
      emitted(page, { 'index.js': { type: 'chunk', fileName: 'index.js', moduleIds: [] } }),
    ).toEqual([]);
  });

  it('adds itself to the worker plugins unless the app chose them; resolveFrom picks the copy', () => {
    const plugin = tfjsWasm();
    const added = plugin.config({});
    expect(added?.worker.plugins().map((p) => p.name)).toEqual(['fa-robust:tfjs-wasm']);
    expect(plugin.config({ worker: { plugins: () => [] } })).toBeUndefined();
    expect(tfjsWasmDir(root)).toBe(dist);
    // resolveFrom: another app's copy
    const app = mkdtempSync(join(tmpdir(), 'tfjs-wasm-'));
    try {
      const pkg = join(app, 'node_modules', '@tensorflow', 'tfjs-backend-wasm');
      mkdirSync(join(pkg, 'dist'), { recursive: true });
      writeFileSync(join(pkg, 'package.json'), '{"name":"@tensorflow/tfjs-backend-wasm"}');
      writeFileSync(join(pkg, 'dist', 'tfjs-backend-wasm.wasm'), 'not really wasm');
      const other = tfjsWasm({ resolveFrom: app });
      other.configResolved({ root });
      expect(Buffer.from(serve(other, '/tfjs-backend-wasm.wasm').body!).toString()).toBe(
        'not really wasm',
      );
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('says how to fix a missing tfjs-backend-wasm', async () => {
    // in a fresh process without pnpm's NODE_PATH (which would find the workspace's copy),
    // running this source transpiled by esbuild (Node 20 runs no TypeScript)
    const { NODE_PATH: _, ...env } = process.env;
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-wasm-missing-'));
    const { transform } = await import('esbuild');
    const js = await transform(readFileSync(join(root, 'src', 'vite.ts'), 'utf8'), {
      loader: 'ts',
      format: 'esm',
    });
    writeFileSync(join(dir, 'vite.mjs'), js.code);
    writeFileSync(
      join(dir, 'main.mjs'),
      "import { tfjsWasmDir } from './vite.mjs'; try { tfjsWasmDir('/'); console.log('resolved'); } catch (e) { console.log(e.message); }",
    );
    const { stdout } = await run(process.execPath, [join(dir, 'main.mjs')], { env }).finally(() =>
      rmSync(dir, { recursive: true, force: true }),
    );
    expect(stdout.trim()).toMatch(
      /^tfjsWasm\(\): @tensorflow\/tfjs-backend-wasm cannot be found from \/: install it \(npm install @tensorflow\/tfjs-backend-wasm\) or pass resolveFrom$/,
    );
  });
});
