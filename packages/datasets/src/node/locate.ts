import { DatasetError } from '../errors.js';
import type { Cifar10Spec, FileChecksum, IdxDatasetSpec, SplitName } from '../types.js';
import { makeContext, type Origin } from './context.js';
import { planCifar } from './load-cifar.js';
import { planIdx } from './load-idx.js';
import { type Check, verifyFile } from './verify.js';

// Locating without loading: the same search as the loaders, reporting instead of reading.

export interface LocatedFile {
  file: string;
  split: SplitName;
  /** Where it is (the archive, for a member), or null when in none of the folders. */
  path: string | null;
  member?: string;
  from: Origin | null;
  /** Every path looked at, in order. */
  searched: string[];
  /** With verify: what matched the published values. */
  verified?: Check[];
  /** With verify: why the file was refused. */
  error?: DatasetError;
}

export interface DatasetLocation {
  dataset: string;
  dataDir: string | null;
  cacheDir: string | null;
  files: LocatedFile[];
  /** Splits whose every file was found (and, with verify, passed). */
  available: SplitName[];
}

export interface LocateOptions {
  dataDir?: string | null;
  cacheDir?: string | null;
  /** Also check sizes and digests (reads every file found; default false). */
  verify?: boolean;
}

/**
 * Which files of a dataset are where, without loading (or downloading) anything: for a
 * "data status" line, or to pick the splits to load. With verify: true every file found is
 * checked; a failure is reported in `error`, not thrown. A CIFAR-10 batch found only inside an
 * archive is reported with the archive's checks.
 */
export async function locateDataset(
  spec: IdxDatasetSpec | Cifar10Spec,
  options: LocateOptions = {},
): Promise<DatasetLocation> {
  const ctx = await makeContext(spec, {
    dataDir: options.dataDir,
    cacheDir: options.cacheDir,
    verify: true,
  });
  const files: LocatedFile[] = [];
  const archiveResult = new Map<string, { verified?: Check[]; error?: DatasetError }>();
  const check = async (path: string, checksum: FileChecksum) => {
    try {
      return { verified: await verifyFile(path, checksum) };
    } catch (error) {
      if (error instanceof DatasetError) return { error };
      throw error;
    }
  };
  if ('batches' in spec) {
    const wanted = (['train', 'test'] as const).flatMap((split) =>
      spec.batches[split].map((batch) => ({ split, batch })),
    );
    for (const p of await planCifar(ctx, spec, wanted)) {
      const f = p.found;
      const entry: LocatedFile = {
        file: p.batch.name,
        split: p.split,
        path: f?.path ?? null,
        ...(f?.kind === 'archive' ? { member: f.member } : {}),
        from: f?.from ?? null,
        searched: p.searched,
      };
      if (options.verify && f) {
        if (f.kind === 'file') Object.assign(entry, await check(f.path, p.batch));
        else {
          if (!archiveResult.has(f.path))
            archiveResult.set(f.path, await check(f.path, spec.archive));
          Object.assign(entry, archiveResult.get(f.path));
        }
      }
      files.push(entry);
    }
  } else {
    for (const p of await planIdx(ctx, spec, ['train', 'test'])) {
      const entry: LocatedFile = {
        file: p.file.name,
        split: p.split,
        path: p.found?.path ?? null,
        from: p.found?.from ?? null,
        searched: p.searched,
      };
      if (options.verify && p.found?.checksum)
        Object.assign(entry, await check(p.found.path, p.found.checksum));
      files.push(entry);
    }
  }
  const available = (['train', 'test'] as const).filter((s) =>
    files.filter((f) => f.split === s).every((f) => f.path != null && f.error == null),
  );
  return { dataset: spec.id, dataDir: ctx.dataDir, cacheDir: ctx.cacheDir, files, available };
}
