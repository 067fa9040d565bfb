import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration, progress } from './progress.js';
import { CellStore, hash, lockOutput, releaseClaim, STALE_MS, tryClaim } from './store.js';

describe('CellStore', () => {
  it('persists cells across reopenings and computes each once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-store-'));
    const a = await CellStore.open(dir);
    let calls = 0;
    const compute = async () => {
      calls++;
      return { accuracy: 0.5 };
    };
    expect(await a.getOrCompute('mnist/fa/fgsm/0.1', compute)).toEqual({
      value: { accuracy: 0.5 },
      cached: false,
    });
    const b = await CellStore.open(dir);
    expect(await b.getOrCompute('mnist/fa/fgsm/0.1', compute)).toEqual({
      value: { accuracy: 0.5 },
      cached: true,
    });
    expect(calls).toBe(1);
  });

  it('drops interrupted temporary writes and sets unreadable cells aside on open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-store-'));
    const s = await CellStore.open(dir);
    await s.put('k1', 1);
    await writeFile(join(dir, 'k2-abc.json.tmp-999999999-xyz'), '{"key":"k2","val');
    await writeFile(join(dir, 'k3-abc.json'), '{"key":"k3","val');
    const again = await CellStore.open(dir);
    expect(again.size).toBe(1);
    expect(again.get('k1')).toBe(1);
    const files = await readdir(dir);
    expect(files).toHaveLength(2);
    expect(files).toContain('k3-abc.json.unreadable');
  });

  it('hashes objects independently of key order', () => {
    expect(hash({ a: 1, b: [1, 2] })).toBe(hash({ b: [1, 2], a: 1 }));
    expect(hash({ a: 1 })).not.toBe(hash({ a: 2 }));
  });
});

describe('progress', () => {
  it('logs plain lines with rate and ETA when not on a terminal', () => {
    let t = 0;
    const lines: string[] = [];
    const stream = {
      isTTY: false,
      write: (s: string) => lines.push(s),
    } as unknown as NodeJS.WriteStream;
    const p = progress('train mnist/fa', 'img', { stream, logEveryMs: 1000, now: () => t });
    t = 500;
    p(100, 1000); // too soon: no line
    t = 2000;
    p(400, 1000);
    t = 5000;
    p(1000, 1000);
    p.finish('acc 97.1%');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('train mnist/fa: 40% 400/1000 img 200 img/s, elapsed 2s, ETA 3s\n');
    expect(lines[2]).toMatch(
      /^train mnist\/fa: done, 1000\/1000 img 200 img\/s, elapsed 5s — acc 97\.1%\n$/,
    );
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7300)).toBe('2h01m');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});

describe("the output folder lock and the store's care for others' files", () => {
  it('refuses a second run on the folder while the first lives, names it, and takes over a dead one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-lock-'));
    const first = await lockOutput(dir, 'first run');
    await expect(lockOutput(dir, 'second run')).rejects.toThrow(
      new RegExp(
        `in use by another repro run \\(pid ${process.pid} on ${hostname()}, started .*: first run\\); wait for it`,
      ),
    );
    await first.release();
    const again = await lockOutput(dir, 'third run');
    await again.release();
    // a lock left by a process that is gone (kill -9) is taken over
    const dead = await deadPid();
    await writeFile(join(dir, '.repro.lock'), JSON.stringify({ pid: dead, host: hostname() }));
    const taken = await lockOutput(dir, 'after a crash');
    expect(JSON.parse(await readFile(join(dir, '.repro.lock'), 'utf8')).pid).toBe(process.pid);
    await taken.release();
    expect(existsSync(join(dir, '.repro.lock'))).toBe(false);
  });

  it('lets shards of one study share the folder, and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-shards-'));
    const one = await lockOutput(dir, 'shard one', { index: 1, count: 2 });
    const two = await lockOutput(dir, 'shard two', { index: 2, count: 2 });
    expect((await readdir(dir)).sort()).toEqual([
      '.repro.lock.shard-1-of-2',
      '.repro.lock.shard-2-of-2',
    ]);
    // the same shard twice, a run without --shard, a shard of another split: refused, named
    await expect(lockOutput(dir, 'shard one again', { index: 1, count: 2 })).rejects.toThrow(
      /in use by shard 1\/2 of a repro run \(pid \d+ on .*: shard one\); this shard is already running: give each process its own --shard k/,
    );
    await expect(lockOutput(dir, 'whole run')).rejects.toThrow(
      /in use by shard [12]\/2 of a repro run .*wait for it to finish, or give this run another --out/,
    );
    await expect(lockOutput(dir, 'a third of it', { index: 1, count: 3 })).rejects.toThrow(
      /in use by shard [12]\/2 of a repro run/,
    );
    // a refused run leaves no lock of its own behind
    expect((await readdir(dir)).sort()).toEqual([
      '.repro.lock.shard-1-of-2',
      '.repro.lock.shard-2-of-2',
    ]);
    await one.release();
    await two.release();
    // a run without --shard holds the folder: no shard starts
    const whole = await lockOutput(dir, 'whole run');
    await expect(lockOutput(dir, 'shard', { index: 2, count: 2 })).rejects.toThrow(
      /in use by another repro run .*: whole run\)/,
    );
    await whole.release();
    // a dead shard's lock is no obstacle
    await writeFile(
      join(dir, '.repro.lock.shard-1-of-2'),
      JSON.stringify({ pid: await deadPid(), host: hostname(), shard: { index: 1, count: 2 } }),
    );
    const after = await lockOutput(dir, 'after a crash');
    await after.release();
    expect(await readdir(dir)).toEqual(['.repro.lock.shard-1-of-2']);
  });

  it("on shared storage: another host's lock holds while renewed, is taken over once stale; a restarted process's own old pid is no holder", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-stale-'));
    const lock = join(dir, '.repro.lock');
    const elsewhere = { pid: 4242, host: 'another-host', started: new Date().toISOString() };
    await writeFile(lock, JSON.stringify(elsewhere));
    await expect(lockOutput(dir, 'here')).rejects.toThrow(
      /pid 4242 on another-host.*cannot be checked from this host, and counts as running while it renews the file \(a lock not renewed for 5 minutes is taken over\)/,
    );
    // not renewed for longer than STALE_MS: its holder is gone
    const old = new Date(Date.now() - STALE_MS - 60_000);
    await utimes(lock, old, old);
    const taken = await lockOutput(dir, 'here');
    expect(JSON.parse(await readFile(lock, 'utf8')).host).toBe(hostname());
    await taken.release();
    // the same for a claim
    const claim = join(dir, 'm.training');
    await writeFile(claim, JSON.stringify(elsewhere));
    expect(await tryClaim(claim, 'training')).toMatchObject({ host: 'another-host' });
    await utimes(claim, old, old);
    expect(await tryClaim(claim, 'training')).toBeNull();
    await releaseClaim(claim);
    // a container restarted with the same pid: the lock its previous life left is no holder
    const before = new Date(performance.timeOrigin - 60_000).toISOString();
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), started: before }));
    const again = await lockOutput(dir, 'restarted');
    await again.release();
    expect(existsSync(lock)).toBe(false);
  });

  it('claims one piece of work for one process, and takes over a dead holder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-claim-'));
    const path = join(dir, 'model.training');
    expect(await tryClaim(path, 'training')).toBeNull();
    // held by a live process (a sleeping child, as another shard would hold it)
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const held = { pid: other.pid, host: hostname(), started: 'then', command: 'training fa' };
      await writeFile(path, JSON.stringify(held));
      expect(await tryClaim(path, 'training')).toMatchObject({ pid: other.pid });
      await releaseClaim(path); // not ours: left alone
      expect(existsSync(path)).toBe(true);
    } finally {
      other.kill();
    }
    await writeFile(path, JSON.stringify({ pid: await deadPid(), host: hostname() }));
    expect(await tryClaim(path, 'training')).toBeNull();
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await releaseClaim(path);
    expect(existsSync(path)).toBe(false);
  });

  it("keeps a live writer's temporary file, removes a dead one's, and sets an unreadable step aside", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-store-'));
    const dead = await deadPid();
    await writeFile(join(dir, `a.json.tmp-${process.pid}-x`), '{');
    await writeFile(join(dir, `b.json.tmp-${dead}-y`), '{');
    await writeFile(join(dir, 'c.json'), '{"key": "c", "value": ');
    const store = await CellStore.open(dir);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([`a.json.tmp-${process.pid}-x`, 'c.json.unreadable']);
    expect(store.setAside).toEqual([join(dir, 'c.json')]);
    expect(store.size).toBe(0);
  });
});

/** The pid of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['-e', '']);
    child.on('exit', () => done(child.pid!));
  });
}
