import { CIFAR10_IMAGE_BYTES, cifar10RecordCount, decodeCifar10Into } from '../cifar.js';
import {
  ChecksumError,
  DatasetError,
  type DownloadAttempt,
  DownloadError,
  MissingDataError,
  type MissingFile,
} from '../errors.js';
import { corruptGzipError } from '../gzip.js';
import { isGzip, parseIdxSplit } from '../idx.js';
import { CIFAR10, FASHION_MNIST, MNIST } from '../sources.js';
import type {
  Cifar10Spec,
  CifarBatchSpec,
  FileChecksum,
  IdxDatasetSpec,
  IdxFileSpec,
  Split,
  SplitName,
} from '../types.js';
import { downloadVerified } from './download.js';
import { defaultCacheDir, defaultDataDir, type NodeModules, nodeModules } from './env.js';
import { readTarMembers } from './tar.js';
import { type Check, verifyBytes, verifyFile } from './verify.js';

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

type Origin = 'dataDir' | 'cache';

interface Context {
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

async function makeContext(
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

function splitsOf<S extends SplitName>(options: LoadOptions<S>): S[] {
  const splits = options.splits ?? (['train', 'test'] as S[]);
  for (const s of splits) {
    if (s !== 'train' && s !== 'test')
      throw new RangeError(`unknown split ${JSON.stringify(s)}: use 'train' or 'test'`);
  }
  if (splits.length === 0)
    throw new RangeError('splits is empty: ask for at least one of train, test');
  return [...new Set(splits)];
}

function limitOf(options: LoadOptions<SplitName>, split: SplitName): number | undefined {
  const l = options.limit;
  const v = typeof l === 'number' ? l : l?.[split];
  if (v != null && (!Number.isInteger(v) || v < 0)) {
    throw new RangeError(`limit for ${split} must be a non-negative integer, got ${v}`);
  }
  return v;
}

async function isFile(ctx: Context, p: string): Promise<boolean> {
  return ctx.m.fs.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

function urlOf(base: string, name: string): string {
  return base.endsWith('/') ? base + name : `${base}/${name}`;
}

function progress(ctx: Context, event: LoadProgress): void {
  ctx.options.onProgress?.(event);
}

function dirsOf(paths: string[], ctx: Context): string[] {
  return [...new Set(paths.map((p) => ctx.m.path.dirname(p)))];
}

function missingMessage(ctx: Context, missing: MissingFile[], why: string, layout = ''): string {
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

function cannotDownload(ctx: Context): string | null {
  if (!ctx.download) return 'Downloading is off (download: false).';
  if (ctx.cacheDir == null) return 'There is no cache folder to download into (cacheDir: null).';
  if (ctx.mirrors.length === 0) return 'No mirror to download from (mirrors: []).';
  return null;
}

/** Downloads one published file into the cache, or throws DownloadError listing every attempt. */
async function fetchIntoCache(
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

async function gunzipNode(ctx: Context, bytes: Uint8Array, file: string): Promise<Uint8Array> {
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

// ---------------------------------------------------------------------------------------------
// IDX datasets (MNIST, Fashion-MNIST, ...)

interface IdxCandidate {
  path: string;
  checksum: FileChecksum | null;
  from: Origin;
}

interface IdxPlan {
  split: SplitName;
  file: IdxFileSpec;
  found: (IdxCandidate & { downloaded?: Check[] }) | null;
  searched: string[];
}

function idxCandidates(ctx: Context, file: IdxFileSpec): IdxCandidate[] {
  const { join } = ctx.m.path;
  const names: Array<{ name: string; checksum: FileChecksum | null }> = [
    { name: file.name, checksum: file },
  ];
  if (file.raw) names.push({ name: file.raw.name, checksum: file.raw });
  else if (!ctx.verify && file.name.endsWith('.gz'))
    names.push({ name: file.name.slice(0, -3), checksum: null });
  const out: IdxCandidate[] = [];
  const roots: Array<[string[], Origin]> = [];
  if (ctx.dataDir) roots.push([[join(ctx.dataDir, ctx.id), ctx.dataDir], 'dataDir']);
  if (ctx.cacheDir) roots.push([[join(ctx.cacheDir, ctx.id)], 'cache']);
  for (const [dirs, from] of roots) {
    for (const dir of dirs)
      for (const n of names) out.push({ path: join(dir, n.name), checksum: n.checksum, from });
  }
  return out;
}

async function planIdx(
  ctx: Context,
  spec: IdxDatasetSpec,
  splits: readonly SplitName[],
): Promise<IdxPlan[]> {
  const plans: IdxPlan[] = [];
  for (const split of splits) {
    for (const file of [spec.files[split].images, spec.files[split].labels]) {
      const candidates = idxCandidates(ctx, file);
      let found: IdxCandidate | null = null;
      for (const c of candidates) {
        if (await isFile(ctx, c.path)) {
          found = c;
          break;
        }
      }
      plans.push({ split, file, found, searched: candidates.map((c) => c.path) });
    }
  }
  return plans;
}

async function readIdxFile(
  ctx: Context,
  plan: IdxPlan,
  sources: FileSource[],
): Promise<Uint8Array> {
  const found = plan.found!;
  let verified: Check[] = found.downloaded ?? [];
  progress(ctx, { phase: 'read', dataset: ctx.id, file: plan.file.name, path: found.path });
  const bytes = new Uint8Array(await ctx.m.fs.readFile(found.path));
  if (found.downloaded == null && ctx.verify && found.checksum != null) {
    progress(ctx, { phase: 'verify', dataset: ctx.id, file: plan.file.name, path: found.path });
    verified = await verifyBytes(bytes, found.checksum, found.path);
  }
  sources.push({
    file: plan.file.name,
    split: plan.split,
    path: found.path,
    from: found.downloaded ? 'download' : found.from,
    verified,
  });
  return isGzip(bytes) ? gunzipNode(ctx, bytes, found.path) : bytes;
}

/**
 * Loads any dataset published as IDX files (MNIST, Fashion-MNIST, KMNIST, ...) described by
 * `spec`: local folder, then cache, then download; every file verified before use.
 */
export async function loadIdxDataset<S extends SplitName = SplitName>(
  spec: IdxDatasetSpec,
  options: LoadOptions<S> = {},
): Promise<LoadedDataset<S>> {
  const splits = splitsOf(options);
  const ctx = await makeContext(spec, options);
  const limits = new Map(splits.map((s) => [s, limitOf(options, s)]));
  const plans = await planIdx(ctx, spec, splits);
  const missing = () =>
    plans
      .filter((p) => p.found == null)
      .map((p) => ({ file: p.file.name, split: p.split, searched: p.searched }));
  if (missing().length > 0) {
    const why = cannotDownload(ctx);
    if (why) throw new MissingDataError(missingMessage(ctx, missing(), why), ctx.id, missing());
    for (const plan of plans) {
      if (plan.found != null) continue;
      const { path, checks } = await fetchIntoCache(ctx, plan.file.name, plan.file, missing());
      plan.found = { path, checksum: plan.file, from: 'cache', downloaded: checks };
    }
  }
  const sources: FileSource[] = [];
  const result: Record<string, unknown> = { dataset: spec.id, classes: spec.classes, sources };
  for (const split of splits) {
    const [images, labels] = plans.filter((p) => p.split === split) as [IdxPlan, IdxPlan];
    const imageBytes = await readIdxFile(ctx, images, sources);
    const labelBytes = await readIdxFile(ctx, labels, sources);
    result[split] = parseIdxSplit(imageBytes, labelBytes, {
      classes: spec.classes,
      limit: limits.get(split),
      files: { images: images.found!.path, labels: labels.found!.path },
    });
  }
  return result as LoadedDataset<S>;
}

/**
 * MNIST (LeCun et al.): 60000 train / 10000 test digits, 28x28x1.
 * @example const { train, test } = await loadMnist({ dataDir: '../shared/data' });
 */
export function loadMnist<S extends SplitName = SplitName>(
  options: LoadOptions<S> = {},
): Promise<LoadedDataset<S>> {
  return loadIdxDataset(MNIST, options);
}

/** Fashion-MNIST (Xiao et al. 2017): 60000 train / 10000 test clothing images, 28x28x1. */
export function loadFashionMnist<S extends SplitName = SplitName>(
  options: LoadOptions<S> = {},
): Promise<LoadedDataset<S>> {
  return loadIdxDataset(FASHION_MNIST, options);
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10

type CifarLocation =
  | { kind: 'file'; path: string; from: Origin }
  | { kind: 'archive'; path: string; member: string; from: Origin; downloaded?: Check[] };

interface CifarPlan {
  split: SplitName;
  batch: CifarBatchSpec;
  found: CifarLocation | null;
  searched: string[];
}

function neededBatches(
  list: readonly CifarBatchSpec[],
  limit: number | undefined,
): CifarBatchSpec[] {
  if (limit == null) return [...list];
  const out: CifarBatchSpec[] = [];
  let n = 0;
  for (const b of list) {
    if (n >= limit) break;
    out.push(b);
    n += b.records;
  }
  return out;
}

async function planCifar(
  ctx: Context,
  spec: Cifar10Spec,
  wanted: Array<{ split: SplitName; batch: CifarBatchSpec }>,
): Promise<CifarPlan[]> {
  const { join } = ctx.m.path;
  const places: Array<{ dirs: string[]; archives: string[]; from: Origin }> = [];
  if (ctx.dataDir) {
    const d = ctx.dataDir;
    places.push({
      dirs: [join(d, spec.id, spec.folder), join(d, spec.folder), join(d, spec.id), d],
      archives: [join(d, spec.id, spec.archive.name), join(d, spec.archive.name)],
      from: 'dataDir',
    });
  }
  if (ctx.cacheDir) {
    const c = join(ctx.cacheDir, spec.id);
    places.push({
      dirs: [join(c, spec.folder)],
      archives: [join(c, spec.archive.name)],
      from: 'cache',
    });
  }
  const archiveFound = new Map<string, boolean>();
  const archiveExists = async (p: string) => {
    if (!archiveFound.has(p)) archiveFound.set(p, await isFile(ctx, p));
    return archiveFound.get(p)!;
  };
  const plans: CifarPlan[] = [];
  for (const { split, batch } of wanted) {
    const searched: string[] = [];
    let found: CifarLocation | null = null;
    search: for (const place of places) {
      for (const dir of place.dirs) {
        const p = join(dir, batch.name);
        searched.push(p);
        if (await isFile(ctx, p)) {
          found = { kind: 'file', path: p, from: place.from };
          break search;
        }
      }
      for (const a of place.archives) {
        searched.push(a);
        if (await archiveExists(a)) {
          found = {
            kind: 'archive',
            path: a,
            member: `${spec.folder}/${batch.name}`,
            from: place.from,
          };
          break search;
        }
      }
    }
    plans.push({ split, batch, found, searched });
  }
  return plans;
}

/**
 * CIFAR-10 (Krizhevsky 2009): 50000 train / 10000 test colour images, 32x32x3, from the binary
 * release: a folder of batch files (cifar-10-batches-bin/) or the cifar-10-binary.tar.gz archive.
 * With a train limit only the batches holding those images are read.
 */
export async function loadCifar10<S extends SplitName = SplitName>(
  options: LoadOptions<S> & { spec?: Cifar10Spec } = {},
): Promise<LoadedDataset<S>> {
  const spec = options.spec ?? CIFAR10;
  const splits = splitsOf(options);
  const ctx = await makeContext(spec, options);
  const limits = new Map(splits.map((s) => [s, limitOf(options, s)]));
  const wanted = splits.flatMap((split) =>
    neededBatches(spec.batches[split], limits.get(split)).map((batch) => ({ split, batch })),
  );
  const plans = await planCifar(ctx, spec, wanted);

  const missing = plans
    .filter((p) => p.found == null)
    .map((p) => ({ file: p.batch.name, split: p.split, searched: p.searched }));
  if (missing.length > 0) {
    const why = cannotDownload(ctx);
    if (why) {
      const layout = ` (as ${spec.folder}/*.bin or the ${spec.archive.name} archive)`;
      throw new MissingDataError(missingMessage(ctx, missing, why, layout), ctx.id, missing);
    }
    const { path, checks } = await fetchIntoCache(ctx, spec.archive.name, spec.archive, missing);
    for (const p of plans) {
      if (p.found == null) {
        p.found = {
          kind: 'archive',
          path,
          member: `${spec.folder}/${p.batch.name}`,
          from: 'cache',
          downloaded: checks,
        };
      }
    }
  }

  // Archives: verify each once (streamed), then read the members needed from it.
  const archiveChecks = new Map<string, Check[]>();
  const members = new Map<string, Uint8Array>();
  const byArchive = new Map<string, CifarPlan[]>();
  for (const p of plans) {
    if (p.found?.kind !== 'archive') continue;
    byArchive.set(p.found.path, [...(byArchive.get(p.found.path) ?? []), p]);
  }
  for (const [archive, list] of byArchive) {
    const first = list[0]!.found as Extract<CifarLocation, { kind: 'archive' }>;
    let checks: Check[] = first.downloaded ?? [];
    if (first.downloaded == null && ctx.verify) {
      progress(ctx, { phase: 'verify', dataset: ctx.id, file: spec.archive.name, path: archive });
      checks = await verifyFile(archive, spec.archive);
    }
    archiveChecks.set(archive, checks);
    progress(ctx, { phase: 'read', dataset: ctx.id, file: spec.archive.name, path: archive });
    const read = await readTarMembers(
      archive,
      list.map((p) => (p.found as { member: string }).member),
    );
    for (const [member, bytes] of read) members.set(`${archive}\0${member}`, bytes);
  }

  const sources: FileSource[] = [];
  const result: Record<string, unknown> = { dataset: spec.id, classes: spec.classes, sources };
  for (const split of splits) {
    const list = plans.filter((p) => p.split === split);
    // Sizes first (stat or member length), so the output is allocated once, at its final size.
    const items: Array<{ plan: CifarPlan; name: string; size: number; bytes?: Uint8Array }> = [];
    for (const plan of list) {
      const f = plan.found!;
      if (f.kind === 'file') {
        items.push({ plan, name: f.path, size: (await ctx.m.fs.stat(f.path)).size });
      } else {
        const bytes = members.get(`${f.path}\0${f.member}`)!;
        items.push({ plan, name: `${f.path}:${f.member}`, size: bytes.length, bytes });
      }
    }
    for (const it of items) {
      if (ctx.verify && it.size !== it.plan.batch.bytes) {
        throw new ChecksumError(
          it.name,
          'bytes',
          String(it.plan.batch.bytes),
          String(it.size),
          'The file is truncated or is not the published batch; nothing was loaded',
        );
      }
    }
    const counts = items.map((it) => cifar10RecordCount(it.size, it.name));
    const available = counts.reduce((a, b) => a + b, 0);
    const n = Math.min(limits.get(split) ?? available, available);
    const images = new Float32Array(n * CIFAR10_IMAGE_BYTES);
    const labels = new Uint8Array(n);
    let offset = 0;
    for (const [i, it] of items.entries()) {
      const f = it.plan.found!;
      progress(ctx, { phase: 'read', dataset: ctx.id, file: it.plan.batch.name, path: it.name });
      const bytes = it.bytes ?? new Uint8Array(await ctx.m.fs.readFile(it.name));
      let verified: Check[] = [];
      if (ctx.verify) {
        progress(ctx, {
          phase: 'verify',
          dataset: ctx.id,
          file: it.plan.batch.name,
          path: it.name,
        });
        verified = await verifyBytes(bytes, it.plan.batch, it.name);
      } else if (f.kind === 'archive' && f.downloaded) {
        verified = archiveChecks.get(f.path) ?? [];
      }
      const take = Math.min(counts[i]!, n - offset);
      decodeCifar10Into(bytes, it.name, take, images, labels, offset);
      offset += take;
      sources.push({
        file: it.plan.batch.name,
        split,
        path: f.path,
        ...(f.kind === 'archive' ? { member: f.member } : {}),
        from: f.kind === 'archive' && f.downloaded ? 'download' : f.from,
        verified,
      });
    }
    result[split] = {
      images,
      labels,
      shape: [n, 32, 32, 3],
      classes: spec.classes,
    } satisfies Split;
  }
  return result as LoadedDataset<S>;
}

// ---------------------------------------------------------------------------------------------
// Locating without loading

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
