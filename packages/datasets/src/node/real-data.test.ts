/**
 * Integration tests on the real MNIST and CIFAR-10 files (read-only) in $FA_ROBUST_DATA_DIR
 * (CI: ../shared/data relative to the repository root), skipped with a note where absent.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumError } from '../errors.js';
import { CIFAR10, FASHION_MNIST } from '../sources.js';
import {
  good,
  realDataCandidate,
  realDataDir,
  startServer,
  tempDir,
  writeFiles,
} from '../test-utils.js';
import { loadCifar10, loadFashionMnist, loadMnist, locateDataset } from './load.js';

const dataDir = realDataDir();
const hasMnist = dataDir != null && existsSync(join(dataDir, 'mnist', 't10k-labels-idx1-ubyte.gz'));
const hasCifar =
  dataDir != null && existsSync(join(dataDir, 'cifar10', 'cifar-10-batches-bin', 'test_batch.bin'));
for (const [has, what] of [
  [hasMnist, 'MNIST (<dataDir>/mnist/*.gz)'],
  [hasCifar, 'CIFAR-10 (<dataDir>/cifar10/cifar-10-batches-bin/*.bin)'],
] as const) {
  if (!has) {
    console.warn(
      `[datasets] real-data tests of ${what} SKIPPED: not found in ${realDataCandidate}. ` +
        'Set FA_ROBUST_DATA_DIR to the data folder (CI: ../shared/data).',
    );
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await tempDir('real');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const seconds = (t0: number) => ((performance.now() - t0) / 1000).toFixed(2);

describe.skipIf(!hasMnist)('MNIST from the real files', () => {
  it('60000/10000 images 28x28x1, first labels 5 and 7, all four files verified by md5 and sha256', async () => {
    const t0 = performance.now();
    const { train, test, sources } = await loadMnist({ dataDir, cacheDir: null, download: false });
    console.info(`[datasets] MNIST loaded and verified in ${seconds(t0)} s`);
    expect(train.shape).toEqual([60000, 28, 28, 1]);
    expect(test.shape).toEqual([10000, 28, 28, 1]);
    expect(train.images.length).toBe(60000 * 784);
    expect(train.labels[0]).toBe(5);
    expect(test.labels[0]).toBe(7);
    expect(sources.map((s) => [s.from, s.verified])).toEqual(
      Array(4).fill(['dataDir', ['bytes', 'md5', 'sha256']]),
    );
    // The well-known normalisation constant of MNIST: train pixel mean 0.1307.
    let sum = 0;
    for (const v of train.images) sum += v;
    expect(sum / train.images.length).toBeCloseTo(0.1307, 4);
    // Labels: all ten digits, about 6000 each.
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(5000);
  });

  it('accepts gunzipped copies, verified by their own digests', async () => {
    const dir = join(tmp, 'mnist-raw');
    const files: Record<string, Uint8Array> = {};
    for (const name of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      files[`mnist/${name.slice(0, -3)}`] = gunzipSync(
        await readFile(join(dataDir!, 'mnist', name)),
      );
    }
    await writeFiles(dir, files);
    const { test, sources } = await loadMnist({
      dataDir: dir,
      cacheDir: null,
      download: false,
      splits: ['test'],
      limit: 10,
    });
    expect(Array.from(test.labels)).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    expect(sources.map((s) => s.path.endsWith('-ubyte') && s.verified.length === 3)).toEqual([
      true,
      true,
    ]);
  });

  it('downloads a real file from a local mirror against the published checksums, into the cache', async () => {
    const bytes = new Uint8Array(
      await readFile(join(dataDir!, 'mnist', 't10k-labels-idx1-ubyte.gz')),
    );
    const images = new Uint8Array(
      await readFile(join(dataDir!, 'mnist', 't10k-images-idx3-ubyte.gz')),
    );
    const server = await startServer({
      '/mnist/t10k-labels-idx1-ubyte.gz': good(bytes),
      '/mnist/t10k-images-idx3-ubyte.gz': good(images),
    });
    try {
      const cacheDir = join(tmp, 'cache');
      const { test, sources } = await loadMnist({
        dataDir: null,
        cacheDir,
        splits: ['test'],
        limit: 3,
        mirrors: [`${server.url}/mnist/`],
      });
      expect(Array.from(test.labels)).toEqual([7, 2, 1]);
      expect(sources.map((s) => s.from)).toEqual(['download', 'download']);
      expect(
        new Uint8Array(await readFile(join(cacheDir, 'mnist', 't10k-labels-idx1-ubyte.gz'))),
      ).toEqual(bytes);
    } finally {
      await server.close();
    }
  });

  it("says so when a folder holds another dataset's file of the same name", async () => {
    const dir = join(tmp, 'fashion-wrong');
    const mnist = (name: string) =>
      readFile(join(dataDir!, 'mnist', name)).then((b) => new Uint8Array(b));
    await writeFiles(dir, {
      'fashion-mnist/t10k-images-idx3-ubyte.gz': await mnist('t10k-images-idx3-ubyte.gz'),
      'fashion-mnist/t10k-labels-idx1-ubyte.gz': await mnist('t10k-labels-idx1-ubyte.gz'),
    });
    const e = await loadFashionMnist({ dataDir: dir, cacheDir: null, splits: ['test'] }).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(ChecksumError);
    expect(e.message).toContain('It is the MNIST t10k-images-idx3-ubyte.gz file');
    const loc = await locateDataset(FASHION_MNIST, { dataDir: dir, cacheDir: null, verify: true });
    expect(loc.available).toEqual([]);
  });
});

describe.skipIf(!hasCifar)('CIFAR-10 from the real extracted batches', () => {
  it('finds and verifies all six batches (md5), 50000/10000 records by size', async () => {
    const t0 = performance.now();
    const loc = await locateDataset(CIFAR10, { dataDir, cacheDir: null, verify: true });
    console.info(`[datasets] CIFAR-10 six batches verified in ${seconds(t0)} s`);
    expect(loc.available).toEqual(['train', 'test']);
    expect(loc.files.map((f) => [f.file, f.verified])).toEqual(
      [...CIFAR10.batches.train, ...CIFAR10.batches.test].map((b) => [b.name, ['bytes', 'md5']]),
    );
    const records = (split: 'train' | 'test') =>
      CIFAR10.batches[split].reduce((a, b) => a + b.bytes / 3073, 0);
    expect([records('train'), records('test')]).toEqual([50000, 10000]);
  });

  it('test split whole, train limited to 5 (one batch read): first labels 3 8 8 0 6 and 6 9 9 4 1', async () => {
    const t0 = performance.now();
    const { train, test, sources } = await loadCifar10({
      dataDir,
      cacheDir: null,
      download: false,
      limit: { train: 5 },
    });
    console.info(`[datasets] CIFAR-10 test + 5 train loaded in ${seconds(t0)} s`);
    expect(test.shape).toEqual([10000, 32, 32, 3]);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([3, 8, 8, 0, 6]);
    expect(train.shape).toEqual([5, 32, 32, 3]);
    expect(Array.from(train.labels)).toEqual([6, 9, 9, 4, 1]);
    expect(sources.map((s) => s.file)).toEqual(['data_batch_1.bin', 'test_batch.bin']);
  });

  it('whole train split: 50000 images, per-channel means 125.307 122.950 113.865 (NHWC order right)', async () => {
    const t0 = performance.now();
    const { train } = await loadCifar10({
      dataDir,
      cacheDir: null,
      download: false,
      splits: ['train'],
    });
    console.info(
      `[datasets] CIFAR-10 train (50000 images, 614 MB of float32) loaded and verified in ${seconds(t0)} s`,
    );
    expect(train.shape).toEqual([50000, 32, 32, 3]);
    const sums: [number, number, number] = [0, 0, 0];
    const img = train.images;
    for (let i = 0; i < img.length; i += 3) {
      sums[0] += img[i]!;
      sums[1] += img[i + 1]!;
      sums[2] += img[i + 2]!;
    }
    const means = sums.map((s) => (s / (img.length / 3)) * 255);
    expect(means[0]).toBeCloseTo(125.307, 2);
    expect(means[1]).toBeCloseTo(122.95, 2);
    expect(means[2]).toBeCloseTo(113.865, 2);
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([6, 9, 9, 4, 1]);
  });
});
