/**
 * Phase 2 of a dataset's study: its models, trained once per configuration (side by side on
 * the workers) and saved, or read back from an earlier run; then their clean accuracy.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileSystem } from '@fa-robust/backend';
import { type Split, take } from '@fa-robust/datasets';
import { type ModelRecord, type ResultCell, resultCell } from '@fa-robust/metrics';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { DatasetName } from './config.js';
import { shareSplit } from './data.js';
import { type DatasetPlan, modelFolder, SURROGATE_ID } from './plan.js';
import { forEachConcurrent, type WorkerPool } from './pool.js';
import type { progressBoard } from './progress.js';
import { predictLabels, type TrainEpoch, type TrainSpec, trainModel } from './steps.js';
import { describeClaim, releaseClaim, tryClaim, writeFileAtomic } from './store.js';
import type { WorkerJob } from './worker.js';

export interface PhaseEnv {
  outDir: string;
  pool: WorkerPool<WorkerJob> | null;
  board: ReturnType<typeof progressBoard>;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface PreparedModels {
  trained: Record<string, tfl.LayersModel>;
  /** model id -> the folder it is saved in. */
  dirs: Record<string, string>;
  records: ModelRecord[];
}

/** Whether every model of the plan is saved under `outDir` (nothing to train). */
export function modelsSaved(plan: DatasetPlan, outDir: string): boolean {
  return plan.models.every((spec) =>
    existsSync(join(outDir, 'models', modelFolder(plan.dataset, spec, plan.train), 'model.json')),
  );
}

/** Trains the plan's models that no earlier run saved, reads back the others. */
export async function prepareModels(
  plan: DatasetPlan,
  train: Split | undefined,
  env: PhaseEnv,
): Promise<PreparedModels> {
  const { dataset } = plan;
  const { pool, board, log } = env;
  const trained: Record<string, tfl.LayersModel> = {};
  const dirs: Record<string, string> = {};
  const seconds: Record<string, number> = {};
  const history: Record<string, TrainEpoch[]> = {};
  const toTrain: { spec: TrainSpec; dir: string }[] = [];
  for (const spec of plan.models) {
    const dir = join(env.outDir, 'models', modelFolder(dataset, spec, plan.train));
    dirs[spec.id] = dir;
    if (!existsSync(join(dir, 'model.json'))) {
      if (!train) throw new Error(`${dataset}: no training data to train ${spec.id}`);
      const { size: _size, ...rest } = plan.train;
      toTrain.push({ spec: { dataset, ...spec, ...rest }, dir });
    }
  }
  // One process trains each model: it claims `<folder>.training` first. Another process on
  // the same folder (a shard of the same study) waits for the model it is training, and takes
  // the claim over if that process dies.
  const claimOf = (dir: string) => `${dir}.training`;
  const trainClaimed = async (items: { spec: TrainSpec; dir: string }[]) => {
    if (!items.length) return;
    const data = train!;
    const shared = pool ? shareSplit(data) : data;
    await forEachConcurrent(items, pool?.size ?? 1, async ({ spec, dir }) => {
      try {
        const bar = board.task(`train ${dataset}/${spec.id}`, 'img');
        if (pool) {
          const r = await pool.run<{ seconds: number; history: TrainEpoch[] }>(
            { type: 'train', spec, data: shared, dir },
            { onProgress: bar, onLog: log },
          );
          seconds[spec.id] = r.seconds;
          trained[spec.id] = await tfl.loadLayersModel(fileSystem(dir));
          history[spec.id] = r.history;
          await writeTrainInfo(dir, r.seconds, r.history);
        } else {
          const r = await trainModel(spec, data, dir, {
            onProgress: bar,
            log,
            ...(env.signal ? { signal: env.signal } : {}),
          });
          seconds[spec.id] = r.seconds;
          trained[spec.id] = r.model;
          history[spec.id] = r.history;
          await writeTrainInfo(dir, r.seconds, r.history);
        }
        bar.finish();
      } finally {
        await releaseClaim(claimOf(dir));
      }
    });
  };
  let pending = toTrain;
  let told = new Set<string>();
  while (pending.length) {
    const mine: typeof pending = [];
    const others: typeof pending = [];
    for (const item of pending) {
      if (existsSync(join(item.dir, 'model.json')) && !existsSync(claimOf(item.dir))) continue;
      await mkdir(dirname(item.dir), { recursive: true });
      const holder = await tryClaim(claimOf(item.dir), `training ${dataset}/${item.spec.id}`);
      if (holder == null) {
        // the model may have been finished between the look and the claim
        if (existsSync(join(item.dir, 'model.json'))) await releaseClaim(claimOf(item.dir));
        else mine.push(item);
        continue;
      }
      others.push(item);
      if (!told.has(item.spec.id))
        log(
          `${dataset}/${item.spec.id}: being trained by ${describeClaim(holder)}; waiting for it`,
        );
    }
    told = new Set([...told, ...others.map((o) => o.spec.id)]);
    try {
      await trainClaimed(mine);
    } finally {
      // an interrupted run also gives back the claims of the models it had not started
      // (releasing a claim that is not this process's, or one already released, does nothing)
      for (const item of mine) await releaseClaim(claimOf(item.dir));
    }
    pending = others;
    if (pending.length) {
      env.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  for (const spec of plan.models) {
    if (trained[spec.id]) continue;
    const dir = dirs[spec.id]!;
    trained[spec.id] = await tfl.loadLayersModel(fileSystem(dir));
    const info = await readTrainInfo(dir);
    if (info) seconds[spec.id] = info.seconds;
    if (info?.history) history[spec.id] = info.history;
    log(`${dataset}/${spec.id}: reusing the model saved in ${dir}`);
  }
  const records = plan.models.map((spec): ModelRecord => {
    const s = seconds[spec.id];
    return {
      dataset,
      id: spec.id,
      method: spec.method,
      label: spec.id === SURROGATE_ID ? 'BP surrogate' : spec.method.toUpperCase(),
      architecture: `LeNet-5 (${dataset})`,
      seed: spec.seed,
      params: {
        trainImages: train?.shape[0] ?? null,
        ...plan.train,
        ...(s != null ? { trainSeconds: Math.round(s) } : {}),
        // per epoch: mean training loss and accuracy, learning rate (models saved before this
        // was kept have none)
        ...(history[spec.id]
          ? {
              training: history[spec.id]!.map((e) => ({
                epoch: e.epoch,
                loss: round(e.loss, 5),
                accuracy: round(e.accuracy, 5),
                learningRate: e.learningRate,
              })),
            }
          : {}),
        path: dirs[spec.id]!,
      },
    };
  });
  return { trained, dirs, records };
}

/** How long a saved model took to train, kept beside it so a rerun that reuses it can say. */
const TRAIN_INFO = 'train-info.json';

const round = (v: number, digits: number) => Number(v.toFixed(digits));

async function writeTrainInfo(dir: string, seconds: number, history: TrainEpoch[]): Promise<void> {
  await writeFileAtomic(join(dir, TRAIN_INFO), `${JSON.stringify({ seconds, history })}\n`);
}

async function readTrainInfo(
  dir: string,
): Promise<{ seconds: number; history: TrainEpoch[] | null } | null> {
  try {
    const v = JSON.parse(await readFile(join(dir, TRAIN_INFO), 'utf8')) as {
      seconds?: unknown;
      history?: unknown;
    };
    if (typeof v.seconds !== 'number' || !Number.isFinite(v.seconds)) return null;
    const history =
      Array.isArray(v.history) &&
      v.history.every(
        (e) =>
          e != null &&
          typeof e === 'object' &&
          ['epoch', 'loss', 'accuracy', 'learningRate', 'seconds'].every(
            (k) => typeof (e as Record<string, unknown>)[k] === 'number',
          ),
      )
        ? (v.history as TrainEpoch[])
        : null;
    return { seconds: v.seconds, history };
  } catch {
    return null;
  }
}

/** Calls `f` on the first `n` test images, `batchSize` at a time, as tensors it then disposes. */
export async function forTestBatches(
  test: Split,
  n: number,
  batchSize: number,
  f: (x: tf.Tensor4D, y: Int32Array, start: number) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  const labels = Int32Array.from(test.labels);
  for (let start = 0; start < n; start += batchSize) {
    signal?.throwIfAborted();
    const part = take(test, Math.min(batchSize, n - start), start);
    const x = tf.tensor4d(part.images, part.shape as [number, number, number, number]);
    try {
      await f(x, labels.subarray(start, start + part.shape[0]), start);
    } finally {
      x.dispose();
    }
  }
}

/**
 * Each model's per-example clean correctness on the test set, its clean cell, and its clean
 * accuracy written into its record.
 */
export async function cleanAccuracy(
  dataset: DatasetName,
  test: Split,
  prepared: PreparedModels,
  batchSize: number,
  env: Pick<PhaseEnv, 'log' | 'signal'>,
): Promise<{ clean: Record<string, Uint8Array>; cells: ResultCell[] }> {
  const nTest = test.shape[0];
  const clean: Record<string, Uint8Array> = {};
  const cells: ResultCell[] = [];
  for (const record of prepared.records) {
    const model = prepared.trained[record.id]!;
    const correct = new Uint8Array(nTest);
    await forTestBatches(
      test,
      nTest,
      batchSize,
      (x, y, start) => {
        const p = predictLabels(model, x);
        for (let i = 0; i < p.length; i++) correct[start + i] = p[i] === y[i] ? 1 : 0;
      },
      env.signal,
    );
    clean[record.id] = correct;
    const c = resultCell({
      dataset,
      model: record.id,
      attack: 'none',
      epsilon: 0,
      source: 'none',
      cleanCorrect: correct,
      adversarialCorrect: correct,
    });
    cells.push(c);
    record.cleanAccuracy = c.accuracy ?? undefined;
    env.log(
      `${dataset}/${record.id}: clean accuracy ${(100 * (c.accuracy ?? 0)).toFixed(2)}% on ${nTest} test images`,
    );
  }
  return { clean, cells };
}
