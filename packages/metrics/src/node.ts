/**
 * The Node-only half of @fa-robust/metrics (`@fa-robust/metrics/node`): PNG rendering with
 * resvg and the bundled Inter font, and writing figures and results files. The main entry has
 * everything else and bundles for the browser.
 */
import { FigureError } from './errors.js';
import { type FigureSpec, figuresFor } from './figure-specs.js';
import { renderSvg } from './render.js';
import type { Results } from './results-schema.js';

export { readResults, writeResults } from './results-io.js';

/**
 * The font files bundled for PNG rendering (Inter regular and bold, SIL OFL, from
 * @expo-google-fonts/inter), so text renders on a machine without any system font.
 */
export async function bundledFontFiles(): Promise<string[]> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  return [
    require.resolve('@expo-google-fonts/inter/400Regular/Inter_400Regular.ttf'),
    require.resolve('@expo-google-fonts/inter/700Bold/Inter_700Bold.ttf'),
  ];
}

export interface PngOptions {
  /** Pixel density: 2 gives a sharp figure on screens and in papers. Default 2. */
  scale?: number;
  /** Background colour. Default '#ffffff'. */
  background?: string;
  /** More font files (TTF/OTF) to load besides the bundled Inter. */
  fontFiles?: string[];
  /** Also load the system's fonts: slower, and output then depends on the machine. Default false. */
  loadSystemFonts?: boolean;
}

/**
 * Renders a spec (or an SVG string from renderSvg) to PNG bytes with resvg, using the bundled
 * Inter font so text never renders blank.
 */
export async function renderPng(
  input: FigureSpec | string,
  options: PngOptions = {},
): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  if (!(typeof scale === 'number' && scale > 0 && scale <= 16)) {
    throw new FigureError(
      `renderPng: options.scale: expected a number in (0, 16], found ${String(scale)}`,
    );
  }
  const svg = typeof input === 'string' ? input : await renderSvg(input);
  const mod = (await import('@resvg/resvg-js')) as typeof import('@resvg/resvg-js') & {
    default?: typeof import('@resvg/resvg-js');
  };
  const Resvg = mod.Resvg ?? mod.default?.Resvg;
  try {
    const r = new Resvg(svg, {
      background: options.background ?? '#ffffff',
      fitTo: { mode: 'zoom', value: scale },
      font: {
        loadSystemFonts: options.loadSystemFonts ?? false,
        fontFiles: [...(await bundledFontFiles()), ...(options.fontFiles ?? [])],
        defaultFontFamily: 'Inter',
        sansSerifFamily: 'Inter',
      },
    });
    return new Uint8Array(r.render().asPng());
  } catch (e) {
    throw new FigureError(`renderPng: resvg could not render the SVG: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

export type FigureFormat = 'svg' | 'png' | 'json';

export interface WriteFigureOptions extends PngOptions {
  /** What to write. Default ['svg', 'png']; 'json' writes the Vega-Lite spec itself. */
  formats?: FigureFormat[];
}

/** Writes `<basePath>.svg`, `.png` (and `.vl.json`) for a spec; returns the files written. */
export async function writeFigure(
  spec: FigureSpec,
  basePath: string,
  options: WriteFigureOptions = {},
): Promise<string[]> {
  const formats = options.formats ?? ['svg', 'png'];
  for (const f of formats) {
    if (f !== 'svg' && f !== 'png' && f !== 'json') {
      throw new FigureError(
        `writeFigure: options.formats: expected 'svg', 'png' or 'json', found ${JSON.stringify(f)}`,
      );
    }
  }
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  await mkdir(dirname(basePath), { recursive: true });
  const written: string[] = [];
  let svg: string | undefined;
  if (formats.includes('svg') || formats.includes('png')) svg = await renderSvg(spec);
  if (formats.includes('svg')) {
    await writeFile(`${basePath}.svg`, svg!);
    written.push(`${basePath}.svg`);
  }
  if (formats.includes('png')) {
    await writeFile(`${basePath}.png`, await renderPng(svg!, options));
    written.push(`${basePath}.png`);
  }
  if (formats.includes('json')) {
    await writeFile(`${basePath}.vl.json`, `${JSON.stringify(spec, null, 2)}\n`);
    written.push(`${basePath}.vl.json`);
  }
  return written;
}

/** Writes every figure `figuresFor(results)` gives into `dir`; returns the files written. */
export async function writeFigures(
  results: Results,
  dir: string,
  options: WriteFigureOptions = {},
): Promise<string[]> {
  const { join } = await import('node:path');
  const written: string[] = [];
  for (const { name, spec } of figuresFor(results))
    written.push(...(await writeFigure(spec, join(dir, name), options)));
  return written;
}
