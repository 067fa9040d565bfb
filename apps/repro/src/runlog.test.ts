import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { wallSentence } from './report.js';
import { formatWall, HEARTBEAT_MS, RUNS_DIR, readRuns, startRunLog, wallTime } from './runlog.js';

const T = (min: number) => new Date(Date.UTC(2026, 11, 1, 10, 0) + min * 60_000).toISOString();
const run = (a: number, b: number) => ({ started: T(a), ended: T(b) });

describe('wallTime', () => {
  it('is the length of the union of the runs: gaps do not count, overlapping shards count once', () => {
    expect(wallTime([]).seconds).toBe(0);
    expect(wallTime([run(0, 30)]).seconds).toBe(1800);
    // two runs with a 60-minute gap between them
    expect(wallTime([run(90, 120), run(0, 30)]).seconds).toBe(3600);
    // two shards at once (0-40 and 10-50), then a third run nested in a fourth
    const w = wallTime([run(0, 40), run(10, 50), run(100, 200), run(120, 130)]);
    expect(w.seconds).toBe((50 + 100) * 60);
    expect(w).toMatchObject({ runs: 4, first: T(0), last: T(200) });
    // a run that touches the next one's start joins it
    expect(wallTime([run(0, 10), run(10, 20)]).seconds).toBe(1200);
  });

  it('formats short and long times', () => {
    expect(formatWall(42 * 60)).toBe('42.0 min');
    expect(formatWall(119.6 * 60)).toBe('2 h 0 min');
    expect(formatWall(6 * 3600 + 5 * 60)).toBe('6 h 5 min');
  });
});

describe('run records', () => {
  let dir = '';
  afterEach(async () => {
    vi.useRealTimers();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a record at the start, a heartbeat while it runs, and the outcome at the end', async () => {
    dir = await mkdtemp(join(tmpdir(), 'runlog-'));
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = Date.parse(T(0));
    const log = await startRunLog(dir, { command: 'repro --preset x', shard: '1/2' }, () => now);
    const [name] = await readdir(join(dir, RUNS_DIR));
    expect(name).toMatch(/-shard-1of2\.json$/);
    const read = async () => JSON.parse(await readFile(join(dir, RUNS_DIR, name!), 'utf8'));
    /** The record once the heartbeat's write has landed (it writes in the background). */
    const beat = async (ended: string) => {
      for (let i = 0; i < 200; i++) {
        const r = await read().catch(() => null);
        if (r?.ended === ended) return r;
        await new Promise((ok) => setTimeout(ok, 5));
      }
      return read();
    };
    expect(await read()).toMatchObject({ started: T(0), ended: T(0), outcome: 'running' });
    // a killed run keeps its last heartbeat as its end
    now = Date.parse(T(5));
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(await beat(T(5))).toMatchObject({ ended: T(5), outcome: 'running', seconds: 300 });
    expect(log.current()).toMatchObject({ ended: T(5), pid: process.pid });
    now = Date.parse(T(7));
    await log.finish('interrupted', 12);
    expect(await read()).toMatchObject({
      started: T(0),
      ended: T(7),
      seconds: 420,
      outcome: 'interrupted',
      computed: 12,
      shard: '1/2',
      command: 'repro --preset x',
    });
    // no heartbeat after the end
    now = Date.parse(T(30));
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS);
    await new Promise((ok) => setTimeout(ok, 50));
    expect((await read()).ended).toBe(T(7));
  });

  it('reads the records of a folder, skipping what it cannot read, and none without runs/', async () => {
    dir = await mkdtemp(join(tmpdir(), 'runlog-'));
    expect(await readRuns(dir)).toEqual([]);
    const a = await startRunLog(dir, { command: 'a' });
    await a.finish('finished', 3);
    await writeFile(join(dir, RUNS_DIR, 'broken.json'), '{"started": ');
    await writeFile(join(dir, RUNS_DIR, 'no-times.json'), '{"started": "yesterday"}');
    const runs = await readRuns(dir);
    expect(runs.map((r) => [r.command, r.outcome, r.computed])).toEqual([['a', 'finished', 3]]);
  });

  it('says the wall time in the report header, or nothing without records', () => {
    expect(wallSentence(undefined)).toBe('');
    expect(wallSentence(wallTime([]))).toBe('');
    expect(wallSentence(wallTime([run(0, 30), run(60, 150)]))).toMatch(
      /^ \*\*Wall time:\*\* 2 h 0 min over the study's 2 recorded runs \(`runs\/`, 2026-12-01 10:00 UTC to 2026-12-01 12:30 UTC;/,
    );
  });
});
