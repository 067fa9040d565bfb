/**
 * `@fa-robust/fa-layers/node`: data-parallel training on worker threads (Node only). Each
 * worker has its own tfjs (set up by `@fa-robust/backend`, on the backend this thread uses) and
 * a copy of the model and of the optimizer; `train()` sends each one a shard of every batch,
 * and every thread applies the same averaged update to its own copy (all-reduce: only the
 * shards' gradients travel). tfjs' wasm backend runs on one thread, so this is how one training
 * run uses more than one core.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type AllReduceReplica,
  type Batch,
  type BatchSource,
  type GradientReplica,
  type ReplicaJob,
  type ReplicaResult,
  type ReplicaState,
  type ShardJob,
  type TrainOptions,
  type TrainResult,
  train,
  type UpdateJob,
} from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

export interface WorkerReplicasOptions {
  /**
   * Worker threads, each computing one shard of every batch while this thread computes another.
   * Default: one fewer than the cores (os.availableParallelism()), and 0 on tfjs-node
   * ('tensorflow'), which already uses every core.
   */
  workers?: number | 'auto';
  /**
   * The backend each worker sets up with `@fa-robust/backend`'s setupBackend. Default: the one
   * this thread uses now (tf.getBackend()).
   */
  backend?: string;
  /**
   * A module each worker imports before it loads the model (a path, file: URL or package
   * name): register your own custom layers there. fa-layers' layers are always registered.
   */
  workerModule?: string | URL;
}

/** A worker-thread replica: either protocol (train() takes all-reduce). */
export type WorkerReplica = GradientReplica & AllReduceReplica;

/** Worker-thread replicas of a model, for `train(model, data, { replicas })`. */
export interface WorkerReplicas {
  readonly replicas: readonly WorkerReplica[];
  /** Stops the worker threads. Idempotent. */
  close(): Promise<void>;
}

/** Messages between this thread and a replica worker (`gradients`: the GradientReplica protocol; the others: AllReduceReplica's). */
export type ReplicaRequest =
  | { id: number; op: 'gradients'; job: ReplicaJob }
  | { id: number; op: 'begin'; state: ReplicaState }
  | { id: number; op: 'shard'; job: ShardJob }
  | { id: number; op: 'update'; job: UpdateJob }
  | { id: number; op: 'weights' }
  | { id: number; op: 'end' };
export type ReplicaReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: ReplicaResult | Float32Array | null }
  | { type: 'error'; id: number | null; message: string; stack: string };

export interface ReplicaWorkerData {
  backend: string;
  workerModule: string | null;
  artifacts: tf.io.ModelArtifacts;
}

/** An error thrown in a replica worker, with that worker's stack. */
export class ReplicaWorkerError extends Error {
  override name = 'ReplicaWorkerError';
  constructor(
    message: string,
    readonly workerStack: string,
  ) {
    super(message);
  }
}

/** The worker script: next to this module once built, or the built one when run from source. */
function workerScript(): URL {
  for (const rel of ['./node-worker.js', '../../dist/node-worker.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  throw new Error(
    '@fa-robust/fa-layers/node: the replica worker script (dist/node-worker.js) is missing; build the package',
  );
}

/**
 * How many worker threads a `workers` option means on this machine and backend: an integer >= 0
 * is itself; `'auto'` (and `undefined`) is one per core but this one
 * (`os.availableParallelism() - 1`, at least 0), and 0 on tfjs-node (`'tensorflow'`, which
 * already uses every core). Anything else throws a RangeError that begins with `where` (default
 * `'workers'`) and names what was found.
 *
 * @example
 * resolveWorkerCount('auto', tf.getBackend()); // 1 on a 2-core machine with wasm, 0 with 'tensorflow'
 * resolveWorkerCount(3, 'wasm'); // 3
 */
export function resolveWorkerCount(
  workers: number | 'auto' | undefined,
  backend: string,
  where = 'workers',
): number {
  if (workers == null || workers === 'auto') {
    return backend === 'tensorflow' ? 0 : Math.max(0, availableParallelism() - 1);
  }
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(
      `${where}: workers must be 'auto' or an integer >= 0, got ${String(workers)}`,
    );
  }
  return workers;
}

/** How many worker threads `workers` means here: `resolveWorkerCount` as workerReplicas reads it. */
export function resolveReplicaWorkers(
  workers: WorkerReplicasOptions['workers'],
  backend: string,
): number {
  return resolveWorkerCount(workers, backend, 'workerReplicas');
}

/** The model's topology and weights, as a worker loads them with tf.io.fromMemory. */
async function artifactsOf(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let out: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      out = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
}

class ThreadReplica implements WorkerReplica {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: unknown) => void; reject: (e: Error) => void }
  >();
  private failure: Error | null = null;
  closing = false;
  readonly ready: Promise<void>;

  constructor(
    readonly worker: Worker,
    readonly index: number,
  ) {
    let onReady: () => void = () => {};
    let onFail: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    this.ready.catch(() => {});
    const fail = (e: Error) => {
      this.failure ??= e;
      onFail(e);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('message', (m: ReplicaReply) => {
      if (m.type === 'ready') onReady();
      else if (m.type === 'error' && m.id == null)
        fail(new ReplicaWorkerError(`replica worker ${index}: ${m.message}`, m.stack));
      else {
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.pending.delete(m.id!);
        if (m.type === 'result') p.resolve(m.result);
        else p.reject(new ReplicaWorkerError(`replica worker ${index}: ${m.message}`, m.stack));
      }
    });
    worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => {
      // closed while a job was out (train() still waiting): that job fails rather than hangs
      fail(
        this.closing
          ? new Error(`replica worker ${index} was closed`)
          : new Error(`replica worker ${index} exited unexpectedly (code ${code})`),
      );
    });
  }

  private call<T>(
    request: ReplicaRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never,
  ): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.worker.postMessage({ id, ...request } as ReplicaRequest);
    });
  }

  gradients(job: ReplicaJob): Promise<ReplicaResult> {
    return this.call({ op: 'gradients', job });
  }

  begin(state: ReplicaState): Promise<void> {
    return this.call({ op: 'begin', state });
  }

  shard(job: ShardJob): Promise<ReplicaResult> {
    return this.call({ op: 'shard', job });
  }

  update(job: UpdateJob): Promise<void> {
    return this.call({ op: 'update', job });
  }

  weights(): Promise<Float32Array> {
    return this.call({ op: 'weights' });
  }

  end(): Promise<void> {
    return this.call({ op: 'end' });
  }
}

/**
 * Starts `workers` threads, each with its own tfjs and a copy of `model` (as it is now: its
 * weights are sent with every job, so later changes are seen). Resolves once every worker has
 * loaded the model; rejects (and stops them all) if one cannot. Close them when done.
 *
 * @example
 * const model = lenet({ dataset: 'mnist', feedback: 'fa', seed: 1 });
 * const pool = await workerReplicas(model, { workers: 1 });
 * try {
 *   await train(model, { x, y }, { epochs: 1, replicas: pool.replicas });
 * } finally {
 *   await pool.close();
 * }
 */
export async function workerReplicas(
  model: tfl.LayersModel,
  options: WorkerReplicasOptions = {},
): Promise<WorkerReplicas> {
  const backend = options.backend ?? tf.getBackend();
  const count = resolveWorkerCount(options.workers, backend, 'workerReplicas');
  if (count === 0) return { replicas: [], close: async () => {} };
  const workerData: ReplicaWorkerData = {
    backend,
    workerModule: options.workerModule == null ? null : String(options.workerModule),
    artifacts: await artifactsOf(model),
  };
  const url = workerScript();
  const replicas = Array.from(
    { length: count },
    (_, i) => new ThreadReplica(new Worker(url, { workerData }), i + 1),
  );
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const r of replicas) r.closing = true;
    await Promise.all(replicas.map((r) => r.worker.terminate()));
  };
  try {
    await Promise.all(replicas.map((r) => r.ready));
  } catch (e) {
    await close();
    throw e;
  }
  return { replicas, close };
}

export interface DataParallelOptions
  extends Omit<TrainOptions, 'replicas'>,
    WorkerReplicasOptions {}

/**
 * `train()` with its batches split across this thread and `workers` worker threads (see
 * workerReplicas and TrainOptions.replicas): starts the workers, trains, stops them.
 *
 * @example
 * import { lenet } from '@fa-robust/fa-layers';
 * import { trainDataParallel } from '@fa-robust/fa-layers/node';
 * const model = lenet({ dataset: 'mnist', feedback: 'fa', seed: 1 });
 * await trainDataParallel(model, { x, y }, { epochs: 1, batchSize: 64, workers: 'auto' });
 */
export async function trainDataParallel(
  model: tfl.LayersModel,
  data: Batch | BatchSource,
  options: DataParallelOptions = {},
): Promise<TrainResult> {
  const { workers, backend, workerModule, ...trainOptions } = options;
  const pool = await workerReplicas(model, { workers, backend, workerModule });
  try {
    return await train(model, data, { ...trainOptions, replicas: pool.replicas });
  } finally {
    await pool.close();
  }
}
