#!/usr/bin/env node
// The packages in a browser, run by `pnpm test` (check-packages.mjs step 7):
//  1. each published package's main entry (its built dist/index.js) bundles for the browser
//     with esbuild, no externals, every dependency included; the minified and gzipped sizes are
//     printed against the README budget;
//  2. in headless Chromium (Debian's `chromium`, or CHROMIUM=path), metrics' renderSvg draws a
//     figure from a bundle of the main entry: the SVG is checked in the page's DOM.
// Packages listed in NOT_YET do not bundle yet (Node-only code in their main entry, issue #18):
// they are tried and reported, and fail the check only once they bundle (then move them out).
// Without a Chromium, step 2 says so and is skipped.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = resolve(import.meta.dirname, '..');
/** Bundle budgets (minified, bytes), as the README states them. */
export const BUDGETS = {
  attacks: 500_000,
  'fa-layers': 1_000_000,
  metrics: 1_500_000,
};
export const NOT_YET = ['backend', 'datasets'];

const failures = [];
const ok = (m) => console.log(`  ✓ ${m}`);
const fail = (m) => {
  failures.push(m);
  console.error(`  ✗ ${m}`);
};

async function bundle(entry, format = 'esm', extra = {}) {
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format,
    minify: true,
    write: false,
    logLevel: 'silent',
    ...extra,
  });
  return r.outputFiles[0].contents;
}

console.log('7. browser: each main entry bundles with esbuild (platform browser, no externals)');
for (const name of [...Object.keys(BUDGETS), ...NOT_YET]) {
  const entry = join(root, 'packages', name, 'dist', 'index.js');
  let bytes;
  try {
    bytes = await bundle(entry);
  } catch (e) {
    const first = (e.errors?.[0]?.text ?? e.message).split('\n')[0];
    if (NOT_YET.includes(name))
      console.log(`  - @fa-robust/${name}: does not bundle yet (#18): ${first}`);
    else fail(`@fa-robust/${name} does not bundle for the browser: ${first}`);
    continue;
  }
  const size = `${(bytes.length / 1e6).toFixed(2)} MB minified, ${(gzipSync(bytes).length / 1e6).toFixed(2)} MB gzipped`;
  if (NOT_YET.includes(name)) {
    fail(`@fa-robust/${name} bundles now (${size}): move it from NOT_YET to BUDGETS`);
  } else if (bytes.length > BUDGETS[name]) {
    fail(`@fa-robust/${name}: ${size}, over its budget of ${BUDGETS[name] / 1e6} MB`);
  } else ok(`@fa-robust/${name}: ${size} (budget ${BUDGETS[name] / 1e6} MB)`);
}

const chromium =
  process.env.CHROMIUM ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
if (!chromium) {
  console.log(
    '  - renderSvg in a browser: skipped, no Chromium found (apt-get install chromium, or set CHROMIUM)',
  );
} else {
  const work = mkdtempSync(join(tmpdir(), 'fa-robust-browser-'));
  try {
    const program = join(work, 'page.mjs');
    writeFileSync(
      program,
      `import { renderSvg, wilsonInterval } from ${JSON.stringify(join(root, 'packages/metrics/dist/index.js'))};
const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'Robust accuracy', width: 200, height: 100,
  data: { values: [{ eps: 0, acc: 0.98 }, { eps: 0.1, acc: 0.6 }, { eps: 0.3, acc: 0.1 }] },
  mark: 'line', encoding: { x: { field: 'eps', type: 'quantitative' }, y: { field: 'acc', type: 'quantitative' } } };
renderSvg(spec).then(
  (svg) => { document.body.innerHTML = svg; document.title = 'rendered ' + wilsonInterval(8, 10).lower.toFixed(4); },
  (e) => { document.title = 'error: ' + e.message; },
);`,
    );
    const code = await bundle(program, 'iife');
    writeFileSync(
      join(work, 'page.html'),
      `<!doctype html><html><head><title>loading</title></head><body><script>${Buffer.from(code)
        .toString('utf8')
        .replace(/<\/script/g, '<\\/script')}</script></body></html>`,
    );
    const dom = execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--virtual-time-budget=60000',
        '--dump-dom',
        `file://${join(work, 'page.html')}`,
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 120_000,
        maxBuffer: 1 << 26,
      },
    );
    const title = /<title>([^<]*)<\/title>/.exec(dom)?.[1];
    const texts = [...dom.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    if (title !== 'rendered 0.4902') fail(`renderSvg in Chromium: the page says "${title}"`);
    else if (!/<svg[^>]*class="marks"/.test(dom) || !texts.includes('Robust accuracy'))
      fail(
        `renderSvg in Chromium: no figure with its title in the page (texts: ${texts.slice(0, 5).join(', ')})`,
      );
    else
      ok(
        `renderSvg in ${execFileSync(chromium, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}: an SVG with ${texts.length} text elements, title "Robust accuracy"`,
      );
  } catch (e) {
    fail(`renderSvg in Chromium: ${e.message.split('\n')[0]}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (failures.length) {
    console.error(`\ncheck-browser: ${failures.length} problem(s)`);
    process.exit(1);
  }
  console.log('\ncheck-browser: all good');
}

export { failures };
