#!/usr/bin/env node
// Compares two results.json files, ignoring what differs from run to run by nature: times
// (createdAt, seconds, trainSeconds) and paths (model folders, outDir). Prints every other
// difference with its JSON path; exits 1 when there is one. Used to check that a refactor of
// the study leaves its numbers unchanged:
//   node scripts/compare-results.mjs before/results.json after/results.json
import { readFileSync } from 'node:fs';

const IGNORED = new Set(['createdAt', 'seconds', 'trainSeconds', 'path', 'outDir']);
const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node scripts/compare-results.mjs <before.json> <after.json>');
  process.exit(2);
}
const diffs = [];
const walk = (x, y, path) => {
  if (diffs.length > 50) return;
  if (
    typeof x !== typeof y ||
    Array.isArray(x) !== Array.isArray(y) ||
    (x === null) !== (y === null)
  ) {
    diffs.push(`${path}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
  } else if (Array.isArray(x)) {
    if (x.length !== y.length) diffs.push(`${path}: ${x.length} entries vs ${y.length}`);
    for (let i = 0; i < Math.min(x.length, y.length); i++) walk(x[i], y[i], `${path}[${i}]`);
  } else if (x && typeof x === 'object') {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (IGNORED.has(k)) continue;
      if (!(k in x) || !(k in y))
        diffs.push(`${path}.${k}: only in ${k in x ? 'the first' : 'the second'}`);
      else walk(x[k], y[k], `${path}.${k}`);
    }
  } else if (x !== y) diffs.push(`${path}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
};
walk(JSON.parse(readFileSync(a, 'utf8')), JSON.parse(readFileSync(b, 'utf8')), '$');
if (diffs.length) {
  console.log(`${diffs.length} difference(s):\n${diffs.join('\n')}`);
  process.exit(1);
}
console.log('same results (times and paths aside)');
