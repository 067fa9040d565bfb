#!/usr/bin/env node
// `pnpm bench`: the same work in our stack and in a PyTorch reference, in one sitting, and the
// ratios. Not a test: no thresholds. Flags:
//   --quick-preset      also time `repro --preset quick` end to end (several minutes)
//   --steps N           batches per throughput figure (default 40)
//   --bim-images N      images for the BIM-10 figure (default 10000)
//   --procs N           also run our stack as N processes at once, each its own tfjs, as the
//                       repro app's workers do (default: one per core; 1 skips it), and time
//                       one train() split across this thread and N - 1 worker threads
//                       (@fa-robust/fa-layers/node, data-parallel)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
);
const common = ['--steps', a.steps, '--bim-images', a['bim-images']];
console.log('running our stack (one thread: tfjs wasm has no threads in Node) ...');
const procs = Number(a.procs);
// trainpar: one train() on this thread plus procs - 1 worker threads (data-parallel)
const workers = String(Math.max(1, procs - 1));
const ours = lines(
  process.execPath,
  [
    join(here, 'ours.mjs'),
    ...common,
    '--tasks',
    'train,trainpar,inputgrad,bim',
    '--workers',
    workers,
  ],
  { cwd: here },
);
const backend = ours[0] ? `${ours[0].backend}${ours[0].simd ? '+SIMD' : ''}` : '?';

// N processes side by side: training and input gradients are N independent jobs (aggregate
// images/s, what the repro app gets from training its models and running its steps on
// workers); BIM is one job split in N slices of the images (its wall time is the slowest slice).
const multi = [];
if (procs > 1) {
  console.log(`running our stack as ${procs} processes at once ...`);
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
  const t = performance.now();
  const parts = await Promise.all(Array.from({ length: procs }, (_, k) => run1(k)));
  const wall = (performance.now() - t) / 1000;
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
    } else {
      multi.push({ ...r, images_per_s: same.reduce((s, q) => s + q.images_per_s, 0) });
    }
  }
  console.log(`  (${procs} processes, ${wall.toFixed(0)} s in all)`);
}

const torch = { 1: [], 2: [] };
let torchNote = '';
const probe = spawnSync(a.python, ['-c', 'import torch; print(torch.__version__)'], {
  encoding: 'utf8',
});
if (probe.status === 0) {
  for (const threads of [1, 2]) {
    console.log(`running PyTorch ${probe.stdout.trim()} with ${threads} thread(s) ...`);
    torch[threads] = lines(a.python, [
      join(here, 'torch_reference.py'),
      '--threads',
      String(threads),
      '--tasks',
      'train,inputgrad,bim',
      ...common,
    ]);
  }
} else {
  torchNote = `PyTorch is not available to ${a.python} (on Debian: apt-get install -y python3-torch); our figures only.`;
  console.log(torchNote);
}

const find = (list, task, dataset, feedback) =>
  list.find((r) => r.task === task && r.dataset === dataset && r.feedback === feedback)
    ?.images_per_s;
const fmt = (v) => (v == null ? '—' : String(Math.round(v)));
const ratio = (x, y) => (x == null || y == null ? '—' : `${(x / y).toFixed(2)}x`);
const rows = [];
for (const dataset of ['mnist', 'cifar10']) {
  for (const feedback of ['bp', 'fa']) {
    // one training run on every core: its figure goes in the multi-core columns
    const m = find(ours, 'trainpar', dataset, feedback);
    if (m == null) continue;
    const task = `train, 1 thread + ${workers} worker${workers === '1' ? '' : 's'} (data-parallel)`;
    rows.push({
      task,
      dataset,
      feedback,
      o: null,
      m,
      t1: null,
      t2: find(torch[2], 'train', dataset, feedback),
      faOverBp: feedback === 'fa' ? ratio(m, find(ours, 'trainpar', dataset, 'bp')) : '',
    });
  }
}
for (const task of ['train', 'inputgrad', 'bim10']) {
  for (const dataset of task === 'bim10' ? ['mnist'] : ['mnist', 'cifar10']) {
    for (const feedback of ['bp', 'fa']) {
      const o = find(ours, task, dataset, feedback);
      const t1 = find(torch[1], task, dataset, feedback);
      const t2 = find(torch[2], task, dataset, feedback);
      const m = find(multi, task, dataset, feedback);
      rows.push({
        task,
        dataset,
        feedback,
        o,
        m,
        t1,
        t2,
        faOverBp: feedback === 'fa' ? ratio(o, find(ours, task, dataset, 'bp')) : '',
      });
    }
  }
}
const header = `| task | dataset | rule | ours (${backend}, 1 thread) img/s | PyTorch 1 thread img/s | ours / PyTorch-1 | ours, ${procs} processes img/s | PyTorch 2 threads img/s | ours ${procs} procs / PyTorch-2 | ours FA / BP |`;
console.log(`\n${header}\n|---|---|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(
    `| ${r.task} | ${r.dataset} | ${r.feedback} | ${fmt(r.o)} | ${fmt(r.t1)} | ${ratio(r.o, r.t1)} | ${fmt(r.m)} | ${fmt(r.t2)} | ${ratio(r.m ?? r.o, r.t2)} | ${r.faOverBp} |`,
  );
}
const bimMulti = multi.find((r) => r.task === 'bim10' && r.feedback === 'fa');
if (bimMulti)
  console.log(
    `BIM-10 over ${bimMulti.images} MNIST test images with ${procs} processes: ${bimMulti.seconds} s (slowest slice)`,
  );
const bimOurs = ours.find((r) => r.task === 'bim10' && r.feedback === 'fa');
if (bimOurs)
  console.log(
    `\nBIM-10 over ${bimOurs.images} MNIST test images at eps 0.3 (FA LeNet): ${bimOurs.seconds} s in our stack`,
  );
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
