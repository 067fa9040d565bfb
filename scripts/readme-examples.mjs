#!/usr/bin/env node
// Every code example in the published packages' READMEs, run as written in a fresh project.
//
// A README's ```ts / ```js blocks are read by the word after the language:
//   ```ts              a whole program: type-checked (strict) and run
//   ```ts continued    more of the README's previous program: appended to it (in its own
//                      block scope, its imports merged with the program's) and run with it
//   ```ts browser      a browser program: type-checked with the DOM library, not run in Node
//   ```ts signatures   an API listing, not code: skipped
// A block with no word after the language that does not start with an import is refused: say
// which of the above it is.
//
// TypeScript programs run with `npx tsx file.ts` and JavaScript ones with `node file.mjs`, in
// a project whose package.json says "type": "module" (the examples use top-level await), as
// each README's "Example" section tells a user to.
//
// Called by check-packages.mjs (step 6) in its consumer project; on its own:
//   node scripts/readme-examples.mjs --list            print the programs it would run
//   node scripts/readme-examples.mjs --in <project>    run them in an installed project
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const FENCE = /^```(ts|js)(?:[ \t]+(\w+))?[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
const KINDS = new Set(['continued', 'browser', 'signatures']);

/**
 * The programs in one README: `{ name, lang, kind: 'run' | 'browser', code, line }`.
 * Throws on a block it cannot classify.
 */
export function readmePrograms(text, label) {
  const programs = [];
  let last = null;
  for (const m of text.matchAll(FENCE)) {
    const [, lang, word, body] = m;
    const line = text.slice(0, m.index).split('\n').length;
    const where = `${label}:${line}`;
    if (word != null && !KINDS.has(word)) {
      throw new Error(
        `${where}: unknown example kind '${word}' (known: ${[...KINDS].join(', ')}, or none)`,
      );
    }
    if (word === 'signatures') continue;
    if (word === 'continued') {
      if (last == null) throw new Error(`${where}: 'continued' with no program before it`);
      if (last.lang !== lang) throw new Error(`${where}: continues a ${last.lang} program`);
      last.parts.push({ body, line });
      continue;
    }
    if (word == null && !/^\s*import\s/.test(body)) {
      throw new Error(
        `${where}: a ${lang} block that is not a whole program (it imports nothing): make it ` +
          "one, or mark it '```" +
          `${lang} continued' (more of the program above) or '${lang} signatures' (a listing)`,
      );
    }
    last = {
      name: `${label.replace(/[^\w]+/g, '-')}-${line}`,
      lang,
      kind: word === 'browser' ? 'browser' : 'run',
      line,
      parts: [{ body, line }],
    };
    programs.push(last);
  }
  return programs.map(({ parts, ...p }) => ({ ...p, code: joinParts(parts) }));
}

const IMPORT = /^import\s+(?:([\s\S]*?)\s+from\s+)?(['"])([^'"]+)\2;?[ \t]*$/gm;

/** One program from a base and its continuations: imports merged, each part in a block. */
function joinParts(parts) {
  if (parts.length === 1) return parts[0].body;
  const named = new Map(); // module -> Set of specifiers
  const other = new Set(); // whole import lines (namespace, default, side effect)
  const bodies = parts.map(({ body, line }, i) => {
    const rest = body.replace(IMPORT, (whole, clause, _q, mod) => {
      const braces = clause && /^\{([\s\S]*)\}$/.exec(clause.trim());
      if (braces) {
        const set = named.get(mod) ?? new Set();
        for (const s of braces[1]
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean))
          set.add(s);
        named.set(mod, set);
      } else other.add(whole.trim());
      return '';
    });
    return i === 0 ? rest : `// --- continued (README line ${line}) ---\n{\n${rest}\n}`;
  });
  const imports = [
    ...other,
    ...[...named].map(([mod, set]) => `import { ${[...set].join(', ')} } from '${mod}';`),
  ];
  return `${imports.join('\n')}\n${bodies.join('\n')}`;
}

/** Every published package's README programs, from the repository root. */
export function collectPrograms(root) {
  const out = [];
  for (const name of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', name);
    const pkgFile = join(dir, 'package.json');
    if (!existsSync(pkgFile) || JSON.parse(readFileSync(pkgFile, 'utf8')).private) continue;
    const readme = join(dir, 'README.md');
    if (!existsSync(readme)) continue;
    out.push(...readmePrograms(readFileSync(readme, 'utf8'), `packages/${name}/README.md`));
  }
  return out;
}

const TSCONFIG = (lib) => ({
  compilerOptions: {
    target: 'es2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    lib,
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  },
});

/**
 * Type-checks and runs the programs in `work`, an npm project where the packages, their peers,
 * typescript, tsx and @types/node are installed. Returns `{ passed: string[], failed: string[] }`.
 */
export function runPrograms(work, programs, { env = process.env, log = console.log } = {}) {
  const passed = [];
  const failed = [];
  const exec = (cmd, args) =>
    execFileSync(cmd, args, {
      cwd: work,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
  const dir = join(work, 'readme');
  execFileSync('mkdir', ['-p', dir]);
  const files = programs.map((p) => {
    const file = join(dir, `${p.name}.${p.lang === 'ts' ? 'ts' : 'mjs'}`);
    writeFileSync(file, p.code);
    return { ...p, file };
  });
  // One type-check per library set: Node programs without the DOM, browser ones with it.
  for (const [kind, lib] of [
    ['run', ['es2022']],
    ['browser', ['es2022', 'dom']],
  ]) {
    const ts = files.filter((f) => f.lang === 'ts' && f.kind === kind);
    if (ts.length === 0) continue;
    const config = join(work, `tsconfig.readme-${kind}.json`);
    writeFileSync(config, JSON.stringify({ ...TSCONFIG(lib), files: ts.map((f) => f.file) }));
    try {
      exec('npx', ['--no-install', 'tsc', '-p', config]);
      passed.push(`type-check: ${ts.map((f) => f.name).join(', ')}`);
    } catch (e) {
      failed.push(`type-check (${kind}):\n${e.stdout}${e.stderr}`);
    }
  }
  for (const f of files.filter((f) => f.kind === 'run')) {
    const t0 = Date.now();
    try {
      if (f.lang === 'ts') exec('npx', ['--no-install', 'tsx', f.file]);
      else exec('node', [f.file]);
      passed.push(`${f.name} ran (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed.push(`${f.name} (README line ${f.line}) failed:\n${e.stdout}${e.stderr}`);
    }
    log(`    ${failed.at(-1)?.startsWith(f.name) ? '✗' : '✓'} ${f.name}`);
  }
  return { passed, failed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(import.meta.dirname, '..');
  const programs = collectPrograms(root);
  const at = process.argv.indexOf('--in');
  if (process.argv.includes('--list') || at < 0) {
    for (const p of programs) console.log(`${p.name} [${p.lang}, ${p.kind}]\n${p.code}\n`);
  } else {
    const { passed, failed } = runPrograms(resolve(process.argv[at + 1]), programs);
    for (const p of passed) console.log(`  ✓ ${p}`);
    for (const f of failed) console.error(`  ✗ ${f}`);
    process.exit(failed.length ? 1 : 0);
  }
}
