import type { DownloadAttempt, MissingFile } from '../errors.js';
import { DownloadError } from '../errors.js';
import { corruptGzipError } from '../gzip.js';
import type { FileChecksum, Split, SplitName } from '../types.js';
import { downloadVerified } from './download.js';
import { defaultCacheDir, defaultDataDir, type NodeModules, nodeModules } from './env.js';
import type { Check } from './verify.js';

// What every loader shares: the options and result types, the resolved folders (the context),
// progress events, the "missing files" message, downloading into the cache, gunzip.

/** What a loader is doing, for progress bars and logs. */
export type LoadProgress =
  | { phase: 'download'; dataset: string; file: string; url: string; loaded: number; total: number }
  | { phase: 'verify'; dataset: string; file: string; path: string }
  | { phase: 'read'; dataset: string; file: string; path: string };

export interface LoadOptions<S extends SplitName = SplitName> {
  /**
   * Local data folder, searched first (see the README for the layout). Default: the
   * FA_ROBUST_DATA_DIR environment variable, resolved against the working directory, if set.
   * null: no local folder, even if the variable is set.
   */
  dataDir?: string | null;
  /**
   * Download cache, searched second; downloads are written here. Default: defaultCacheDir().
   * null: no cache (and so no download).
   */
  cacheDir?: string | null;
  /** Download what is in neither folder (default true). */
  download?: boolean;
  /** The fetch used to download (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Base URLs replacing the spec's mirrors, tried in order; a file's URL is base + name. */
  mirrors?: readonly string[];
  /** Which splits to load (default both). Files of the other split are not needed. */
  splits?: readonly S[];
  /**
   * Keep at most this many images, the first ones in file order: one number for every split, or
   * one per split. Only the files holding those images are read (CIFAR-10 batches).
   */
  limit?: number | Partial<Record<SplitName, number>>;
  /**
   * Check every local file's size and digests against the published ones (default true).
   * false skips that for local and cached files (the formats are still checked) and also
   * accepts extracted files without known digests; downloads are always verified.
   */
  verify?: boolean;
  onProgress?: (event: LoadProgress) => void;
  /** Aborts downloads. */
  signal?: AbortSignal;
}

/** Where a file was read from. */
export interface FileSource {
  /** The file name in the spec, e.g. 't10k-images-idx3-ubyte.gz' or 'test_batch.bin'. */
  file: string;
  split: SplitName;
  /** The file read, or the archive holding it. */
  path: string;
  /** The archive member, when read from an archive. */
  member?: string;
  from: 'dataDir' | 'cache' | 'download';
  /** What was checked against the published values ([] with verify: false). */
  verified: Check[];
}

export type LoadedDataset<S extends SplitName = SplitName> = { [K in S]: Split } & {
  /** The spec id: 'mnist', 'fashion-mnist', 'cifar10'. */
  dataset: string;
  classes: readonly string[];
  sources: FileSource[];
};

/** Which folder a file was found in. */
export type Origin = 'dataDir' | 'cache';

/** One load's resolved folders and options, passed to every step. */
export interface Context {
  m: NodeModules;
  id: string;
  title: string;
  dataDir: string | null;
  cacheDir: string | null;
  download: boolean;
  verify: boolean;
  mirrors: readonly string[];
  options: LoadOptions<SplitName>;
}

/** Resolves the folders (options, else the environment variables and defaults). */
export async function makeContext(
  spec: { id: string; title: string; mirrors: readonly string[] },
  options: LoadOptions<SplitName>,
): Promise<Context> {
  const m = await nodeModules();
  const dataDir =
    options.dataDir === undefined
      ? await defaultDataDir()
      : options.dataDir === null
        ? null
        : m.path.resolve(options.dataDir);
  const cacheDir =
    options.cacheDir === undefined
      ? await defaultCacheDir()
      : options.cacheDir === null
        ? null
        : m.path.resolve(options.cacheDir);
  return {
    m,
    id: spec.id,
    title: spec.title,
    dataDir,
    cacheDir,
    download: options.download ?? true,
    verify: options.verify ?? true,
    mirrors: options.mirrors ?? spec.mirrors,
    options,
  };
}

/** The splits asked for, deduplicated; refuses unknown names and an empty list. */
export function splitsOf<S extends SplitName>(options: LoadOptions<S>): S[] {
  const splits = options.splits ?? (['train', 'test'] as S[]);
  for (const s of splits) {
    if (s !== 'train' && s !== 'test')
      throw new RangeError(`unknown split ${JSON.stringify(s)}: use 'train' or 'test'`);
  }
  if (splits.length === 0)
    throw new RangeError('splits is empty: ask for at least one of train, test');
  return [...new Set(splits)];
}

/** The image limit of one split, if any; refuses a negative or fractional one. */
export function limitOf(options: LoadOptions<SplitName>, split: SplitName): number | undefined {
  const l = options.limit;
  const v = typeof l === 'number' ? l : l?.[split];
  if (v != null && (!Number.isInteger(v) || v < 0)) {
    throw new RangeError(`limit for ${split} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/** Whether `p` is a regular file (false when missing or unreadable). */
export async function isFile(ctx: Context, p: string): Promise<boolean> {
  return ctx.m.fs.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

function urlOf(base: string, name: string): string {
  return base.endsWith('/') ? base + name : `${base}/${name}`;
}

/** Reports a progress event to options.onProgress, if given. */
export function progress(ctx: Context, event: LoadProgress): void {
  ctx.options.onProgress?.(event);
}

function dirsOf(paths: string[], ctx: Context): string[] {
  return [...new Set(paths.map((p) => ctx.m.path.dirname(p)))];
}

/** Which files are missing, where they were looked for, and where to put them. */
export function missingMessage(
  ctx: Context,
  missing: MissingFile[],
  why: string,
  layout = '',
): string {
  const bySplit = (['train', 'test'] as const)
    .map((s) => {
      const files = missing.filter((f) => f.split === s).map((f) => f.file);
      return files.length ? `${files.join(', ')} (${s})` : '';
    })
    .filter(Boolean)
    .join('; ');
  const searched = dirsOf(
    missing.flatMap((f) => f.searched),
    ctx,
  );
  const { join } = ctx.m.path;
  const [target, tail] = ctx.dataDir
    ? [join(ctx.dataDir, ctx.id), '']
    : ctx.cacheDir
      ? [
          join(ctx.cacheDir, ctx.id),
          ` (or in <folder>/${ctx.id}/ with dataDir: '<folder>' or FA_ROBUST_DATA_DIR=<folder>)`,
        ]
      : [
          `<folder>/${ctx.id}`,
          ` and pass dataDir: '<folder>' (or set FA_ROBUST_DATA_DIR=<folder>)`,
        ];
  return (
    `${ctx.title}: missing ${bySplit}. Looked in ${searched.length ? searched.join(', ') : 'no folder (dataDir and cacheDir are null)'}. ` +
    `${why} Put the files in ${target}/${layout}${tail}; they are published at ${ctx.mirrors.join(' and ') || '(no mirror given)'}`
  );
}

/** Why the missing files cannot be downloaded, or null when they can. */
export function cannotDownload(ctx: Context): string | null {
  if (!ctx.download) return 'Downloading is off (download: false).';
  if (ctx.cacheDir == null) return 'There is no cache folder to download into (cacheDir: null).';
  if (ctx.mirrors.length === 0) return 'No mirror to download from (mirrors: []).';
  return null;
}

/** Downloads one published file into the cache, or throws DownloadError listing every attempt. */
export async function fetchIntoCache(
  ctx: Context,
  name: string,
  checksum: FileChecksum,
  stillMissing: MissingFile[],
): Promise<{ path: string; checks: Check[] }> {
  const dest = ctx.m.path.join(ctx.cacheDir!, ctx.id, name);
  try {
    const { checks } = await downloadVerified(
      ctx.mirrors.map((b) => urlOf(b, name)),
      dest,
      checksum,
      {
        fetch: ctx.options.fetch,
        signal: ctx.options.signal,
        onProgress: (p) => progress(ctx, { phase: 'download', dataset: ctx.id, file: name, ...p }),
      },
    );
    return { path: dest, checks };
  } catch (error) {
    const attempts = (error as { attempts?: DownloadAttempt[] }).attempts;
    if (attempts == null) throw error;
    const lines = attempts.map((a) => `  ${a.url}: ${a.reason}`).join('\n');
    const message =
      `${ctx.title}: could not download ${name}; nothing was cached.\n${lines}\n` +
      missingMessage(ctx, stillMissing, 'Offline or blocked?');
    throw new DownloadError(message, ctx.id, stillMissing, attempts);
  }
}

/** Node's zlib gunzip; a corrupt stream is reported naming `file`. */
export async function gunzipNode(
  ctx: Context,
  bytes: Uint8Array,
  file: string,
): Promise<Uint8Array> {
  const { zlib } = ctx.m;
  try {
    const out = await new Promise<Buffer>((resolve, reject) =>
      zlib.gunzip(bytes, (error, result) => (error ? reject(error) : resolve(result))),
    );
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    throw corruptGzipError(file, error);
  }
}
