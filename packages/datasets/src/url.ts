/**
 * Loading from a URL the caller gives, with `fetch`: for the browser (and any runtime with
 * fetch and DecompressionStream, Node included). Every file is checked against its published
 * size and digests before it is parsed; progress is reported per file as bytes arrive.
 */
import { md5 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { parseCifar10 } from './cifar.js';
import { ChecksumError, DatasetError } from './errors.js';
import { gunzipIfNeeded } from './gzip.js';
import { isGzip, parseIdxSplit } from './idx.js';
import { CIFAR10, FASHION_MNIST, MNIST } from './sources.js';
import type { Cifar10Spec, FileChecksum, IdxDatasetSpec, Split, SplitName } from './types.js';

export interface UrlLoadProgress {
  /** The file, as published (e.g. 't10k-images-idx3-ubyte.gz'). */
  file: string;
  url: string;
  /** Bytes received so far, and the file's published size. */
  loaded: number;
  total: number;
  /** 'fetch' while bytes arrive; 'done' once the file is verified. */
  phase: 'fetch' | 'done';
}

export interface UrlLoadOptions<S extends SplitName = SplitName> {
  /**
   * The folder URL holding the dataset's published files: for MNIST and Fashion-MNIST the four
   * .gz files, for CIFAR-10 the batch files (data_batch_1.bin ... test_batch.bin). A relative
   * URL is resolved against the page (`location.href`) where there is one.
   */
  baseUrl: string | URL;
  /** Which splits to load. Default both. */
  splits?: readonly S[];
  /** Images per split: the first `limit` (the whole file is still fetched and verified). */
  limit?: number;
  /** Check each file's size and digests (md5, and sha256 where published). Default true. */
  verify?: boolean;
  onProgress?: (e: UrlLoadProgress) => void;
  /** The fetch to use. Default: the global one. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export type UrlLoadedDataset<S extends SplitName = SplitName> = { [K in S]: Split } & {
  /**
   * Every file fetched: its URL, what was verified ('bytes', 'md5', 'sha256'), and `decoded`
   * where the server sent a .gz file with `Content-Encoding: gzip` (as some static servers do),
   * so that fetch returned it gunzipped: then the extracted file's digests were checked.
   */
  sources: { file: string; url: string; verified: string[]; decoded?: true }[];
};

/** MNIST from the four published .gz files under `baseUrl`. */
export function loadMnistFromUrl<S extends SplitName = SplitName>(
  options: UrlLoadOptions<S>,
): Promise<UrlLoadedDataset<S>> {
  return loadIdxFromUrl(MNIST, options);
}

/** Fashion-MNIST from its four published .gz files under `baseUrl`. */
export function loadFashionMnistFromUrl<S extends SplitName = SplitName>(
  options: UrlLoadOptions<S>,
): Promise<UrlLoadedDataset<S>> {
  return loadIdxFromUrl(FASHION_MNIST, options);
}

/** CIFAR-10 from the extracted batch files of the binary release under `baseUrl`. */
export async function loadCifar10FromUrl<S extends SplitName = SplitName>(
  options: UrlLoadOptions<S>,
  spec: Cifar10Spec = CIFAR10,
): Promise<UrlLoadedDataset<S>> {
  const ctx = context(spec.title, options);
  const out: Record<string, unknown> = { sources: ctx.sources };
  for (const split of ctx.splits) {
    const files = [];
    for (const batch of spec.batches[split]) files.push(await ctx.get(batch.name, batch));
    out[split] = parseCifar10(files, {
      files: spec.batches[split].map((b) => b.name),
      ...(options.limit != null ? { limit: options.limit } : {}),
    });
  }
  return out as UrlLoadedDataset<S>;
}

/** Any IDX dataset described like MNIST (sources.ts), from its .gz files under `baseUrl`. */
export async function loadIdxFromUrl<S extends SplitName = SplitName>(
  spec: IdxDatasetSpec,
  options: UrlLoadOptions<S>,
): Promise<UrlLoadedDataset<S>> {
  const ctx = context(spec.title, options);
  const out: Record<string, unknown> = { sources: ctx.sources };
  for (const split of ctx.splits) {
    const { images, labels } = spec.files[split];
    const [img, lab] = [await ctx.get(images.name, images), await ctx.get(labels.name, labels)];
    out[split] = parseIdxSplit(
      await gunzipIfNeeded(img, { file: images.name }),
      await gunzipIfNeeded(lab, { file: labels.name }),
      {
        classes: spec.classes,
        files: { images: images.name, labels: labels.name },
        ...(options.limit != null ? { limit: options.limit } : {}),
      },
    );
  }
  return out as UrlLoadedDataset<S>;
}

function context<S extends SplitName>(title: string, options: UrlLoadOptions<S>) {
  if (options == null || (typeof options.baseUrl !== 'string' && !(options.baseUrl instanceof URL)))
    throw new DatasetError(
      `${title}: options.baseUrl: expected the URL of the folder holding the files`,
    );
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let base: URL;
  try {
    const text = String(options.baseUrl);
    base = new URL(text.endsWith('/') ? text : `${text}/`, page);
  } catch {
    throw new DatasetError(
      `${title}: options.baseUrl: expected an absolute URL${page ? ' or one relative to the page' : ''}, found ${JSON.stringify(String(options.baseUrl))}`,
    );
  }
  const splits = (options.splits ?? ['train', 'test']) as readonly S[];
  for (const s of splits)
    if (s !== 'train' && s !== 'test')
      throw new DatasetError(
        `${title}: options.splits: expected 'train' and/or 'test', found ${JSON.stringify(s)}`,
      );
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function')
    throw new DatasetError(`${title}: no fetch in this runtime: pass options.fetch`);
  const sources: UrlLoadedDataset['sources'] = [];
  const get = async (
    name: string,
    published: FileChecksum & { raw?: FileChecksum & { name: string } },
  ): Promise<Uint8Array> => {
    const url = new URL(name, base).href;
    let res: Response;
    try {
      res = await doFetch(url, options.signal ? { signal: options.signal } : {});
    } catch (e) {
      throw new DatasetError(`${title}: could not fetch ${url}: ${(e as Error).message}`, name, {
        cause: e,
      });
    }
    if (!res.ok)
      throw new DatasetError(
        `${title}: could not fetch ${url}: HTTP ${res.status} ${res.statusText}`,
        name,
      );
    // a .gz served with Content-Encoding: gzip arrives gunzipped (fetch decodes it)
    const encoded = /gzip/i.test(res.headers.get('content-encoding') ?? '');
    const total = encoded && published.raw ? published.raw.bytes : published.bytes;
    const bytes = await readBody(res, (loaded) =>
      options.onProgress?.({ file: name, url, loaded, total, phase: 'fetch' }),
    );
    const decoded = name.endsWith('.gz') && !isGzip(bytes) && bytes.length !== published.bytes;
    const verified: string[] = [];
    if (options.verify !== false) {
      let sum: FileChecksum = published;
      let what = name;
      if (decoded) {
        if (!published.raw)
          throw new DatasetError(
            `${title}: ${url} arrived gunzipped (${bytes.length} bytes: the server sent it with Content-Encoding: gzip) and no digest of the extracted file is known to verify it. Serve .gz files without Content-Encoding, or pass verify: false`,
            name,
          );
        sum = published.raw;
        what = `${name} (gunzipped by the server: ${published.raw.name})`;
      }
      if (bytes.length !== sum.bytes)
        throw new ChecksumError(what, 'bytes', String(sum.bytes), String(bytes.length));
      verified.push('bytes');
      const m = bytesToHex(md5(bytes));
      if (m !== sum.md5) throw new ChecksumError(what, 'md5', sum.md5, m);
      verified.push('md5');
      if (sum.sha256) {
        const h = bytesToHex(sha256(bytes));
        if (h !== sum.sha256) throw new ChecksumError(what, 'sha256', sum.sha256, h);
        verified.push('sha256');
      }
    }
    sources.push({ file: name, url, verified, ...(decoded ? { decoded: true as const } : {}) });
    options.onProgress?.({ file: name, url, loaded: bytes.length, total, phase: 'done' });
    return bytes;
  };
  return { splits, sources, get };
}

/** The whole body, reporting the bytes received as they arrive. */
async function readBody(res: Response, progress: (loaded: number) => void): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    progress(loaded);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
