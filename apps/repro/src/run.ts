import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { type AttackName, type BatchReport, type GradientSource, modelGradient, runAttack } from '@fa-robust/attacks';
import { type BackendInfo, fileSystem, setupBackend } from '@fa-robust/backend';
import { batches, loadCifar10, loadMnist, MissingDataError, type Split, take } from '@fa-robust/datasets';
import { backpropTwin, lenet, train } from '@fa-robust/fa-layers';
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
import { formatDuration, progress } from './progress.js';
import { renderReport } from './report.js';
import { CellStore, hash, writeFileAtomic } from './store.js';
import { type AuditVerdict, auditVerdict } from './verdict.js';

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

/** A stored experiment step: the result cells it produced and the per-example masks behind them. */
interface StoredStep {
  cells: ResultCell[];
  /** cellKey -> per-example correctness after the attack ('0'/'1' string), for robust accuracy. */
  masks: Record<string, string>;
}

const LOADERS = { mnist: loadMnist, cifar10: loadCifar10 } as const;
const require = createRequire(import.meta.url);

function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.versions.node, '@tensorflow/tfjs-core': tf.version_core };
  for (const p of ['backend', 'fa-layers', 'attacks', 'datasets', 'metrics']) {
    try {
      out[`@fa-robust/${p}`] = (require(`@fa-robust/${p}/package.json`) as { version: string }).version;
    } catch {
      // not resolvable: leave it out
    }
  }
  return out;
}

const maskString = (m: Uint8Array) => Array.from(m, (v) => (v ? '1' : '0')).join('');
const maskFrom = (s: string) => Uint8Array.from(s, (c) => (c === '1' ? 1 : 0));
const tag = (c: Pick<ResultCell, 'attack' | 'source' | 'epsilon' | 'model'>) => `${c.model}|${c.attack}|${c.source}|${c.epsilon}`;

/** Runs the whole study. Every finished step is stored, so a rerun continues where it stopped. */
export async function runRepro(config: ReproConfig, options: RunOptions): Promise<RunOutput> {
  const log = options.log ?? ((l: string) => console.log(l));
  const started = performance.now();
  const outDir = resolve(options.cwd ?? process.cwd(), config.outDir);
  await mkdir(outDir, { recursive: true });
  const backend = await setupBackend({ backend: config.backend });
  log(`backend: ${backend.name} (${backend.reason}${backend.simd ? ', SIMD' : ''})`);
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
  const variant: 'standard' | 'paper' = config.attacks.variant === 'canonical' ? 'standard' : 'paper';

  const step = async (key: string, compute: () => Promise<StoredStep>): Promise<StoredStep> => {
    const { value, cached } = await store.getOrCompute(key, compute);
    if (cached) reused++;
    else computed++;
    for (const c of value.cells) {
      cells.push(c);
      const m = value.masks[tag(c)];
      if (m) masks.set(`${c.dataset}|${tag(c)}`, maskFrom(m));
    }
    return value;
  };

  for (const dataset of config.datasets) {
    options.signal?.throwIfAborted();
    // 1. data
    let data: { train?: Split; test: Split };
    const trainSize = config.train.size ?? undefined;
    const testSize = config.testSize ?? undefined;
    try {
      const loaded = await LOADERS[dataset]({
        ...(config.dataDir ? { dataDir: resolve(options.cwd ?? process.cwd(), config.dataDir) } : {}),
        download: config.download,
        limit: { ...(trainSize ? { train: trainSize } : {}), ...(testSize ? { test: testSize } : {}) },
        signal: options.signal,
      });
      data = loaded as unknown as { train: Split; test: Split };
      const where = [...new Set(loaded.sources.map((s) => `${s.from} ${dirname(s.path)}`))].join(', ');
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

    // 2. models: trained once per configuration, saved, reused
    const specs: ModelSpec[] = [
      { id: 'bp', method: 'bp', seed: config.seed },
      { id: 'fa', method: 'fa', seed: config.seed },
    ];
    if (config.audit.enabled && config.audit.surrogate) specs.push({ id: 'bp-surrogate', method: 'bp', seed: config.seed + 1000 });
    const trained: Record<string, tfl.LayersModel> = {};
    const trainCfg = { size: config.train.size, epochs: config.train.epochs[dataset], batchSize: config.train.batchSize, optimizer: config.train.optimizer, learningRate: config.train.learningRate };
    for (const spec of specs) {
      const modelHash = hash({ dataset, ...spec, train: trainCfg }).slice(0, 12);
      const dir = join(outDir, 'models', `${dataset}-${spec.id}-${modelHash}`);
      let model: tfl.LayersModel;
      let seconds: number | null = null;
      if (existsSync(join(dir, 'model.json'))) {
        model = await tfl.loadLayersModel(fileSystem(dir));
        log(`${dataset}/${spec.id}: reusing the model saved in ${dir}`);
      } else {
        if (!data.train) throw new Error(`${dataset}: no training data to train ${spec.id}`);
        model = lenet({ dataset, feedback: spec.method, seed: spec.seed });
        const epochs = trainCfg.epochs;
        const n = data.train.shape[0];
        const bar = progress(`train ${dataset}/${spec.id}`, 'img');
        let seen = 0;
        const trainSplit = data.train;
        const source = function* (epoch: number) {
          for (const b of batches(trainSplit, { batchSize: trainCfg.batchSize, shuffle: true, seed: spec.seed * 1000 + epoch })) {
            yield { x: b.x, y: b.y };
            tf.dispose([b.x, b.y]);
            seen += b.y.shape[0];
            bar(seen, n * epochs);
          }
        };
        const r = await train(model, source, {
          epochs,
          optimizer: trainCfg.optimizer,
          learningRate: trainCfg.learningRate,
          seed: spec.seed,
          signal: options.signal,
          onEpoch: (e) => log(`  ${dataset}/${spec.id} epoch ${e.epoch + 1}/${e.epochs}: loss ${e.loss.toFixed(4)}, train accuracy ${(100 * e.accuracy).toFixed(1)}%`),
        });
        if (r.aborted) throw options.signal?.reason ?? new Error('aborted');
        bar.finish();
        seconds = r.seconds;
        await model.save(fileSystem(dir));
      }
      trained[spec.id] = model;
      models.push({
        dataset,
        id: spec.id,
        method: spec.method,
        label: spec.id === 'bp-surrogate' ? 'BP surrogate' : spec.method.toUpperCase(),
        architecture: `LeNet-5 (${dataset})`,
        seed: spec.seed,
        params: { trainImages: data.train?.shape[0] ?? null, ...trainCfg, ...(seconds != null ? { trainSeconds: Math.round(seconds) } : {}), path: dir },
      });
    }

    // helpers over the test set, in batches
    const bs = config.attacks.batchSize;
    const predict = (model: tfl.LayersModel, x: tf.Tensor): Int32Array =>
      tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, -1).dataSync() as Int32Array);
    const forBatches = async (n: number, f: (x: tf.Tensor4D, y: Int32Array, start: number) => Promise<void>) => {
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
    for (const [id, model] of Object.entries(trained)) {
      const correct = new Uint8Array(nTest);
      await forBatches(nTest, async (x, y, start) => {
        const p = predict(model, x);
        for (let i = 0; i < p.length; i++) correct[start + i] = p[i] === y[i] ? 1 : 0;
      });
      clean[id] = correct;
      const c = resultCell({ dataset, model: id, attack: 'none', epsilon: 0, source: 'none', cleanCorrect: correct, adversarialCorrect: correct });
      cells.push(c);
      models.find((m) => m.dataset === dataset && m.id === id)!.cleanAccuracy = c.accuracy ?? undefined;
      log(`${dataset}/${id}: clean accuracy ${(100 * (c.accuracy ?? 0)).toFixed(2)}% on ${nTest} test images`);
    }

    /**
     * One attack step: `attack` on `source` at `eps` over the first `n` test images, run by
     * @fa-robust/attacks' runAttack; each adversarial batch is also given to every model of
     * `targets`. Cells: the white-box one for `source` (tagged `gradientTag`), one transfer
     * cell per target.
     */
    const attackStep = async (p: {
      attack: AttackName;
      eps: number;
      source: string;
      gradientTag: 'own' | 'true' | 'none';
      gradient?: GradientSource;
      targets: string[];
      n: number;
      options: Record<string, unknown>;
      params: { [k: string]: number | string | boolean };
    }): Promise<StoredStep> => {
      const started = performance.now();
      const correctAfter: Record<string, Uint8Array> = {};
      let linf = new Float64Array(p.n);
      let l2 = new Float64Array(p.n);
      if (p.eps === 0) {
        // no perturbation is allowed: the adversarial examples are the clean images
        for (const id of [p.source, ...p.targets]) correctAfter[id] = clean[id]!.slice(0, p.n);
      } else {
        for (const t of p.targets) correctAfter[t] = new Uint8Array(p.n);
        const bar = progress(`${dataset} ${p.attack} eps=${p.eps} ${p.gradientTag === 'none' ? '' : `${p.gradientTag} gradient of `}${p.source}`, 'img');
        const run = await runAttack({
          model: trained[p.source]!,
          attack: p.attack,
          options: { ...p.options, bounds: [0, 1] },
          ...(p.gradient ? { gradient: p.gradient } : {}),
          data: take(test, p.n),
          epsilons: [p.eps],
          batchSize: config.attacks.batchSize,
          seed: config.seed,
          signal: options.signal,
          onProgress: (r) => bar(r.examplesDone, p.n),
          ...(p.targets.length
            ? {
                onBatch: (b: BatchReport) => {
                  const m = b.result.labels.length;
                  const x = tf.tensor(b.adversarial, [m, ...b.exampleShape]);
                  try {
                    for (const t of p.targets) {
                      const pt = predict(trained[t]!, x);
                      for (let i = 0; i < m; i++) correctAfter[t]![b.offset + i] = pt[i] === labels[b.offset + i] ? 1 : 0;
                    }
                  } finally {
                    x.dispose();
                  }
                },
              }
            : {}),
        });
        bar.finish();
        const r = run.perEpsilon[0]!;
        correctAfter[p.source] = r.correctAfter;
        linf = Float64Array.from(r.linf);
        l2 = Float64Array.from(r.l2);
      }
      const seconds = (performance.now() - started) / 1000;
      const out: StoredStep = { cells: [], masks: {} };
      const add = (model: string, source: string) => {
        const c = resultCell({
          dataset,
          model,
          attack: p.attack,
          ...(p.attack !== 'square' ? { variant: p.params.variant as string } : {}),
          epsilon: p.eps,
          source,
          cleanCorrect: clean[model]!.subarray(0, p.n),
          adversarialCorrect: correctAfter[model]!,
          perturbation: { linf, l2 },
          params: p.params,
          seconds,
        });
        out.cells.push(c);
        out.masks[tag(c)] = maskString(correctAfter[model]!);
      };
      add(p.source, p.gradientTag);
      for (const t of p.targets) add(t, `transfer:${p.source}`);
      return out;
    };

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
    const plan: { key: string; label: string; run: () => Promise<StoredStep> }[] = [];
    const dataKey = { dataset, train: trainCfg, testSize: config.testSize, seed: config.seed };
    // the audit compares against the own-gradient attack, so that runs at every audit eps too
    const paperEpsilons = [...new Set([...config.attacks.epsilons, ...(config.audit.enabled ? config.audit.epsilons : [])])].sort((a, b) => a - b);
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
            run: () =>
              attackStep({ attack: name, eps, source, gradientTag: 'own', targets: [other], n: nTest, params, options: attackOptions(name, eps) }),
          });
        }
      }
    }

    // 4. the audit: true gradient, gradient-free, BP surrogate, gradient alignment
    let twin: tfl.LayersModel | null = null;
    if (config.audit.enabled) {
      twin = await backpropTwin(trained.fa!);
      const t = twin;
      for (const name of config.attacks.names) {
        for (const eps of config.audit.epsilons) {
          const params = attackParams(name, eps);
          plan.push({
            key: `${dataset}/${name}/${variant}/eps=${eps}/true-gradient-of=fa/${hash({ dataKey, params, bs }).slice(0, 12)}`,
            label: `${dataset} ${name} eps=${eps} on fa with its true gradient`,
            // The attack's target is the FA model; only the gradient comes from its twin.
            run: () =>
              attackStep({ attack: name, eps, source: 'fa', gradientTag: 'true', gradient: modelGradient(t, 'true'), targets: [], n: nTest, params, options: attackOptions(name, eps) }),
          });
          if (trained['bp-surrogate']) {
            plan.push({
              key: `${dataset}/${name}/${variant}/eps=${eps}/own-gradient-of=bp-surrogate/${hash({ dataKey, params, bs }).slice(0, 12)}`,
              label: `${dataset} ${name} eps=${eps} on the BP surrogate, transferred to fa and bp`,
              run: () =>
                attackStep({ attack: name, eps, source: 'bp-surrogate', gradientTag: 'own', targets: ['fa', 'bp'], n: nTest, params, options: attackOptions(name, eps) }),
            });
          }
        }
      }
      if (config.audit.gradientFree !== 'none') {
        const gf = config.audit.gradientFree;
        const nGf = Math.min(config.audit.gradientFreeSize ?? nTest, nTest);
        for (const eps of config.audit.epsilons) {
          for (const id of ['fa', 'bp']) {
            const params = { epsilon: eps, steps: config.audit.gradientFreeBudget, seed: config.seed, variant: 'standard' };
            plan.push({
              key: `${dataset}/${gf}/eps=${eps}/model=${id}/${hash({ dataKey, params, nGf, bs }).slice(0, 12)}`,
              label: `${dataset} ${gf} eps=${eps} on ${id} (gradient-free, ${nGf} images)`,
              run: () =>
                attackStep({ attack: gf, eps, source: id, gradientTag: 'none', targets: [], n: nGf, params, options: { steps: config.audit.gradientFreeBudget } }),
            });
          }
        }
      }
    }

    const overall = performance.now();
    let done = 0;
    for (const item of plan) {
      options.signal?.throwIfAborted();
      const before = computed;
      await step(item.key, item.run);
      done++;
      const rate = (performance.now() - overall) / 1000 / Math.max(1, computed);
      const left = plan.length - done;
      if (computed > before) log(`[${done}/${plan.length}] ${item.label}: done; about ${formatDuration(rate * left)} left for ${dataset}`);
    }

    if (config.audit.enabled && twin) {
      // gradient alignment: the FA network's feedback-path input gradient vs its true one
      const n = Math.min(config.audit.alignmentSize, nTest);
      const alignKey = `${dataset}/alignment/fa/${hash({ dataKey, n }).slice(0, 12)}`;
      const { value } = await store.getOrCompute(alignKey, async () => {
        const own: Float32Array[] = [];
        const truth: Float32Array[] = [];
        const grad = (m: tfl.LayersModel, x: tf.Tensor, y: Int32Array) =>
          tf.tidy(() => {
            const oneHot = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
            return tf.grad((xi: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, m.apply(xi) as tf.Tensor))(x).dataSync() as Float32Array;
          });
        await forBatches(n, async (x, y) => {
          own.push(Float32Array.from(grad(trained.fa!, x, y)));
          truth.push(Float32Array.from(grad(twin!, x, y)));
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
        return alignmentRecord({ dataset, model: 'fa', comparison: 'own-vs-true', alignment: gradientAlignment(flat(own), flat(truth), { examples: n }) });
      });
      alignment.push(value);
      log(`${dataset}/fa: feedback-path vs true input gradient, median angle ${value.angle.median?.toFixed(1)} degrees over ${value.n} images`);

      // robust accuracy of FA per audit eps: correct under every attack that ran on all examples
      for (const eps of config.audit.epsilons) {
        const entries = [...masks.entries()].filter(([k]) => {
          const [d, model, attack, source, e] = k.split('|');
          return d === dataset && model === 'fa' && attack !== 'none' && Number(e) === eps && source !== undefined;
        });
        const full = entries.filter(([, m]) => m.length === nTest);
        if (full.length) {
          robust.push(
            robustRecord({
              dataset,
              model: 'fa',
              epsilon: eps,
              correct: Object.fromEntries(full.map(([k, m]) => [k.split('|').slice(2, 4).join('/'), m])),
            }),
          );
        }
      }
      twin.dispose();
    }
    for (const m of Object.values(trained)) m.dispose();
  }

  const results = createResults({
    title: 'On the Adversarial Robustness of Neural Networks without Weight Transport: reproduction and audit',
    config: config as unknown as Results['config'],
    environment: { backend: backend.name, versions: versions(), simd: backend.simd, platform: `${process.platform}-${process.arch}` },
    models,
    cells,
    ...(alignment.length ? { alignment } : {}),
    ...(robust.length ? { robust } : {}),
    notes: datasetNotes,
  });
  await writeResults(join(outDir, 'results.json'), results);
  await writeFileAtomic(join(outDir, 'results.csv'), toCsv(results));
  const figureFiles = (await writeFigures(results, join(outDir, 'figures'))).map((f) => f.replace(`${outDir}/`, ''));
  const verdicts = [...new Set(models.map((m) => m.dataset))].map((d) => auditVerdict(results, d, 'fa'));
  const seconds = (performance.now() - started) / 1000;
  await writeFile(join(outDir, 'REPORT.md'), renderReport(results, verdicts, { command: options.command, seconds, figures: figureFiles, datasetNotes }));
  return { outDir, results, verdicts, backend, computed, reused };
}

export type { DatasetName };
