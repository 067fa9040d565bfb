import { defineConfig } from 'tsup';

export const common = {
  dts: true,
  sourcemap: true,
  target: 'node20',
  // tfjs and every other dependency stay external: never bundled into dist.
  skipNodeModulesBundle: true,
  // keep 'node:' specifiers: bundlers and Deno need them to tell builtins from packages
  removeNodeProtocol: false,
} as const;

// The main entry. ./node is built after it (tsup.node.config.ts), against its dist.
export default defineConfig({
  ...common,
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  // ...except @fa-robust/internal, a private source-only workspace package: the few helpers
  // used from it (mulberry32, shuffleInPlace) are bundled in, so the published package
  // depends on nothing unpublished. (./node takes nothing from it.)
  noExternal: ['@fa-robust/internal'],
  clean: true,
});
