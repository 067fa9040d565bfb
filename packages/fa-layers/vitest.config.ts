import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // ./node imports the main entry by package name: in tests, the source (one copy of the
    // layer classes with the tests'), not dist. Worker threads still load dist.
    alias: { '@fa-robust/fa-layers': fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
