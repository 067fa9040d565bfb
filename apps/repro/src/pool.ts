/**
 * A small pool of worker threads, each with its own tfjs: the wasm backend runs on one thread,
 * so this is how a run uses every core. Jobs are plain data; a job goes to the first idle
 * worker, broadcasts go to all of them (each worker handles its messages in order).
 */
import { Worker } from 'node:worker_threads';

export interface PoolRequest<J> {
  id: number;
  job: J;
}

export type PoolReply =
  | { type: 'progress'; done: number; total: number }
  | { type: 'log'; line: string }
  | { type: 'done'; value: unknown }
  | { type: 'error'; message: string; stack: string };

export interface JobHooks {
  onProgress?: (done: number, total: number) => void;
  onLog?: (line: string) => void;
}

interface Pending extends JobHooks {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  pending: Map<number, Pending>;
}

/** An error thrown inside a worker, with the worker's stack. */
export class WorkerJobError extends Error {
  override name = 'WorkerJobError';
  constructor(
    message: string,
    readonly workerStack: string,
  ) {
    super(message);
  }
}

export class WorkerPool<J> {
  private readonly slots: Slot[];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private nextId = 1;
  private failure: Error | null = null;
  private closed = false;

  constructor(url: URL, size: number, workerData: unknown) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`WorkerPool: size must be an integer >= 1, got ${size}`);
    this.slots = Array.from({ length: size }, () => {
      const slot: Slot = {
        worker: new Worker(url, { workerData }),
        busy: false,
        pending: new Map(),
      };
      slot.worker.on('message', (m: PoolReply & { id: number }) => this.onMessage(slot, m));
      const fail = (e: Error) => {
        this.failure ??= e;
        for (const p of slot.pending.values()) p.reject(e);
        slot.pending.clear();
        for (const w of this.waiting.splice(0)) w(slot); // wake waiters so they see the failure
      };
      slot.worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
      slot.worker.on('exit', (code) => {
        if (!this.closed)
          fail(new Error(`a repro worker thread exited unexpectedly (code ${code})`));
      });
      return slot;
    });
  }

  get size(): number {
    return this.slots.length;
  }

  private onMessage(slot: Slot, m: PoolReply & { id: number }) {
    const p = slot.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') p.onProgress?.(m.done, m.total);
    else if (m.type === 'log') p.onLog?.(m.line);
    else {
      slot.pending.delete(m.id);
      if (m.type === 'done') p.resolve(m.value);
      else p.reject(new WorkerJobError(m.message, m.stack));
    }
  }

  private post(slot: Slot, job: J, hooks: JobHooks): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('WorkerPool: closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, ...hooks });
      slot.worker.postMessage({ id, job } satisfies PoolRequest<J>);
    });
  }

  /** Sends `job` to every worker; resolves when all have handled it. */
  async broadcast(job: J): Promise<void> {
    await Promise.all(this.slots.map((s) => this.post(s, job, {})));
  }

  /** Runs `job` on the first idle worker. */
  async run<T>(job: J, hooks: JobHooks = {}): Promise<T> {
    const slot = await this.acquire();
    try {
      return (await this.post(slot, job, hooks)) as T;
    } finally {
      slot.busy = false;
      const next = this.waiting.shift();
      if (next) {
        slot.busy = true;
        next(slot);
      }
    }
  }

  private acquire(): Promise<Slot> {
    if (this.failure) return Promise.reject(this.failure);
    const idle = this.slots.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    return new Promise((resolve, reject) =>
      this.waiting.push((slot) => {
        if (this.failure) reject(this.failure);
        else resolve(slot);
      }),
    );
  }

  /** Stops every worker; jobs still running are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = new Error('WorkerPool: closed while jobs were running');
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(stopped);
      s.pending.clear();
    }
    this.failure ??= stopped;
    for (const w of this.waiting.splice(0)) w(this.slots[0]!);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** Runs `f` over `items` with at most `limit` running at once; the first failure stops new starts and is thrown. */
export async function forEachConcurrent<T>(
  items: readonly T[],
  limit: number,
  f: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const lane = async () => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        await f(items[i]!, i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failed !== null) throw failed;
}
