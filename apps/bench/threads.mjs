// Feasibility trial (issue "Performance"): tfjs-backend-wasm's threaded-SIMD build in Node.
//
// tfjs-backend-wasm turns multithreading off in Node (its WASM_HAS_MULTITHREAD_SUPPORT flag
// returns false when IS_NODE). This script turns it back on in a child process, provides what the
// emscripten pthreads runtime of tfjs-backend-wasm-threaded-simd.wasm needs there, checks the
// results against the single-thread SIMD build and times both, interleaved.
//
//   node threads.mjs [--rounds 5] [--threads 2] [--budget-ms 150] [--min-reps 3] [--json]
//   node threads.mjs --workload train [--rounds 3] [--threads 1,2] [--steps 30] [--batch 64]
//
//   --workload   kernels (default): conv2d / matMul calls, ms per call.
//                train: the project's own stack (@fa-robust/backend's kernels registered on the
//                wasm backend, @fa-robust/fa-layers' lenet + train), as apps/bench/ours.mjs does it:
//                LeNet-5 MNIST training, 5 warm-up batches then --steps timed batches of --batch
//                random images per round, for feedback bp and fa, and the input-gradient step of
//                the attacks (tf.grad of softmax cross-entropy w.r.t. the input), in images/s.
//                Its check: the losses (and input gradients) agree between the variants.
//   --threads    comma list of XNNPACK thread counts to run on the threaded build (default 2;
//                e.g. 1,2 also separates the cost of the threaded build from the threading)
//   --budget-ms  time spent per workload, per backend, per round (at least --min-reps calls)
//   --no-shims   flip WASM_HAS_MULTITHREAD_SUPPORT only, to see how the threaded build fails bare
//   --logical-cores  what os.cpus().length reports to the threaded build (default: the larger of
//                the real count and 2 x threads; see "cap" below)
//
// Each backend lives in its own child process (a tfjs process holds one 'wasm' backend); the
// parent asks them in turn for one round each (A,B,A,B,...), so load drifts hit both alike.
// Every figure is the median over rounds (min-max) of each round's median call time. Two more
// lines: process CPU / wall (~2 on an idle machine when 2 threads compute; on a loaded one it shows
// how much CPU each child got) and, on Linux, the busiest helper thread's CPU / the main thread's
// (~1 when XNNPACK's second thread does its share; > 1 means it also spin-waits between calls).
// Exit status: 0 when everything ran and matched, 1 otherwise (the failure is printed).
//
// What the threaded build needs in Node (installed by installPthreadShims below):
//  1. tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true): tfjs then loads the threaded-SIMD
//     .wasm and its emscripten glue (both ship in the package; setThreadsCount sets XNNPACK's pool).
//  2. a Worker: the glue itself sets global.Worker = worker_threads.Worker in Node, and starts a
//     pool of 8 workers (emscripten PTHREAD_POOL_SIZE) while the module instantiates; threads are
//     only started by XNNPACK's pthreadpool (threads-1 of them; the calling thread works too).
//  3. the worker's script: tfjs hands emscripten a blob: URL (URL.createObjectURL of a Blob with
//     the embedded worker source), which node:worker_threads cannot open. The shim records the text
//     of the Blobs tfjs makes and starts the Worker on that text with { eval: true }.
//  4. the main glue inside each worker: tfjs passes it as a Blob (mainScriptUrlOrBlob) in the
//     'load' message; the worker would importScripts(URL.createObjectURL(blob)), which reads it
//     with fs.readFileSync. The shim sends the text instead and the worker evaluates it directly,
//     after defining the bundle-level names rollup moved out of that glue (the text is the factory's
//     toString(), cut out of tf-backend-wasm.node.js): require$$N (fs, path, perf_hooks, os) and
//     commonjsGlobal. Without them the worker throws "require$$0 is not defined".
//  5. the cap: tfjs's backend.cc caps the pool at emscripten_num_logical_cores() / 2, which is
//     os.cpus().length / 2 in Node, so on a 2-CPU machine setThreadsCount(2) still gives 1 thread.
//     The threaded child makes os.cpus() report --logical-cores entries (before init) to lift it.
//  SharedArrayBuffer, shared WebAssembly.Memory, wasm atomics and Atomics.wait on the main thread
//  are all available in Node 20 without flags.
//  Exit: a running pthread is ref()'d by the glue, so the process would never exit on its own;
//  the children call process.exit() when done (and the parent kills them if they hang).
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os, { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    'budget-ms': { type: 'string', default: '150' },
    'min-reps': { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
    'child-threads': { type: 'string', default: '1' },
    'logical-cores': { type: 'string' },
    'no-shims': { type: 'boolean', default: false },
    workload: { type: 'string', default: 'kernels' },
    steps: { type: 'string', default: '30' },
    batch: { type: 'string', default: '64' },
  },
});
if (!['kernels', 'train'].includes(a.workload)) {
  console.error(`--workload must be 'kernels' or 'train', found '${a.workload}'`);
  process.exit(2);
}
const TRAIN = a.workload === 'train';

const KERNEL_WORKLOADS = [
  { name: 'conv2d [64,28,28,1] * 5x5x1x6', key: 'conv' },
  { name: 'matMul [64,400]x[400,120]', key: 'mmSmall' },
  { name: 'matMul [256,1024]x[1024,1024]', key: 'mmLarge' },
];
const FEEDBACKS = ['bp', 'fa'];
const TRAIN_WORKLOADS = [
  ...FEEDBACKS.map((fb) => ({
    name: `LeNet-5 MNIST train step, ${fb}`,
    key: `train-${fb}`,
  })),
  ...FEEDBACKS.map((fb) => ({
    name: `input gradient (attack step), ${fb}`,
    key: `inputgrad-${fb}`,
  })),
];
const WORKLOADS = TRAIN ? TRAIN_WORKLOADS : KERNEL_WORKLOADS;

// ---------------------------------------------------------------------------------- child side

function installPthreadShims() {
  // Blob texts by object URL, and the text of each Blob tfjs builds (all string parts).
  const blobText = new Map();
  const NodeBlob = globalThis.Blob;
  class TextBlob extends NodeBlob {
    constructor(parts, options) {
      super(parts, options);
      if (Array.isArray(parts) && parts.every((p) => typeof p === 'string')) {
        this.tfjsText = parts.join('');
      }
    }
  }
  globalThis.Blob = TextBlob;
  const createObjectURL = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj) => {
    const url = createObjectURL(obj);
    if (obj?.tfjsText != null) blobText.set(url, obj.tfjsText);
    return url;
  };

  // The glue tfjs sends to the workers is its factory's Function.prototype.toString(), cut out of
  // the rollup bundle: rollup hoisted the glue's require('fs'|'path'|'perf_hooks'|'os') into
  // bundle-level \`var require$$N = require(...)\` that the worker does not have. Read them off the
  // bundle's text (not imported) and define them in the worker before the glue runs.
  const hoisted = {
    require$$0: 'fs',
    require$$1: 'path',
    require$$3: 'perf_hooks',
    require$$4: 'os',
  };
  try {
    const bundle = readFileSync(
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'),
      'utf8',
    );
    for (const m of bundle.matchAll(/^var (require\$\$\d+) = require\('([^']+)'\);$/gm))
      hoisted[m[1]] = m[2];
  } catch {
    // keep the table above (tfjs-backend-wasm 4.22.0's)
  }
  // Appended to the pthread worker source: evaluate the main glue sent as text in 'load'.
  const POSTLUDE = `
;(() => {
  for (const [name, mod] of Object.entries(${JSON.stringify(hoisted)})) globalThis[name] = require(mod);
  globalThis.commonjsGlobal = globalThis; // rollup's helper, also referenced by that glue
  const onmessage0 = self.onmessage;
  self.onmessage = (e) => {
    if (e.data && e.data.cmd === 'load' && typeof e.data.tfjsGlue === 'string') {
      globalThis.__tfjsGlue = e.data.tfjsGlue;
      e.data.urlOrBlob = 'tfjs-inline:glue';
    }
    return onmessage0(e);
  };
  const importScripts0 = globalThis.importScripts;
  globalThis.importScripts = (f) => {
    if (f !== 'tfjs-inline:glue') return importScripts0(f);
    const code = globalThis.__tfjsGlue;
    globalThis.__tfjsGlue = null;
    (0, eval)(code + '\\n//# sourceURL=tfjs-backend-wasm-threaded-simd.glue.js');
  };
})();`;

  const stats = { created: 0, blobWorkers: 0 };
  let NodeWorker;
  const ready = import('node:worker_threads').then((m) => {
    NodeWorker = m.Worker;
    class PthreadWorker extends NodeWorker {
      constructor(url, options) {
        const text = blobText.get(String(url));
        if (text != null) {
          super(text + POSTLUDE, { ...options, eval: true });
          stats.blobWorkers++;
        } else {
          super(url, options);
        }
        stats.created++;
      }
      postMessage(msg, transfer) {
        if (msg?.cmd === 'load' && msg.urlOrBlob?.tfjsText != null) {
          msg = { ...msg, urlOrBlob: null, tfjsGlue: msg.urlOrBlob.tfjsText };
        }
        return super.postMessage(msg, transfer);
      }
    }
    // The glue assigns global.Worker = worker_threads.Worker when it starts: keep ours.
    Object.defineProperty(globalThis, 'Worker', {
      configurable: true,
      get: () => PthreadWorker,
      set: () => {},
    });
  });
  return { stats, ready };
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1; // [-1, 1)
  };
}
function randn(n, seed, scale = 1) {
  const r = lcg(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() * scale;
  return out;
}

// Linux: CPU ticks of each thread of this process (/proc/self/task/*/stat), or null.
function threadTimes() {
  try {
    const out = new Map();
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(f[11]) + Number(f[12])); // utime + stime
    }
    return out;
  } catch {
    return null;
  }
}
// CPU of the busiest thread other than the main one, relative to the main thread's (null when
// unknown): ~1 when an XNNPACK helper thread does as much as the main thread, ~0 when none works.
function helperShare(t0, t1) {
  if (!t0 || !t1) return null;
  let main = 0;
  let other = 0;
  for (const [tid, v] of t1) {
    const d = v - (t0.get(tid) ?? 0);
    if (tid === process.pid) main = d;
    else other = Math.max(other, d);
  }
  return main > 0 ? other / main : null;
}

// process CPU / wall and the helper-thread share around fn (which returns what to add to them)
async function withCpu(fn) {
  const start = performance.now();
  const cpu0 = process.cpuUsage(); // the whole process: main thread and pthread workers
  const tasks0 = threadTimes();
  const r = await fn();
  const cpu = process.cpuUsage(cpu0);
  const tasks1 = threadTimes();
  const wall = performance.now() - start;
  return {
    ...r,
    cpuPerWall: (cpu.user + cpu.system) / 1000 / wall,
    helperShare: helperShare(tasks0, tasks1),
  };
}

// --workload kernels: single conv2d / matMul calls, ms per call (median over a time budget)
function kernelBench(tf) {
  const x = tf.tensor4d(randn(64 * 28 * 28, 1), [64, 28, 28, 1]);
  const f = tf.tensor4d(randn(5 * 5 * 6, 2, 0.2), [5, 5, 1, 6]);
  const a1 = tf.tensor2d(randn(64 * 400, 3), [64, 400]);
  const b1 = tf.tensor2d(randn(400 * 120, 4, 0.05), [400, 120]);
  const a2 = tf.tensor2d(randn(256 * 1024, 5), [256, 1024]);
  const b2 = tf.tensor2d(randn(1024 * 1024, 6, 0.03), [1024, 1024]);
  const ops = {
    conv: () => tf.conv2d(x, f, 1, 'valid'),
    mmSmall: () => tf.matMul(a1, b1),
    mmLarge: () => tf.matMul(a2, b2),
  };
  const call = (k) => {
    const y = ops[k]();
    y.dataSync();
    y.dispose();
  };
  return {
    warm() {
      for (const k of Object.keys(ops)) call(k);
    },
    check() {
      const out = {};
      for (const k of Object.keys(ops)) {
        const y = ops[k]();
        out[k] = y.dataSync().slice();
        y.dispose();
      }
      return out;
    },
    async round(m) {
      const res = {};
      for (const k of Object.keys(ops)) {
        call(k); // warm
        res[k] = await withCpu(() => {
          const times = [];
          const start = performance.now();
          while (times.length < m.minReps || performance.now() - start < m.budgetMs) {
            const t = performance.now();
            call(k);
            times.push(performance.now() - t);
          }
          times.sort((p, q) => p - q);
          return { median: times[times.length >> 1], reps: times.length };
        });
      }
      return res;
    },
  };
}

// --workload train: the project's stack on the wasm backend this child initialised, as ours.mjs.
async function trainBench(tf, wasm, backend, info, setStage) {
  // @fa-robust/backend's own entry point. tf.setBackend('wasm') on an initialised backend reuses
  // its instance (tfjs-core's Engine.setBackend only initialises a backend not yet in its registry),
  // so the WASM_HAS_MULTITHREAD_SUPPORT=false it sets in Node comes too late to swap the build: the
  // threaded module stays, and setupBackend registers the package's kernels on it
  // (registerWasmTrainingKernels('wasm')) and loads tfjs-layers for the gradients.
  const { setupBackend } = await import('@fa-robust/backend');
  const threads0 = wasm.getThreadsCount();
  const setup = await setupBackend({ backend: 'wasm' });
  const same = tf.backend() === backend && tf.backend().wasm === backend.wasm;
  const threadedNow = tf.backend().wasm?.PThread != null;
  if (
    setup.name !== 'wasm' ||
    !same ||
    threadedNow !== (info.kind === 'threaded') ||
    wasm.getThreadsCount() !== threads0
  ) {
    throw new Error(
      `setupBackend changed the backend: name ${setup.name}, same instance ${same}, ` +
        `threaded module ${threadedNow}, threads ${threads0} -> ${wasm.getThreadsCount()}`,
    );
  }
  const missing = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad'].filter(
    (k) => tf.getKernel(k, 'wasm') == null,
  );
  if (missing.length) throw new Error(`kernels not registered on wasm: ${missing.join(', ')}`);
  info.setup = {
    via: "setupBackend({ backend: 'wasm' }) after this child's own tf.setBackend('wasm')",
    sameBackendInstance: same,
    threadedModule: threadedNow,
    xnnpackThreadsAfter: wasm.getThreadsCount(),
    addedKernels: setup.addedKernels,
    gradients: setup.gradients,
    reason: setup.reason,
  };

  setStage("importing @fa-robust/fa-layers' lenet and train");
  const { lenet, train } = await import('@fa-robust/fa-layers');
  const batch = Number(a.batch);
  const steps = Number(a.steps);
  // ours.mjs's data: (steps + 5) batches of seeded random images and labels (tfjs-core's own
  // generator: the same values on every backend); 5 warm-up batches, then the timed ones
  const n = batch * (steps + 5);
  const x = tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 1);
  const y = tf.randomUniform([n], 0, 10, 'int32', 2);
  const warmData = { x: tf.slice(x, 0, batch * 5), y: tf.slice(y, 0, batch * 5) };
  const rest = { x: tf.slice(x, batch * 5), y: tf.slice(y, batch * 5) };
  // a fixed batch to evaluate the loss on after training
  const evalX = tf.slice(x, 0, batch);
  const evalY = tf.oneHot(tf.slice(y, 0, batch), 10);
  // ours.mjs's inputgrad data
  const gx = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 3);
  const gy = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 4), 10);
  const opts = { epochs: 1, batchSize: batch, shuffle: false };

  const lossAfter = (model) => {
    const l = tf.tidy(() => tf.losses.softmaxCrossEntropy(evalY, model.predict(evalX)));
    const v = l.dataSync()[0];
    l.dispose();
    return v;
  };
  const models = {};
  const grads = {};
  const warmLoss = {};
  for (const fb of FEEDBACKS) {
    setStage(`lenet({ dataset: 'mnist', feedback: '${fb}' }) and 5 warm-up batches`);
    const model = lenet({ dataset: 'mnist', feedback: fb, seed: 1 });
    const r = await train(model, warmData, opts);
    models[fb] = model;
    warmLoss[fb] = [r.history[0].loss, lossAfter(model)];
    const g = tf.grad((xi) => tf.losses.softmaxCrossEntropy(gy, model.apply(xi)));
    grads[fb] = () => {
      // the read is outside tf.tidy, as in ours.mjs
      const t = tf.tidy(() => g(gx));
      const v = t.dataSync();
      t.dispose();
      return v;
    };
    for (let i = 0; i < 5; i++) grads[fb]();
  }
  return {
    check() {
      const out = {};
      for (const fb of FEEDBACKS) {
        // [mean loss over the 5 warm-up batches (each before its update), loss on a fixed batch after]
        out[`train-${fb}`] = Float64Array.from(warmLoss[fb]);
        out[`inputgrad-${fb}`] = grads[fb]().slice();
      }
      return out;
    },
    async round() {
      const res = {};
      for (const fb of FEEDBACKS) {
        // steps more batches of the same model (every variant runs the same sequence, so the
        // losses after each round must agree too)
        res[`train-${fb}`] = await withCpu(async () => {
          const r = await train(models[fb], rest, opts);
          return {
            median: (batch * steps) / r.seconds,
            reps: steps,
            loss: [r.history[0].loss, lossAfter(models[fb])],
          };
        });
      }
      for (const fb of FEEDBACKS) {
        res[`inputgrad-${fb}`] = await withCpu(() => {
          const t = performance.now();
          for (let i = 0; i < steps; i++) grads[fb]();
          return { median: (batch * steps) / ((performance.now() - t) / 1000), reps: steps };
        });
      }
      return res;
    },
  };
}

async function child(kind, threads) {
  let stage = 'start';
  const send = (m) => process.send(m);
  // the parent gone (killed, crashed): do not linger with a ref()'d pthread
  process.on('disconnect', () => process.exit(3));
  const warnings = [];
  try {
    let shims = null;
    let coresSeen = null;
    if (kind === 'threaded' && !a['no-shims']) {
      stage = 'installing the Worker/Blob shims';
      shims = installPthreadShims();
      await shims.ready;
      // tfjs caps XNNPACK's pool at emscripten_num_logical_cores() / 2 (backend.cc: "x86-64
      // processors have 2 threads per core"), and in Node that is os.cpus().length / 2: 1 on a
      // 2-CPU machine, whatever setThreadsCount asks. Make os.cpus() report enough entries.
      const want = Number(a['logical-cores']);
      const real = os.cpus();
      if (want > real.length) {
        os.cpus = () => Array.from({ length: want }, (_, i) => real[i % real.length]);
      }
      coresSeen = os.cpus().length;
    }
    stage = 'importing @tensorflow/tfjs-core and @tensorflow/tfjs-backend-wasm';
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', kind === 'threaded');
    if (kind === 'threaded') wasm.setThreadsCount(threads);

    stage = `tf.setBackend('wasm') (${kind === 'threaded' ? 'threaded-SIMD' : 'SIMD'} build)`;
    const warn0 = console.warn;
    console.warn = (...args) => {
      warnings.push(args.map(String).join(' '));
      warn0(...args);
    };
    const t0 = performance.now();
    let ok;
    try {
      ok = await Promise.race([
        tf.setBackend('wasm'),
        new Promise((_, rej) =>
          setTimeout(() => rej(new Error('setBackend did not settle within 60 s')), 60000).unref(),
        ),
      ]);
    } finally {
      console.warn = warn0;
    }
    if (!ok) throw new Error(`setBackend('wasm') returned false: ${warnings.join(' | ')}`);
    const initMs = performance.now() - t0;
    const backend = tf.backend();
    const mod = backend.wasm;
    const pthread = mod.PThread;
    const info = {
      kind,
      build: pthread ? 'tfjs-backend-wasm-threaded-simd.wasm' : 'tfjs-backend-wasm-simd.wasm',
      requestedThreads: kind === 'threaded' ? threads : 1,
      xnnpackThreads: wasm.getThreadsCount(),
      sharedMemory:
        typeof SharedArrayBuffer !== 'undefined' && mod.HEAPU8?.buffer instanceof SharedArrayBuffer,
      initMs,
      workersCreated: shims?.stats.created ?? 0,
      logicalCoresSeen: coresSeen,
      workersRunning: pthread ? pthread.runningWorkers.length : 0,
      workersIdle: pthread ? pthread.unusedWorkers.length : 0,
    };

    let bench;
    if (TRAIN) {
      stage = "setupBackend({ backend: 'wasm' }) of @fa-robust/backend on the initialised backend";
      bench = await trainBench(tf, wasm, backend, info, (s) => (stage = s));
    } else {
      stage = 'building the inputs';
      bench = kernelBench(tf);
      stage = 'first kernel calls';
      bench.warm();
    }
    send({ type: 'ready', info });

    process.on('message', async (m) => {
      try {
        if (m.type === 'check') {
          stage = 'correctness check';
          send({ type: 'check', out: bench.check() });
        } else if (m.type === 'round') {
          stage = `timing round ${m.round}`;
          send({ type: 'round', res: await bench.round(m) });
        } else if (m.type === 'exit') {
          // A running pthread keeps a ref()'d worker: without exit() this process never ends.
          process.exit(0);
        }
      } catch (e) {
        send({ type: 'error', stage, error: String(e?.stack ?? e) });
      }
    });
  } catch (e) {
    send({
      type: 'error',
      stage,
      error: String(e?.stack ?? e?.message ?? JSON.stringify(e)),
      warnings,
    });
    process.exit(1);
  }
}

// --------------------------------------------------------------------------------- parent side

// children not yet exited: killed (by handle) if the parent leaves first, whatever the path
const LIVE = new Set();
function killLive() {
  for (const p of LIVE) {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}

function spawnChild(kind, threads) {
  const cores = a['logical-cores'] ?? String(Math.max(os.cpus().length, 2 * threads));
  const args = ['--child', kind, '--child-threads', String(threads), '--logical-cores', cores];
  if (a['no-shims']) args.push('--no-shims');
  args.push('--workload', a.workload, '--steps', a.steps, '--batch', a.batch);
  const p = fork(SELF, args, {
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const label = kind === 'threaded' ? `threaded-SIMD x${threads}` : 'SIMD x1';
  const c = {
    p,
    kind,
    threads,
    label,
    stderr: '',
    stdout: '',
    queue: [],
    waiters: [],
    exited: null,
  };
  p.stderr.on('data', (d) => (c.stderr = (c.stderr + d).slice(-4000)));
  p.stdout.on('data', (d) => (c.stdout = (c.stdout + d).slice(-4000)));
  p.on('message', (m) => {
    const w = c.waiters.shift();
    if (w) w.resolve(m);
    else c.queue.push(m);
  });
  LIVE.add(p);
  p.on('exit', (code, signal) => {
    LIVE.delete(p);
    c.exited = { code, signal };
    for (const w of c.waiters.splice(0)) w.resolve({ type: 'exit', code, signal });
  });
  return c;
}

function next(c, timeoutMs, what) {
  if (c.queue.length) return Promise.resolve(c.queue.shift());
  if (c.exited) return Promise.resolve({ type: 'exit', ...c.exited });
  return new Promise((resolve) => {
    const w = {
      resolve: (m) => {
        clearTimeout(timer);
        resolve(m);
      },
    };
    const timer = setTimeout(() => {
      c.waiters.splice(c.waiters.indexOf(w), 1);
      resolve({ type: 'timeout', what, ms: timeoutMs });
    }, timeoutMs);
    c.waiters.push(w);
  });
}

function failure(c, m, stage) {
  const short = (t, n) => t.split('\n').slice(0, n).join('\n');
  const lines = [`${c.label}: FAILED at ${m.stage ?? stage}`];
  if (m.type === 'error') lines.push(`  error: ${short(m.error, 6)}`);
  if (m.type === 'exit') lines.push(`  child exited (code ${m.code}, signal ${m.signal})`);
  if (m.type === 'timeout') lines.push(`  no answer within ${m.ms} ms (${m.what}): hang/deadlock`);
  const err = c.stderr.trim();
  const seen = m.type === 'error' ? m.error : '';
  const last = err.split('\n').find((l) => l.trim()) ?? '';
  if (err && !seen.includes(last.trim())) {
    lines.push(
      `  child stderr (tail):\n${err.split('\n').slice(-25).join('\n').replace(/^/gm, '    ')}`,
    );
  }
  const all = `${seen}\n${err}`;
  const hints = [
    [
      /ERR_WORKER_PATH|blob:nodedata/,
      "emscripten's `new Worker(locateFile('...worker.js'))` got tfjs's blob: URL, which node:worker_threads cannot open: start the Worker on the Blob's text with { eval: true } (installPthreadShims)",
    ],
    [
      /require\$\$\d+ is not defined|commonjsGlobal is not defined/,
      "the worker evaluated tfjs's glue (the factory's toString()) without the rollup bundle's hoisted names: define require$$N and commonjsGlobal in the worker",
    ],
    [
      /URL\.createObjectURL|importScripts|ENOENT.*blob:/,
      'the worker could not read the main glue passed as a Blob: send it as text',
    ],
    [
      /SharedArrayBuffer|bad memory|shared/i,
      'shared WebAssembly.Memory / SharedArrayBuffer unavailable: needs Node >= 16 (no flags in 20)',
    ],
  ]
    .filter(([re]) => re.test(all))
    .map(([, h]) => `  needed: ${h}`);
  if (m.type === 'timeout')
    hints.push(
      '  needed: a thread waits on something the blocked main thread should do (proxying): see the stack with --inspect',
    );
  if (c.kind === 'threaded' && a['no-shims'])
    hints.push('  (run without --no-shims to use the shims)');
  return [...lines, ...hints].join('\n');
}

function stop(c) {
  if (c.exited) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      c.p.kill('SIGKILL'); // our own child, by its handle
      resolve();
    }, 5000);
    c.p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      c.p.send({ type: 'exit' });
    } catch {
      c.p.kill('SIGKILL');
    }
  });
}

const median = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

async function parent() {
  process.on('exit', killLive);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      killLive();
      process.exit(130);
    });
  }
  const rounds = Math.max(1, Number(a.rounds));
  const threadList = a.threads
    .split(',')
    .map(Number)
    .filter((n) => n >= 1);
  const budgetMs = Number(a['budget-ms']);
  const minReps = Number(a['min-reps']);
  const log = a.json ? () => {} : console.log;
  log(
    `node ${process.version}, ${availableParallelism()} CPUs, tfjs-backend-wasm threaded-SIMD trial` +
      (TRAIN
        ? `, workload train (@fa-robust/backend + fa-layers LeNet-5 MNIST, batch ${a.batch}, ${a.steps} timed batches/round after 5 warm-up)`
        : ''),
  );

  const kids = [spawnChild('simd', 1), ...threadList.map((t) => spawnChild('threaded', t))];
  const report = {
    node: process.version,
    cpus: availableParallelism(),
    backends: [],
    check: [],
    rounds,
    table: [],
  };
  let failed = false;
  const alive = [];
  for (const c of kids) {
    const m = await next(c, TRAIN ? 240000 : 90000, 'backend start');
    if (m.type !== 'ready') {
      failed = true;
      const msg = failure(c, m, 'backend start');
      console.error(msg);
      report.backends.push({ label: c.label, ok: false, failure: msg });
      if (m.type === 'timeout') c.p.kill('SIGKILL');
      continue;
    }
    c.info = m.info;
    report.backends.push({ label: c.label, ok: true, ...m.info });
    log(
      `${c.label}: ${m.info.build}, XNNPACK threads ${m.info.xnnpackThreads}` +
        (m.info.kind === 'threaded'
          ? `, shared memory ${m.info.sharedMemory}, os.cpus() seen by tfjs ${m.info.logicalCoresSeen}` +
            `, workers created ${m.info.workersCreated}` +
            ` (running ${m.info.workersRunning}, idle ${m.info.workersIdle})`
          : '') +
        `, init ${m.info.initMs.toFixed(0)} ms`,
    );
    if (m.info.setup) {
      const s = m.info.setup;
      log(
        `  kernels: ${s.via}: same backend instance ${s.sameBackendInstance}, threaded module ${s.threadedModule},` +
          ` XNNPACK threads after ${s.xnnpackThreadsAfter}, gradients ${s.gradients}; added ${s.addedKernels.join(', ')}`,
      );
    }
    alive.push(c);
  }

  const base = alive.find((c) => c.kind === 'simd');
  const others = alive.filter((c) => c.kind !== 'simd');
  if (!base || others.length === 0) {
    log('\nNothing to compare: see the failure above.');
    if (!base) console.error('(the plain SIMD backend failed too: not a threading problem)');
    await Promise.all(kids.map(stop));
    if (a.json) console.log(JSON.stringify(report, null, 2));
    process.exit(1);
  }

  // correctness
  const outs = new Map();
  for (const c of alive) {
    c.p.send({ type: 'check' });
    const m = await next(c, 60000, 'correctness check');
    if (m.type !== 'check') {
      console.error(failure(c, m, 'correctness check'));
      failed = true;
      continue;
    }
    outs.set(c, m.out);
  }
  const ref = outs.get(base);
  for (const c of others) {
    const out = outs.get(c);
    if (!out || !ref) continue;
    for (const w of WORKLOADS) {
      const p = ref[w.key];
      const q = out[w.key];
      let maxAbs = 0;
      let maxRef = 0;
      for (let i = 0; i < p.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(p[i] - q[i]));
        maxRef = Math.max(maxRef, Math.abs(p[i]));
      }
      // train: relative (losses elementwise, input gradients against their largest entry)
      let rel = 0;
      if (TRAIN) {
        for (let i = 0; i < p.length; i++) {
          const d = Math.abs(p[i] - q[i]);
          rel = Math.max(rel, w.key.startsWith('train') ? d / Math.abs(p[i]) : d / maxRef);
        }
      }
      const ok = p.length === q.length && (TRAIN ? rel <= 1e-4 : maxAbs <= 1e-4);
      if (!ok) failed = true;
      report.check.push({
        backend: c.label,
        workload: w.name,
        maxAbsDiff: maxAbs,
        maxAbsRef: maxRef,
        ...(TRAIN ? { maxRelDiff: rel, ref: w.key.startsWith('train') ? [...p] : undefined } : {}),
        ok,
      });
      if (TRAIN && w.key.startsWith('train')) {
        log(
          `check ${c.label} vs SIMD x1, ${w.name}: loss over warm-up ${q[0].toFixed(6)} vs ${p[0].toFixed(6)},` +
            ` after it ${q[1].toFixed(6)} vs ${p[1].toFixed(6)}: max rel diff ${rel.toExponential(2)} ${ok ? 'OK' : 'MISMATCH (> 1e-4)'}`,
        );
      } else if (TRAIN) {
        log(
          `check ${c.label} vs SIMD x1, ${w.name}: max |diff| ${maxAbs.toExponential(2)}` +
            ` (max |ref| ${maxRef.toExponential(2)}), relative ${rel.toExponential(2)} ${ok ? 'OK' : 'MISMATCH (> 1e-4)'}`,
        );
      } else {
        log(
          `check ${c.label} vs SIMD x1, ${w.name}: max |diff| ${maxAbs.toExponential(2)}` +
            ` (max |ref| ${maxRef.toFixed(2)}) ${ok ? 'OK' : 'MISMATCH (> 1e-4)'}`,
        );
      }
    }
  }

  // interleaved timing: A,B,(C,)A,B,...
  const times = new Map(
    alive.map((c) => [c, Object.fromEntries(WORKLOADS.map((w) => [w.key, []]))]),
  );
  const cpuRatio = new Map(
    alive.map((c) => [c, Object.fromEntries(WORKLOADS.map((w) => [w.key, []]))]),
  );
  const helper = new Map(
    alive.map((c) => [c, Object.fromEntries(WORKLOADS.map((w) => [w.key, []]))]),
  );
  const losses = new Map(
    alive.map((c) => [c, Object.fromEntries(WORKLOADS.map((w) => [w.key, []]))]),
  );
  for (let r = 0; r < rounds; r++) {
    for (const c of alive) {
      if (c.dead) continue;
      c.p.send({ type: 'round', round: r, budgetMs, minReps });
      const m = await next(c, 120000, `timing round ${r}`);
      if (m.type !== 'round') {
        console.error(failure(c, m, `timing round ${r}`));
        c.dead = true;
        failed = true;
        continue;
      }
      for (const w of WORKLOADS) {
        times.get(c)[w.key].push(m.res[w.key].median);
        cpuRatio.get(c)[w.key].push(m.res[w.key].cpuPerWall);
        if (m.res[w.key].helperShare != null) helper.get(c)[w.key].push(m.res[w.key].helperShare);
        if (m.res[w.key].loss) losses.get(c)[w.key].push(m.res[w.key].loss);
      }
    }
  }

  const header = [
    'workload',
    ...alive.map((c) => `${c.label} ${TRAIN ? 'images/s' : 'ms'}`),
    ...others.map((c) => `speed-up ${c.label}`),
  ];
  const rows = WORKLOADS.map((w) => {
    const cells = [w.name];
    const med = new Map();
    for (const c of alive) {
      const v = times.get(c)[w.key];
      if (!v.length) {
        cells.push('-');
        continue;
      }
      med.set(c, median(v));
      cells.push(`${fmt(median(v))} (${fmt(Math.min(...v))}-${fmt(Math.max(...v))})`);
      report.table.push({
        workload: w.name,
        backend: c.label,
        medianMs: median(v),
        minMs: Math.min(...v),
        maxMs: Math.max(...v),
        roundsMs: v,
      });
    }
    for (const c of others) {
      const r = TRAIN ? med.get(c) / med.get(base) : med.get(base) / med.get(c); // images/s vs ms
      cells.push(med.has(base) && med.has(c) ? `x${r.toFixed(2)}` : '-');
    }
    return cells;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  log(
    TRAIN
      ? `\n${rounds} interleaved rounds; each cell: median over rounds (min-max) of images/s over ${a.steps} batches of ${a.batch}` +
          " (train: train()'s own seconds; input gradient: wall time of the calls)"
      : `\n${rounds} interleaved rounds; each cell: median over rounds (min-max) of the per-round median call, ms`,
  );
  log(line(header));
  log(widths.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) log(line(r));
  // CPU time / wall time of the child while timing (process-wide, so ~N when N threads are busy;
  // on a loaded machine it also shows how much CPU each backend actually got)
  log(
    '\nprocess CPU / wall while timing (median over rounds): ' +
      WORKLOADS.map(
        (w) =>
          `${w.key} ` +
          alive
            .map((c) => {
              const v = cpuRatio.get(c)[w.key];
              return `${c.label} ${v.length ? median(v).toFixed(2) : '-'}`;
            })
            .join(', '),
      ).join('; '),
  );
  log(
    'busiest other thread CPU / main thread CPU (median; ~1 = a helper thread computes as much): ' +
      WORKLOADS.map(
        (w) =>
          `${w.key} ` +
          alive
            .map((c) => {
              const v = helper.get(c)[w.key];
              return `${c.label} ${v.length ? median(v).toFixed(2) : '-'}`;
            })
            .join(', '),
      ).join('; '),
  );
  if (TRAIN) {
    // every variant trains the same models on the same batches in the same order: the losses
    // after every round must agree as well
    for (const c of others) {
      for (const w of WORKLOADS) {
        const p = losses.get(base)[w.key];
        const q = losses.get(c)[w.key];
        if (!p.length) continue;
        let rel = 0;
        for (let r = 0; r < Math.min(p.length, q.length); r++)
          for (let i = 0; i < p[r].length; i++)
            rel = Math.max(rel, Math.abs(p[r][i] - q[r][i]) / Math.abs(p[r][i]));
        const ok = p.length === q.length && rel <= 1e-4;
        if (!ok) failed = true;
        report.check.push({
          backend: c.label,
          workload: `${w.name}, losses after each round`,
          maxRelDiff: rel,
          ref: p,
          ok,
        });
        log(
          `check ${c.label} vs SIMD x1, ${w.name}, after each of ${q.length} rounds` +
            ` (epoch loss, loss on a fixed batch): ${q.map((l) => l.map((v) => v.toFixed(6)).join('/')).join(', ')}` +
            ` vs ${p.map((l) => l.map((v) => v.toFixed(6)).join('/')).join(', ')}: max rel diff ${rel.toExponential(2)} ${ok ? 'OK' : 'MISMATCH (> 1e-4)'}`,
        );
      }
    }
  }
  report.helperShare = alive.map((c) => ({ backend: c.label, ...helper.get(c) }));
  report.cpuPerWall = alive.map((c) => ({
    backend: c.label,
    ...Object.fromEntries(WORKLOADS.map((w) => [w.key, cpuRatio.get(c)[w.key]])),
  }));

  await Promise.all(kids.map(stop));
  if (a.json) console.log(JSON.stringify(report, null, 2));
  process.exit(failed ? 1 : 0);
}

if (a.child) await child(a.child, Number(a['child-threads']));
else await parent();
