import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { forEachConcurrent, WorkerJobError, WorkerPool } from './pool.js';

/** A tiny worker speaking the pool's protocol: 'sleep' (ms), 'fail', 'crash', 'tid' (its thread id). */
async function script(): Promise<URL> {
  const dir = await mkdtemp(join(tmpdir(), 'pool-'));
  const file = join(dir, 'w.mjs');
  await writeFile(
    file,
    `import { parentPort, threadId } from 'node:worker_threads';
parentPort.on('message', async ({ id, job }) => {
  if (job.kind === 'crash') process.exit(3);
  if (job.kind === 'fail') return parentPort.postMessage({ id, type: 'error', message: 'bad job ' + job.n, stack: 'at worker' });
  parentPort.postMessage({ id, type: 'progress', done: 1, total: 2 });
  parentPort.postMessage({ id, type: 'log', line: 'hello ' + job.n });
  await new Promise((r) => setTimeout(r, job.ms ?? 0));
  parentPort.postMessage({ id, type: 'done', value: { n: job.n, tid: threadId } });
});`,
  );
  return pathToFileURL(file);
}

type Job = { kind: string; n?: number; ms?: number };

describe('WorkerPool', () => {
  it('runs jobs side by side on different threads, with progress and logs, and returns their values', async () => {
    const pool = new WorkerPool<Job>(await script(), 2, null);
    try {
      const progress: number[] = [];
      const logs: string[] = [];
      const results = await Promise.all(
        [1, 2, 3, 4].map((n) =>
          pool.run<{ n: number; tid: number }>(
            { kind: 'sleep', n, ms: 50 },
            { onProgress: (d) => progress.push(d), onLog: (l) => logs.push(l) },
          ),
        ),
      );
      expect(results.map((r) => r.n)).toEqual([1, 2, 3, 4]);
      expect(new Set(results.map((r) => r.tid)).size).toBe(2);
      expect(progress).toEqual([1, 1, 1, 1]);
      expect(logs.sort()).toEqual(['hello 1', 'hello 2', 'hello 3', 'hello 4']);
    } finally {
      await pool.close();
    }
  });

  it('rejects a failed job with the worker message and keeps going; a crashed worker fails the pool', async () => {
    const pool = new WorkerPool<Job>(await script(), 2, null);
    try {
      const err = (await pool.run({ kind: 'fail', n: 7 }).catch((e) => e)) as WorkerJobError;
      expect(err).toBeInstanceOf(WorkerJobError);
      expect(err.message).toBe('bad job 7');
      await expect(pool.run({ kind: 'sleep', n: 1 })).resolves.toMatchObject({ n: 1 });
      await expect(pool.run({ kind: 'crash' })).rejects.toThrow(/exited unexpectedly \(code 3\)/);
      await expect(pool.run({ kind: 'sleep', n: 2 })).rejects.toThrow(/exited unexpectedly/);
    } finally {
      await pool.close();
    }
  });

  it('close() rejects the jobs still running', async () => {
    const pool = new WorkerPool<Job>(await script(), 1, null);
    const slow = pool.run({ kind: 'sleep', n: 1, ms: 5000 });
    const queued = pool.run({ kind: 'sleep', n: 2 });
    const checks = Promise.all([
      expect(slow).rejects.toThrow(/closed/),
      expect(queued).rejects.toThrow(/closed/),
    ]);
    await pool.close();
    await checks;
  });

  it('refuses a size below 1', () => {
    expect(() => new WorkerPool(new URL('file:///x.js'), 0, null)).toThrow(RangeError);
  });
});

describe('forEachConcurrent', () => {
  it('never runs more than `limit` at once, visits every item once, and throws the first failure after stopping new starts', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachConcurrent([0, 1, 2, 3, 4, 5, 6], 3, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(x);
      running--;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const started: number[] = [];
    const err = await forEachConcurrent([0, 1, 2, 3, 4, 5], 2, async (x) => {
      started.push(x);
      if (x === 1) throw new Error('one');
      await new Promise((r) => setTimeout(r, 5));
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('one');
    expect(started.length).toBeLessThan(6);
  });
});
