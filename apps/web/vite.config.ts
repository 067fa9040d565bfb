import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tfjsWasm } from '@fa-robust/backend/vite';
import { defineConfig, type Plugin } from 'vite';

/**
 * What the page loads besides itself, served by `vite` and copied into the build by
 * `vite build` (never committed: dist/ is ignored):
 * - data/mnist/: the four MNIST .gz files, from FA_ROBUST_DATA_DIR/mnist (default
 *   ../../../shared/data, the workspace's data folder beside the repository);
 * - models/: the MNIST models the repro app exported, from FA_ROBUST_MODELS_DIR (default
 *   ../repro/results/paper/models, the committed paper run), with a generated models/index.json.
 */
const here = import.meta.dirname;
const dataDir = resolve(process.env.FA_ROBUST_DATA_DIR ?? join(here, '../../../shared/data'));
const modelsDir = resolve(
  process.env.FA_ROBUST_MODELS_DIR ?? join(here, '../repro/results/paper/models'),
);
export const MNIST_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];

/**
 * The exported MNIST models: folder `<dataset>-<rule>[-...]-<hash>` with a model.json (not a
 * model in training's `<folder>.partial` checkpoint, nor a half-written `.tmp-*` folder).
 */
function exportedModels(): { id: string; folder: string; files: string[] }[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^mnist-.*-[0-9a-f]{12}$/.test(d.name))
    .filter((d) => existsSync(join(modelsDir, d.name, 'model.json')))
    .map((d) => ({
      id: d.name.replace(/-[0-9a-f]{12}$/, ''),
      folder: d.name,
      files: readdirSync(join(modelsDir, d.name)).filter(
        (f) => f === 'model.json' || f.endsWith('.bin'),
      ),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

function modelsIndex(): string {
  return JSON.stringify({
    models: exportedModels().map((m) => ({ id: m.id, path: `${m.folder}/model.json` })),
  });
}

function pageFiles(): Plugin {
  let base = '/';
  return {
    name: 'fa-robust:page-files',
    configResolved(config) {
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split(/[?#]/)[0]!);
        if (!path.startsWith(base)) return next();
        const rest = path.slice(base.length);
        let file: string | null = null;
        let body: Buffer | string | null = null;
        if (rest.startsWith('data/mnist/') && MNIST_FILES.includes(rest.slice(11)))
          file = join(dataDir, 'mnist', rest.slice(11));
        else if (rest === 'models/index.json') body = modelsIndex();
        else if (rest.startsWith('models/')) {
          const [folder, name] = rest.slice(7).split('/');
          const m = exportedModels().find((x) => x.folder === folder);
          if (m && name && m.files.includes(name)) file = join(modelsDir, folder!, name);
        }
        if (file && existsSync(file)) body = readFileSync(file);
        if (body == null) return next();
        res.setHeader(
          'Content-Type',
          rest.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        );
        res.end(body);
      });
    },
    generateBundle() {
      const missing = MNIST_FILES.filter((f) => !existsSync(join(dataDir, 'mnist', f)));
      if (missing.length > 0)
        this.warn(
          `MNIST not found in ${join(dataDir, 'mnist')} (missing ${missing.join(', ')}): the page will ask for data/mnist/ and fail to start. Set FA_ROBUST_DATA_DIR to the folder holding mnist/.`,
        );
      else
        for (const f of MNIST_FILES)
          this.emitFile({
            type: 'asset',
            fileName: `data/mnist/${f}`,
            source: readFileSync(join(dataDir, 'mnist', f)),
          });
      for (const m of exportedModels())
        for (const f of m.files)
          this.emitFile({
            type: 'asset',
            fileName: `models/${m.folder}/${f}`,
            source: readFileSync(join(modelsDir, m.folder, f)),
          });
      this.emitFile({ type: 'asset', fileName: 'models/index.json', source: modelsIndex() });
    },
  };
}

export default defineConfig({
  // relative asset URLs: the build works from any folder it is served from
  base: './',
  plugins: [tfjsWasm(), pageFiles()],
  worker: { format: 'es' },
  // the worker holds tfjs (about 1.6 MB minified); the page's own chunks are small
  build: { chunkSizeWarningLimit: 2000 },
  // the worker's dependencies, bundled before the first page load (otherwise the dev server
  // finds them only when the worker starts, and reloads the page)
  optimizeDeps: {
    include: [
      '@fa-robust/attacks',
      '@fa-robust/backend',
      '@fa-robust/datasets',
      '@fa-robust/fa-layers',
      '@fa-robust/metrics',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-layers',
    ],
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
