import { resultCell } from '@fa-robust/metrics';
import { describe, expect, it } from 'vitest';
import { datasetCells, robustRecords } from './assemble.js';
import type { StepOutput } from './steps.js';

const N = 6;
const mask = (s: string) => Uint8Array.from(s, (c) => (c === '1' ? 1 : 0));
const step = (
  cells: { model: string; attack: string; source: string; eps: number; correct: string }[],
): StepOutput => ({
  cells: cells.map((c) =>
    resultCell({
      dataset: 'mnist',
      model: c.model,
      attack: c.attack,
      epsilon: c.eps,
      source: c.source,
      cleanCorrect: new Uint8Array(c.correct.length).fill(1),
      adversarialCorrect: mask(c.correct),
    }),
  ),
  masks: cells.map((c) => mask(c.correct)),
});

describe('robustRecords', () => {
  const outputs = [
    step([
      { model: 'fa', attack: 'bim', source: 'own', eps: 0.1, correct: '111100' },
      { model: 'bp', attack: 'bim', source: 'transfer:fa', eps: 0.1, correct: '000000' },
    ]),
    step([{ model: 'fa', attack: 'bim', source: 'true', eps: 0.1, correct: '101101' }]),
    step([{ model: 'fa', attack: 'fgsm', source: 'own', eps: 0.1 + 0.2 - 0.2, correct: '111110' }]),
    // on a subset of the images: cannot take part in the per-example minimum
    step([{ model: 'fa', attack: 'square', source: 'none', eps: 0.1, correct: '00' }]),
    step([{ model: 'fa', attack: 'bim', source: 'own', eps: 0.3, correct: '000001' }]),
  ];

  it('is per example: correct under every attack that ran on all the images at that eps', () => {
    const [r01, r03] = robustRecords('mnist', 'fa', outputs, [0.1, 0.3], N);
    expect(r01!.attacks).toEqual(['bim/own', 'bim/true', 'fgsm/own']);
    // 111100 & 101101 & 111110 = 101100
    expect(r01!.correct).toBe(3);
    expect(r01!.n).toBe(N);
    expect(r03!.attacks).toEqual(['bim/own']);
    expect(r03!.correct).toBe(1);
  });

  it('gives no record where no attack covers every image, nor for another model or dataset', () => {
    expect(robustRecords('mnist', 'fa', outputs, [0.5], N)).toEqual([]);
    expect(robustRecords('cifar10', 'fa', outputs, [0.1], N)).toEqual([]);
    expect(robustRecords('mnist', 'bp', outputs, [0.1], N)[0]!.attacks).toEqual([
      'bim/transfer:fa',
    ]);
  });

  it('keeps the cells in plan order after the clean ones', () => {
    const clean = step([
      { model: 'fa', attack: 'none', source: 'none', eps: 0, correct: '111111' },
    ]);
    const cells = datasetCells(clean.cells, outputs);
    expect(cells.map((c) => `${c.attack}/${c.source}`)).toEqual([
      'none/none',
      'bim/own',
      'bim/transfer:fa',
      'bim/true',
      'fgsm/own',
      'square/none',
      'bim/own',
    ]);
  });
});
