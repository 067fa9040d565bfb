import { describe, expect, it } from 'vitest';
import { CIFAR10_RECORD_BYTES, parseCifar10 } from './cifar.js';
import { DataFormatError } from './errors.js';
import { CIFAR10_CLASSES } from './sources.js';
import { cifarBatch } from './test-utils.js';

/** Pixel (y, x, channel c) of record i, read straight from the planar layout of the format. */
function byteAt(batch: Uint8Array, i: number, y: number, x: number, c: number): number {
  return batch[i * 3073 + 1 + c * 1024 + y * 32 + x]!;
}

describe('parseCifar10', () => {
  it('turns planar RGB records into NHWC float32 byte/255', () => {
    const batch = cifarBatch(3, 42);
    const split = parseCifar10(batch, { files: 'b.bin' });
    expect(split.shape).toEqual([3, 32, 32, 3]);
    expect(split.classes).toBe(CIFAR10_CLASSES);
    expect(Array.from(split.labels)).toEqual([0, 1, 2].map((i) => batch[i * 3073]));
    for (let i = 0; i < 3; i++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          for (let c = 0; c < 3; c++) {
            const nhwc = split.images[((i * 32 + y) * 32 + x) * 3 + c]!;
            if (nhwc !== Math.fround(byteAt(batch, i, y, x, c) / 255)) {
              throw new Error(
                `pixel ${i},${y},${x},${c}: ${nhwc} vs byte ${byteAt(batch, i, y, x, c)}`,
              );
            }
          }
        }
      }
    }
  });

  it('concatenates batches in order and stops at `limit`, across a batch boundary', () => {
    const a = cifarBatch(3, 1);
    const b = cifarBatch(4, 2);
    const all = parseCifar10([a, b]);
    expect(all.shape[0]).toBe(7);
    const five = parseCifar10([a, b], { limit: 5 });
    expect(five.shape[0]).toBe(5);
    expect(five.images).toEqual(all.images.subarray(0, 5 * 3072));
    expect(Array.from(five.labels)).toEqual([a[0], a[3073], a[2 * 3073], b[0], b[3073]]);
    expect(parseCifar10([a, b], { limit: 100 }).shape[0]).toBe(7);
    expect(() => parseCifar10(a, { limit: -2 })).toThrow(RangeError);
  });

  it('refuses a truncated batch, naming the file and the length', () => {
    const batch = cifarBatch(2, 3).subarray(0, 2 * CIFAR10_RECORD_BYTES - 100);
    const e = (() => {
      try {
        parseCifar10([cifarBatch(1, 1), batch], { files: ['one.bin', 'two.bin'] });
      } catch (error) {
        return error as DataFormatError;
      }
    })();
    expect(e).toBeInstanceOf(DataFormatError);
    expect(e!.file).toBe('two.bin');
    expect(e!.field).toBe('data length');
    expect(e!.found).toBe('6046 bytes (1 whole records and 2973 bytes more)');
    expect(() => parseCifar10(new Uint8Array(0))).toThrow(/empty/);
  });

  it('refuses a label outside 0..9 even in records beyond the limit', () => {
    const batch = cifarBatch(3, 4);
    batch[2 * 3073] = 12;
    expect(() => parseCifar10(batch, { limit: 1, files: 'bad.bin' })).toThrow(
      /^bad\.bin: bad label of record 2: expected a class index in 0\.\.9, found 12/,
    );
  });
});
