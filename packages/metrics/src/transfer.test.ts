import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MetricsInputError } from './errors.js';
import { transferredFrom, transferSource } from './results-schema.js';
import { validateResults } from './results-validate.js';
import { transferAt, transferMatrix, transferMatrixFromResults } from './transfer.js';

const fixture = () =>
  validateResults(
    JSON.parse(
      readFileSync(new URL('./__fixtures__/paper-like.results.json', import.meta.url), 'utf8'),
    ),
  );

describe('transferMatrix', () => {
  it('lays accuracies out as [epsilon][source][target], null where not measured', () => {
    const m = transferMatrix([
      { source: 'bp', target: 'fa', epsilon: 0.3, correct: [1, 0, 0, 0] },
      { source: 'fa', target: 'bp', epsilon: 0.3, correct: [1, 1, 1, 0] },
      { source: 'bp', target: 'bp', epsilon: 0.3, correct: [0, 0, 0, 0] },
      { source: 'bp', target: 'fa', epsilon: 0.1 + 0.2 - 0.2, correct: { count: 3, n: 4 } },
    ]);
    expect(m.models).toEqual(['bp', 'fa']);
    expect(m.epsilons).toEqual([0.1, 0.3]);
    expect(m.accuracy).toEqual([
      [
        [null, 0.75],
        [null, null],
      ],
      [
        [0, 0.25],
        [0.75, null],
      ],
    ]);
    expect(transferAt(m, 'fa', 'bp', 0.3)?.accuracy).toMatchObject({ count: 3, n: 4 });
    expect(transferAt(m, 'bp', 'fa', 0.1)?.accuracy.value).toBe(0.75);
    expect(transferAt(m, 'fa', 'fa', 0.3)).toBeUndefined();
  });

  it('refuses a pair measured twice at one epsilon', () => {
    const e = { source: 'bp', target: 'fa', epsilon: 0.3, correct: [1] };
    expect(() => transferMatrix([e, { ...e, epsilon: 0.1 + 0.2 }])).toThrow(MetricsInputError);
    expect(() => transferMatrix([e, e])).toThrow(
      'transferMatrix: entries[1]: expected one entry per (source, target, epsilon), found a second bp -> fa at 0.3',
    );
  });

  it('builds from a results file: transfer cells off the diagonal, white-box on it', () => {
    const r = fixture();
    const m = transferMatrixFromResults(r, { dataset: 'mnist', attack: 'fgsm' });
    expect(m.models.sort()).toEqual(['bp', 'fa']);
    expect(m.epsilons).toHaveLength(11);
    const cell = r.cells.find(
      (c) =>
        c.dataset === 'mnist' &&
        c.attack === 'fgsm' &&
        c.model === 'fa' &&
        c.source === 'transfer:bp' &&
        c.epsilon === 0.3,
    )!;
    expect(transferAt(m, 'bp', 'fa', 0.3)?.accuracy.count).toBe(cell.correct);
    const own = r.cells.find(
      (c) =>
        c.dataset === 'mnist' &&
        c.attack === 'fgsm' &&
        c.model === 'bp' &&
        c.source === 'own' &&
        c.epsilon === 0.3,
    )!;
    expect(transferAt(m, 'bp', 'bp', 0.3)?.accuracy.count).toBe(own.correct);
    expect(() => transferMatrixFromResults(r, { dataset: 'mnist', attack: 'pgd' })).toThrow(
      /no .*|expected cells of dataset 'mnist', attack 'pgd'/,
    );
    const variant = transferMatrixFromResults(r, {
      dataset: 'cifar10',
      attack: 'mifgsm',
      variant: 'paper',
      whiteBoxSource: null,
    });
    expect(variant.accuracy[5]![0]![0]).toBeNull();
  });
});

describe('transfer source names', () => {
  it('round-trip, and anything else is no transfer', () => {
    expect(transferSource('bp-surrogate')).toBe('transfer:bp-surrogate');
    expect(transferredFrom(transferSource('fa'))).toBe('fa');
    expect(transferredFrom('own')).toBeNull();
    expect(transferredFrom('transfer:')).toBe('');
  });
});
