import { constants, existsSync } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BackendInfo, setupBackend } from '@fa-robust/backend';
import { alignment as layerAngles } from '@fa-robust/fa-layers';
import { resolveWorkerCount } from '@fa-robust/fa-layers/node';
import { type Results, toCsv, validateResults } from '@fa-robust/metrics';
import { writeFigure, writeFigures } from '@fa-robust/metrics/node';
import * as tf from '@tensorflow/tfjs-core';
import {
  type AlignmentRecord,
  auditComparisons,
  auditRobustRecords,
  curveRecords,
  datasetCells,
  type StudyParts,
  studyResults,
} from './assemble.js';
import { sanityChecks } from './checks.js';
import { checkStoredAlignment, StoredStepError } from './codec.js';
import type { DatasetName, ReproConfig } from './config.js';
import { loadData } from './data.js';
import { executeSteps } from './execute.js';
import { gradientAlignmentOf } from './gradients.js';
import { cleanAccuracy, modelsSaved, prepareModels } from './models.js';
import { planDataset, REFERENCE_ID, subjects } from './plan.js';
import { WorkerPool } from './pool.js';
import { progressBoard } from './progress.js';
import { computeParts, renderReport } from './report.js';
import { type RunLog, type RunRecord, readRuns, startRunLog, wallTime } from './runlog.js';
import { stepContext } from './steps.js';
import {
  CellStore,
  describeClaim,
  lockOutput,
  releaseClaim,
  type ShardSpec,
  tryClaim,
  writeFileAtomic,
} from './store.js';
import {
  renderSummary,
  type SeedStudy,
  type Summary,
  summarize,
  summaryFigures,
} from './summary.js';
import { trainingFigure } from './training.js';
import { type AuditVerdict, auditVerdict } from './verdict.js';
import type { WorkerJob } from './worker.js';

/**
 * A study, phase by phase: for each dataset its data, its models (trained or reused) and their
 * clean accuracy, the planned attack steps (plan.ts, pure), the audit's gradient alignment,
 * then the results assembled from the stored steps (assemble.ts) and written out with their
 * figures and report. Every finished step is stored, so a rerun continues where it stopped.
 */

export interface RunOptions {
  /** How the run was started, for the report's "how to rerun". */
  command: string;
  /** Folder relative paths resolve against. Default process.cwd(). */
  cwd?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /**
   * Compute nothing: assemble results, figures and report from the steps and models already
   * stored (a run still going elsewhere, or one stopped part way); what is missing is left out
   * and said.
   */
  reportOnly?: boolean;
  /**
   * One of `count` processes sharing the study's output folder (`--shard k/n`): this one
   * computes the `index`-th share of the steps (and trains the models no other shard is
   * training). The one that finds every shard's steps stored when it is done writes the
   * results; the others return `results: null`.
   */
  shard?: ShardSpec;
}

/** The output folder cannot be used (a file, not writable, a full disk). */
export class OutputFolderError extends Error {
  override name = 'OutputFolderError';
}

/** No dataset of the study could be loaded: nothing to run. */
export class NoDataError extends Error {
  override name = 'NoDataError';
}

export interface RunOutput {
  /** Datasets whose data was there but could not be read (corrupt or unreadable files). */
  failed: string[];
  outDir: string;
  results: Results;
  verdicts: AuditVerdict[];
  backend: BackendInfo;
  /** Cells computed in this run (the rest came from an earlier, interrupted run). */
  computed: number;
  reused: number;
  /**
   * A study over seeds (config.seeds): `results` and `verdicts` are the last seed's, `seeds`
   * every seed's verdicts, and the summary across them is in SUMMARY.md and summary.json.
   */
  seeds?: { seed: number; outDir: string; verdicts: AuditVerdict[] }[];
  summary?: Summary;
}

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
 * main thread. 'auto' is one per core (fa-layers' count of the cores beyond this thread, plus
 * this one's, which the workers take over), at most 8; on tfjs-node, which already uses every
 * core (and whose native addon is not made for worker threads), 1.
 */
export function resolveWorkers(workers: ReproConfig['workers'], backendName: string): number {
  if (workers !== 'auto') return workers;
  return Math.min(8, 1 + resolveWorkerCount('auto', backendName));
}

/**
 * A shard that finished its share before the other shards did: they write the results (the
 * last to finish), or a later `--report-only` run does.
 */
export interface PendingShard {
  outDir: string;
  results: null;
  /** The other shards' steps not stored yet when this one finished. */
  waiting: number;
  backend: BackendInfo;
  computed: number;
  reused: number;
  failed: string[];
}

/** Runs the whole study. Every finished step is stored, so a rerun continues where it stopped. */
export async function runRepro(
  config: ReproConfig,
  options: Omit<RunOptions, 'shard'>,
): Promise<RunOutput> {
  if (config.seeds) return (await runSeeds(config, options)) as RunOutput;
  return (await runInFolder(config, options)) as RunOutput;
}

/**
 * Runs one shard of the study (`options.shard`): its share of the steps, then the results if
 * every other shard's steps are stored by then.
 */
export async function runShard(
  config: ReproConfig,
  options: RunOptions & { shard: ShardSpec },
): Promise<RunOutput | PendingShard> {
  if (config.seeds) return runSeeds(config, options);
  return runInFolder(config, options);
}

/** A study folder's run records, this run's own as of now. */
async function studyRuns(dir: string, runLog: RunLog | null): Promise<RunRecord[]> {
  const runs = await readRuns(dir);
  if (!runLog) return runs;
  const me = runLog.current();
  return [...runs.filter((r) => !(r.pid === me.pid && r.started === me.started)), me];
}

/** Compute seconds summed over studies: training, and everything else (the attacks). */
function studyCompute(results: readonly Results[], workers: number) {
  let training = 0;
  let attacks = 0;
  for (const r of results)
    for (const [k, sec] of computeParts(r)) {
      if (k.endsWith(': training')) training += sec;
      else attacks += sec;
    }
  return { training, attacks, workers };
}

/** The folder of one seed's study in a study over seeds. */
export const seedFolder = (outDir: string, seed: number) => join(outDir, `seed-${seed}`);

/**
 * A study over seeds: the whole study once per seed, each in its own folder (resumable, and
 * sharded like any study: a shard takes its share of every seed's steps), then the summary
 * across seeds once every seed's results are written.
 */
async function runSeeds(
  config: ReproConfig,
  options: RunOptions,
): Promise<RunOutput | PendingShard> {
  const log = options.log ?? ((l: string) => console.log(l));
  const started = performance.now();
  const seeds = config.seeds!;
  const outDir = resolve(options.cwd ?? process.cwd(), config.outDir);
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const studies: SeedStudy[] = [];
  const perSeed: NonNullable<RunOutput['seeds']> = [];
  let last: RunOutput | PendingShard | null = null;
  let computed = 0;
  let reused = 0;
  let waiting = 0;
  const failed = new Set<string>();
  // --report-only: a seed with nothing finished yet is left out of the summary, which then says so
  const unfinished: number[] = [];
  for (const [i, seed] of seeds.entries()) {
    const dir = seedFolder(outDir, seed);
    log(`seed ${seed} (${i + 1} of ${seeds.length}): ${dir}`);
    let r: RunOutput | PendingShard;
    try {
      r = await runInFolder({ ...config, seed, seeds: null, outDir: dir }, options);
    } catch (e) {
      if (!(options.reportOnly && e instanceof NoDataError)) throw e;
      log(`seed ${seed}: nothing finished yet (report only); left out of the summary`);
      unfinished.push(seed);
      continue;
    }
    last = r;
    computed += r.computed;
    reused += r.reused;
    for (const f of r.failed) failed.add(f);
    if (r.results) {
      studies.push({ seed, results: r.results, verdicts: r.verdicts });
      perSeed.push({ seed, outDir: dir, verdicts: r.verdicts });
    } else waiting += r.waiting;
  }
  if (studies.length === 0 && unfinished.length > 0)
    throw new NoDataError(
      `report only: no seed of ${seeds.join(', ')} has a finished dataset yet, so there is nothing to report`,
    );
  if (studies.length + unfinished.length < seeds.length)
    return {
      outDir,
      results: null,
      waiting,
      backend: last!.backend,
      computed,
      reused,
      failed: [...failed],
    };
  const summary = summarize(studies);
  const figuresDir = join(outDir, 'figures');
  await mkdir(figuresDir, { recursive: true });
  const figures: string[] = [];
  for (const { name, spec } of summaryFigures(summary))
    figures.push(
      ...(await writeFigure(spec, join(figuresDir, name))).map((f) =>
        f.replace(`${figuresDir}/`, 'figures/'),
      ),
    );
  await writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(
    join(outDir, 'SUMMARY.md'),
    renderSummary(summary, {
      command: options.command,
      seconds: (performance.now() - started) / 1000,
      figures,
      unfinished,
      ...(options.reportOnly ? { reportOnly: true } : {}),
      wall: wallTime(
        (await Promise.all(studies.map((st) => readRuns(seedFolder(outDir, st.seed))))).flat(),
      ),
      compute: studyCompute(
        studies.map((st) => st.results),
        resolveWorkers(config.workers, (last as RunOutput).backend.name),
      ),
    }),
  );
  const final = last as RunOutput;
  return { ...final, outDir, computed, reused, failed: [...failed], seeds: perSeed, summary };
}

async function runInFolder(
  config: ReproConfig,
  options: RunOptions,
): Promise<RunOutput | PendingShard> {
  const log = options.log ?? ((l: string) => console.log(l));
  const started = performance.now();
  const outDir = resolve(options.cwd ?? process.cwd(), config.outDir);
  try {
    await mkdir(outDir, { recursive: true });
    await access(outDir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'is a file (or lies under one), not a folder'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'is not writable'
          : code === 'ENOSPC'
            ? 'is on a full disk'
            : `cannot be made (${code ?? (e as Error).message})`;
    throw new OutputFolderError(`the output folder ${outDir} ${why}: give --out another folder`);
  }
  const lock = await lockOutput(outDir, options.command, options.shard);
  let runLog: RunLog | null = null;
  // the record is an account of the run, never a reason for it to fail
  const finish = (outcome: 'finished' | 'interrupted' | 'failed', computed?: number) =>
    runLog
      ?.finish(outcome, computed)
      .catch((e: Error) => log(`repro: could not write this run's record in runs/: ${e.message}`));
  try {
    // a run that computes keeps a record of its wall time (runs/); a report-only run computes nothing
    if (!options.reportOnly)
      runLog = await startRunLog(outDir, {
        command: options.command,
        ...(options.shard ? { shard: `${options.shard.index}/${options.shard.count}` } : {}),
      }).catch((e: Error) => {
        log(`repro: could not start this run's record in runs/ (${e.message}); running without it`);
        return null;
      });
    const out = await runLocked(config, options, outDir, log, started, runLog);
    await finish('finished', out.computed);
    return out;
  } catch (e) {
    await finish(options.signal?.aborted ? 'interrupted' : 'failed');
    throw e;
  } finally {
    await lock.release();
  }
}

async function runLocked(
  config: ReproConfig,
  options: RunOptions,
  outDir: string,
  log: (line: string) => void,
  started: number,
  runLog: RunLog | null,
): Promise<RunOutput | PendingShard> {
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
    return await study(config, options, {
      log,
      started,
      outDir,
      backend,
      pool,
      versions: versions(),
      runLog,
    });
  } catch (e) {
    // a step that failed because the pool was stopped by an abort reports the abort
    options.signal?.throwIfAborted();
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', stopPool);
    await pool?.close();
  }
}

interface StudyEnv {
  versions: Record<string, string>;
  log: (line: string) => void;
  started: number;
  outDir: string;
  backend: BackendInfo;
  pool: WorkerPool<WorkerJob> | null;
  /** This run's wall-time record (null for --report-only). */
  runLog: RunLog | null;
}

/** One dataset's part of the study, phase by phase; null when its data is not to be had. */
async function runDataset(
  config: ReproConfig,
  dataset: DatasetName,
  options: RunOptions,
  env: StudyEnv & { store: CellStore; board: ReturnType<typeof progressBoard> },
) {
  const { log, signal } = { ...env, signal: options.signal };
  const phase = { ...env, ...(signal ? { signal } : {}) };
  // 1. data
  const data = await loadData(config, dataset, { cwd: options.cwd ?? process.cwd(), signal });
  log(data.note);
  if (data.skipped) return { note: data.note, parts: null, failed: data.failed };
  const { test } = data;
  const nTest = test.shape[0];
  const plan = planDataset(config, dataset, nTest);
  const bs = config.attacks.batchSize;
  // 2. models, and their clean accuracy
  if (options.reportOnly && !modelsSaved(plan, env.outDir)) {
    const note = `${dataset}: not reported, its models are not trained yet (report only)`;
    log(note);
    return { note, parts: null, failed: false };
  }
  const models = await prepareModels(plan, data.train, phase);
  const clean = await cleanAccuracy(dataset, test, models, bs, phase);
  const ctx = stepContext({
    dataset,
    test,
    labels: Int32Array.from(test.labels),
    models: models.trained,
    clean: clean.clean,
    batchSize: bs,
    seed: config.seed,
  });
  try {
    // 3. the attack steps (the paper's, then the audit's)
    const executed = await executeSteps(plan.steps, {
      ...phase,
      ...(options.reportOnly ? { reportOnly: true } : {}),
      ...(options.shard ? { shard: options.shard } : {}),
      store: env.store,
      origin: { backend: env.backend.name, versions: env.versions },
      ctx,
      workerContext: {
        dataset,
        models: models.dirs,
        clean: clean.clean,
        batchSize: bs,
        seed: config.seed,
      },
    });
    // 4. the audit's gradient alignment: input gradients, and W against B per layer
    const alignment: AlignmentRecord[] = [];
    const dimension = test.shape.slice(1).reduce((a, b) => a * b, 1);
    // (a shard: the first shard computes them)
    for (const { model, key, n } of plan.alignments) {
      const here =
        !(options.reportOnly && !env.store.has(key)) &&
        !(options.shard && options.shard.index !== 1 && !env.store.has(key));
      if (!here) continue;
      const had = env.store.get<AlignmentRecord>(key);
      if (had !== undefined) {
        try {
          checkStoredAlignment(had);
        } catch (e) {
          if (!(e instanceof StoredStepError)) throw e;
          const file = await env.store.setAsideKey(key);
          log(
            `${dataset}/${model} gradient alignment: its stored result ${file} is not valid (${e.message}); set aside as ${file}.unreadable, computing it again`,
          );
        }
      }
      const { value } = await env.store.getOrCompute(key, () =>
        gradientAlignmentOf(ctx, model, n, signal),
      );
      alignment.push({ ...value, dimension });
      log(
        `${dataset}/${model}: own-path vs true input gradient, median angle ${value.angle.median?.toFixed(1)} degrees over ${value.n} images (two random directions: 90 +- ${(57.3 / Math.sqrt(dimension)).toFixed(1)})`,
      );
    }
    if (options.shard) {
      // a shard's part ends here: the results are assembled once every shard's steps are in
      const keys = [...plan.steps.map((s) => s.key), ...plan.alignments.map((a) => a.key)];
      return {
        note: data.note,
        parts: null,
        failed: false,
        shard: { keys, computed: executed.computed, reused: executed.reused },
      };
    }
    const layerAlignment = plan.alignments.flatMap(({ model }) =>
      layerAngles(models.trained[model]!).map((l) => ({
        dataset,
        model,
        layer: l.layer,
        angle: l.angle == null || Number.isNaN(l.angle) ? null : l.angle,
      })),
    );
    // 5. the audit, assembled: robust accuracy per group of in-ball attacks, paired
    // comparisons, the steps and restarts curves, and the sanity checks
    const outputs = executed.outputs;
    const cells = datasetCells(clean.cells, outputs, plan.steps);
    const audited = plan.auditSize > 0 ? [...subjects(config), REFERENCE_ID] : [];
    const args = [outputs, plan.steps, plan.robustEpsilons, plan.auditSize] as const;
    const robust = audited.flatMap((id) => auditRobustRecords(dataset, id, ...args));
    const comparisons = audited.flatMap((id) => auditComparisons(dataset, id, ...args));
    const curves = curveRecords(dataset, plan.steps, outputs);
    const auditKeys = new Set(plan.steps.filter((s) => s.role === 'audit').map((s) => s.key));
    const auditCells = [
      ...new Set(plan.steps.flatMap((s, i) => (auditKeys.has(s.key) ? outputs[i]!.cells : []))),
    ];
    const counts = new Map<number, number>();
    for (let i = 0; i < plan.auditSize; i++)
      counts.set(test.labels[i]!, (counts.get(test.labels[i]!) ?? 0) + 1);
    const checks = plan.auditSize
      ? sanityChecks({
          dataset,
          cells,
          auditCells,
          robust,
          comparisons,
          curves,
          labels: { n: plan.auditSize, largestClass: Math.max(0, ...counts.values()) },
        })
      : [];
    const note = executed.missing
      ? `${data.note}; ${executed.missing} of ${new Set(plan.steps.map((s) => s.key)).size} steps not finished yet, left out of this report`
      : data.note;
    return {
      note,
      failed: false,
      parts: {
        models: models.records,
        cells,
        alignment,
        robust,
        layerAlignment,
        comparisons,
        curves,
        checks,
        computed: executed.computed,
        reused: executed.reused,
        otherBackends: executed.otherBackends,
      },
    };
  } finally {
    ctx.dispose();
    for (const m of Object.values(models.trained)) m.dispose();
  }
}

/**
 * A shard's run: its share of every dataset's steps; then, if every shard's steps are stored,
 * the results, figures and report, as a run without --shard writes them from the store.
 */
async function study(
  config: ReproConfig,
  options: RunOptions,
  env: StudyEnv,
): Promise<RunOutput | PendingShard> {
  const { shard } = options;
  if (!shard) return fullStudy(config, options, env);
  const { log, outDir } = env;
  const board = progressBoard();
  const store = await CellStore.open(join(outDir, 'cells'));
  if (store.size) log(`resuming: ${store.size} finished steps found in ${join(outDir, 'cells')}`);
  // (config.json, like every file outside cells/ and models/, is written by the shard that
  // assembles the results: two shards never write the same file)
  let computed = 0;
  let reused = 0;
  const keys: string[] = [];
  const failed: string[] = [];
  for (const dataset of config.datasets) {
    options.signal?.throwIfAborted();
    const r = await runDataset(config, dataset, options, { ...env, store, board });
    if (r.failed) failed.push(dataset);
    if (!r.shard) continue;
    keys.push(...r.shard.keys);
    computed += r.shard.computed;
    reused += r.shard.reused;
  }
  if (keys.length === 0) {
    throw new NoDataError(
      `no dataset could be loaded, so shard ${shard.index}/${shard.count} has nothing to run`,
    );
  }
  const partial = (waiting: number): PendingShard => ({
    outDir,
    results: null,
    waiting,
    backend: env.backend,
    computed,
    reused,
    failed,
  });
  // what the other shards have stored by now
  const now = await CellStore.open(join(outDir, 'cells'));
  const waiting = new Set(keys.filter((k) => !now.has(k))).size;
  log(
    `shard ${shard.index}/${shard.count}: its share is done (${computed} steps computed, ${reused} reused); ` +
      (waiting
        ? `${waiting} steps of the other shards are not stored yet`
        : "every shard's steps are stored"),
  );
  if (waiting || failed.length) return partial(waiting);
  const claim = join(outDir, '.repro.assemble');
  const holder = await tryClaim(claim, `shard ${shard.index}/${shard.count} writing the results`);
  if (holder) {
    log(`the results are being written by ${describeClaim(holder)}`);
    return partial(0);
  }
  try {
    const out = await fullStudy(config, { ...options, shard: undefined }, env);
    return { ...out, computed, reused };
  } finally {
    await releaseClaim(claim);
  }
}

async function fullStudy(
  config: ReproConfig,
  options: RunOptions,
  env: StudyEnv,
): Promise<RunOutput> {
  const { log, started, outDir, backend } = env;
  const board = progressBoard();
  const store = await CellStore.open(join(outDir, 'cells'));
  for (const f of store.setAside)
    log(
      `${f}: unreadable (hand-edited or truncated); set aside as ${f}.unreadable, its step is computed again`,
    );
  if (store.size) log(`resuming: ${store.size} finished steps found in ${join(outDir, 'cells')}`);
  await writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const parts: Omit<StudyParts, 'config' | 'environment'> = {
    models: [],
    cells: [],
    alignment: [],
    robust: [],
    layerAlignment: [],
    comparisons: [],
    curves: [],
    checks: [],
    notes: [],
  };
  let computed = 0;
  let reused = 0;
  const failed: string[] = [];
  const otherBackends: Record<string, number> = {};
  for (const dataset of config.datasets) {
    options.signal?.throwIfAborted();
    const r = await runDataset(config, dataset, options, { ...env, store, board });
    parts.notes.push(r.note);
    if (r.failed) failed.push(dataset);
    if (!r.parts) continue;
    parts.models.push(...r.parts.models);
    parts.cells.push(...r.parts.cells);
    parts.alignment.push(...r.parts.alignment);
    parts.robust.push(...r.parts.robust);
    parts.layerAlignment.push(...r.parts.layerAlignment);
    parts.comparisons.push(...r.parts.comparisons);
    parts.curves.push(...r.parts.curves);
    parts.checks.push(...r.parts.checks);
    computed += r.parts.computed;
    reused += r.parts.reused;
    for (const [b, n] of Object.entries(r.parts.otherBackends))
      otherBackends[b] = (otherBackends[b] ?? 0) + n;
  }

  if (parts.models.length === 0) {
    throw new NoDataError(
      `no dataset could be loaded, so there is nothing to run:\n${parts.notes.map((n) => `  - ${n}`).join('\n')}`,
    );
  }
  const results = studyResults({
    ...parts,
    config: config as unknown as Results['config'],
    environment: {
      backend: backend.name,
      versions: env.versions,
      simd: backend.simd,
      platform: `${process.platform}-${process.arch}`,
      // steps read back from a run on another backend: their numbers are that backend's
      ...(Object.keys(otherBackends).length ? { reusedFromOtherBackends: otherBackends } : {}),
    },
  });
  // every output is written whole or not at all (a temporary name, then a rename), and the
  // figures folder is replaced as one: it holds exactly the figures of these results
  validateResults(results);
  await writeFileAtomic(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFileAtomic(join(outDir, 'results.csv'), toCsv(results));
  const figuresDir = join(outDir, 'figures');
  const staging = `${figuresDir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const written = await writeFigures(results, staging);
  for (const d of [...new Set(results.models.map((m) => m.dataset))]) {
    const spec = trainingFigure(results, d);
    if (spec) written.push(...(await writeFigure(spec, join(staging, `training-${d}`))));
  }
  const figureFiles = written.map((f) => f.replace(`${staging}/`, 'figures/'));
  const old = `${figuresDir}.old-${process.pid}`;
  if (existsSync(figuresDir)) await rename(figuresDir, old);
  await rename(staging, figuresDir);
  await rm(old, { recursive: true, force: true });
  const verdicts = [...new Set(parts.models.map((m) => m.dataset))].flatMap((d) =>
    subjects(config).map((rule) => auditVerdict(results, d, rule)),
  );
  const seconds = (performance.now() - started) / 1000;
  await writeFileAtomic(
    join(outDir, 'REPORT.md'),
    renderReport(results, verdicts, {
      command: options.command,
      seconds,
      ...(options.reportOnly ? { reportOnly: true } : {}),
      wall: wallTime(await studyRuns(outDir, env.runLog)),
      figures: figureFiles,
      datasetNotes: parts.notes,
      workers: env.pool?.size ?? 1,
    }),
  );
  return { outDir, results, verdicts, backend, computed, reused, failed };
}

export type { DatasetName };
