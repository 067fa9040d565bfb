import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChecksumError, DatasetError } from './errors.js';
import {
  corrupted,
  good,
  IDX_NAMES,
  realDataDir,
  startServer,
  tinyCifar,
  tinyIdx,
} from './test-utils.js';
import {
  loadCifar10FromUrl,
  loadIdxFromUrl,
  loadMnistFromUrl,
  type UrlLoadProgress,
} from './url.js';

describe('loading from a URL with fetch (the browser loaders)', () => {
  it('fetches, verifies, gunzips and parses an IDX dataset, with progress per file', async () => {
    const t = tinyIdx();
    const routes = Object.fromEntries(Object.entries(t.gz).map(([n, b]) => [`/d/${n}`, good(b)]));
    const server = await startServer(routes);
    try {
      const events: UrlLoadProgress[] = [];
      const r = await loadIdxFromUrl(t.spec, {
        baseUrl: `${server.url}/d`,
        onProgress: (e) => events.push(e),
      });
      expect(r.train.shape).toEqual([12, 4, 4, 1]);
      expect(r.test.shape).toEqual([7, 4, 4, 1]);
      expect(Array.from(r.test.labels)).toEqual(
        Array.from(t.raw['t10k-labels-idx1-ubyte']!.subarray(8)),
      );
      expect(r.sources.map((s) => s.verified)).toEqual(Array(4).fill(['bytes', 'md5', 'sha256']));
      expect(r.sources[0]!.url).toBe(`${server.url}/d/${IDX_NAMES.train.images}`);
      // every file ends with a 'done' event at its full size; 'fetch' events never go backwards
      for (const name of Object.keys(t.gz)) {
        const mine = events.filter((e) => e.file === name);
        expect(mine.at(-1)).toMatchObject({
          phase: 'done',
          loaded: t.gz[name]!.length,
          total: t.gz[name]!.length,
        });
        const loaded = mine.map((e) => e.loaded);
        expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
      }
      // one split, the first 3 images
      const few = await loadIdxFromUrl(t.spec, {
        baseUrl: `${server.url}/d/`,
        splits: ['test'],
        limit: 3,
      });
      expect(few.test.shape).toEqual([3, 4, 4, 1]);
      expect('train' in few).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('refuses a corrupt file (naming it and the digest), a missing one (naming the URL) and a bad baseUrl', async () => {
    const t = tinyIdx();
    const routes = Object.fromEntries(Object.entries(t.gz).map(([n, b]) => [`/d/${n}`, good(b)]));
    routes[`/d/${IDX_NAMES.test.labels}`] = corrupted(t.gz[IDX_NAMES.test.labels]!);
    const server = await startServer(routes);
    try {
      const bad = loadIdxFromUrl(t.spec, { baseUrl: `${server.url}/d`, splits: ['test'] });
      await expect(bad).rejects.toThrow(ChecksumError);
      await expect(
        loadIdxFromUrl(t.spec, { baseUrl: `${server.url}/d`, splits: ['test'] }),
      ).rejects.toThrow(
        /t10k-labels-idx1-ubyte\.gz: md5 mismatch: expected [0-9a-f]{32}, found [0-9a-f]{32}/,
      );
      await expect(
        loadIdxFromUrl(t.spec, { baseUrl: `${server.url}/nowhere`, splits: ['test'] }),
      ).rejects.toThrow(
        new RegExp(`could not fetch ${server.url}/nowhere/t10k-images-idx3-ubyte\\.gz: HTTP 404`),
      );
      await expect(loadIdxFromUrl(t.spec, { baseUrl: 'not a url' })).rejects.toThrow(
        /options\.baseUrl: expected an absolute URL, found "not a url"/,
      );
      await expect(
        loadIdxFromUrl(t.spec, { baseUrl: server.url, splits: ['val' as 'test'] }),
      ).rejects.toThrow(DatasetError);
    } finally {
      await server.close();
    }
  });

  it('accepts a .gz the server sent with Content-Encoding: gzip (fetch gunzips it), verified against the extracted digests', async () => {
    const t = tinyIdx();
    // like a static server that marks .gz files as gzip-encoded: fetch hands over the raw bytes
    const encoded =
      (bytes: Uint8Array) => (_req: unknown, res: import('node:http').ServerResponse) => {
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': bytes.length });
        res.end(bytes);
      };
    const routes = Object.fromEntries(
      Object.entries(t.gz).map(([n, b]) => [`/d/${n}`, encoded(b)]),
    );
    const server = await startServer(routes);
    try {
      const events: UrlLoadProgress[] = [];
      const r = await loadIdxFromUrl(t.spec, {
        baseUrl: `${server.url}/d`,
        onProgress: (e) => events.push(e),
      });
      expect(Array.from(r.test.labels)).toEqual(
        Array.from(t.raw['t10k-labels-idx1-ubyte']!.subarray(8)),
      );
      expect(Array.from(r.train.images.subarray(0, 16), (v) => Math.round(v * 255))).toEqual(
        Array.from(t.raw['train-images-idx3-ubyte']!.subarray(16, 32)),
      );
      expect(r.sources.map((s) => [s.decoded, s.verified])).toEqual(
        Array(4).fill([true, ['bytes', 'md5', 'sha256']]),
      );
      // progress counts the bytes fetch hands over, against the extracted size
      const last = events.filter((e) => e.file === IDX_NAMES.test.images).at(-1)!;
      expect(last.loaded).toBe(last.total);
      expect(last.total).toBe(t.raw['t10k-images-idx3-ubyte']!.length);
      // without a digest of the extracted file it cannot be verified: said, with the way out
      const noRaw = structuredClone(t.spec);
      delete noRaw.files.test.images.raw;
      await expect(
        loadIdxFromUrl(noRaw, { baseUrl: `${server.url}/d`, splits: ['test'] }),
      ).rejects.toThrow(/arrived gunzipped .*Content-Encoding: gzip.*pass verify: false/);
      const unverified = await loadIdxFromUrl(noRaw, {
        baseUrl: `${server.url}/d`,
        splits: ['test'],
        verify: false,
      });
      expect(unverified.test.shape).toEqual([7, 4, 4, 1]);
    } finally {
      await server.close();
    }
  });

  it('loads CIFAR-10 from its batch files', async () => {
    const c = tinyCifar();
    const routes = Object.fromEntries(Object.entries(c.bins).map(([n, b]) => [`/c/${n}`, good(b)]));
    const server = await startServer(routes);
    try {
      const r = await loadCifar10FromUrl({ baseUrl: `${server.url}/c` }, c.spec);
      expect(r.train.shape).toEqual([7, 32, 32, 3]);
      expect(r.test.shape).toEqual([5, 32, 32, 3]);
      expect(r.sources.map((s) => s.verified)).toEqual(Array(3).fill(['bytes', 'md5']));
    } finally {
      await server.close();
    }
  });

  const real = realDataDir();
  const mnistDir = real ? join(real, 'mnist') : null;
  it.skipIf(!mnistDir || !existsSync(join(mnistDir, IDX_NAMES.test.images)))(
    'loads the real MNIST test set against its published checksums',
    async () => {
      const names = [IDX_NAMES.test.images, IDX_NAMES.test.labels];
      const routes = Object.fromEntries(
        names.map((n) => [`/mnist/${n}`, good(new Uint8Array(readFileSync(join(mnistDir!, n))))]),
      );
      const server = await startServer(routes);
      try {
        const r = await loadMnistFromUrl({ baseUrl: `${server.url}/mnist/`, splits: ['test'] });
        expect(r.test.shape).toEqual([10000, 28, 28, 1]);
        expect(r.test.labels[0]).toBe(7);
        expect(r.sources.map((s) => s.verified)).toEqual([
          ['bytes', 'md5', 'sha256'],
          ['bytes', 'md5', 'sha256'],
        ]);
      } finally {
        await server.close();
      }
    },
  );
});
