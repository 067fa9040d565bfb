import { CIFAR10_IMAGE_BYTES, cifar10RecordCount, decodeCifar10Into } from '../cifar.js';
import { ChecksumError, MissingDataError } from '../errors.js';
import { CIFAR10 } from '../sources.js';
import type { Cifar10Spec, CifarBatchSpec, Split, SplitName } from '../types.js';
import {
  type Context,
  cannotDownload,
  type FileSource,
  fetchIntoCache,
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
import { readTarMembers } from './tar.js';
import { type Check, verifyBytes, verifyFile } from './verify.js';

// CIFAR-10: the binary release's batch files, as a folder or inside the .tar.gz archive.

export type CifarLocation =
  | { kind: 'file'; path: string; from: Origin }
  | { kind: 'archive'; path: string; member: string; from: Origin; downloaded?: Check[] };

export interface CifarPlan {
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

/**
 * Where each wanted batch is: a batch file in a folder, else a member of an archive (each
 * archive looked for once), or null.
 */
export async function planCifar(
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
