import { rm } from 'node:fs/promises';
import { join, parse, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumError, DataFormatError, MissingDataError } from '../errors.js';
import { parseIdxSplit } from '../idx.js';
import { tempDir, tinyIdx, writeFiles } from '../test-utils.js';
import { loadIdxDataset, locateDataset } from './load.js';

const tiny = tinyIdx('tiny');
const { spec } = tiny;
const expected = {
  train: parseIdxSplit(tiny.raw['train-images-idx3-ubyte']!, tiny.raw['train-labels-idx1-ubyte']!, {
    classes: spec.classes,
  }),
  test: parseIdxSplit(tiny.raw['t10k-images-idx3-ubyte']!, tiny.raw['t10k-labels-idx1-ubyte']!, {
    classes: spec.classes,
  }),
};

let root: string;
beforeAll(async () => {
  root = await tempDir('idx');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh folder under root holding `files` (relative path -> bytes). */
let n = 0;
async function folder(files: Record<string, Uint8Array>): Promise<string> {
  const dir = join(root, `d${n++}`);
  await writeFiles(dir, files);
  return dir;
}

const gzIn = (prefix: string, names = Object.keys(tiny.gz)) =>
  Object.fromEntries(names.map((name) => [`${prefix}${name}`, tiny.gz[name]!]));

describe('loadIdxDataset from local folders', () => {
  it('reads <dataDir>/<id>/*.gz, verifies every file and returns both splits', async () => {
    const dataDir = await folder(gzIn('tiny/'));
    const events: string[] = [];
    const d = await loadIdxDataset(spec, {
      dataDir,
      cacheDir: null,
      onProgress: (e) => events.push(`${e.phase} ${e.file}`),
    });
    expect(d.train).toEqual(expected.train);
    expect(d.test).toEqual(expected.test);
    expect(d.dataset).toBe('tiny');
    expect(d.classes).toBe(spec.classes);
    expect(d.sources.map((s) => [s.file, s.split, s.from, s.verified])).toEqual([
      ['train-images-idx3-ubyte.gz', 'train', 'dataDir', ['bytes', 'md5', 'sha256']],
      ['train-labels-idx1-ubyte.gz', 'train', 'dataDir', ['bytes', 'md5', 'sha256']],
      ['t10k-images-idx3-ubyte.gz', 'test', 'dataDir', ['bytes', 'md5', 'sha256']],
      ['t10k-labels-idx1-ubyte.gz', 'test', 'dataDir', ['bytes', 'md5', 'sha256']],
    ]);
    expect(d.sources[0]!.path).toBe(join(dataDir, 'tiny', 'train-images-idx3-ubyte.gz'));
    expect(events).toContain('verify t10k-labels-idx1-ubyte.gz');
  });

  it('also finds the files directly in dataDir, gunzipped ones included (verified by their own digests)', async () => {
    const dataDir = await folder({
      ...gzIn('', ['t10k-images-idx3-ubyte.gz']),
      't10k-labels-idx1-ubyte': tiny.raw['t10k-labels-idx1-ubyte']!,
    });
    const d = await loadIdxDataset(spec, {
      dataDir,
      cacheDir: null,
      download: false,
      splits: ['test'],
    });
    expect(d.test).toEqual(expected.test);
    expect(d.sources.map((s) => s.path)).toEqual([
      join(dataDir, 't10k-images-idx3-ubyte.gz'),
      join(dataDir, 't10k-labels-idx1-ubyte'),
    ]);
    expect('train' in d).toBe(false);
    // @ts-expect-error only the test split was asked for, so the type has no train split
    expect(d.train).toBeUndefined();
  });

  it('falls back to <cacheDir>/<id>/ and reports it, per file', async () => {
    const dataDir = await folder(gzIn('tiny/', ['t10k-images-idx3-ubyte.gz']));
    const cacheDir = await folder(gzIn('tiny/', ['t10k-labels-idx1-ubyte.gz']));
    const d = await loadIdxDataset(spec, { dataDir, cacheDir, download: false, splits: ['test'] });
    expect(d.test).toEqual(expected.test);
    expect(d.sources.map((s) => s.from)).toEqual(['dataDir', 'cache']);
  });

  it('reads the FA_ROBUST_DATA_DIR folder when dataDir is not given', async () => {
    const dataDir = await folder(gzIn('tiny/'));
    const before = process.env.FA_ROBUST_DATA_DIR;
    process.env.FA_ROBUST_DATA_DIR = dataDir;
    try {
      const d = await loadIdxDataset(spec, { cacheDir: null, download: false, splits: ['test'] });
      expect(d.sources[0]!.path).toBe(join(dataDir, 'tiny', 't10k-images-idx3-ubyte.gz'));
      // A relative value is found from the nearest parent of the working directory holding it.
      process.env.FA_ROBUST_DATA_DIR = relative(parse(process.cwd()).root, dataDir);
      const rel = await loadIdxDataset(spec, { cacheDir: null, download: false, splits: ['test'] });
      expect(rel.sources[0]!.path).toBe(join(dataDir, 'tiny', 't10k-images-idx3-ubyte.gz'));
      // null opts out of the variable.
      await expect(
        loadIdxDataset(spec, { dataDir: null, cacheDir: null, splits: ['test'] }),
      ).rejects.toThrow(MissingDataError);
    } finally {
      if (before == null) delete process.env.FA_ROBUST_DATA_DIR;
      else process.env.FA_ROBUST_DATA_DIR = before;
    }
  });

  it('applies a limit per split', async () => {
    const dataDir = await folder(gzIn('tiny/'));
    const d = await loadIdxDataset(spec, { dataDir, cacheDir: null, limit: { test: 3 } });
    expect(d.test.shape).toEqual([3, 4, 4, 1]);
    expect(d.test.images).toEqual(expected.test.images.subarray(0, 3 * 16));
    expect(d.train.shape[0]).toBe(12);
    const both = await loadIdxDataset(spec, { dataDir, cacheDir: null, limit: 2 });
    expect([both.train.shape[0], both.test.shape[0]]).toEqual([2, 2]);
    await expect(loadIdxDataset(spec, { dataDir, cacheDir: null, limit: -1 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('loadIdxDataset refuses what it cannot trust, returning nothing', () => {
  it('names every missing file, where it looked and where to put them', async () => {
    const dataDir = await folder(
      gzIn('tiny/', ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']),
    );
    const cacheDir = await folder({});
    const e = await loadIdxDataset(spec, { dataDir, cacheDir, download: false }).catch((x) => x);
    expect(e).toBeInstanceOf(MissingDataError);
    expect(e.dataset).toBe('tiny');
    expect(e.missing.map((m: { file: string }) => m.file)).toEqual([
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ]);
    expect(e.missing[0].searched).toContain(join(dataDir, 'tiny', 't10k-images-idx3-ubyte.gz'));
    expect(e.missing[0].searched).toContain(join(cacheDir, 'tiny', 't10k-images-idx3-ubyte.gz'));
    expect(e.message).toContain(
      'missing t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (test)',
    );
    expect(e.message).toContain(
      `Looked in ${join(dataDir, 'tiny')}, ${dataDir}, ${join(cacheDir, 'tiny')}`,
    );
    expect(e.message).toContain('Downloading is off (download: false)');
    expect(e.message).toContain(`Put the files in ${join(dataDir, 'tiny')}/`);
    // Only the test split is missing: the train split alone loads.
    const train = await loadIdxDataset(spec, {
      dataDir,
      cacheDir,
      download: false,
      splits: ['train'],
    });
    expect(train.train).toEqual(expected.train);
  });

  it('without dataDir and cache, says how to give a folder', async () => {
    const e = await loadIdxDataset(spec, { dataDir: null, cacheDir: null }).catch((x) => x);
    expect(e).toBeInstanceOf(MissingDataError);
    expect(e.message).toMatch(/no cache folder to download into \(cacheDir: null\)/);
    expect(e.message).toMatch(
      /Put the files in <folder>\/tiny\/ and pass dataDir: '<folder>' \(or set FA_ROBUST_DATA_DIR=<folder>\)/,
    );
  });

  it('refuses a local file with one byte changed (md5), naming the file', async () => {
    const bad = tiny.gz['t10k-labels-idx1-ubyte.gz']!.slice();
    bad[bad.length - 9]! ^= 1; // inside the gzip CRC-32 trailer: still a "valid-looking" file
    const dataDir = await folder({ ...gzIn('tiny/'), 'tiny/t10k-labels-idx1-ubyte.gz': bad });
    const e = await loadIdxDataset(spec, { dataDir, cacheDir: null }).catch((x) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect(e.file).toBe(join(dataDir, 'tiny', 't10k-labels-idx1-ubyte.gz'));
    expect(e.field).toBe('md5');
    expect(e.expected).toBe(spec.files.test.labels.md5);
    expect(e.message).toMatch(
      /md5 mismatch: expected [0-9a-f]{32}, found [0-9a-f]{32}.*replace .* with the published file/,
    );
  });

  it('refuses a truncated local file by its size; unverified, by its gzip stream', async () => {
    const gz = tiny.gz['train-images-idx3-ubyte.gz']!;
    const dataDir = await folder({
      ...gzIn('tiny/'),
      'tiny/train-images-idx3-ubyte.gz': gz.subarray(0, gz.length - 30),
    });
    const e = await loadIdxDataset(spec, { dataDir, cacheDir: null }).catch((x) => x);
    expect(e).toBeInstanceOf(ChecksumError);
    expect(e.field).toBe('bytes');
    expect(e.message).toContain(
      `size mismatch: expected ${gz.length} bytes, found ${gz.length - 30} bytes`,
    );
    const f = await loadIdxDataset(spec, { dataDir, cacheDir: null, verify: false }).catch(
      (x) => x,
    );
    expect(f).toBeInstanceOf(DataFormatError);
    expect(f.field).toBe('gzip stream');
    expect(f.file).toBe(join(dataDir, 'tiny', 'train-images-idx3-ubyte.gz'));
  });

  it('with verify: false still checks the format: a cut raw file is refused by its header count', async () => {
    const raw = tiny.raw['t10k-images-idx3-ubyte']!;
    const cut = raw.subarray(0, raw.length - 16);
    // No gz copy: the raw name is found; with verify the digest refuses it, without it the format does.
    const dataDir = await folder({
      'tiny/t10k-images-idx3-ubyte': cut,
      'tiny/t10k-labels-idx1-ubyte.gz': tiny.gz['t10k-labels-idx1-ubyte.gz']!,
    });
    await expect(
      loadIdxDataset(spec, { dataDir, cacheDir: null, splits: ['test'] }),
    ).rejects.toThrow(ChecksumError);
    const e = await loadIdxDataset(spec, {
      dataDir,
      cacheDir: null,
      splits: ['test'],
      verify: false,
    }).catch((x) => x);
    expect(e).toBeInstanceOf(DataFormatError);
    expect(e.field).toBe('data length');
    expect(e.found).toBe('96 bytes (6 records)');
  });
});

describe('locateDataset', () => {
  it('reports which files are where without loading, and with verify which pass', async () => {
    const bad = tiny.gz['train-labels-idx1-ubyte.gz']!.slice();
    bad[20]! ^= 0xff;
    const dataDir = await folder({
      ...gzIn('tiny/', [
        't10k-images-idx3-ubyte.gz',
        't10k-labels-idx1-ubyte.gz',
        'train-images-idx3-ubyte.gz',
      ]),
      'tiny/train-labels-idx1-ubyte.gz': bad,
    });
    const quick = await locateDataset(spec, { dataDir, cacheDir: null });
    expect(quick.files.map((f) => f.from)).toEqual(['dataDir', 'dataDir', 'dataDir', 'dataDir']);
    expect(quick.available).toEqual(['train', 'test']);
    const checked = await locateDataset(spec, { dataDir, cacheDir: null, verify: true });
    expect(checked.available).toEqual(['test']);
    const labels = checked.files.find((f) => f.file === 'train-labels-idx1-ubyte.gz')!;
    expect(labels.error).toBeInstanceOf(ChecksumError);
    expect(checked.files.find((f) => f.file === 't10k-labels-idx1-ubyte.gz')!.verified).toEqual([
      'bytes',
      'md5',
      'sha256',
    ]);
    const none = await locateDataset(spec, { dataDir: null, cacheDir: join(root, 'nothing') });
    expect(none.available).toEqual([]);
    expect(none.files[0]!.path).toBeNull();
    expect(none.files[0]!.searched).toEqual([
      join(root, 'nothing', 'tiny', 'train-images-idx3-ubyte.gz'),
      join(root, 'nothing', 'tiny', 'train-images-idx3-ubyte'),
    ]);
  });
});
