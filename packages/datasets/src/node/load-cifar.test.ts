import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCifar10 } from '../cifar.js';
import {
  ArchiveError,
  ChecksumError,
  DataFormatError,
  DownloadError,
  MissingDataError,
} from '../errors.js';
import {
  checksum,
  corrupted,
  cutOff,
  good,
  startServer,
  type TestServer,
  tarGz,
  tempDir,
  tinyCifar,
  writeFiles,
} from '../test-utils.js';
import type { Cifar10Spec } from '../types.js';
import { loadCifar10, locateDataset } from './load.js';

const tiny = tinyCifar({ train: [3, 4], test: 5 });
const b = tiny.bins;
const expected = {
  train: parseCifar10([b['data_batch_1.bin']!, b['data_batch_2.bin']!]),
  test: parseCifar10(b['test_batch.bin']!),
};
const inFolder = (prefix: string, names = Object.keys(b)) =>
  Object.fromEntries(names.map((name) => [`${prefix}${name}`, b[name]!]));

let archive: Uint8Array;
let spec: Cifar10Spec;
let server: TestServer;
let root: string;
beforeAll(async () => {
  archive = await tarGz(inFolder('cifar-10-batches-bin/'));
  spec = { ...tiny.spec, archive: { name: 'cifar-10-binary.tar.gz', ...checksum(archive, false) } };
  server = await startServer({
    '/good/cifar-10-binary.tar.gz': good(archive),
    '/corrupt/cifar-10-binary.tar.gz': corrupted(archive),
    '/cut/cifar-10-binary.tar.gz': cutOff(archive),
  });
  root = await tempDir('cifar');
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

let n = 0;
async function folder(files: Record<string, Uint8Array>): Promise<string> {
  const dir = join(root, `d${n++}`);
  await writeFiles(dir, files);
  return dir;
}

describe('loadCifar10 from batch files', () => {
  it('reads <dataDir>/cifar10/cifar-10-batches-bin/*.bin, verified, in batch order', async () => {
    const dataDir = await folder(inFolder('cifar10/cifar-10-batches-bin/'));
    const d = await loadCifar10({ spec, dataDir, cacheDir: null });
    expect(d.train).toEqual(expected.train);
    expect(d.test).toEqual(expected.test);
    expect(d.train.shape).toEqual([7, 32, 32, 3]);
    expect(d.sources.map((s) => [s.file, s.split, s.from, s.verified])).toEqual([
      ['data_batch_1.bin', 'train', 'dataDir', ['bytes', 'md5']],
      ['data_batch_2.bin', 'train', 'dataDir', ['bytes', 'md5']],
      ['test_batch.bin', 'test', 'dataDir', ['bytes', 'md5']],
    ]);
  });

  it('accepts the batches directly in dataDir or in <dataDir>/cifar-10-batches-bin/', async () => {
    for (const prefix of ['', 'cifar-10-batches-bin/']) {
      const dataDir = await folder(inFolder(prefix));
      const d = await loadCifar10({ spec, dataDir, cacheDir: null, download: false });
      expect(d.train).toEqual(expected.train);
      expect(d.sources[0]!.path).toBe(join(dataDir, `${prefix}data_batch_1.bin`));
    }
  });

  it('with a limit reads only the batches holding those images: the others may be absent', async () => {
    const dataDir = await folder(
      inFolder('cifar10/cifar-10-batches-bin/', ['data_batch_1.bin', 'test_batch.bin']),
    );
    const d = await loadCifar10({
      spec,
      dataDir,
      cacheDir: null,
      download: false,
      limit: { train: 2, test: 4 },
    });
    expect(d.train.shape[0]).toBe(2);
    expect(d.train.images).toEqual(expected.train.images.subarray(0, 2 * 3072));
    expect(Array.from(d.test.labels)).toEqual(Array.from(expected.test.labels.subarray(0, 4)));
    expect(d.sources.map((s) => s.file)).toEqual(['data_batch_1.bin', 'test_batch.bin']);
    // 5 train images span both batches: the second one is missing.
    const e = await loadCifar10({ spec, dataDir, cacheDir: null, download: false, limit: 5 }).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(MissingDataError);
    expect(e.missing.map((m: { file: string }) => m.file)).toEqual(['data_batch_2.bin']);
    expect(e.message).toContain(
      'as cifar-10-batches-bin/*.bin or the cifar-10-binary.tar.gz archive',
    );
    const onlyTest = await loadCifar10({
      spec,
      dataDir,
      cacheDir: null,
      download: false,
      splits: ['test'],
    });
    expect(onlyTest.test).toEqual(expected.test);
  });

  it('refuses a corrupted or truncated batch, naming it', async () => {
    const bad = b['test_batch.bin']!.slice();
    bad[100]! ^= 1;
    let dataDir = await folder({ ...inFolder(''), 'test_batch.bin': bad });
    const e = await loadCifar10({ spec, dataDir, cacheDir: null }).catch((x) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect(e.file).toBe(join(dataDir, 'test_batch.bin'));
    expect(e.field).toBe('md5');
    dataDir = await folder({
      ...inFolder(''),
      'data_batch_2.bin': b['data_batch_2.bin']!.subarray(0, 3 * 3073 + 10),
    });
    const t = await loadCifar10({ spec, dataDir, cacheDir: null }).catch((x) => x);
    expect(t).toBeInstanceOf(ChecksumError);
    expect(t.field).toBe('bytes');
    const f = await loadCifar10({ spec, dataDir, cacheDir: null, verify: false }).catch((x) => x);
    expect(f).toBeInstanceOf(DataFormatError);
    expect(f.found).toBe('9229 bytes (3 whole records and 10 bytes more)');
  });
});

describe('loadCifar10 from the tar.gz archive', () => {
  it('reads the members it needs from <dataDir>/cifar10/cifar-10-binary.tar.gz, archive and members verified', async () => {
    const dataDir = await folder({ 'cifar10/cifar-10-binary.tar.gz': archive });
    const d = await loadCifar10({ spec, dataDir, cacheDir: null, download: false });
    expect(d.train).toEqual(expected.train);
    expect(d.test).toEqual(expected.test);
    expect(d.sources[2]).toEqual({
      file: 'test_batch.bin',
      split: 'test',
      path: join(dataDir, 'cifar10', 'cifar-10-binary.tar.gz'),
      member: 'cifar-10-batches-bin/test_batch.bin',
      from: 'dataDir',
      verified: ['bytes', 'md5'],
    });
  });

  it('prefers extracted batches to the archive, per batch', async () => {
    const dataDir = await folder({
      'cifar10/cifar-10-binary.tar.gz': archive,
      'cifar10/cifar-10-batches-bin/test_batch.bin': b['test_batch.bin']!,
    });
    const d = await loadCifar10({ spec, dataDir, cacheDir: null });
    expect(d.sources.map((s) => s.member ?? 'file')).toEqual([
      'cifar-10-batches-bin/data_batch_1.bin',
      'cifar-10-batches-bin/data_batch_2.bin',
      'file',
    ]);
  });

  it('refuses an archive without the expected members, listing what it holds', async () => {
    const other = await tarGz({
      'cifar-10-batches-bin/readme.txt': new TextEncoder().encode('hi'),
      ...inFolder('elsewhere/', ['test_batch.bin']),
    });
    const otherSpec = { ...spec, archive: { ...spec.archive, ...checksum(other, false) } };
    const dataDir = await folder({ 'cifar-10-binary.tar.gz': other });
    const e = await loadCifar10({
      spec: otherSpec,
      dataDir,
      cacheDir: null,
      splits: ['test'],
    }).catch((x) => x);
    expect(e).toBeInstanceOf(ArchiveError);
    expect(e.file).toBe(join(dataDir, 'cifar-10-binary.tar.gz'));
    expect(e.expected).toBe('member cifar-10-batches-bin/test_batch.bin');
    expect(e.found).toMatch(
      /^\d+ members: .*cifar-10-batches-bin\/readme\.txt.*elsewhere\/test_batch\.bin/,
    );
  });

  it('refuses a truncated archive: by its size when verifying, by tar/gzip when not', async () => {
    const dataDir = await folder({
      'cifar-10-binary.tar.gz': archive.subarray(0, archive.length >> 1),
    });
    const e = await loadCifar10({ spec, dataDir, cacheDir: null }).catch((x) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect(e.field).toBe('bytes');
    const f = await loadCifar10({ spec, dataDir, cacheDir: null, verify: false }).catch((x) => x);
    expect(f).toBeInstanceOf(ArchiveError);
    expect(f.message).toMatch(
      /expected a complete tar or tar\.gz archive, found an unreadable one/,
    );
  });

  it('reads a plain (uncompressed) tar too, and refuses one cut inside a member', async () => {
    const tar = await tarGz(inFolder('cifar-10-batches-bin/', ['test_batch.bin']), false);
    const plainSpec = { ...spec, archive: { ...spec.archive, ...checksum(tar, false) } };
    let dataDir = await folder({ 'cifar-10-binary.tar.gz': tar });
    const d = await loadCifar10({ spec: plainSpec, dataDir, cacheDir: null, splits: ['test'] });
    expect(d.test).toEqual(expected.test);
    dataDir = await folder({ 'cifar-10-binary.tar.gz': tar.subarray(0, 512 + 3 * 3073) });
    const e = await loadCifar10({
      spec: plainSpec,
      dataDir,
      cacheDir: null,
      splits: ['test'],
      verify: false,
    }).catch((x) => x);
    expect(e).toBeInstanceOf(ArchiveError);
    expect(e.found).toMatch(/unreadable one \(TAR_BAD_ARCHIVE: Truncated input/);
  });

  it('downloads the archive into the cache, verified, then reads it from there', async () => {
    const cacheDir = join(root, 'cache-good');
    const d = await loadCifar10({
      spec,
      dataDir: null,
      cacheDir,
      mirrors: [`${server.url}/good/`],
    });
    expect(d.train).toEqual(expected.train);
    expect(d.sources.map((s) => s.from)).toEqual(['download', 'download', 'download']);
    expect(await readdir(join(cacheDir, 'cifar10'))).toEqual(['cifar-10-binary.tar.gz']);
    const hits = server.hits.get('/good/cifar-10-binary.tar.gz');
    const again = await loadCifar10({ spec, dataDir: null, cacheDir, limit: { train: 1 } });
    expect(server.hits.get('/good/cifar-10-binary.tar.gz')).toBe(hits);
    expect(again.sources.map((s) => [s.from, s.member])).toEqual([
      ['cache', 'cifar-10-batches-bin/data_batch_1.bin'],
      ['cache', 'cifar-10-batches-bin/test_batch.bin'],
    ]);
  });

  it('caches nothing when the archive download is corrupted or cut off', async () => {
    for (const kind of ['corrupt', 'cut']) {
      const cacheDir = join(root, `cache-${kind}`);
      const e = await loadCifar10({
        spec,
        dataDir: null,
        cacheDir,
        mirrors: [`${server.url}/${kind}/`],
      }).catch((x) => x);
      expect(e).toBeInstanceOf(DownloadError);
      expect(e.message).toMatch(/could not download cifar-10-binary\.tar\.gz; nothing was cached/);
      expect(e.missing.map((m: { file: string }) => m.file)).toEqual([
        'data_batch_1.bin',
        'data_batch_2.bin',
        'test_batch.bin',
      ]);
      expect(await readdir(join(cacheDir, 'cifar10')).catch(() => [])).toEqual([]);
    }
  });

  it('locateDataset verifies batch files one by one and archive members by the archive', async () => {
    const bad = b['data_batch_2.bin']!.slice();
    bad[5]! ^= 1;
    const dataDir = await folder({
      'cifar10/cifar-10-batches-bin/data_batch_1.bin': b['data_batch_1.bin']!,
      'cifar10/cifar-10-batches-bin/data_batch_2.bin': bad,
      'cifar10/cifar-10-binary.tar.gz': archive,
    });
    const loc = await locateDataset(spec, { dataDir, cacheDir: null, verify: true });
    expect(loc.files.map((f) => [f.file, f.member ?? null, f.verified ?? f.error?.name])).toEqual([
      ['data_batch_1.bin', null, ['bytes', 'md5']],
      ['data_batch_2.bin', null, 'ChecksumError'],
      ['test_batch.bin', 'cifar-10-batches-bin/test_batch.bin', ['bytes', 'md5']],
    ]);
    expect(loc.available).toEqual(['test']);
  });
});
