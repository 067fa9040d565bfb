#!/usr/bin/env node
// Data-parallel training against one thread, by batch size: `train()` on this thread alone and
// `train()` split across this thread and worker threads (@fa-robust/fa-layers/node, all-reduce),
// each measured by ours.mjs in its own process, interleaved round by round; the speed-up is
// computed within each round, then its median (min-max) over the rounds. Beside them, two
// independent processes training on half the batch each: the ceiling of any split of that batch
// across two cores on this machine (the small batch's per-call overhead and the two cores'
// contention, without any exchange).
//   node dp.mjs [--batches 64,128,256] [--feedbacks bp,fa] [--rounds 5] [--steps 30] [--workers 1]
//               [--json file]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: a } = parseArgs({
  options: {
    batches: { type: 'string', default: '64,128,256' },
    feedbacks: { type: 'string', default: 'bp,fa' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '30' },
    workers: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const batches = a.batches.split(',').map(Number);
const rounds = Number(a.rounds);
if (!batches.every((b) => Number.isInteger(b) && b >= 2) || !(rounds >= 1))
  throw new Error('--batches: integers >= 2; --rounds: >= 1');

function ours(args) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(here, 'ours.mjs'), ...args], { cwd: here });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) =>
      code === 0
        ? done(
            out
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => JSON.parse(l)),
          )
        : fail(new Error(`ours.mjs ${args.join(' ')} failed (${code}):\n${err}`)),
    );
  });
}

const common = ['--datasets', 'mnist', '--feedbacks', a.feedbacks, '--steps', a.steps];
const records = [];
for (let r = 0; r < rounds; r++) {
  for (const batch of r % 2 === 0 ? batches : [...batches].reverse()) {
    const b = ['--batch', String(batch)];
    const half = ['--batch', String(batch >> 1)];
    const one = await ours([...common, ...b, '--tasks', 'train']);
    const par = await ours([...common, ...b, '--tasks', 'trainpar', '--workers', a.workers]);
    // two processes at once, each on half the batch: their images/s add up
    const [p, q] = await Promise.all([
      ours([...common, ...half, '--tasks', 'train']),
      ours([...common, ...half, '--tasks', 'train']),
    ]);
    for (const fb of a.feedbacks.split(',')) {
      const pick = (list) => list.find((x) => x.feedback === fb)?.images_per_s;
      records.push({
        round: r + 1,
        batch,
        feedback: fb,
        one: pick(one),
        par: pick(par),
        halves: pick(p) + pick(q),
      });
    }
    console.log(`round ${r + 1}/${rounds}: batch ${batch} done`);
  }
}

const stat = (v) => {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return {
    median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2,
    min: s[0],
    max: s[s.length - 1],
  };
};
const f = (v, d = 0, x = '') => {
  const s = stat(v);
  return `${s.median.toFixed(d)}${x} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
};
console.log(
  `\n${rounds} interleaved rounds, LeNet-5 MNIST, ${a.workers} worker thread(s); median (min–max); ratios round by round\n`,
);
console.log(
  '| batch | rule | 1 thread img/s | 1 thread + workers (all-reduce) img/s | speed-up | 2 processes on half the batch each, img/s together | their speed-up: the ceiling | all-reduce / ceiling |\n|---|---|---|---|---|---|---|---|',
);
for (const batch of batches) {
  for (const fb of a.feedbacks.split(',')) {
    const rs = records.filter((x) => x.batch === batch && x.feedback === fb);
    console.log(
      `| ${batch} | ${fb} | ${f(rs.map((x) => x.one))} | ${f(rs.map((x) => x.par))} | ${f(
        rs.map((x) => x.par / x.one),
        2,
        'x',
      )} | ${f(rs.map((x) => x.halves))} | ${f(
        rs.map((x) => x.halves / x.one),
        2,
        'x',
      )} | ${f(
        rs.map((x) => x.par / x.halves),
        2,
      )} |`,
    );
  }
}
if (a.json) writeFileSync(a.json, `${JSON.stringify({ args: a, records }, null, 1)}\n`);
