import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumError, DownloadError, MissingDataError } from '../errors.js';
import { parseIdxSplit } from '../idx.js';
import {
  closedPort,
  corrupted,
  cutOff,
  good,
  type Handler,
  startServer,
  type TestServer,
  tempDir,
  tinyIdx,
} from '../test-utils.js';
import { downloadVerified } from './download.js';
import { type LoadProgress, loadIdxDataset } from './load.js';

const tiny = tinyIdx('dl');
const { spec } = tiny;
const names = Object.keys(tiny.gz);

/** Routes /<kind>/<file> for every published file of the tiny dataset. */
function routes(kind: string, handler: (b: Uint8Array) => Handler): Record<string, Handler> {
  return Object.fromEntries(names.map((n) => [`/${kind}/${n}`, handler(tiny.gz[n]!)]));
}

let server: TestServer;
let root: string;
beforeAll(async () => {
  server = await startServer({
    ...routes('good', good),
    ...routes('corrupt', corrupted),
    ...routes('cut', cutOff),
  });
  root = await tempDir('dl');
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

let n = 0;
const freshCache = () => join(root, `cache${n++}`);

/** Every file under dir, recursively (relative paths); [] when dir does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const expectedTest = () =>
  parseIdxSplit(tiny.raw['t10k-images-idx3-ubyte']!, tiny.raw['t10k-labels-idx1-ubyte']!, {
    classes: spec.classes,
  });

describe('downloads from a local HTTP server', () => {
  it('downloads, verifies and caches each file; the next load reads the cache without a request', async () => {
    const cacheDir = freshCache();
    const events: LoadProgress[] = [];
    const d = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      mirrors: [`${server.url}/good/`],
      onProgress: (e) => events.push(e),
    });
    expect(d.test).toEqual(expectedTest());
    expect(d.sources.map((s) => [s.from, s.verified])).toEqual(
      Array(4).fill(['download', ['bytes', 'md5', 'sha256']]),
    );
    expect(await filesUnder(cacheDir)).toEqual(names.map((x) => `dl/${x}`).sort());
    for (const x of names)
      expect(new Uint8Array(await readFile(join(cacheDir, 'dl', x)))).toEqual(tiny.gz[x]);
    const downloads = events.filter((e) => e.phase === 'download');
    const last = downloads.filter((e) => e.file === 'train-images-idx3-ubyte.gz').at(-1)!;
    expect(
      last.phase === 'download' &&
        last.loaded === last.total &&
        last.total === tiny.gz['train-images-idx3-ubyte.gz']!.length,
    ).toBe(true);

    const hits = [...server.hits.values()].reduce((a, b) => a + b, 0);
    const again = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      mirrors: [`${server.url}/good/`],
    });
    expect([...server.hits.values()].reduce((a, b) => a + b, 0)).toBe(hits);
    expect(again.sources.map((s) => [s.from, s.verified.length])).toEqual(
      Array(4).fill(['cache', 3]),
    );
    expect(again.test).toEqual(d.test);
  });

  it('refuses a corrupted download: DownloadError with the checksum, and nothing cached', async () => {
    const cacheDir = freshCache();
    const e = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      mirrors: [`${server.url}/corrupt/`],
    }).catch((x) => x);
    expect(e).toBeInstanceOf(DownloadError);
    expect(e).toBeInstanceOf(MissingDataError);
    expect(e.attempts).toHaveLength(1);
    expect(e.attempts[0].error).toBeInstanceOf(ChecksumError);
    expect(e.attempts[0].reason).toMatch(/md5 mismatch/);
    expect(e.message).toMatch(/could not download train-images-idx3-ubyte\.gz; nothing was cached/);
    expect(e.message).toContain(`${server.url}/corrupt/train-images-idx3-ubyte.gz: `);
    expect(await filesUnder(cacheDir)).toEqual([]);
  });

  it('refuses a transfer cut off mid-way: nothing cached, not even a partial file', async () => {
    const cacheDir = freshCache();
    const e = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      mirrors: [`${server.url}/cut/`],
    }).catch((x) => x);
    expect(e).toBeInstanceOf(DownloadError);
    const size = tiny.gz['train-images-idx3-ubyte.gz']!.length;
    expect(e.attempts[0].reason).toMatch(
      new RegExp(`connection closed after ${size >> 1} of ${size} bytes`),
    );
    expect(await filesUnder(cacheDir)).toEqual([]);
  });

  it('tries the mirrors in order and keeps the first good copy', async () => {
    const cacheDir = freshCache();
    const before = server.hits.get('/good/t10k-labels-idx1-ubyte.gz') ?? 0;
    const d = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      splits: ['test'],
      mirrors: [
        `${server.url}/cut/`,
        `${server.url}/missing`,
        `${server.url}/corrupt/`,
        `${server.url}/good/`,
      ],
    });
    expect(d.test).toEqual(expectedTest());
    expect(server.hits.get('/missing/t10k-labels-idx1-ubyte.gz')).toBeGreaterThan(0);
    expect(server.hits.get('/good/t10k-labels-idx1-ubyte.gz')).toBe(before + 1);
    expect(await filesUnder(cacheDir)).toEqual([
      'dl/t10k-images-idx3-ubyte.gz',
      'dl/t10k-labels-idx1-ubyte.gz',
    ]);
  });

  it('offline: an error naming the missing files, the refused connection and where to put the files', async () => {
    const cacheDir = freshCache();
    const port = await closedPort();
    const e = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      splits: ['test'],
      mirrors: [`http://127.0.0.1:${port}/`],
    }).catch((x) => x);
    expect(e).toBeInstanceOf(MissingDataError);
    expect(e.attempts[0].reason).toMatch(/fetch failed \(ECONNREFUSED\)/);
    expect(e.missing.map((m: { file: string }) => m.file)).toEqual([
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ]);
    expect(e.message).toContain(`Put the files in ${join(cacheDir, 'dl')}/`);
    expect(await filesUnder(cacheDir)).toEqual([]);
  });

  it('uses an injected fetch (no network at all), and reports HTTP errors', async () => {
    const cacheDir = freshCache();
    const asked: string[] = [];
    const fakeFetch = (async (url: string | URL | Request) => {
      const u = String(url);
      asked.push(u);
      const name = u.slice(u.lastIndexOf('/') + 1);
      return u.startsWith('mem://ok/')
        ? new Response(tiny.gz[name] as Uint8Array<ArrayBuffer>, { status: 200 })
        : new Response('gone', { status: 410, statusText: 'Gone' });
    }) as typeof fetch;
    const d = await loadIdxDataset(spec, {
      dataDir: null,
      cacheDir,
      splits: ['test'],
      fetch: fakeFetch,
      mirrors: ['mem://gone', 'mem://ok/'],
    });
    expect(d.test).toEqual(expectedTest());
    expect(asked).toEqual([
      'mem://gone/t10k-images-idx3-ubyte.gz',
      'mem://ok/t10k-images-idx3-ubyte.gz',
      'mem://gone/t10k-labels-idx1-ubyte.gz',
      'mem://ok/t10k-labels-idx1-ubyte.gz',
    ]);
    const e = await downloadVerified(
      ['mem://gone/x'],
      join(cacheDir, 'x'),
      spec.files.test.labels,
      {
        fetch: fakeFetch,
      },
    ).catch((x) => x);
    expect(e.attempts[0].reason).toBe('HTTP 410 Gone');
  });

  it('refuses a body longer than the published size without reading it all', async () => {
    const cacheDir = freshCache();
    const big = new Uint8Array(tiny.gz['t10k-labels-idx1-ubyte.gz']!.length * 4);
    const e = await downloadVerified(
      ['mem://big'],
      join(cacheDir, 'x.gz'),
      spec.files.test.labels,
      { fetch: (async () => new Response(big)) as typeof fetch },
    ).catch((x) => x);
    expect(e.attempts[0].error).toBeInstanceOf(ChecksumError);
    expect(e.attempts[0].reason).toMatch(
      /size mismatch: expected \d+ bytes, found more than \d+ bytes/,
    );
    expect(await filesUnder(cacheDir)).toEqual([]);
  });
});
