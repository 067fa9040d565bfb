import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/browser.ts', 'src/vite.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // tfjs and every other dependency stay external: never bundled into dist.
  skipNodeModulesBundle: true,
  // ...except @fa-robust/internal, a private source-only workspace package: its few helpers are
  // bundled in, so the published package depends on nothing unpublished.
  noExternal: ['@fa-robust/internal'],
  // keep 'node:' specifiers: bundlers and Deno need them to tell builtins from packages
  removeNodeProtocol: false,
});
