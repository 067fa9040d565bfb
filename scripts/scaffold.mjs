// Writes the boilerplate of a workspace package (package.json, tsconfig, tsup and vitest
// configs) so every package has the same exports map and build. Usage:
//   node scripts/scaffold.mjs <dir> <name> "<description>"
// It never overwrites an existing file.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, name, description] = process.argv.slice(2);
if (!dir || !name) {
  console.error('usage: node scripts/scaffold.mjs <dir> <name> "<description>"');
  process.exit(2);
}
mkdirSync(join(dir, 'src'), { recursive: true });
const write = (file, content) => {
  const path = join(dir, file);
  if (existsSync(path)) return;
  writeFileSync(
    path,
    typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n',
  );
};
write('package.json', {
  name,
  version: '0.0.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  engines: { node: '>=20' },
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.ts',
  exports: {
    '.': {
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
    './package.json': './package.json',
  },
  files: ['dist', 'README.md', 'CHANGELOG.md'],
  publishConfig: { access: 'public' },
  scripts: {
    build: 'tsup',
    typecheck: 'tsc --noEmit',
    lint: 'biome lint src',
    test: 'vitest run',
  },
});
write('tsconfig.json', {
  extends: '../../tsconfig.base.json',
  compilerOptions: { outDir: 'dist' },
  include: ['src', '*.config.ts'],
});
write(
  'tsup.config.ts',
  `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // tfjs and every other dependency stay external: never bundled into dist.
  skipNodeModulesBundle: true,
  // keep 'node:' specifiers: bundlers and Deno need them to tell builtins from packages
  removeNodeProtocol: false,
});
`,
);
write(
  'vitest.config.ts',
  `import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
`,
);
console.log('scaffolded', name, 'in', dir);
