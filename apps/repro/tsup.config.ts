import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/cli.ts', 'src/index.ts', 'src/worker.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  skipNodeModulesBundle: true,
  // @fa-robust/internal is TypeScript source only (a private workspace package): bundle it
  noExternal: ['@fa-robust/internal'],
  // keep 'node:' specifiers: bundlers and Deno need them to tell builtins from packages
  removeNodeProtocol: false,
});
