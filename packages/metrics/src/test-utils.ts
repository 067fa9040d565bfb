import { inflateSync } from 'node:zlib';

import { seededValues } from '@fa-robust/test-utils';

export { seededValues };

/** Decodes an 8-bit RGBA, non-interlaced PNG (what resvg writes) into its pixels. */
export function decodePng(png: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  sig.forEach((b, i) => {
    if (png[i] !== b) throw new Error('not a PNG');
  });
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  while (off < png.length) {
    const len = v.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = v.getUint32(off + 8);
      height = v.getUint32(off + 12);
      if (data[8] !== 8 || data[9] !== 6 || data[12] !== 0)
        throw new Error('expected 8-bit RGBA, non-interlaced');
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const rgba = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= 4 ? rgba[y * stride + x - 4]! : 0;
      const b = y > 0 ? rgba[(y - 1) * stride + x]! : 0;
      const c = x >= 4 && y > 0 ? rgba[(y - 1) * stride + x - 4]! : 0;
      let p: number;
      if (filter === 0) p = 0;
      else if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      rgba[y * stride + x] = (line[x]! + p) & 0xff;
    }
  }
  return { width, height, rgba };
}

/** Pixels darker than `threshold` (mean of RGB) in a region. */
export function darkPixels(
  img: { width: number; height: number; rgba: Uint8Array },
  threshold = 128,
  region = { x0: 0, y0: 0, x1: img.width, y1: img.height },
): number {
  let n = 0;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const i = (y * img.width + x) * 4;
      if ((img.rgba[i]! + img.rgba[i + 1]! + img.rgba[i + 2]!) / 3 < threshold) n++;
    }
  }
  return n;
}
