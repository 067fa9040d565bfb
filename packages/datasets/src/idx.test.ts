import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataFormatError } from './errors.js';
import { gunzip, gunzipIfNeeded } from './gzip.js';
import { parseIdx, parseIdxImages, parseIdxLabels, parseIdxSplit } from './idx.js';
import { idxImages, idxLabels } from './test-utils.js';

const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function formatError(f: () => unknown): DataFormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataFormatError);
    return e as DataFormatError;
  }
  throw new Error('expected a DataFormatError, nothing was thrown');
}

describe('parseIdxImages', () => {
  it('gives NHWC float32 byte/255, image i pixel (r, c) from byte 16 + i*rows*cols + r*cols + c', () => {
    const bytes = idxImages(5, 4, 3, 7);
    const { images, shape } = parseIdxImages(bytes);
    expect(shape).toEqual([5, 4, 3, 1]);
    expect(images).toBeInstanceOf(Float32Array);
    for (let i = 0; i < 5; i++) {
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 3; c++) {
          const byte = bytes[16 + i * 12 + r * 3 + c]!;
          expect(images[((i * 4 + r) * 3 + c) * 1]).toBe(Math.fround(byte / 255));
        }
      }
    }
    expect(Math.min(...images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...images)).toBeLessThanOrEqual(1);
  });

  it('converts only the first `limit` images, and at most all of them', () => {
    const bytes = idxImages(5, 2, 2, 3);
    const all = parseIdxImages(bytes);
    const two = parseIdxImages(bytes, { limit: 2 });
    expect(two.shape).toEqual([2, 2, 2, 1]);
    expect(two.images).toEqual(all.images.subarray(0, 8));
    expect(parseIdxImages(bytes, { limit: 99 }).shape[0]).toBe(5);
    expect(parseIdxImages(bytes, { limit: 0 }).images.length).toBe(0);
    expect(() => parseIdxImages(bytes, { limit: -1 })).toThrow(RangeError);
    expect(() => parseIdxImages(bytes, { limit: 1.5 })).toThrow(RangeError);
  });

  it('refuses a labels file, naming the magic numbers expected and found', () => {
    const e = formatError(() => parseIdxImages(idxLabels(3, 1), { file: 'x/labels.idx' }));
    expect(e.file).toBe('x/labels.idx');
    expect(e.field).toBe('magic number');
    expect(e.expected).toMatch(/0x00000803 \(IDX unsigned-byte images, 3 dimensions\)/);
    expect(e.found).toBe('0x00000801 (IDX unsigned byte, 1 dimension)');
    expect(e.message).toMatch(/^x\/labels\.idx: bad magic number: expected 0x00000803/);
  });

  it('says when the bytes are still gzip-compressed', () => {
    const e = formatError(() => parseIdxImages(new Uint8Array(gzipSync(idxImages(2, 2, 2, 1)))));
    expect(e.found).toMatch(/gzip header/);
    expect(e.message).toMatch(/gunzip them first/);
  });

  it('refuses a file whose data is shorter than the header says (truncated)', () => {
    const bytes = idxImages(5, 4, 3, 1);
    const e = formatError(() =>
      parseIdxImages(bytes.subarray(0, bytes.length - 18), { file: 'cut.idx' }),
    );
    expect(e.field).toBe('data length');
    expect(e.expected).toBe('60 bytes (5 records of 12 bytes, as the header says)');
    expect(e.found).toBe('42 bytes (3.5 records)');
    expect(e.message).toMatch(/truncated/);
  });

  it('refuses a header that claims fewer records than the file holds', () => {
    const bytes = idxImages(5, 4, 3, 1);
    bytes[7] = 4; // count 5 -> 4
    const e = formatError(() => parseIdxImages(bytes));
    expect(e.expected).toMatch(/^48 bytes \(4 records/);
    expect(e.found).toBe('60 bytes (5 records)');
    expect(e.message).toMatch(/bytes after the last record/);
  });

  it('refuses an empty file, a cut header and a non-byte data type', () => {
    expect(formatError(() => parseIdxImages(new Uint8Array(0))).found).toBe('0 bytes');
    const cutHeader = formatError(() => parseIdxImages(idxImages(1, 2, 2, 1).subarray(0, 10)));
    expect(cutHeader.field).toBe('header');
    expect(cutHeader.expected).toMatch(/^16 bytes/);
    const floats = idxImages(1, 2, 2, 1);
    floats[2] = 0x0d;
    expect(formatError(() => parseIdx(floats)).found).toBe('0x0d (float32)');
  });
});

describe('parseIdxLabels / parseIdxSplit', () => {
  it('reads labels, checks them against the classes and keeps the first `limit`', () => {
    const bytes = idxLabels(6, 4);
    expect(Array.from(parseIdxLabels(bytes))).toEqual(Array.from(bytes.subarray(8)));
    expect(Array.from(parseIdxLabels(bytes, { limit: 2 }))).toEqual(
      Array.from(bytes.subarray(8, 10)),
    );
    bytes[8 + 3] = 10;
    const e = formatError(() => parseIdxLabels(bytes, { numClasses: 10, limit: 1, file: 'l' }));
    expect(e.field).toBe('label of record 3');
    expect(e.found).toBe('10');
  });

  it('pairs images and labels into a Split', () => {
    const images = idxImages(4, 3, 3, 2);
    const labels = idxLabels(4, 5);
    const split = parseIdxSplit(images, labels, { classes: CLASSES, limit: 3 });
    expect(split.shape).toEqual([3, 3, 3, 1]);
    expect(Array.from(split.labels)).toEqual(Array.from(labels.subarray(8, 11)));
    expect(split.images).toEqual(parseIdxImages(images, { limit: 3 }).images);
    expect(split.classes).toBe(CLASSES);
  });

  it('refuses label and image files that disagree on the record count', () => {
    const e = formatError(() =>
      parseIdxSplit(idxImages(4, 2, 2, 1), idxLabels(5, 1), {
        classes: CLASSES,
        files: { images: 'imgs', labels: 'lbls' },
      }),
    );
    expect(e.file).toBe('lbls');
    expect(e.field).toBe('record count');
    expect(e.expected).toBe('4 labels, one per image in imgs');
    expect(e.found).toBe('5 labels');
  });
});

describe('gunzip (DecompressionStream, browser-safe)', () => {
  it('round-trips node:zlib gzip output, and leaves raw bytes alone', async () => {
    const raw = idxImages(3, 5, 5, 9);
    const gz = new Uint8Array(gzipSync(raw));
    expect(await gunzip(gz)).toEqual(raw);
    expect(await gunzipIfNeeded(gz)).toEqual(raw);
    expect(await gunzipIfNeeded(raw)).toBe(raw);
  });

  it('refuses a truncated stream and non-gzip bytes with DataFormatError', async () => {
    const gz = new Uint8Array(gzipSync(idxImages(3, 5, 5, 9)));
    const cut = await gunzip(gz.subarray(0, gz.length - 20), { file: 'cut.gz' }).catch((e) => e);
    expect(cut).toBeInstanceOf(DataFormatError);
    expect(cut.field).toBe('gzip stream');
    expect(cut.file).toBe('cut.gz');
    const raw = await gunzip(idxImages(1, 1, 1, 1)).catch((e) => e);
    expect(raw).toBeInstanceOf(DataFormatError);
    expect(raw.found).toBe('0x00 0x00');
  });
});
