import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BackendInfo, fileSystem, setupBackend } from '@fa-robust/backend';
import { loadCifar10, loadMnist, MissingDataError, type Split, take } from '@fa-robust/datasets';
import {
  alignmentRecord,
  createResults,
  gradientAlignment,
  type ModelRecord,
  type ResultCell,
  type Results,
  resultCell,
  robustRecord,
  toCsv,
  writeFigures,
  writeResults,
} from '@fa-robust/metrics';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { DatasetName, Method, ReproConfig } from './config.js';
import { forEachConcurrent, WorkerPool } from './pool.js';
import { formatDuration, progressBoard } from './progress.js';
import { renderReport } from './report.js';
import {
  type AttackStepSpec,
  attackStep,
  maskFrom,
  predictLabels,
  type StoredStep,
  stepContext,
  type TrainSpec,
  tag,
  trainModel,
} from './steps.js';
import { CellStore, hash, writeFileAtomic } from './store.js';
import { type AuditVerdict, auditVerdict } from './verdict.js';
import type { WorkerJob } from './worker.js';

export interface RunOptions {
  /** How the run was started, for the report's "how to rerun". */
  command: string;
  /** Folder relative paths resolve against. Default process.cwd(). */
  cwd?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface RunOutput {
  outDir: string;
  results: Results;
  verdicts: AuditVerdict[];
  backend: BackendInfo;
  /** Cells computed in this run (the rest came from an earlier, interrupted run). */
  computed: number;
  reused: number;
}

interface ModelSpec {
  id: string;
  method: Method;
  seed: number;
}

const LOADERS = { mnist: loadMnist, cifar10: loadCifar10 } as const;
const require = createRequire(import.meta.url);

function versions(): Record<string, string> {
  const out: Record<string, string> = {
    node: process.versions.node,
    '@tensorflow/tfjs-core': tf.version_core,
  };
  for (const p of ['backend', 'fa-layers', 'attacks', 'datasets', 'metrics']) {
    try {
      out[`@fa-robust/${p}`] = (
        require(`@fa-robust/${p}/package.json`) as { version: string }
      ).version;
    } catch {
      // not resolvable: leave it out
    }
  }
  return out;
}

/** A copy of `split` in shared memory: worker threads read it without a copy each. */
function shareSplit(split: Split): Split {
  const images = new Float32Array(new SharedArrayBuffer(split.images.byteLength));
  images.set(split.images);
  const labels = new Uint8Array(new SharedArrayBuffer(split.labels.byteLength));
  labels.set(split.labels);
  return { ...split, images, labels };
}

/**
 * The worker script: next to this module once built (dist/), or the built one when this module
 * runs from its TypeScript source (tests); null when there is none (then steps run in-process).
 */
function workerScript(): URL | null {
  for (const rel of ['./worker.js', '../dist/worker.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return null;
}

/**
 * How many worker threads `workers` means on this machine and backend; 1 = everything in the
 * main thread. tfjs-node already uses every core (and its native addon is not made for worker
 * threads), so 'auto' is 1 there.
 */
export function resolveWorkers(workers: ReproConfig['workers'], backendName: string): number {
  if (workers !== 'auto') return workers;
  return backendName === 'tensorflow' ? 1 : Math.max(1, Math.min(availableParallelism(), 8));
}

/**
 * The work of a step in input-gradient evaluations (one per image per iteration); a Square
 * query is one forward pass, measured at about half a gradient evaluation (paper preset, MNIST:
 * BIM-10 on 10,000 images 40 s, Square-1000 on 1,000 images 186 s). Used for the ETA only.
 */
export function stepCost(spec: AttackStepSpec): number {
  if (spec.eps === 0) return 0;
  const steps = Number(spec.params.steps ?? 1);
  return spec.attack === 'square' ? (spec.n * steps) / 2 : spec.n * steps;
}

/** Runs the whole study. Every finished step is stored, so a rerun continues where it stopped. */
export async function runRepro(config: ReproConfig, options: RunOptions): Promise<RunOutput> {
  const log = options.log ?? ((l: string) => console.log(l));
  const started = performance.now();
  const outDir = resolve(options.cwd ?? process.cwd(), config.outDir);
  await mkdir(outDir, { recursive: true });
  const backend = await setupBackend({ backend: config.backend });
  log(`backend: ${backend.name} (${backend.reason}${backend.simd ? ', SIMD' : ''})`);
  let nWorkers = resolveWorkers(config.workers, backend.name);
  const script = nWorkers > 1 ? workerScript() : null;
  if (nWorkers > 1 && !script) {
    log(
      `workers: ${nWorkers} asked for, but no built worker script was found next to ${fileURLToPath(import.meta.url)}; running in the main thread`,
    );
    nWorkers = 1;
  }
  const pool = script
    ? new WorkerPool<WorkerJob>(script, nWorkers, { backend: backend.name })
    : null;
  log(
    pool
      ? `workers: ${pool.size} threads, each with its own tfjs (${backend.name})`
      : 'workers: none, all work in the main thread',
  );
  const stopPool = () => void pool?.close();
  options.signal?.addEventListener('abort', stopPool, { once: true });
  try {
    return await study(config, options, { log, started, outDir, backend, pool });
  } catch (e) {
    // a step that failed because the pool was stopped by an abort reports the abort
    options.signal?.throwIfAborted();
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', stopPool);
    await pool?.close();
  }
}

async function study(
  config: ReproConfig,
  options: RunOptions,
  env: {
    log: (line: string) => void;
    started: number;
    outDir: string;
    backend: BackendInfo;
    pool: WorkerPool<WorkerJob> | null;
  },
): Promise<RunOutput> {
  const { log, started, outDir, backend, pool } = env;
  const board = progressBoard();
  const store = await CellStore.open(join(outDir, 'cells'));
  if (store.size) log(`resuming: ${store.size} finished steps found in ${join(outDir, 'cells')}`);
  await writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const models: ModelRecord[] = [];
  const cells: ResultCell[] = [];
  const masks = new Map<string, Uint8Array>();
  const alignment: NonNullable<Results['alignment']> = [];
  const robust: NonNullable<Results['robust']> = [];
  const datasetNotes: string[] = [];
  let computed = 0;
  let reused = 0;
  const variant: 'standard' | 'paper' =
    config.attacks.variant === 'canonical' ? 'standard' : 'paper';

  const collect = (value: StoredStep) => {
    for (const c of value.cells) {
      cells.push(c);
      const m = value.masks[tag(c)];
      if (m) masks.set(`${c.dataset}|${tag(c)}`, maskFrom(m));
    }
  };

  for (const dataset of config.datasets) {
    options.signal?.throwIfAborted();
    // 1. data
    let data: { train?: Split; test: Split };
    const trainSize = config.train.size ?? undefined;
    const testSize = config.testSize ?? undefined;
    try {
      const loaded = await LOADERS[dataset]({
        ...(config.dataDir
          ? { dataDir: resolve(options.cwd ?? process.cwd(), config.dataDir) }
          : {}),
        download: config.download,
        limit: {
          ...(trainSize ? { train: trainSize } : {}),
          ...(testSize ? { test: testSize } : {}),
        },
        signal: options.signal,
      });
      data = loaded as unknown as { train: Split; test: Split };
      const where = [...new Set(loaded.sources.map((s) => `${s.from} ${dirname(s.path)}`))].join(
        ', ',
      );
      const note = `${dataset}: ${data.train?.shape[0] ?? 0} training and ${data.test.shape[0]} test images, from ${where}, checksums verified`;
      datasetNotes.push(note);
      log(note);
    } catch (e) {
      if (e instanceof MissingDataError) {
        const note = `${dataset}: skipped, data not available (${e.message.split('\n')[0]})`;
        datasetNotes.push(note);
        log(note);
        continue;
      }
      throw e;
    }
    const test = data.test;
    const labels = Int32Array.from(test.labels);

    // 2. models: trained once per configuration (in parallel on the workers), saved, reused
    const specs: ModelSpec[] = [
      { id: 'bp', method: 'bp', seed: config.seed },
      { id: 'fa', method: 'fa', seed: config.seed },
    ];
    if (config.audit.enabled && config.audit.surrogate)
      specs.push({ id: 'bp-surrogate', method: 'bp', seed: config.seed + 1000 });
    const trained: Record<string, tfl.LayersModel> = {};
    const modelDirs: Record<string, string> = {};
    const trainCfg = {
      size: config.train.size,
      epochs: config.train.epochs[dataset],
      batchSize: config.train.batchSize,
      optimizer: config.train.optimizer,
      learningRate: config.train.learningRate,
    };
    const trainSeconds: Record<string, number> = {};
    const toTrain: { spec: TrainSpec; dir: string }[] = [];
    for (const spec of specs) {
      const modelHash = hash({ dataset, ...spec, train: trainCfg }).slice(0, 12);
      const dir = join(outDir, 'models', `${dataset}-${spec.id}-${modelHash}`);
      modelDirs[spec.id] = dir;
      if (existsSync(join(dir, 'model.json'))) {
        trained[spec.id] = await tfl.loadLayersModel(fileSystem(dir));
        log(`${dataset}/${spec.id}: reusing the model saved in ${dir}`);
      } else {
        if (!data.train) throw new Error(`${dataset}: no training data to train ${spec.id}`);
        const { size: _size, ...rest } = trainCfg;
        toTrain.push({
          spec: { dataset, id: spec.id, method: spec.method, seed: spec.seed, ...rest },
          dir,
        });
      }
    }
    if (toTrain.length) {
      const trainData = data.train!;
      const shared = pool ? shareSplit(trainData) : trainData;
      await forEachConcurrent(toTrain, pool?.size ?? 1, async ({ spec, dir }) => {
        const bar = board.task(`train ${dataset}/${spec.id}`, 'img');
        if (pool) {
          const r = await pool.run<{ seconds: number }>(
            { type: 'train', spec, data: shared, dir },
            { onProgress: bar, onLog: log },
          );
          trainSeconds[spec.id] = r.seconds;
          trained[spec.id] = await tfl.loadLayersModel(fileSystem(dir));
        } else {
          const r = await trainModel(spec, trainData, dir, {
            onProgress: bar,
            log,
            ...(options.signal ? { signal: options.signal } : {}),
          });
          trainSeconds[spec.id] = r.seconds;
          trained[spec.id] = r.model;
        }
        bar.finish();
      });
    }
    for (const spec of specs) {
      const seconds = trainSeconds[spec.id];
      models.push({
        dataset,
        id: spec.id,
        method: spec.method,
        label: spec.id === 'bp-surrogate' ? 'BP surrogate' : spec.method.toUpperCase(),
        architecture: `LeNet-5 (${dataset})`,
        seed: spec.seed,
        params: {
          trainImages: data.train?.shape[0] ?? null,
          ...trainCfg,
          ...(seconds != null ? { trainSeconds: Math.round(seconds) } : {}),
          path: modelDirs[spec.id]!,
        },
      });
    }

    // helpers over the test set, in batches
    const bs = config.attacks.batchSize;
    const forBatches = async (
      n: number,
      f: (x: tf.Tensor4D, y: Int32Array, start: number) => Promise<void>,
    ) => {
      for (let start = 0; start < n; start += bs) {
        options.signal?.throwIfAborted();
        const part = take(test, Math.min(bs, n - start), start);
        const x = tf.tensor4d(part.images, part.shape as [number, number, number, number]);
        try {
          await f(x, labels.subarray(start, start + part.shape[0]), start);
        } finally {
          x.dispose();
        }
      }
    };
    const nTest = test.shape[0];
    const clean: Record<string, Uint8Array> = {};
    for (const { id } of specs) {
      const model = trained[id]!;
      const correct = new Uint8Array(nTest);
      await forBatches(nTest, async (x, y, start) => {
        const p = predictLabels(model, x);
        for (let i = 0; i < p.length; i++) correct[start + i] = p[i] === y[i] ? 1 : 0;
      });
      clean[id] = correct;
      const c = resultCell({
        dataset,
        model: id,
        attack: 'none',
        epsilon: 0,
        source: 'none',
        cleanCorrect: correct,
        adversarialCorrect: correct,
      });
      cells.push(c);
      models.find((m) => m.dataset === dataset && m.id === id)!.cleanAccuracy =
        c.accuracy ?? undefined;
      log(
        `${dataset}/${id}: clean accuracy ${(100 * (c.accuracy ?? 0)).toFixed(2)}% on ${nTest} test images`,
      );
    }

    const attackParams = (name: string, eps: number) => ({
      variant,
      ...(name === 'fgsm' ? {} : { steps: config.attacks.iterations }),
      ...(name === 'mifgsm' ? { decay: config.attacks.mu } : {}),
      epsilon: eps,
      seed: config.seed,
    });
    // The paper's equations score the final iterate; the canonical attacks keep the best one found.
    const attackOptions = (name: string, eps: number) => {
      const { epsilon: _e, seed: _s, ...rest } = attackParams(name, eps);
      return { ...rest, keepBest: variant !== 'paper' };
    };

    // 3. the paper: white-box through each network's own backward path, and transferred
    const plan: { key: string; label: string; spec: AttackStepSpec }[] = [];
    const dataKey = { dataset, train: trainCfg, testSize: config.testSize, seed: config.seed };
    // the audit compares against the own-gradient attack, so that runs at every audit eps too
    const paperEpsilons = [
      ...new Set([
        ...config.attacks.epsilons,
        ...(config.audit.enabled ? config.audit.epsilons : []),
      ]),
    ].sort((a, b) => a - b);
    for (const name of config.attacks.names) {
      for (const eps of paperEpsilons) {
        for (const [source, other] of [
          ['bp', 'fa'],
          ['fa', 'bp'],
        ] as const) {
          const params = attackParams(name, eps);
          plan.push({
            key: `${dataset}/${name}/${variant}/eps=${eps}/own-gradient-of=${source}/${hash({ dataKey, params, bs }).slice(0, 12)}`,
            label: `${dataset} ${name} eps=${eps} on ${source} (and transferred to ${other})`,
            spec: {
              attack: name,
              eps,
              source,
              gradientTag: 'own',
              targets: [other],
              n: nTest,
              params,
              options: attackOptions(name, eps),
            },
          });
        }
      }
    }

    // 4. the audit: true gradient, gradient-free, BP surrogate, gradient alignment
    const ctx = stepContext({
      dataset,
      test,
      labels,
      models: trained,
      clean,
      batchSize: bs,
      seed: config.seed,
    });
    if (config.audit.enabled) {
      for (const name of config.attacks.names) {
        for (const eps of config.audit.epsilons) {
          const params = attackParams(name, eps);
          plan.push({
            key: `${dataset}/${name}/${variant}/eps=${eps}/true-gradient-of=fa/${hash({ dataKey, params, bs }).slice(0, 12)}`,
            label: `${dataset} ${name} eps=${eps} on fa with its true gradient`,
            // The attack's target is the FA model; only the gradient comes from its twin.
            spec: {
              attack: name,
              eps,
              source: 'fa',
              gradientTag: 'true',
              trueGradient: true,
              targets: [],
              n: nTest,
              params,
              options: attackOptions(name, eps),
            },
          });
          if (trained['bp-surrogate']) {
            plan.push({
              key: `${dataset}/${name}/${variant}/eps=${eps}/own-gradient-of=bp-surrogate/${hash({ dataKey, params, bs }).slice(0, 12)}`,
              label: `${dataset} ${name} eps=${eps} on the BP surrogate, transferred to fa and bp`,
              spec: {
                attack: name,
                eps,
                source: 'bp-surrogate',
                gradientTag: 'own',
                targets: ['fa', 'bp'],
                n: nTest,
                params,
                options: attackOptions(name, eps),
              },
            });
          }
        }
      }
      if (config.audit.gradientFree !== 'none') {
        const gf = config.audit.gradientFree;
        const nGf = Math.min(config.audit.gradientFreeSize ?? nTest, nTest);
        for (const eps of config.audit.epsilons) {
          for (const id of ['fa', 'bp']) {
            const params = {
              epsilon: eps,
              steps: config.audit.gradientFreeBudget,
              seed: config.seed,
              variant: 'standard',
            };
            plan.push({
              key: `${dataset}/${gf}/eps=${eps}/model=${id}/${hash({ dataKey, params, nGf, bs }).slice(0, 12)}`,
              label: `${dataset} ${gf} eps=${eps} on ${id} (gradient-free, ${nGf} images)`,
              spec: {
                attack: gf,
                eps,
                source: id,
                gradientTag: 'none',
                targets: [],
                n: nGf,
                params,
                options: { steps: config.audit.gradientFreeBudget },
              },
            });
          }
        }
      }
    }

    // Steps run side by side on the workers; their cells are collected in plan order, so
    // results.json does not depend on which finished first.
    const overall = performance.now();
    let done = 0;
    // the time left is estimated from the work left, in gradient evaluations per image, not
    // from the count of steps (an FGSM step costs a tenth of a BIM one)
    const costLeft = plan
      .filter((item) => !store.has(item.key))
      .reduce((sum, item) => sum + stepCost(item.spec), 0);
    let costDone = 0;
    const outputs: StoredStep[] = new Array(plan.length);
    if (pool && plan.some((item) => !store.has(item.key))) {
      const sharedTest = shareSplit(test);
      await pool.broadcast({
        type: 'context',
        context: {
          dataset,
          test: sharedTest,
          models: modelDirs,
          clean,
          batchSize: bs,
          seed: config.seed,
        },
      });
    }
    await forEachConcurrent(plan, pool?.size ?? 1, async (item, i) => {
      options.signal?.throwIfAborted();
      const { value, cached } = await store.getOrCompute(item.key, async () => {
        // eps = 0 needs no attack (the clean images are the answer): no progress to show
        const bar = item.spec.eps > 0 ? board.task(item.label, 'img') : undefined;
        const hooks = {
          ...(bar ? { onProgress: bar } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        };
        const out =
          pool && item.spec.eps > 0
            ? await pool.run<StoredStep>({ type: 'attack', spec: item.spec }, hooks)
            : await attackStep(ctx, item.spec, hooks);
        bar?.finish();
        return out;
      });
      outputs[i] = value;
      done++;
      if (cached) reused++;
      else {
        computed++;
        costDone += stepCost(item.spec);
        const rate = (performance.now() - overall) / 1000 / Math.max(costDone, 1);
        log(
          `[${done}/${plan.length}] ${item.label}: done; about ${formatDuration(rate * (costLeft - costDone))} left for ${dataset}`,
        );
      }
    });
    for (const value of outputs) collect(value);

    if (config.audit.enabled && trained.fa) {
      const twin = await ctx.twin();
      // gradient alignment: the FA network's feedback-path input gradient vs its true one
      const n = Math.min(config.audit.alignmentSize, nTest);
      const alignKey = `${dataset}/alignment/fa/${hash({ dataKey, n }).slice(0, 12)}`;
      const { value } = await store.getOrCompute(alignKey, async () => {
        const own: Float32Array[] = [];
        const truth: Float32Array[] = [];
        const grad = (m: tfl.LayersModel, x: tf.Tensor, y: Int32Array) => {
          const g = tf.tidy(() => {
            const oneHot = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
            return tf.grad((xi: tf.Tensor) =>
              tf.losses.softmaxCrossEntropy(oneHot, m.apply(xi) as tf.Tensor),
            )(x);
          });
          // read outside the tidy: a typed array returned from tf.tidy is walked element by element
          const values = g.dataSync() as Float32Array;
          g.dispose();
          return values;
        };
        await forBatches(n, async (x, y) => {
          own.push(Float32Array.from(grad(trained.fa!, x, y)));
          truth.push(Float32Array.from(grad(twin, x, y)));
        });
        const flat = (parts: Float32Array[]) => {
          const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
          let o = 0;
          for (const p of parts) {
            out.set(p, o);
            o += p.length;
          }
          return out;
        };
        return alignmentRecord({
          dataset,
          model: 'fa',
          comparison: 'own-vs-true',
          alignment: gradientAlignment(flat(own), flat(truth), { examples: n }),
        });
      });
      alignment.push(value);
      log(
        `${dataset}/fa: feedback-path vs true input gradient, median angle ${value.angle.median?.toFixed(1)} degrees over ${value.n} images`,
      );

      // robust accuracy of FA per audit eps: correct under every attack that ran on all examples
      for (const eps of config.audit.epsilons) {
        const entries = [...masks.entries()].filter(([k]) => {
          const [d, model, attack, source, e] = k.split('|');
          return (
            d === dataset &&
            model === 'fa' &&
            attack !== 'none' &&
            Number(e) === eps &&
            source !== undefined
          );
        });
        const full = entries.filter(([, m]) => m.length === nTest);
        if (full.length) {
          robust.push(
            robustRecord({
              dataset,
              model: 'fa',
              epsilon: eps,
              correct: Object.fromEntries(
                full.map(([k, m]) => [k.split('|').slice(2, 4).join('/'), m]),
              ),
            }),
          );
        }
      }
    }
    ctx.dispose();
    for (const m of Object.values(trained)) m.dispose();
  }

  const results = createResults({
    title:
      'On the Adversarial Robustness of Neural Networks without Weight Transport: reproduction and audit',
    config: config as unknown as Results['config'],
    environment: {
      backend: backend.name,
      versions: versions(),
      simd: backend.simd,
      platform: `${process.platform}-${process.arch}`,
    },
    models,
    cells,
    ...(alignment.length ? { alignment } : {}),
    ...(robust.length ? { robust } : {}),
    notes: datasetNotes,
  });
  await writeResults(join(outDir, 'results.json'), results);
  await writeFileAtomic(join(outDir, 'results.csv'), toCsv(results));
  const figureFiles = (await writeFigures(results, join(outDir, 'figures'))).map((f) =>
    f.replace(`${outDir}/`, ''),
  );
  const verdicts = [...new Set(models.map((m) => m.dataset))].map((d) =>
    auditVerdict(results, d, 'fa'),
  );
  const seconds = (performance.now() - started) / 1000;
  await writeFile(
    join(outDir, 'REPORT.md'),
    renderReport(results, verdicts, {
      command: options.command,
      seconds,
      figures: figureFiles,
      datasetNotes,
    }),
  );
  return { outDir, results, verdicts, backend, computed, reused };
}

export type { DatasetName };
