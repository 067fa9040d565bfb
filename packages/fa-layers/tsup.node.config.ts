import { defineConfig } from 'tsup';
import { common } from './tsup.config.js';

// ./node imports the main entry by its package name, which must stay a real import: CJS and ESM
// users then get one copy of the layer classes (a bundled copy would be a second FaDense that
// instanceof does not know). tsconfig.build.json has no `paths`, so the name resolves to the
// package itself (dist/, built first), and its types to dist/index.d.ts.
export default defineConfig([
  {
    ...common,
    entry: { node: 'src/node/index.ts' },
    format: ['esm', 'cjs'],
    tsconfig: 'tsconfig.build.json',
    external: ['@fa-robust/fa-layers'],
    // import.meta.url (where the worker script is) in the CJS build
    shims: true,
  },
  // the worker thread's script: ESM (the package is "type": "module"), started by both builds
  {
    ...common,
    entry: { 'node-worker': 'src/node/worker.ts' },
    format: ['esm'],
    dts: false,
    tsconfig: 'tsconfig.build.json',
    external: ['@fa-robust/fa-layers'],
  },
]);
