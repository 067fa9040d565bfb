import { createResults, type ResultCell, resultCell } from '@fa-robust/metrics';
import { describe, expect, it } from 'vitest';
import { checkClaims, renderReport } from './report.js';
import { auditVerdict } from './verdict.js';

const N = 200;
/** A cell whose accuracy is `acc` on N examples (all correct before the attack). */
function cell(
  model: string,
  attack: string,
  source: string,
  epsilon: number,
  acc: number,
  clean = 0.98,
): ResultCell {
  const before = Uint8Array.from({ length: N }, (_, i) => (i < clean * N ? 1 : 0));
  const after = Uint8Array.from({ length: N }, (_, i) => (i < acc * N ? 1 : 0));
  return resultCell({
    dataset: 'mnist',
    model,
    attack,
    epsilon,
    source,
    cleanCorrect: before,
    adversarialCorrect: after,
    ...(attack === 'none' ? {} : { variant: 'paper' }),
  });
}

function results(cells: ResultCell[]) {
  return createResults({
    config: {
      preset: 'quick',
      seed: 1,
      attacks: {
        names: ['fgsm', 'bim'],
        epsilons: [0, 0.3],
        variant: 'paper',
        iterations: 10,
        mu: 0.8,
      },
    },
    environment: { backend: 'wasm', versions: {} },
    models: ['bp', 'fa', 'bp-surrogate'].map((id) => ({
      dataset: 'mnist',
      id,
      method: id === 'fa' ? 'fa' : 'bp',
    })),
    cells,
  });
}

const clean = (m: string, acc = 0.98) => cell(m, 'none', 'none', 0, acc, acc);

describe('audit verdict', () => {
  it('calls it gradient masking when the true gradient beats the feedback path significantly', () => {
    const r = results([
      clean('fa'),
      cell('fa', 'fgsm', 'own', 0.3, 0.95),
      cell('fa', 'bim', 'own', 0.3, 0.9),
      cell('fa', 'fgsm', 'true', 0.3, 0.2),
      cell('fa', 'bim', 'true', 0.3, 0.01),
      cell('fa', 'square', 'none', 0.3, 0.5),
      cell('fa', 'bim', 'transfer:bp-surrogate', 0.3, 0.4),
    ]);
    const v = auditVerdict(r, 'mnist', 'fa');
    expect(v.verdict).toBe('gradient masking');
    expect(v.rows[0]!.own!.accuracy).toBeCloseTo(0.9);
    expect(v.rows[0]!.strongest!.check).toBe('true gradient');
    expect(v.rows[0]!.strongest!.accuracy).toBeCloseTo(0.01);
    expect(v.rows[0]!.gap).toBeCloseTo(0.89);
    expect(v.rows[0]!.significant).toBe(true);
    expect(v.summary).toMatch(
      /true gradient attack takes FA to 1\.0% while its own backward path only reaches 90\.0%/,
    );
  });

  it('calls it robust when no check does much better and accuracy holds', () => {
    const r = results([
      clean('fa'),
      cell('fa', 'bim', 'own', 0.3, 0.9),
      cell('fa', 'bim', 'true', 0.3, 0.88),
      cell('fa', 'square', 'none', 0.3, 0.91),
      cell('fa', 'bim', 'transfer:bp-surrogate', 0.3, 0.93),
    ]);
    expect(auditVerdict(r, 'mnist', 'fa').verdict).toBe('robust');
  });

  it('does not call a small gap masking, even when significant, nor a large one that is not', () => {
    const r = results([
      clean('fa'),
      cell('fa', 'bim', 'own', 0.3, 0.2),
      cell('fa', 'bim', 'true', 0.3, 0.12),
    ]);
    expect(auditVerdict(r, 'mnist', 'fa').verdict).toBe('not robust');
  });

  it('is inconclusive without audit cells, and for a model that learned too little', () => {
    expect(
      auditVerdict(results([clean('fa'), cell('fa', 'bim', 'own', 0.3, 0.9)]), 'mnist', 'fa')
        .verdict,
    ).toBe('inconclusive');
    const barely = results([
      clean('bp', 0.98),
      clean('fa', 0.15),
      cell('fa', 'bim', 'own', 0.3, 0.15, 0.15),
      cell('fa', 'bim', 'true', 0.3, 0, 0.15),
    ]);
    const v = auditVerdict(barely, 'mnist', 'fa');
    expect(v.verdict).toBe('inconclusive');
    expect(v.summary).toMatch(
      /only 15\.0% clean accuracy \(under 54\.0%, halfway from chance to BP's 98\.0%\)/,
    );
  });

  it("judges a model against how much its dataset allows: 38% next to BP's 60% is trained, and kept accuracy is relative to clean", () => {
    const cifar = (fa: number, bp: number, own: number, strongest: number) =>
      results([
        clean('bp', bp),
        clean('fa', fa),
        cell('fa', 'bim', 'own', 0.3, own, fa),
        cell('fa', 'bim', 'true', 0.3, strongest, fa),
      ]);
    // floor 0.1 + 0.5 * (0.6 - 0.1) = 0.35
    expect(auditVerdict(cifar(0.38, 0.6, 0.3, 0.0), 'mnist', 'fa').verdict).toBe(
      'gradient masking',
    );
    expect(auditVerdict(cifar(0.33, 0.6, 0.3, 0.0), 'mnist', 'fa').verdict).toBe('inconclusive');
    // no masking; keeps 0.2 of 0.38 clean (over half): robust; 0.15 of 0.38: not robust
    expect(auditVerdict(cifar(0.38, 0.6, 0.22, 0.2), 'mnist', 'fa').verdict).toBe('robust');
    expect(auditVerdict(cifar(0.38, 0.6, 0.17, 0.15), 'mnist', 'fa').verdict).toBe('not robust');
  });
});

describe('report', () => {
  it("checks the paper's claims against the numbers, both ways", () => {
    const holds = results([
      clean('fa'),
      clean('bp'),
      cell('fa', 'fgsm', 'own', 0.3, 0.97),
      cell('fa', 'bim', 'own', 0.3, 0.96),
      cell('bp', 'fgsm', 'own', 0.3, 0.02),
      cell('bp', 'bim', 'own', 0.3, 0.0),
      cell('bp', 'fgsm', 'transfer:fa', 0.3, 0.97),
      cell('bp', 'bim', 'transfer:fa', 0.3, 0.95),
      cell('fa', 'bim', 'transfer:bp', 0.3, 0.1),
    ]);
    const c = checkClaims(holds, ['fgsm', 'bim'], [0.3]);
    expect(c.map((x) => x.holds)).toEqual([true, true, true, true]);
    const fails = results([
      clean('fa'),
      cell('fa', 'fgsm', 'own', 0.3, 0.3),
      cell('bp', 'fgsm', 'own', 0.3, 0.5),
    ]);
    const d = checkClaims(fails, ['fgsm'], [0.3]);
    expect(d[0]!.holds).toBe(false);
    expect(d[0]!.ours).toMatch(/30\.0%/);
    expect(d[1]!.holds).toBe(false);
    expect(d[2]!.holds).toBeNull(); // no transfer cells: no claim either way
    const md = renderReport(holds, [auditVerdict(holds, 'mnist', 'fa')], {
      command: 'x',
      seconds: 60,
      figures: ['figures/a.png'],
      datasetNotes: ['mnist: 10 images'],
    });
    expect(md).toMatch(
      /\| MNIST: BP falls to ~0% accuracy \| BP's accuracy at eps 0\.3 \(worst attack\): 0\.0% \| yes \|/,
    );
    expect(md).toMatch(/### MNIST: \*\*inconclusive\*\*/);
    expect(md).toMatch(/!\[figures\/a\.png\]\(figures\/a\.png\)/);
  });
});
