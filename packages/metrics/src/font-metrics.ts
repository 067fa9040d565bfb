/**
 * Text widths from a TrueType/OpenType font's own tables (cmap + hmtx), so Vega can lay out
 * titles, labels and legends for the font resvg actually draws with. Without a canvas, Vega
 * guesses 0.8 em per character, about 1.5x too wide for Inter: figures got wide blank margins.
 * Kerning is ignored (a fraction of a percent on labels).
 */
export interface FontWidths {
  unitsPerEm: number;
  /** Advance width of a code point in font units, or undefined when the font lacks it. */
  advance(codePoint: number): number | undefined;
}

function tableOffsets(v: DataView): Map<string, number> {
  const num = v.getUint16(4);
  const out = new Map<string, number>();
  for (let i = 0; i < num; i++) {
    const r = 12 + 16 * i;
    const tag = String.fromCharCode(
      v.getUint8(r),
      v.getUint8(r + 1),
      v.getUint8(r + 2),
      v.getUint8(r + 3),
    );
    out.set(tag, v.getUint32(r + 8));
  }
  return out;
}

/** Parses the widths of a TTF/OTF file's bytes. Throws on a file it cannot read. */
export function parseFontWidths(bytes: Uint8Array): FontWidths {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const t = tableOffsets(v);
  const head = t.get('head');
  const hhea = t.get('hhea');
  const hmtx = t.get('hmtx');
  const cmap = t.get('cmap');
  if (head === undefined || hhea === undefined || hmtx === undefined || cmap === undefined) {
    throw new Error(
      'font: expected head, hhea, hmtx and cmap tables, found ' + [...t.keys()].join(' '),
    );
  }
  const unitsPerEm = v.getUint16(head + 18);
  const numberOfHMetrics = v.getUint16(hhea + 34);
  const glyphAdvance = (g: number) => v.getUint16(hmtx + 4 * Math.min(g, numberOfHMetrics - 1));

  // pick a Unicode subtable: (3,10) or (0,4+) format 12 first, else (3,1) / (0,x) format 4
  const n = v.getUint16(cmap + 2);
  let f12: number | undefined;
  let f4: number | undefined;
  for (let i = 0; i < n; i++) {
    const r = cmap + 4 + 8 * i;
    const platform = v.getUint16(r);
    const encoding = v.getUint16(r + 2);
    const sub = cmap + v.getUint32(r + 4);
    const format = v.getUint16(sub);
    const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (!unicode) continue;
    if (format === 12 && f12 === undefined) f12 = sub;
    if (format === 4 && f4 === undefined) f4 = sub;
  }
  let glyphOf: (cp: number) => number;
  if (f12 !== undefined) {
    const base = f12;
    const groups = v.getUint32(base + 12);
    glyphOf = (cp) => {
      let lo = 0;
      let hi = groups - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const g = base + 16 + 12 * mid;
        const start = v.getUint32(g);
        const end = v.getUint32(g + 4);
        if (cp < start) hi = mid - 1;
        else if (cp > end) lo = mid + 1;
        else return v.getUint32(g + 8) + (cp - start);
      }
      return 0;
    };
  } else if (f4 !== undefined) {
    const base = f4;
    const segX2 = v.getUint16(base + 6);
    const ends = base + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const ranges = deltas + segX2;
    glyphOf = (cp) => {
      if (cp > 0xffff) return 0;
      for (let s = 0; s < segX2; s += 2) {
        if (cp > v.getUint16(ends + s)) continue;
        const start = v.getUint16(starts + s);
        if (cp < start) return 0;
        const delta = v.getInt16(deltas + s);
        const ro = v.getUint16(ranges + s);
        if (ro === 0) return (cp + delta) & 0xffff;
        const g = v.getUint16(ranges + s + ro + 2 * (cp - start));
        return g === 0 ? 0 : (g + delta) & 0xffff;
      }
      return 0;
    };
  } else {
    throw new Error('font: expected a Unicode cmap subtable of format 4 or 12');
  }
  const cache = new Map<number, number | undefined>();
  return {
    unitsPerEm,
    advance(cp) {
      if (cache.has(cp)) return cache.get(cp);
      const g = glyphOf(cp);
      const a = g === 0 ? undefined : glyphAdvance(g);
      cache.set(cp, a);
      return a;
    },
  };
}

/** Width in pixels of `text` at `fontSize`; characters the font lacks count 0.6 em. */
export function textWidth(font: FontWidths, text: string, fontSize: number): number {
  let units = 0;
  for (const ch of text) {
    const a = font.advance(ch.codePointAt(0)!);
    units += a ?? 0.6 * font.unitsPerEm;
  }
  return (units / font.unitsPerEm) * fontSize;
}
