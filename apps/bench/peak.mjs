// The arithmetic ceilings the roofline is drawn against (issue #20):
//  - this machine's wasm SIMD peak: f32x4 multiply-add throughput in a tight loop of independent
//    chains (wasm has no FMA outside relaxed SIMD: a multiply and an add, 8 FLOPs per lane-4
//    pair), on one thread, as tfjs-backend-wasm runs in Node;
//  - the same loop on scalar f32, for scale;
//  - the native peak PyTorch reaches on a large matmul (2n^3 FLOPs), 1 and 2 threads.
//   node peak.mjs [--seconds 1] [--repeats 7] [--matmul 2048] [--python /usr/bin/python3]
// Prints each figure as the median (min-max) of the repeats, in GFLOP/s.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import wabtInit from 'wabt';

const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '7' },
    matmul: { type: 'string', default: '2048' },
    python: {
      type: 'string',
      default: existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3',
    },
    json: { type: 'boolean', default: false },
  },
});

/** `chains` independent accumulators, each `acc = acc * m + c` per step, `unroll` steps a loop turn. */
function kernel(type, chains, unroll) {
  const v = type === 'v128';
  const mul = v ? 'f32x4.mul' : 'f32.mul';
  const add = v ? 'f32x4.add' : 'f32.add';
  const splat = (x) => (v ? `(f32x4.splat (f32.const ${x}))` : `(f32.const ${x})`);
  const locals = Array.from({ length: chains }, (_, i) => `(local $a${i} ${type})`).join(' ');
  const init = Array.from(
    { length: chains },
    (_, i) => `(local.set $a${i} ${splat(1 + i / 64)})`,
  ).join('\n');
  const body = Array.from({ length: unroll }, () =>
    Array.from(
      { length: chains },
      (_, i) =>
        `(local.set $a${i} (${add} (${mul} (local.get $a${i}) (local.get $m)) (local.get $c)))`,
    ).join('\n'),
  ).join('\n');
  // the sum of the lanes is returned so that nothing is dead code
  const sum = Array.from({ length: chains }, (_, i) => `(local.get $a${i})`).reduce(
    (p, q) => `(${add} ${p} ${q})`,
  );
  const out = v ? `(f32x4.extract_lane 0 ${sum})` : sum;
  return `(module
  (func (export "run") (param $n i32) (result f32)
    (local $m ${type}) (local $c ${type}) ${locals}
    (local.set $m ${splat(0.9999999)})
    (local.set $c ${splat(1e-7)})
    ${init}
    (block $done (loop $turn
      (br_if $done (i32.eqz (local.get $n)))
      ${body}
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $turn)))
    ${out}))`;
}

const wabt = await wabtInit();
async function instantiate(wat) {
  const mod = wabt.parseWat('peak.wat', wat, { simd: true });
  const { buffer } = mod.toBinary({});
  mod.destroy();
  const { instance } = await WebAssembly.instantiate(buffer);
  return instance.exports.run;
}

const median = (v) => {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v) =>
  `${median(v).toFixed(1)} (${Math.min(...v).toFixed(1)}-${Math.max(...v).toFixed(1)})`;

async function measure(type, chains, unroll) {
  const run = await instantiate(kernel(type, chains, unroll));
  const lanes = type === 'v128' ? 4 : 1;
  const flopsPerTurn = 2 * lanes * chains * unroll;
  // calibrate: turns for about --seconds
  let turns = 1000;
  for (;;) {
    const t = performance.now();
    run(turns);
    const ms = performance.now() - t;
    if (ms > 50) {
      turns = Math.max(1, Math.round((turns * Number(a.seconds) * 1000) / ms));
      break;
    }
    turns *= 4;
  }
  const out = [];
  for (let r = 0; r < Number(a.repeats); r++) {
    const t = performance.now();
    run(turns);
    out.push((flopsPerTurn * turns) / ((performance.now() - t) / 1000) / 1e9);
  }
  return out;
}

const results = {};
// chains: enough independent multiply-add pairs to cover the latency of both units (12 of 16
// xmm registers); a few more or fewer show whether the figure is the ceiling or a latency bound
for (const chains of [8, 12, 14])
  results[`wasm f32x4 mul+add, ${chains} chains`] = await measure('v128', chains, 4);
results['wasm scalar f32 mul+add, 12 chains'] = await measure('f32', 12, 4);

const probe = spawnSync(a.python, ['-c', 'import torch; print(torch.__version__)'], {
  encoding: 'utf8',
});
if (probe.status === 0) {
  for (const threads of [1, 2]) {
    const py = `
import time, torch
torch.set_num_threads(${threads})
n = ${Number(a.matmul)}
x, y = torch.rand(n, n), torch.rand(n, n)
x @ y
out = []
for _ in range(${Number(a.repeats)}):
    t = time.perf_counter(); x @ y; out.append(2 * n ** 3 / (time.perf_counter() - t) / 1e9)
print(' '.join(f'{v:.3f}' for v in out))`;
    const r = spawnSync(a.python, ['-c', py], { encoding: 'utf8' });
    if (r.status === 0)
      results[
        `PyTorch ${probe.stdout.trim()} matmul ${a.matmul}^2, ${threads} thread${threads > 1 ? 's' : ''}`
      ] = r.stdout.trim().split(/\s+/).map(Number);
  }
} else console.log(`(no PyTorch for ${a.python}: the native matmul figure is skipped)`);

if (a.json)
  console.log(
    JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]))),
  );
else {
  console.log(`GFLOP/s, median (min-max) of ${a.repeats} runs:`);
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(48)} ${fmt(v)}`);
}
