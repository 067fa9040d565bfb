/**
 * The parsers must stay usable in a browser: no module outside src/node imports a Node builtin
 * or node-tar, and modules in src/node import them only lazily (import() inside functions), so
 * a browser bundle of the package never evaluates them unless a Node loader is called.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));
const sources = (readdirSync(src, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'test-utils.ts')
  .map((f) => ({ file: f, text: readFileSync(join(src, f), 'utf8') }));

const staticImports = (text: string) =>
  [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)]
    .filter((m) => !/^\s*(?:import|export)\s+type\s/.test(m[0]))
    .map((m) => m[1]!);
const nodeOnly = (spec: string) =>
  spec.startsWith('node:') || spec === 'tar' || spec.startsWith('tar/');

describe('browser safety', () => {
  it('finds the package sources', () => {
    expect(sources.map((s) => s.file)).toEqual(
      expect.arrayContaining(['index.ts', 'idx.ts', 'node/load.ts']),
    );
  });

  it.each(sources.map((s) => [s.file, s.text] as const))(
    '%s has no static import of node: modules or tar',
    (_file, text) => {
      expect(staticImports(text).filter(nodeOnly)).toEqual([]);
    },
  );

  it('the parsers do not even mention node: modules or process', () => {
    for (const s of sources.filter((x) => !x.file.startsWith('node'))) {
      expect(s.text, s.file).not.toMatch(/import\(\s*'node:|\bprocess\.|from 'tar'/);
    }
  });
});
