import { resultCell } from '@fa-robust/metrics';
import { describe, expect, it } from 'vitest';
import { decodeStep, encodeStep, packMask, StoredStepError, unpackMask } from './codec.js';

const cellOf = (model: string, source: string, n: number, after?: Uint8Array) =>
  resultCell({
    dataset: 'mnist',
    model,
    attack: 'bim',
    variant: 'paper',
    epsilon: 0.1,
    source,
    cleanCorrect: new Uint8Array(n).fill(1),
    adversarialCorrect: after ?? new Uint8Array(n),
  });

describe('masks on disk', () => {
  it('pack and unpack to the same bits at every length, 8 to a byte', () => {
    for (const n of [0, 1, 7, 8, 9, 1000, 10_000]) {
      const m = Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 28) & 1);
      const p = packMask(m);
      expect(p.n).toBe(n);
      expect(Buffer.from(p.bits, 'base64').length).toBe(Math.ceil(n / 8));
      expect(unpackMask(JSON.parse(JSON.stringify(p)))).toEqual(m);
    }
    // bit i of the mask is bit (i mod 8) of byte floor(i / 8)
    expect(packMask(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])).bits).toBe(
      Buffer.from([1, 2]).toString('base64'),
    );
  });

  it('refuses a mask whose bytes do not match its length', () => {
    expect(() => unpackMask({ n: 17, bits: Buffer.from([1, 2]).toString('base64') })).toThrow(
      StoredStepError,
    );
  });
});

describe('stored steps', () => {
  it('round-trip through JSON: cells as they are, one typed mask per cell', () => {
    const masks = [Uint8Array.from([1, 0, 1, 1, 0]), Uint8Array.from([0, 0, 0, 0, 1])];
    const step = {
      cells: [cellOf('fa', 'own', 5, masks[0]), cellOf('bp', 'transfer:fa', 5, masks[1])],
      masks,
    };
    const back = decodeStep(JSON.parse(JSON.stringify(encodeStep(step))));
    expect(back.cells).toEqual(step.cells);
    expect(back.masks).toEqual(step.masks);
    expect(back.masks[0]).toBeInstanceOf(Uint8Array);
  });

  it("read the earlier format ('0'/'1' strings keyed model|attack|source|eps)", () => {
    const cells = [
      cellOf('fa', 'own', 3, Uint8Array.from([1, 0, 1])),
      cellOf('bp', 'transfer:fa', 3, Uint8Array.from([0, 1, 0])),
    ];
    const back = decodeStep({
      cells,
      masks: { 'fa|bim|own|0.1': '101', 'bp|bim|transfer:fa|0.1': '010' },
    });
    expect(back.masks).toEqual([Uint8Array.from([1, 0, 1]), Uint8Array.from([0, 1, 0])]);
    expect(() => decodeStep({ cells, masks: { 'fa|bim|own|0.1': '101' } })).toThrow(
      /no mask for bp\|bim\|transfer:fa\|0.1/,
    );
    expect(() => decodeStep({ cells, masks: [packMask(new Uint8Array(3))] })).toThrow(
      /1 masks for 2 cells/,
    );
  });

  it('refuse a step that parses but was hand-edited or damaged, naming the field', () => {
    const good = () => ({
      cells: [cellOf('fa', 'own', 4)],
      masks: [packMask(new Uint8Array(4))],
    });
    expect(decodeStep(good()).cells).toHaveLength(1);
    const edits: [string, (s: ReturnType<typeof good>) => void, RegExp][] = [
      [
        'more correct than images',
        (s) => {
          s.cells[0]!.correct = 9;
        },
        /cells\[0\]\.correct/,
      ],
      [
        'a string eps',
        (s) => {
          (s.cells[0] as { epsilon: unknown }).epsilon = '0.1';
        },
        /cells\[0\]\.epsilon/,
      ],
      [
        'an accuracy off its counts',
        (s) => {
          s.cells[0]!.accuracy = 0.5;
        },
        /cells\[0\]\.accuracy/,
      ],
      [
        'a mask that disagrees with the counts',
        (s) => {
          s.masks[0] = packMask(Uint8Array.from([1, 0, 0, 0]));
        },
        /counts 0 of 4 correct but its mask has 1 of 4/,
      ],
      [
        'no cells',
        (s) => {
          (s as { cells: unknown }).cells = null;
        },
        /no list of cells/,
      ],
    ];
    for (const [what, edit, message] of edits) {
      const s = good();
      edit(s);
      expect(() => decodeStep(JSON.parse(JSON.stringify(s))), what).toThrow(StoredStepError);
      expect(() => decodeStep(JSON.parse(JSON.stringify(s))), what).toThrow(message);
    }
  });
});
