#!/usr/bin/env node
// Package hygiene, run by `pnpm test` after the build:
//  1. every @tensorflow/* dependency comes from the workspace catalog (one pinned version);
//  2. every published package has a README with an install line and an example;
//  3. `pnpm pack` each package, then publint and @arethetypeswrong/cli on the result;
//  4. no dist bundles tfjs (or any other dependency's licence header);
//  5. consumer test: install the tarballs with npm into a fresh project outside the
//     workspace and run scripts/consumer/{esm.mjs,cjs.cjs} there, which import every
//     package both ways and do real work;
//  6. in that project, every README example, as written (scripts/readme-examples.mjs):
//     type-checked with tsc (strict) and run with tsx or node;
//  7. the browser (scripts/check-browser.mjs): each main entry bundles with esbuild for the
//     browser, within its size budget, and metrics' renderSvg draws a figure in Chromium.
// Set SKIP_CONSUMER=1 to skip steps 5 and 6 (they install tfjs from the npm registry).
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { collectPrograms, runPrograms } from './readme-examples.mjs';

const root = resolve(import.meta.dirname, '..');
const packDir = join(root, '.pack');
const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`  ✗ ${msg}`);
};
const ok = (msg) => console.log(`  ✓ ${msg}`);
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

const catalog = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
const tfVersion = /['"]@tensorflow\/tfjs-core['"]: (\d+\.\d+\.\d+)/.exec(catalog)?.[1];
if (!tfVersion) {
  console.error("pnpm-workspace.yaml: expected a catalog entry '@tensorflow/tfjs-core': x.y.z");
  process.exit(1);
}

const dirs = ['packages', 'apps'].flatMap((d) =>
  readdirSync(join(root, d))
    .map((name) => join(root, d, name))
    .filter((p) => existsSync(join(p, 'package.json'))),
);
const manifests = dirs.map((dir) => ({
  dir,
  pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')),
}));
const published = manifests.filter((m) => !m.pkg.private);

console.log('1. one tfjs version across the workspace');
for (const { pkg } of manifests) {
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
    for (const [name, spec] of Object.entries(pkg[field] ?? {})) {
      if (!name.startsWith('@tensorflow/')) continue;
      const expected =
        field === 'peerDependencies' ? ['catalog:peer', `^${tfVersion}`] : ['catalog:'];
      if (!expected.includes(spec))
        fail(`${pkg.name} ${field}.${name} is "${spec}", expected ${expected.join(' or ')}`);
    }
  }
  if (pkg.dependencies?.['@tensorflow/tfjs-core'] && !pkg.private) {
    fail(`${pkg.name} lists @tensorflow/tfjs-core in dependencies: it must be a peer dependency`);
  }
}
ok(`@tensorflow/* pinned to ${tfVersion} through the catalog`);

console.log('2. READMEs');
for (const { dir, pkg } of published) {
  const readme = existsSync(join(dir, 'README.md'))
    ? readFileSync(join(dir, 'README.md'), 'utf8')
    : '';
  if (!readme) fail(`${pkg.name} has no README.md`);
  else if (!readme.includes(`npm install ${pkg.name}`))
    fail(`${pkg.name} README has no "npm install ${pkg.name}" line`);
  else if (!/```(ts|js|typescript|javascript)/.test(readme))
    fail(`${pkg.name} README has no code example`);
  else ok(`${pkg.name} README`);
}

console.log('3. pack, publint, are-the-types-wrong');
rmSync(packDir, { recursive: true, force: true });
mkdirSync(packDir, { recursive: true });
const tarballs = [];
for (const { dir, pkg } of published) {
  run('pnpm', ['pack', '--pack-destination', packDir], { cwd: dir });
  const file = join(packDir, `${pkg.name.replace('@', '').replace('/', '-')}-${pkg.version}.tgz`);
  if (!existsSync(file)) {
    fail(`${pkg.name}: pnpm pack produced no ${file}`);
    continue;
  }
  tarballs.push(file);
  const packed = JSON.parse(run('tar', ['xzf', file, '-O', 'package/package.json']));
  for (const [name, spec] of Object.entries({
    ...packed.dependencies,
    ...packed.peerDependencies,
  })) {
    if (/^(catalog|workspace):/.test(spec)) fail(`${pkg.name}: packed ${name} is still "${spec}"`);
  }
  try {
    run('pnpm', ['exec', 'publint', '--strict'], { cwd: dir });
    ok(`${pkg.name} publint`);
  } catch (e) {
    fail(`${pkg.name} publint:\n${e.stdout}${e.stderr}`);
  }
  try {
    run('pnpm', ['exec', 'attw', file, '--format', 'ascii'], { cwd: root });
    ok(`${pkg.name} are-the-types-wrong`);
  } catch (e) {
    fail(`${pkg.name} are-the-types-wrong:\n${e.stdout}${e.stderr}`);
  }
}

console.log('4. nothing bundled');
for (const { dir, pkg } of published) {
  const dist = join(dir, 'dist');
  for (const f of readdirSync(dist).filter((f) => /\.(c|m)?js$|\.d\.c?ts$/.test(f))) {
    const text = readFileSync(join(dist, f), 'utf8');
    if (/Copyright \d{4} Google LLC|@license/.test(text))
      fail(`${pkg.name}: dist/${f} contains a bundled licence header (tfjs bundled?)`);
    // the private helpers are bundled in, never imported: they are not published
    if (/['"]@fa-robust\/(internal|test-utils)['"]/.test(text))
      fail(`${pkg.name}: dist/${f} imports a private workspace package (bundle it: noExternal)`);
  }
  ok(`${pkg.name} dist has no bundled dependency`);
}

if (process.env.SKIP_CONSUMER === '1') {
  console.log('5. consumer test skipped (SKIP_CONSUMER=1)');
} else {
  console.log('5. consumer test: npm install the tarballs into a fresh project and use them');
  const work = mkdtempSync(join(tmpdir(), 'fa-robust-consumer-'));
  try {
    writeFileSync(
      join(work, 'package.json'),
      // "type": "module", as the READMEs tell a user to set for their examples
      JSON.stringify({ name: 'consumer', private: true, version: '1.0.0', type: 'module' }),
    );
    const peers = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-wasm', 'tfjs-backend-cpu'].map(
      (p) => `@tensorflow/${p}@${tfVersion}`,
    );
    // what a user runs the TypeScript examples with (step 6)
    const tools = ['typescript@5.9.3', 'tsx@4.20.6', '@types/node@20.19.43'];
    run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, ...peers, ...tools],
      { cwd: work },
    );
    cpSync(join(root, 'scripts', 'consumer'), work, { recursive: true });
    const data = process.env.FA_ROBUST_DATA_DIR
      ? { FA_ROBUST_DATA_DIR: resolve(process.env.FA_ROBUST_DATA_DIR) }
      : {};
    for (const script of ['esm.mjs', 'cjs.cjs']) {
      try {
        const out = run('node', [script], { cwd: work, env: { ...process.env, ...data } });
        for (const line of out.trim().split('\n')) ok(`${script}: ${line}`);
      } catch (e) {
        fail(`consumer ${script}:\n${e.stdout}${e.stderr}`);
      }
    }
    console.log('6. every README example, as written, in that project');
    let programs = [];
    try {
      programs = collectPrograms(root);
    } catch (e) {
      fail(`README examples: ${e.message}`);
    }
    const needsData = (p) => /\bload(Mnist|FashionMnist|Cifar10|IdxDataset)\(/.test(p.code);
    if (!process.env.FA_ROBUST_DATA_DIR) {
      for (const p of programs.filter((p) => p.kind === 'run' && needsData(p)))
        console.log(`  - ${p.name} not run: it loads data and FA_ROBUST_DATA_DIR is not set`);
      programs = programs.filter((p) => p.kind !== 'run' || !needsData(p));
    }
    const result = runPrograms(work, programs, { env: { ...process.env, ...data } });
    for (const line of result.passed) ok(line);
    for (const line of result.failed) fail(`README example ${line}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

{
  const browser = await import('./check-browser.mjs');
  failures.push(...browser.failures);
}

if (failures.length) {
  console.error(`\ncheck-packages: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log('\ncheck-packages: all good');
