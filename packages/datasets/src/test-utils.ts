/**
 * Test helpers (not exported by the package): synthetic IDX / CIFAR files, specs whose
 * checksums are those of the synthetic files, a local HTTP server, the real data folder.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { create as tarCreate } from 'tar';
import { CIFAR10_CLASSES } from './sources.js';
import { mulberry32 } from './split.js';
import type { Cifar10Spec, FileChecksum, IdxDatasetSpec } from './types.js';

export function randomBytes(n: number, seed: number, below = 256): Uint8Array {
  const rand = mulberry32(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * below);
  return out;
}

function be32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** An IDX images file (magic 0x803) of n seeded random rows x cols images. */
export function idxImages(n: number, rows: number, cols: number, seed: number): Uint8Array {
  return new Uint8Array([
    0,
    0,
    8,
    3,
    ...be32(n),
    ...be32(rows),
    ...be32(cols),
    ...randomBytes(n * rows * cols, seed),
  ]);
}

/** An IDX labels file (magic 0x801) of n seeded random labels below numClasses. */
export function idxLabels(n: number, seed: number, numClasses = 10): Uint8Array {
  return new Uint8Array([0, 0, 8, 1, ...be32(n), ...randomBytes(n, seed, numClasses)]);
}

/** A CIFAR-10 binary batch of n records: seeded labels and pixels. */
export function cifarBatch(n: number, seed: number): Uint8Array {
  const out = randomBytes(n * 3073, seed);
  const labels = randomBytes(n, seed + 1, 10);
  for (let i = 0; i < n; i++) out[i * 3073] = labels[i]!;
  return out;
}

export const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const checksum = (b: Uint8Array, withSha = true): FileChecksum => ({
  bytes: b.length,
  md5: md5(b),
  ...(withSha ? { sha256: sha256(b) } : {}),
});

/** A tiny IDX dataset: raw bytes keyed by the gunzipped name, gzip bytes by the published name, its spec. */
export interface TinyIdx {
  spec: IdxDatasetSpec;
  raw: Record<string, Uint8Array>;
  gz: Record<string, Uint8Array>;
}

export const IDX_NAMES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;

export function tinyIdx(id = 'tiny', counts = { train: 12, test: 7 }, size = 4): TinyIdx {
  const raw: Record<string, Uint8Array> = {};
  const gz: Record<string, Uint8Array> = {};
  const files = {} as IdxDatasetSpec['files'];
  let seed = 1;
  for (const split of ['train', 'test'] as const) {
    const r = {
      images: idxImages(counts[split], size, size, seed++),
      labels: idxLabels(counts[split], seed++),
    };
    const entry = {} as IdxDatasetSpec['files']['train'];
    for (const role of ['images', 'labels'] as const) {
      const name = IDX_NAMES[split][role];
      raw[name.replace(/\.gz$/, '')] = r[role];
      gz[name] = new Uint8Array(gzipSync(r[role]));
      entry[role] = {
        name,
        ...checksum(gz[name]!),
        raw: { name: name.replace(/\.gz$/, ''), ...checksum(r[role]) },
      };
    }
    files[split] = entry;
  }
  return {
    spec: {
      id,
      title: `Tiny ${id}`,
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      mirrors: ['http://127.0.0.1:9/unused/'],
      records: counts,
      files,
    },
    raw,
    gz,
  };
}

/** A tiny CIFAR-10 release: two train batches, one test batch, the .bin bytes and its spec. */
export interface TinyCifar {
  spec: Cifar10Spec;
  bins: Record<string, Uint8Array>;
}

export function tinyCifar(records = { train: [3, 4], test: 5 }): TinyCifar {
  const bins: Record<string, Uint8Array> = {};
  const batch = (name: string, n: number, seed: number) => {
    bins[name] = cifarBatch(n, seed);
    return { name, records: n, ...checksum(bins[name]!, false) };
  };
  return {
    spec: {
      id: 'cifar10',
      title: 'Tiny CIFAR-10',
      classes: [...CIFAR10_CLASSES],
      mirrors: ['http://127.0.0.1:9/unused/'],
      archive: { name: 'cifar-10-binary.tar.gz', bytes: 0, md5: '' },
      folder: 'cifar-10-batches-bin',
      batches: {
        train: records.train.map((n, i) => batch(`data_batch_${i + 1}.bin`, n, 10 + i)),
        test: [batch('test_batch.bin', records.test, 20)],
      },
    },
    bins,
  };
}

/** A tar.gz (or plain tar) holding `files` (path inside the archive -> bytes), built with node-tar. */
export async function tarGz(files: Record<string, Uint8Array>, gzip = true): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'fa-robust-tar-'));
  try {
    for (const [name, bytes] of Object.entries(files)) {
      await mkdir(dirname(join(dir, 'in', name)), { recursive: true });
      await writeFile(join(dir, 'in', name), bytes);
    }
    const out = join(dir, 'out.tar.gz');
    await tarCreate({ gzip, cwd: join(dir, 'in'), file: out, portable: true }, Object.keys(files));
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function writeFiles(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), bytes);
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Serves `bytes` whole. */
export const good =
  (bytes: Uint8Array): Handler =>
  (_req, res) => {
    res.writeHead(200, {
      'Content-Length': bytes.length,
      'Content-Type': 'application/octet-stream',
    });
    res.end(bytes);
  };

/** Serves `bytes` with one byte flipped in the middle: same length, wrong digest. */
export const corrupted =
  (bytes: Uint8Array): Handler =>
  (req, res) => {
    const bad = bytes.slice();
    bad[bad.length >> 1]! ^= 0xff;
    good(bad)(req, res);
  };

/** Announces the full length, sends half, then destroys the socket: a transfer cut off. */
export const cutOff =
  (bytes: Uint8Array): Handler =>
  (_req, res) => {
    res.writeHead(200, {
      'Content-Length': bytes.length,
      'Content-Type': 'application/octet-stream',
    });
    res.write(bytes.subarray(0, bytes.length >> 1), () =>
      setTimeout(() => res.socket?.destroy(), 20),
    );
  };

export const notFound: Handler = (_req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('no such file');
};

export interface TestServer {
  /** http://127.0.0.1:<port> (no trailing slash). */
  url: string;
  /** Requests per path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 and a free port; `routes` maps a path to its handler. */
export async function startServer(routes: Record<string, Handler>): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    (routes[path] ?? notFound)(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on: a server is started on a free port, then closed. */
export async function closedPort(): Promise<number> {
  const s = await startServer({});
  const port = Number(new URL(s.url).port);
  await s.close();
  return port;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Where the real data folder should be: $FA_ROBUST_DATA_DIR (relative paths resolved against the
 * repository root, as CI sets it), else the conventional ../shared/data next to the repository.
 */
export const realDataCandidate: string = (() => {
  const v = process.env.FA_ROBUST_DATA_DIR;
  return v ? (isAbsolute(v) ? v : resolve(repoRoot, v)) : resolve(repoRoot, '../shared/data');
})();

/** realDataCandidate when it exists, else null. */
export function realDataDir(): string | null {
  return existsSync(realDataCandidate) ? realDataCandidate : null;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `fa-robust-${prefix}-`));
}
