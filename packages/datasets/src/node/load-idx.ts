import { MissingDataError } from '../errors.js';
import { isGzip, parseIdxSplit } from '../idx.js';
import { FASHION_MNIST, MNIST } from '../sources.js';
import type { FileChecksum, IdxDatasetSpec, IdxFileSpec, SplitName } from '../types.js';
import {
  type Context,
  cannotDownload,
  type FileSource,
  fetchIntoCache,
  gunzipNode,
  isFile,
  type LoadedDataset,
  type LoadOptions,
  limitOf,
  makeContext,
  missingMessage,
  type Origin,
  progress,
  splitsOf,
} from './context.js';
import { type Check, verifyBytes } from './verify.js';

// IDX datasets (MNIST, Fashion-MNIST, ...): one images and one labels file per split, gzipped
// or not, in the data folder or the cache, downloaded if in neither.

export interface IdxCandidate {
  path: string;
  checksum: FileChecksum | null;
  from: Origin;
}

export interface IdxPlan {
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

/** Where each file of the splits is: the first candidate path that exists, or null. */
export async function planIdx(
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
