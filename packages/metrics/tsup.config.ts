import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // import.meta.url (used to find the bundled font) works in the CJS build too.
  shims: true,
  target: 'node20',
  // tfjs and every other dependency stay external: never bundled into dist.
  skipNodeModulesBundle: true,
  // keep 'node:' specifiers: bundlers and Deno need them to tell builtins from packages
  removeNodeProtocol: false,
});
