import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './store.js';

/**
 * The wall time of a study that resumes across runs (and shards): each run that computes writes
 * one record under `<study>/runs/`, with when it started and when it last was alive, so the
 * study's wall time is the union of its runs' intervals however often it was stopped, and two
 * shards running at once count once. A run killed without warning keeps the last heartbeat
 * (written every HEARTBEAT_MS) as its end.
 */
export interface RunRecord {
  /** ISO times. */
  started: string;
  ended: string;
  seconds: number;
  command: string;
  outcome: 'running' | 'finished' | 'interrupted' | 'failed';
  /** Steps this run computed (the rest it reused), once it ended. */
  computed?: number;
  shard?: string;
  pid: number;
  /** Set on a record written after the fact (e.g. from the header of a report the run wrote). */
  reconstructed?: string;
}

export const RUNS_DIR = 'runs';
export const HEARTBEAT_MS = 60_000;

export interface RunLog {
  /** This run's record as of now (its end is now). */
  current(): RunRecord;
  /** Writes the final record and stops the heartbeat. */
  finish(outcome: 'finished' | 'interrupted' | 'failed', computed?: number): Promise<void>;
}

/** Starts this run's record in `<studyDir>/runs/` (the folder must exist). */
export async function startRunLog(
  studyDir: string,
  meta: { command: string; shard?: string },
  now: () => number = Date.now,
): Promise<RunLog> {
  const t0 = now();
  const dir = join(studyDir, RUNS_DIR);
  await mkdir(dir, { recursive: true });
  const file = join(
    dir,
    `${new Date(t0).toISOString().replace(/[:.]/g, '-')}-${process.pid}${meta.shard ? `-shard-${meta.shard.replace('/', 'of')}` : ''}.json`,
  );
  const record = (outcome: RunRecord['outcome'], computed?: number): RunRecord => {
    const t = now();
    return {
      started: new Date(t0).toISOString(),
      ended: new Date(t).toISOString(),
      seconds: (t - t0) / 1000,
      command: meta.command,
      outcome,
      ...(computed != null ? { computed } : {}),
      ...(meta.shard ? { shard: meta.shard } : {}),
      pid: process.pid,
    };
  };
  const write = (r: RunRecord) => writeFileAtomic(file, `${JSON.stringify(r, null, 2)}\n`);
  await write(record('running'));
  let pending: Promise<void> = Promise.resolve();
  let done = false;
  const timer = setInterval(() => {
    // a failed heartbeat (a full disk) costs only the precision of this run's end
    pending = pending.then(() => (done ? undefined : write(record('running')).catch(() => {})));
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    current: () => record('running'),
    async finish(outcome, computed) {
      done = true;
      clearInterval(timer);
      await pending;
      await write(record(outcome, computed));
    },
  };
}

/** The run records of a study folder (none if it has no runs/); unreadable ones are skipped. */
export async function readRuns(studyDir: string): Promise<RunRecord[]> {
  const dir = join(studyDir, RUNS_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: RunRecord[] = [];
  for (const n of names.sort()) {
    try {
      const r = JSON.parse(await readFile(join(dir, n), 'utf8')) as RunRecord;
      if (Number.isFinite(Date.parse(r.started)) && Number.isFinite(Date.parse(r.ended)))
        out.push(r);
    } catch {}
  }
  return out;
}

/** Drops this run's own record (a run that ended before it did anything, e.g. a refused lock). */
export async function dropRunRecord(studyDir: string, pid = process.pid): Promise<void> {
  for (const n of await readdir(join(studyDir, RUNS_DIR)).catch(() => [] as string[]))
    if (n.includes(`-${pid}`)) await rm(join(studyDir, RUNS_DIR, n), { force: true });
}

/**
 * The wall time of a set of runs: the length of the union of their [started, ended] intervals
 * (two shards at once count once, a gap between runs not at all), and its span.
 */
export interface WallTime {
  seconds: number;
  runs: number;
  first: string | null;
  last: string | null;
}

export function wallTime(runs: readonly Pick<RunRecord, 'started' | 'ended'>[]): WallTime {
  const iv = runs
    .map((r) => [Date.parse(r.started), Date.parse(r.ended)] as const)
    .filter(([a, b]) => b >= a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let cur: [number, number] | null = null;
  for (const [a, b] of iv) {
    if (cur && a <= cur[1]) cur[1] = Math.max(cur[1], b);
    else {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    }
  }
  if (cur) total += cur[1] - cur[0];
  return {
    seconds: total / 1000,
    runs: iv.length,
    first: iv.length ? new Date(iv[0]![0]).toISOString() : null,
    last: iv.length ? new Date(Math.max(...iv.map((x) => x[1]))).toISOString() : null,
  };
}

/** "3 h 12 min" / "42.0 min". */
export function formatWall(seconds: number): string {
  if (seconds < 90 * 60) return `${(seconds / 60).toFixed(1)} min`;
  const min = Math.round(seconds / 60);
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}
