import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
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
  ) {}

  static async open(dir: string): Promise<CellStore> {
    await mkdir(dir, { recursive: true });
    const cells = new Map<string, unknown>();
    for (const f of await readdir(dir)) {
      if (f.includes('.tmp-')) {
        await rm(join(dir, f), { force: true }); // a write that a crash interrupted
        continue;
      }
      if (!f.endsWith('.json')) continue;
      try {
        const { key, value } = JSON.parse(await readFile(join(dir, f), 'utf8')) as {
          key: string;
          value: unknown;
        };
        if (typeof key === 'string') cells.set(key, value);
      } catch {
        await rm(join(dir, f), { force: true }); // unreadable: recompute it
      }
    }
    return new CellStore(dir, cells);
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

  async put<T>(key: string, value: T): Promise<T> {
    await writeJsonAtomic(join(this.dir, `${fileKey(key)}.json`), { key, value });
    this.cells.set(key, value);
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
