#!/usr/bin/env node
// `pnpm bench`: the same work in our stack and in a PyTorch reference, in one sitting, and the
// ratios. Not a test: no thresholds. Flags:
//   --quick-preset      also time `repro --preset quick` end to end (several minutes)
//   --steps N           batches per throughput figure (default 40)
//   --bim-images N      images for the BIM-10 figure (default 10000)
//   --rounds N          interleaved rounds (default 5): ours and PyTorch alternate within each,
//                       the order flips between rounds; figures are medians (min-max) over them
//   --procs N           also run our stack as N processes at once, each its own tfjs, as the
//                       repro app's workers do (default: one per core; 1 skips it), and time
//                       one train() split across this thread and N - 1 worker threads
//                       (@fa-robust/fa-layers/node, data-parallel)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: a } = parseArgs({
  options: {
    'quick-preset': { type: 'boolean', default: false },
    steps: { type: 'string', default: '40' },
    'bim-images': { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    procs: { type: 'string', default: String(cpus().length) },
    python: {
      type: 'string',
      default: existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3',
    },
  },
});

function lines(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

const cpuFlags = (() => {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const flags = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
    return ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
})();
const rounds = Number(a.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds: a positive integer, not ${a.rounds}`);
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'} (${cpuFlags.join(', ') || 'flags unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
);
const common = ['--steps', a.steps, '--bim-images', a['bim-images']];
const procs = Number(a.procs);
// trainpar: one train() on this thread plus procs - 1 worker threads (data-parallel)
const workers = String(Math.max(1, procs - 1));

const probe = spawnSync(a.python, ['-c', 'import torch; print(torch.__version__)'], {
  encoding: 'utf8',
});
const torchVersion = probe.status === 0 ? probe.stdout.trim() : null;
const torchNote = torchVersion
  ? ''
  : `PyTorch is not available to ${a.python} (on Debian: apt-get install -y python3-torch); our figures only.`;
if (torchNote) console.log(torchNote);

/** Ours as `procs` processes at once: training and input gradients are independent jobs (aggregate images/s); BIM is one job in slices (its wall time is the slowest slice's). */
async function oursMulti() {
  const run1 = (k) =>
    new Promise((done, fail) => {
      const child = spawn(
        process.execPath,
        [
          join(here, 'ours.mjs'),
          ...common,
          '--tasks',
          'train,inputgrad,bim',
          '--shard',
          `${k}/${procs}`,
        ],
        { cwd: here },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.on('exit', (code) =>
        code === 0
          ? done(
              out
                .split('\n')
                .filter((l) => l.startsWith('{'))
                .map((l) => JSON.parse(l)),
            )
          : fail(new Error(`ours.mjs shard ${k} failed (${code})`)),
      );
    });
  const parts = await Promise.all(Array.from({ length: procs }, (_, k) => run1(k)));
  const multi = [];
  for (const r of parts[0]) {
    const same = parts
      .map((p) =>
        p.find((q) => q.task === r.task && q.dataset === r.dataset && q.feedback === r.feedback),
      )
      .filter(Boolean);
    if (r.task === 'bim10') {
      const seconds = Math.max(...same.map((q) => q.seconds));
      const images = same.reduce((s, q) => s + q.images, 0);
      multi.push({ ...r, images, seconds, images_per_s: Math.round(images / seconds) });
    } else multi.push({ ...r, images_per_s: same.reduce((s, q) => s + q.images_per_s, 0) });
  }
  // and one train() split across this thread and procs - 1 worker threads
  multi.push(
    ...lines(
      process.execPath,
      [join(here, 'ours.mjs'), ...common, '--tasks', 'trainpar', '--workers', workers],
      {
        cwd: here,
      },
    ),
  );
  return multi;
}

/**
 * The sides compared, each run once per round. In every round our stack and PyTorch alternate
 * (one thread: ours then PyTorch, or PyTorch then ours; then every core: the same), and the
 * order flips from round to round, so that the host's drift during a run falls on both.
 */
const sides = {
  ours1: () =>
    lines(process.execPath, [join(here, 'ours.mjs'), ...common, '--tasks', 'train,inputgrad,bim'], {
      cwd: here,
    }),
  torch1: () =>
    lines(a.python, [
      join(here, 'torch_reference.py'),
      '--threads',
      '1',
      '--tasks',
      'train,inputgrad,bim',
      ...common,
    ]),
  oursN: () => (procs > 1 ? oursMulti() : []),
  torch2: () =>
    lines(a.python, [
      join(here, 'torch_reference.py'),
      '--threads',
      '2',
      '--tasks',
      'train,inputgrad,bim',
      ...common,
    ]),
};
const runs = { ours1: [], torch1: [], oursN: [], torch2: [] };
for (let r = 0; r < rounds; r++) {
  const pairs = [
    ['ours1', 'torch1'],
    ['oursN', 'torch2'],
  ].map((p) => (r % 2 === 0 ? p : [p[1], p[0]]));
  for (const pair of pairs) {
    for (const side of pair) {
      if (side.startsWith('torch') && !torchVersion) {
        runs[side].push([]);
        continue;
      }
      const t = performance.now();
      runs[side].push(await sides[side]());
      console.log(
        `round ${r + 1}/${rounds}: ${side} ${((performance.now() - t) / 1000).toFixed(0)} s`,
      );
    }
  }
}
const backend = runs.ours1[0]?.[0]
  ? `${runs.ours1[0][0].backend}${runs.ours1[0][0].simd ? '+SIMD' : ''}`
  : '?';

const pick = (list, task, dataset, feedback) =>
  list.find((q) => q.task === task && q.dataset === dataset && q.feedback === feedback)
    ?.images_per_s ?? null;
/** A figure over the rounds: its median and range (nulls left out). */
function stat(values) {
  const v = values.filter((x) => x != null).sort((x, y) => x - y);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return {
    median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2,
    min: v[0],
    max: v[v.length - 1],
    n: v.length,
  };
}
/** Per round: x's figure over y's in the same round (pair by pair). */
const perRound = (xs, ys) => xs.map((x, i) => (x == null || ys[i] == null ? null : x / ys[i]));
const series = (side, task, dataset, feedback) =>
  runs[side].map((l) => pick(l, task, dataset, feedback));

const rows = [];
for (const task of ['train', 'inputgrad', 'bim10']) {
  for (const dataset of task === 'bim10' ? ['mnist'] : ['mnist', 'cifar10']) {
    for (const feedback of ['bp', 'fa']) {
      const o = series('ours1', task, dataset, feedback);
      const t1 = series('torch1', task, dataset, feedback);
      const m = series('oursN', task, dataset, feedback);
      const t2 = series('torch2', task, dataset, feedback);
      rows.push({
        task,
        dataset,
        feedback,
        ours1: stat(o),
        torch1: stat(t1),
        ratio1: stat(perRound(o, t1)),
        oursN: stat(m),
        torch2: stat(t2),
        ratioN: stat(perRound(m, t2)),
        faOverBp:
          feedback === 'fa' ? stat(perRound(o, series('ours1', task, dataset, 'bp'))) : null,
      });
    }
  }
}
for (const dataset of ['mnist', 'cifar10']) {
  for (const feedback of ['bp', 'fa']) {
    const par = series('oursN', 'trainpar', dataset, feedback);
    const one = series('ours1', 'train', dataset, feedback);
    if (!par.some((v) => v != null)) continue;
    rows.push({
      task: `train, 1 thread + ${workers} worker${workers === '1' ? '' : 's'} (data-parallel)`,
      dataset,
      feedback,
      ours1: null,
      torch1: null,
      ratio1: null,
      oursN: stat(par),
      torch2: stat(series('torch2', 'train', dataset, feedback)),
      ratioN: stat(perRound(par, series('torch2', 'train', dataset, feedback))),
      // the speed-up of data-parallel training over one thread, round by round
      faOverBp: null,
      overOne: stat(perRound(par, one)),
    });
  }
}
const f0 = (s) =>
  s == null ? '—' : `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;
const f2 = (s) =>
  s == null ? '—' : `${s.median.toFixed(2)}x (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
console.log(
  `\n${rounds} interleaved rounds; each figure: median (min–max) over the rounds; each ratio computed round by round, then its median (min–max).`,
);
console.log(
  `ours: ${backend}, one thread per process (tfjs wasm has no threads in Node); PyTorch ${torchVersion ?? '—'} with torch.set_num_threads(1) and (2); CPU ${cpuFlags.join(', ')}.`,
);
const header = `| task | dataset | rule | ours 1 thread img/s | PyTorch 1 thread img/s | ours / PyTorch-1 | ours, ${procs} processes img/s | PyTorch 2 threads img/s | ours ${procs} / PyTorch-2 | ours FA / BP |`;
console.log(`\n${header}\n|---|---|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(
    `| ${r.task} | ${r.dataset} | ${r.feedback} | ${f0(r.ours1)} | ${f0(r.torch1)} | ${f2(r.ratio1)} | ${f0(r.oursN)} | ${f0(r.torch2)} | ${f2(r.ratioN)} | ${r.overOne ? `${f2(r.overOne)} over 1 thread` : f2(r.faOverBp)} |`,
  );
}
mkdirSync(join(here, 'out'), { recursive: true });
const file = join(here, 'out', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, flags: cpuFlags, node: process.version }, torch: torchVersion, backend, rounds, procs, args: a, runs, rows }, null, 1)}\n`,
);
console.log(`\nevery round's figures: ${file}`);
if (torchNote) console.log(torchNote);

if (a['quick-preset']) {
  console.log('\ntiming `repro --preset quick` (fresh output folder) ...');
  const out = join(here, 'out', `quick-${Date.now()}`);
  const t = performance.now();
  execFileSync(
    process.execPath,
    [join(here, '..', 'repro', 'dist', 'cli.js'), '--preset', 'quick', '--out', out],
    { stdio: 'inherit', env: { ...process.env, CI: '1' } },
  );
  console.log(`repro quick preset: ${((performance.now() - t) / 60000).toFixed(1)} min wall time`);
}
