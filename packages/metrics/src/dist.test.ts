import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from './index.js';

// The published build, ESM and CJS, loaded by plain Node: vega and vega-lite are ESM-only, so
// the CJS build must reach them by import(), and find the bundled font without import.meta.
const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const outDir = join(pkg, 'node_modules', '.cache', 'dist-test');

beforeAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const require = createRequire(import.meta.url);
  const tsupPkg = require.resolve('tsup/package.json');
  const bin = require(tsupPkg).bin as string | Record<string, string>;
  const tsup = join(dirname(tsupPkg), typeof bin === 'string' ? bin : bin.tsup!);
  // the same options as tsup.config.ts, without the .d.ts (slow, and checked by `pnpm build`)
  const r = spawnSync(
    process.execPath,
    [
      tsup,
      'src/index.ts',
      'src/node.ts',
      '--no-config',
      '--format',
      'esm,cjs',
      '--target',
      'node20',
      '--shims',
      '--out-dir',
      outDir,
    ],
    {
      cwd: pkg,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`tsup failed: ${r.stdout}\n${r.stderr}`);
});

const script = (load: string) => `
${load}
(async () => {
  const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'T', data: { values: [{ a: 1 }, { a: 2 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } };
  const png = await n.renderPng(spec, { scale: 1 });
  const w = m.wilsonInterval(8, 10);
  const stub = await m.renderPng(spec).then(() => 'resolved', (e) => e.message);
  console.log(JSON.stringify({ keys: Object.keys(m).sort(), png: [...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), lower: w.lower, fonts: (await n.bundledFontFiles()).length, stub }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function run(
  file: string,
  code: string,
): { keys: string[]; png: string; lower: number; fonts: number; stub: string } {
  const r = spawnSync(
    process.execPath,
    [file === 'esm' ? '--input-type=module' : '--input-type=commonjs', '-e', code],
    { cwd: outDir, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`node (${file}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('the built package', () => {
  it('loads with import (ESM) and renders a PNG through ./node', () => {
    const esm = run(
      'esm',
      script(
        `const m = await import(${JSON.stringify(join(outDir, 'index.js'))}); const n = await import(${JSON.stringify(join(outDir, 'node.js'))});`,
      ),
    );
    expect(esm.png).toBe('PNG');
    // the main entry's renderPng says where the real one is
    expect(esm.stub).toMatch(
      /renderPng is Node-only .*import \{ renderPng \} from '@fa-robust\/metrics\/node'/,
    );
    expect(esm.lower).toBeCloseTo(0.4902, 4);
    expect(esm.fonts).toBe(2);
    expect(esm.keys).toEqual(Object.keys(api).sort());
  });

  it('loads with require (CJS) and renders a PNG through ./node', () => {
    const cjs = run(
      'cjs',
      script(
        `const m = require(${JSON.stringify(join(outDir, 'index.cjs'))}); const n = require(${JSON.stringify(join(outDir, 'node.cjs'))});`,
      ),
    );
    expect(cjs.png).toBe('PNG');
    expect(cjs.fonts).toBe(2);
    expect(cjs.keys).toEqual(Object.keys(api).sort());
  });
});
