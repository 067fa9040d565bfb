import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluationResults } from './__fixtures__/evaluation.js';
import { accuracyRows } from './figure-rows.js';
import { accuracyFigure, alignmentFigure, figuresFor, transferFigure } from './figure-specs.js';
import { parseFontWidths, textWidth } from './font-metrics.js';
import { bundledFontFiles, renderPng, writeFigure, writeFigures } from './node.js';
import { renderPng as mainRenderPng, renderSvg } from './render.js';
import type { Results } from './results-schema.js';
import { validateResults } from './results-validate.js';
import { darkPixels, decodePng } from './test-utils.js';

const fixture = (): Results =>
  validateResults(
    JSON.parse(
      readFileSync(new URL('./__fixtures__/paper-like.results.json', import.meta.url), 'utf8'),
    ),
  );
// Set FA_ROBUST_FIGURES_OUT to keep the rendered figures and look at them.
const keep = process.env.FA_ROBUST_FIGURES_OUT;
const out = keep ?? mkdtempSync(join(tmpdir(), 'fa-robust-figures-'));
afterAll(() => {
  if (!keep) rmSync(out, { recursive: true, force: true });
  else console.log(`figures kept in ${out}`);
});

/** Text contents of the SVG's <text> elements. */
const texts = (svg: string) =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));

/** Line marks: their aria-label fields and their points. */
function lines(svg: string): { fields: Record<string, string>; points: [number, number][] }[] {
  return [
    ...svg.matchAll(
      /<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark" d="([^"]*)"/g,
    ),
  ].map((m) => ({
    fields: Object.fromEntries(m[1]!.split('; ').map((kv) => kv.split(': ') as [string, string])),
    points: m[2]!
      .slice(1)
      .split('L')
      .map((p) => p.split(',').map(Number) as [number, number]),
  }));
}

describe('renderSvg', () => {
  it('draws Figure 1a from the fixture: 3 panels x 2 series at the cells accuracies, titled and labelled', async () => {
    const r = fixture();
    const svg = await renderSvg(accuracyFigure(r, { dataset: 'mnist' }));
    const t = texts(svg);
    for (const s of [
      'MNIST: accuracy under attack',
      'FGSM',
      'BIM',
      "MI-FGSM (paper's equations)",
      'Accuracy (%)',
      'Perturbation ε (L∞)',
      'Training',
      'BP',
      'FA',
    ]) {
      expect(t).toContain(s);
    }
    const ls = lines(svg);
    expect(ls).toHaveLength(6);
    expect(new Set(ls.map((l) => `${l.fields.Attack}/${l.fields.Training}`))).toEqual(
      new Set([
        'FGSM/BP',
        'FGSM/FA',
        'BIM/BP',
        'BIM/FA',
        "MI-FGSM (paper's equations)/BP",
        "MI-FGSM (paper's equations)/FA",
      ]),
    );
    // every line point sits where its cell's accuracy says: y = 220 (1 - acc / 100), x = 240 eps
    const rows = accuracyRows(r, { dataset: 'mnist' });
    for (const l of ls) {
      const mine = rows.filter(
        (x) => x.attack === l.fields.Attack && x.series === l.fields.Training,
      );
      expect(l.points).toHaveLength(11);
      l.points.forEach(([x, y], i) => {
        expect(x).toBeCloseTo(240 * mine[i]!.epsilon, 1);
        expect(y).toBeCloseTo(220 * (1 - mine[i]!.accuracy / 100), 1);
      });
    }
    // BP falls to ~0 and FA stays high, as in the fixture
    const bp = ls.find((l) => l.fields.Attack === 'FGSM' && l.fields.Training === 'BP')!;
    expect(bp.points.at(-1)![1]).toBeGreaterThan(215);
    // the y axis sits at eps = 0, not pushed left by the points drawn there
    expect(svg).toMatch(
      /class="mark-group role-row-header row_header"[^>]*><g transform="translate\(0,0\)"/,
    );
    // the Wilson bands are drawn: one area per series and panel
    expect(svg.match(/aria-roledescription="area mark"/g)).toHaveLength(6);
  });

  it('draws the transfer and alignment figures with their legends', async () => {
    const r = fixture();
    const tsvg = await renderSvg(transferFigure(r, { dataset: 'cifar10' }));
    expect(texts(tsvg)).toEqual(
      expect.arrayContaining([
        'CIFAR-10: transfer of adversarial examples',
        'Source → target',
        'BP → FA',
        'FA → BP',
      ]),
    );
    expect(lines(tsvg).map((l) => l.fields['Source → target'])).toEqual(
      expect.arrayContaining(['BP → FA', 'FA → BP']),
    );
    const asvg = await renderSvg(alignmentFigure(r));
    expect(texts(asvg)).toEqual(
      expect.arrayContaining([
        'Gradient alignment',
        'MNIST',
        'CIFAR-10',
        'Angle between gradients (degrees)',
        'Examples (%)',
        'orthogonal',
        'BP',
        'FA',
      ]),
    );
    expect(asvg.match(/aria-roledescription="rect mark"/g)?.length).toBe(4 * 36);
  });

  it('puts back the text measurement Vega had, and says what is wrong with a bad spec', async () => {
    const before = (vega as unknown as { textMetrics: { width: unknown } }).textMetrics.width;
    await renderSvg(accuracyFigure(fixture(), { dataset: 'mnist', intervals: false }));
    expect((vega as unknown as { textMetrics: { width: unknown } }).textMetrics.width).toBe(before);
    await expect(renderSvg({} as never)).rejects.toThrow(
      /renderSvg: spec: expected a Vega-Lite spec object with a \$schema/,
    );
    await expect(renderSvg({ $schema: 'x', mark: 'nope' })).rejects.toThrow(
      /renderSvg: Vega could not render the spec: /,
    );
  });
});

describe('renderSvg, the evaluation figures', () => {
  const evaluation = evaluationResults();
  const named = (name: string) => figuresFor(evaluation).find((f) => f.name === name)!.spec;

  it('breaks a line where its series was not measured', async () => {
    const svg = await renderSvg(
      accuracyFigure(evaluation, {
        dataset: 'mnist',
        setting: 'paper',
        models: ['bp', 'fa', 'bp-surrogate'],
      }),
    );
    const surrogate = lines(svg).filter((l) => l.fields.Training === 'BP surrogate');
    // per panel: 0-0.1 drawn as a line, 0.3 and 0.5 as lone points (no segment across 0.2, 0.4)
    expect(surrogate).toHaveLength(3 * 3);
    expect(surrogate.map((l) => l.points.length).sort()).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2]);
    const bp = lines(svg).filter((l) => l.fields.Training === 'BP');
    expect(bp.map((l) => l.points.length)).toEqual([11, 11, 11]);
  });

  it('writes the robust-accuracy axis in grey levels and one legend for colour and dash', async () => {
    const robust = texts(await renderSvg(named('robust-cifar10')));
    for (const s of ['1/255', '2/255', '4/255', '8/255', '16/255', '0.5', '1', 'BP', 'FA'])
      expect(robust).toContain(s);
    expect(robust).toContain('every in-ball attack');
    expect(robust).toContain('CIFAR-10: robust accuracy');
    const curves = texts(await renderSvg(named('curves-mnist')));
    expect(curves.filter((t) => t === 'Model (gradient)')).toHaveLength(1);
    for (const s of ['Steps', 'Restarts', '1000', 'BP', 'FA (own path)', 'FA (true gradient)'])
      expect(curves).toContain(s);
    const layers = texts(await renderSvg(named('layer-alignment')));
    for (const s of ['conv1', 'fc3', 'orthogonal', 'Weight alignment per layer'])
      expect(layers).toContain(s);
  });

  it('writes every figure of results with an evaluation', async () => {
    const files = await writeFigures(evaluation, join(out, 'evaluation'), { formats: ['png'] });
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(
      [
        'accuracy-mnist',
        'transfer-mnist',
        'robust-mnist',
        'curves-mnist',
        'accuracy-cifar10',
        'transfer-cifar10',
        'robust-cifar10',
        'curves-cifar10',
        'alignment',
        'layer-alignment',
      ].map((n) => `evaluation/${n}.png`),
    );
    for (const f of files) expect(darkPixels(decodePng(readFileSync(f)))).toBeGreaterThan(1000);
  });
});

describe('text widths', () => {
  it('measures Inter like resvg draws it', async () => {
    const [regularFile] = await bundledFontFiles();
    const regular = parseFontWidths(readFileSync(regularFile!));
    const text = 'Accuracy under attack: BP → FA';
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="200"><text x="10" y="120" font-family="Inter" font-size="100">${text}</text></svg>`;
    const bbox = new Resvg(svg, {
      font: { loadSystemFonts: false, fontFiles: [regularFile!], defaultFontFamily: 'Inter' },
    }).getBBox()!;
    const measured = textWidth(regular, text, 100);
    // the ink box lacks the side bearings of the first and last glyph: a few px at 100 px
    expect(Math.abs(measured - bbox.width) / bbox.width).toBeLessThan(0.02);
    // Vega's fallback guess (0.8 em per character) would be far off
    expect((0.8 * 100 * [...text].length) / bbox.width).toBeGreaterThan(1.4);
  });
});

describe('renderPng', () => {
  it('renders text with the bundled font alone (no system fonts)', async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="NoSuchFont, sans-serif" font-size="24">Accuracy</text></svg>`;
    const img = decodePng(await renderPng(svg, { scale: 1 }));
    expect([img.width, img.height]).toEqual([200, 40]);
    expect(darkPixels(img)).toBeGreaterThan(150);
    const blank = decodePng(await renderPng(svg.replace('Accuracy', ''), { scale: 1 }));
    expect(darkPixels(blank)).toBe(0);
  });

  it('renders Figure 1a at 2x with its content inside the frame and nothing cut off', async () => {
    const spec = accuracyFigure(fixture(), { dataset: 'mnist' });
    const svg = await renderSvg(spec);
    const [, w, h] = svg.match(/<svg[^>]* width="(\d+)" height="(\d+)"/)!.map(Number);
    const png = await renderPng(svg);
    const img = decodePng(png);
    expect([img.width, img.height]).toEqual([w! * 2, h! * 2]);
    // the title is drawn (dark text in its band), and the legend on the right
    expect(darkPixels(img, 100, { x0: 0, y0: 0, x1: img.width, y1: 60 })).toBeGreaterThan(500);
    // tight layout: the rightmost ink is near the right edge but not on it (no clipping, no blank margin)
    let right = 0;
    for (let x = img.width - 1; x >= 0 && right === 0; x--) {
      if (darkPixels(img, 200, { x0: x, y0: 0, x1: x + 1, y1: img.height }) > 0) right = x;
    }
    expect(img.width - right).toBeGreaterThan(4);
    expect(img.width - right).toBeLessThan(2 * 40);
    await expect(renderPng(svg, { scale: 0 })).rejects.toThrow(
      'renderPng: options.scale: expected a number in (0, 16], found 0',
    );
  });

  it('writes SVG, PNG and the spec for every figure of the fixture', async () => {
    const files = await writeFigures(fixture(), out);
    expect(files.filter((f) => f.endsWith('.png')).map((f) => f.slice(out.length + 1))).toEqual([
      'accuracy-mnist.png',
      'transfer-mnist.png',
      'accuracy-cifar10.png',
      'transfer-cifar10.png',
      'alignment.png',
    ]);
    for (const f of files) expect(existsSync(f)).toBe(true);
    const one = await writeFigure(
      accuracyFigure(fixture(), { dataset: 'cifar10', layout: 'single' }),
      join(out, 'single', 'accuracy-cifar10-single'),
      {
        formats: ['json', 'png'],
      },
    );
    expect(one.map((f) => f.slice(out.length + 1))).toEqual([
      'single/accuracy-cifar10-single.png',
      'single/accuracy-cifar10-single.vl.json',
    ]);
    expect(JSON.parse(readFileSync(one[1]!, 'utf8')).$schema).toMatch(/vega-lite/);
    await expect(
      writeFigure(accuracyFigure(fixture(), { dataset: 'mnist' }), join(out, 'x'), {
        formats: ['pdf' as never],
      }),
    ).rejects.toThrow(`writeFigure: options.formats: expected 'svg', 'png' or 'json', found "pdf"`);
  });
});

describe("the main entry's renderPng", () => {
  it('says PNG is Node-only and where the real one is', async () => {
    const spec = accuracyFigure(evaluationResults(), { dataset: 'mnist' });
    await expect(mainRenderPng(spec)).rejects.toThrow(
      /renderPng is Node-only \(resvg is a native module\): in Node, import \{ renderPng \} from '@fa-robust\/metrics\/node'/,
    );
  });
});
