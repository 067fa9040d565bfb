#!/usr/bin/env node
// Does a second `pnpm bench` run confirm the first? Reads two of run.mjs's JSON files and prints,
// figure by figure (images/s and ratios), both runs' medians (min-max) and whether each run's
// median lies within the other run's range: "confirmed" when both do, "contradicted" when
// neither does, "partly" otherwise.
//   node confirm.mjs out/bench-<first>.json out/bench-<second>.json [--markdown] [--ratios]
// (--ratios: the ratios only, not the images/s behind them)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({
  options: {
    markdown: { type: 'boolean', default: false },
    ratios: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
if (positionals.length !== 2) {
  console.error('usage: node confirm.mjs <first bench JSON> <second bench JSON> [--markdown]');
  process.exit(2);
}
const [first, second] = positionals.map((p) => {
  const j = JSON.parse(readFileSync(p, 'utf8'));
  if (!Array.isArray(j.rows)) throw new Error(`${p}: not a bench JSON file (no rows)`);
  return j;
});

const fields = [
  ['ours1', 'ours 1 thread img/s', 0],
  ['torch1', 'PyTorch 1 thread img/s', 0],
  ['ratio1', 'ours / PyTorch-1', 2],
  ['oursN', `ours ${first.procs} processes img/s`, 0],
  ['torch2', 'PyTorch 2 threads img/s', 0],
  ['ratioN', `ours ${first.procs} / PyTorch-2`, 2],
  ['faOverBp', 'FA / BP', 2],
  ['overOne', 'over 1 thread', 2],
];
const within = (x, s) => x >= s.min && x <= s.max;
const fmt = (s, d) =>
  `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})${d === 2 ? 'x' : ''}`;

const out = [];
const counts = { confirmed: 0, partly: 0, contradicted: 0 };
for (const r of first.rows) {
  const s = second.rows.find(
    (q) => q.task === r.task && q.dataset === r.dataset && q.feedback === r.feedback,
  );
  if (!s) continue;
  const dataParallel = r.task.includes('data-parallel');
  for (const [key, name, d] of fields) {
    if (a.ratios && d === 0) continue;
    // a data-parallel row's oursN is one train() on every core, not N processes
    const label = dataParallel && key === 'oursN' ? 'ours, 1 thread + workers img/s' : name;
    const x = r[key];
    const y = s[key];
    if (x == null || y == null) continue;
    const both = within(x.median, y) && within(y.median, x);
    const none = !within(x.median, y) && !within(y.median, x);
    const verdict = both ? 'confirmed' : none ? 'contradicted' : 'partly';
    counts[verdict]++;
    out.push([r.task, r.dataset, r.feedback, label, fmt(x, d), fmt(y, d), verdict]);
  }
}
const header = ['task', 'dataset', 'rule', 'figure', 'run 1', 'run 2', 'run 2 vs run 1'];
if (a.markdown) {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const row of out) console.log(`| ${row.join(' | ')} |`);
} else {
  for (const row of out) console.log(row.join('\t'));
}
console.log(
  `\n${out.length} figures: ${counts.confirmed} confirmed (each median inside the other run's range), ${counts.partly} partly, ${counts.contradicted} contradicted`,
);
