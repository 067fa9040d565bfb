import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toCsv } from './csv.js';
import { createResults, resultCell } from './results-build.js';
import type { Results } from './results-schema.js';
import { validateResults } from './results-validate.js';

/** A small RFC 4180 reader, to check what toCsv writes parses back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else f += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(f);
      f = '';
    } else if (ch === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
    } else if (ch !== '\r') f += ch;
  }
  return rows;
}

function small(): Results {
  return createResults({
    createdAt: '2025-02-01T00:00:00Z',
    config: {},
    environment: { backend: 'cpu', versions: {} },
    models: [{ dataset: 'mnist', id: 'fa', method: 'fa', label: 'FA, "random B"' }],
    cells: [
      resultCell({
        dataset: 'mnist',
        model: 'fa',
        attack: 'mifgsm',
        variant: 'paper',
        epsilon: 0.3,
        source: 'own',
        cleanCorrect: [1, 1, 1, 0],
        adversarialCorrect: [0, 1, 1, 0],
        params: { steps: 10, mu: 0.8 },
      }),
    ],
  });
}

describe('toCsv', () => {
  it('writes one row per cell with counts, rates and bounds, quoting what needs it', () => {
    const csv = toCsv(small());
    const rows = parseCsv(csv);
    expect(rows).toHaveLength(2);
    const [header, row] = rows as [string[], string[]];
    const get = (k: string) => row[header.indexOf(k)];
    expect(header.slice(0, 10)).toEqual([
      'dataset',
      'model',
      'method',
      'label',
      'attack',
      'variant',
      'norm',
      'epsilon',
      'source',
      'n',
    ]);
    expect(get('label')).toBe('FA, "random B"');
    expect(csv).toContain('"FA, ""random B"""');
    expect(get('params')).toBe('{"steps":10,"mu":0.8}');
    expect([get('n'), get('clean_correct'), get('correct'), get('successes')]).toEqual([
      '4',
      '3',
      '2',
      '1',
    ]);
    expect(Number(get('accuracy'))).toBe(0.5);
    expect(Number(get('success_rate'))).toBe(1 / 3);
    expect(Number(get('accuracy_lower'))).toBe(small().cells[0]!.accuracyInterval[0]);
    expect(get('linf_mean')).toBe(''); // no perturbation recorded: blank, not 0
    expect(csv.endsWith('\n')).toBe(true);
    expect(toCsv(small(), { newline: '\r\n' }).split('\r\n')).toHaveLength(3);
  });

  it('writes every cell, alignment record, robust record and model of the fixture', () => {
    const r = validateResults(
      JSON.parse(
        readFileSync(new URL('./__fixtures__/paper-like.results.json', import.meta.url), 'utf8'),
      ),
    );
    expect(parseCsv(toCsv(r))).toHaveLength(r.cells.length + 1);
    const align = parseCsv(toCsv(r, { table: 'alignment' }));
    expect(align).toHaveLength(r.alignment!.length + 1);
    expect(Number(align[1]![align[0]!.indexOf('angle_median')])).toBe(
      r.alignment![0]!.angle.median,
    );
    expect(parseCsv(toCsv(r, { table: 'robust' }))).toHaveLength(r.robust!.length + 1);
    expect(parseCsv(toCsv(r, { table: 'models' }))[1]).toEqual([
      'mnist',
      'bp',
      'bp',
      'BP',
      'lenet',
      '1',
      '0.991',
      '',
    ]);
    expect(() => toCsv(r, { table: 'nope' as never })).toThrow(
      /options.table: expected 'cells', 'alignment', 'robust' or 'models', found "nope"/,
    );
  });
});
