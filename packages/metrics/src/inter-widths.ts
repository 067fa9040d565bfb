import type { FontWidths } from './font-metrics.js';
import { INTER_WIDTH_DATA } from './inter-widths-data.js';

/** The embedded advance-width tables of Inter Regular and Bold (checked by inter-widths.test.ts). */
export const INTER_WIDTHS: {
  regular: { unitsPerEm: number; runs: string };
  bold: { unitsPerEm: number; runs: string };
} = INTER_WIDTH_DATA;

function decode(table: { unitsPerEm: number; runs: string }): FontWidths {
  const widths = new Map<number, number>();
  for (const line of table.runs.split('\n')) {
    if (!line) continue;
    const [start, list] = line.split(':') as [string, string];
    list.split(',').forEach((w, i) => {
      widths.set(Number(start) + i, Number(w));
    });
  }
  return { unitsPerEm: table.unitsPerEm, advance: (cp) => widths.get(cp) };
}

let decoded: { regular: FontWidths; bold: FontWidths } | undefined;

/** Inter's widths, from the embedded tables: no file read, so it works in a browser too. */
export function embeddedInterWidths(): { regular: FontWidths; bold: FontWidths } {
  decoded ??= { regular: decode(INTER_WIDTHS.regular), bold: decode(INTER_WIDTHS.bold) };
  return decoded;
}
