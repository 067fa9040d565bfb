import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hash } from './hash.js';

export { hash, stableStringify } from './hash.js';

/**
 * The resumable part of a run: every finished experiment cell is one JSON file, written to a
 * temporary name, flushed and renamed, so a crash or kill -9 loses at most the cell that was
 * running. Cells are keyed by what defines them (dataset, model, attack, eps, source ...) and
 * stamped with the hash of the configuration that affects them: a cell computed under another
 * configuration is never reused.
 */
export class CellStore {
  private constructor(
    readonly dir: string,
    private readonly cells: Map<string, unknown>,
    /** What computed each stored step (backend, versions), where the writer recorded it. */
    private readonly origins: Map<string, StepOrigin> = new Map(),
  ) {}

  /**
   * Reads every stored step of `dir`. A temporary file is removed only when its writer (the
   * pid in its name) is gone: another live run's write in progress is left alone. A file that
   * does not parse (hand-edited, truncated by a disk error) is set aside as `<name>.unreadable`
   * and named in `setAside`, so its step is recomputed and nothing is deleted.
   */
  static async open(dir: string): Promise<CellStore & { setAside: string[] }> {
    await mkdir(dir, { recursive: true });
    const cells = new Map<string, unknown>();
    const origins = new Map<string, StepOrigin>();
    const setAside: string[] = [];
    for (const f of await readdir(dir)) {
      if (f.includes('.tmp-')) {
        const pid = Number(/\.tmp-(\d+)-/.exec(f)?.[1]);
        if (!isAlive(pid)) await rm(join(dir, f), { force: true }); // a write a crash interrupted
        continue;
      }
      if (!f.endsWith('.json')) continue;
      try {
        const { key, value, origin } = JSON.parse(await readFile(join(dir, f), 'utf8')) as {
          key: string;
          value: unknown;
          origin?: StepOrigin;
        };
        if (typeof key !== 'string') throw new Error('no key');
        cells.set(key, value);
        if (origin && typeof origin.backend === 'string') origins.set(key, origin);
      } catch {
        await rename(join(dir, f), join(dir, `${f}.unreadable`));
        setAside.push(join(dir, f));
      }
    }
    return Object.assign(new CellStore(dir, cells, origins), { setAside });
  }

  /** Forgets a stored step (its file is set aside as unreadable): it is computed again. */
  async setAsideKey(key: string): Promise<string> {
    const file = join(this.dir, `${fileKey(key)}.json`);
    this.cells.delete(key);
    await rename(file, `${file}.unreadable`).catch(() => {});
    return file;
  }

  get size(): number {
    return this.cells.size;
  }

  has(key: string): boolean {
    return this.cells.has(key);
  }

  get<T>(key: string): T | undefined {
    return this.cells.get(key) as T | undefined;
  }

  /** What computed a stored step, if its writer recorded it (stores before this field did not). */
  origin(key: string): StepOrigin | undefined {
    return this.origins.get(key);
  }

  async put<T>(key: string, value: T, origin?: StepOrigin): Promise<T> {
    await writeJsonAtomic(join(this.dir, `${fileKey(key)}.json`), {
      key,
      value,
      ...(origin ? { origin } : {}),
    });
    this.cells.set(key, value);
    if (origin) this.origins.set(key, origin);
    return value;
  }

  /** Returns the stored value, or computes, stores and returns it. */
  async getOrCompute<T>(
    key: string,
    compute: () => Promise<T>,
  ): Promise<{ value: T; cached: boolean }> {
    if (this.cells.has(key)) return { value: this.cells.get(key) as T, cached: true };
    return { value: await this.put(key, await compute()), cached: false };
  }
}

/**
 * What computed a step: its numbers depend on the backend's kernels (wasm and cpu round
 * differently), which no store key holds, so a step read back from another backend is said.
 */
export interface StepOrigin {
  backend: string;
  versions?: Record<string, string>;
}

/** A file name for a cell key: readable prefix plus a hash, so any key maps to a valid name. */
function fileKey(key: string): string {
  const readable = key.replace(/[^a-zA-Z0-9.=_-]+/g, '_').slice(0, 120);
  return `${readable}-${hash(key).slice(0, 10)}`;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const h = await open(tmp, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}

/** Whether a process of this host is running (false for a pid that is not a number). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Another run holds the output folder. */
export class RunLockedError extends Error {
  override name = 'RunLockedError';
}

export interface RunLock {
  release(): Promise<void>;
}

/** One of n processes sharing one study's output folder (`--shard k/n`). */
export interface ShardSpec {
  index: number;
  count: number;
}

interface LockHolder {
  pid?: number;
  host?: string;
  started?: string;
  command?: string;
  shard?: ShardSpec | null;
}

const LOCK = '.repro.lock';
const lockName = (shard: ShardSpec | null | undefined) =>
  shard ? `${LOCK}.shard-${shard.index}-of-${shard.count}` : LOCK;

/** A held lock or claim file's mtime is renewed this often... */
export const HEARTBEAT_MS = 30_000;
/** ...and one not renewed for this long is a dead holder's, whatever its host. */
export const STALE_MS = 5 * 60_000;

const heartbeats = new Map<string, ReturnType<typeof setInterval>>();

/** Keeps `path`'s mtime fresh while this process holds it (shared storage, other hosts). */
function beat(path: string): void {
  const timer = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  timer.unref();
  heartbeats.set(path, timer);
}

function stopBeat(path: string): void {
  clearInterval(heartbeats.get(path));
  heartbeats.delete(path);
}

/**
 * Whether a lock's holder still runs. On this host: its pid lives, and is not this process's
 * own pid from before it started (a restarted container often gets the same pid). On another
 * host, which cannot be asked: its file was renewed (every HEARTBEAT_MS) within STALE_MS.
 */
async function holderAlive(h: LockHolder, path: string): Promise<boolean> {
  if (h.pid == null) return false;
  if (h.host === hostname()) {
    const before = h.started != null && Date.parse(h.started) < performance.timeOrigin - 1000;
    if (h.pid === process.pid && before) return false;
    return isAlive(h.pid);
  }
  const m = await stat(path).catch(() => null);
  return m != null && Date.now() - m.mtimeMs < STALE_MS;
}

function describeHolder(h: LockHolder): string {
  const what = h.shard
    ? `shard ${h.shard.index}/${h.shard.count} of a repro run`
    : 'another repro run';
  return `${what} (pid ${h.pid} on ${h.host}, started ${h.started}: ${h.command ?? '?'})`;
}

/**
 * Takes the output folder for this run: `<dir>/.repro.lock` holds its pid, host and start.
 * A second run on the same folder is refused, naming the first, while that one lives; a lock
 * whose process is gone (a crash, kill -9) is taken over. A lock of another host (shared
 * storage) cannot be asked: it counts as held while its holder renews it (every HEARTBEAT_MS),
 * and as a dead run's once it has not been renewed for STALE_MS.
 *
 * Shards of one study (`--shard k/n`, the same n) share the folder: each takes
 * `.repro.lock.shard-k-of-n`, and is refused while the same shard runs, while a run without
 * --shard holds the folder, or while a shard of another split (another n) runs; a run without
 * --shard is refused while any shard runs.
 */
export async function lockOutput(
  dir: string,
  command: string,
  shard?: ShardSpec | null,
): Promise<RunLock> {
  const file = join(dir, lockName(shard));
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command,
    shard: shard ?? null,
  };
  const refuse = (other: LockHolder, path: string) =>
    new RunLockedError(
      `${dir} is in use by ${describeHolder(other)}; ` +
        (other.host === me.host
          ? shard && other.shard && other.shard.count === shard.count
            ? 'this shard is already running: give each process its own --shard k'
            : 'wait for it to finish, or give this run another --out'
          : `it cannot be checked from this host, and counts as running while it renews the file (a lock not renewed for ${STALE_MS / 60_000} minutes is taken over); if that run is over, delete ${path}`),
    );
  let taken = false;
  for (let attempt = 0; attempt < 2 && !taken; attempt++) {
    taken = await createHeld(file, me);
    if (taken) break;
    const other = (await readHolder(file)) ?? {}; // unreadable: a crash during its write
    if (await holderAlive(other, file)) throw refuse(other, file);
    await rm(file, { force: true }); // its run is gone
  }
  if (!taken) throw new RunLockedError(`${dir}: could not take ${file}`);
  const release = () => releaseHeld(file);
  // the other holders of this folder: each is checked after this lock is written, so of two
  // runs that start together at least one sees the other
  for (const f of await readdir(dir)) {
    if (!f.startsWith(LOCK) || join(dir, f) === file || f.includes('.tmp')) continue;
    const other = (await readHolder(join(dir, f))) ?? {};
    if (!(await holderAlive(other, join(dir, f)))) continue;
    const compatible = shard != null && other.shard != null && other.shard.count === shard.count;
    if (!compatible) {
      await release();
      throw refuse(other, join(dir, f));
    }
  }
  return { release };
}

/**
 * A claim on one piece of shared work (a model to train): `path` created exclusively with
 * this process's pid and host. Returns null when this process now holds it, or the live
 * holder; a claim whose holder is gone is taken over.
 */
export async function tryClaim(path: string, what: string): Promise<LockHolder | null> {
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: what,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createHeld(path, me)) return null;
    // unreadable: being written this instant, or after a crash: look again once
    let other = await readHolder(path);
    if (other == null) {
      await new Promise((r) => setTimeout(r, 200));
      other = (await readHolder(path)) ?? {};
    }
    if (await holderAlive(other, path)) return other;
    await rm(path, { force: true }); // its holder is gone
  }
  throw new RunLockedError(`could not claim ${path}`);
}

/** Gives up a claim this process holds (another's is left alone). */
export function releaseClaim(path: string): Promise<void> {
  return releaseHeld(path);
}

/** Creates `path` exclusively holding `me`, and renews it while held; false if it exists. */
async function createHeld(path: string, me: LockHolder): Promise<boolean> {
  let h: Awaited<ReturnType<typeof open>>;
  try {
    h = await open(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await h.writeFile(`${JSON.stringify(me)}\n`);
  } finally {
    await h.close();
  }
  beat(path);
  return true;
}

/** The holder a lock or claim file names, or null when it cannot be read. */
async function readHolder(path: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

/** Stops renewing `path` and removes it if this process holds it (another's is left alone). */
async function releaseHeld(path: string): Promise<void> {
  stopBeat(path);
  const held = await readFile(path, 'utf8').catch(() => '');
  if (held.includes(`"pid":${process.pid},`)) await rm(path, { force: true });
}

export function describeClaim(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host} (${h.command ?? '?'}, since ${h.started})`;
}
