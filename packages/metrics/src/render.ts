import { FigureError } from './errors.js';
import type { FigureSpec } from './figure-specs.js';
import { textWidth } from './font-metrics.js';
import { embeddedInterWidths } from './inter-widths.js';

interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
}
type WidthFn = (item: TextItem, text?: unknown) => number;

// Vega's documented hook for custom text measurement (vl-convert uses it too) is the mutable
// textMetrics.width. It is process-wide: install ours while any render runs, then put back
// whatever was there.
let installs = 0;
let previousWidth: WidthFn | undefined;

function isBold(w: TextItem['fontWeight']): boolean {
  if (w === undefined) return false;
  if (w === 'bold' || w === 'bolder') return true;
  const n = Number(w);
  return Number.isFinite(n) && n >= 600;
}

/**
 * Renders a Vega-Lite spec to an SVG string, headless (Vega's SVG string renderer; no canvas),
 * in Node and in a browser alike: text is laid out with Inter's advance widths, embedded in the
 * package (the font the PNG renderer draws with). Vega and Vega-Lite are loaded on first use.
 */
export async function renderSvg(spec: FigureSpec): Promise<string> {
  if (typeof spec !== 'object' || spec === null || typeof spec.$schema !== 'string') {
    throw new FigureError(
      'renderSvg: spec: expected a Vega-Lite spec object with a $schema, found ' + typeof spec,
    );
  }
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const fonts = embeddedInterWidths();
  const metrics = (vega as unknown as { textMetrics: { width: WidthFn } }).textMetrics;
  const measure: WidthFn = (item, text) => {
    const s = text == null ? '' : String(text).trim();
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    return textWidth(isBold(item.fontWeight) ? fonts.bold : fonts.regular, s, size);
  };
  if (installs++ === 0) {
    previousWidth = metrics.width;
    metrics.width = measure;
  }
  let view: InstanceType<typeof vega.View> | undefined;
  try {
    // biome-ignore lint/suspicious/noExplicitAny: our FigureSpec is plain JSON, checked by the compiler here
    const compiled = vl.compile(spec as any);
    view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
    return await view.toSVG();
  } catch (e) {
    throw new FigureError(`renderSvg: Vega could not render the spec: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    view?.finalize();
    if (--installs === 0 && previousWidth) {
      metrics.width = previousWidth;
      previousWidth = undefined;
    }
  }
}

/**
 * PNG needs resvg, a native module: in the main entry (browser-safe) this only says where the
 * real one is.
 */
export async function renderPng(..._args: unknown[]): Promise<never> {
  throw new FigureError(
    "renderPng is Node-only (resvg is a native module): in Node, import { renderPng } from '@fa-robust/metrics/node'; in a browser, draw renderSvg's SVG to a canvas",
  );
}
