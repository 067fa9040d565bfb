import { FigureError } from './errors.js';
import { modelLabel } from './figure-labels.js';
import type { Results } from './results-schema.js';
import type { Summary } from './stats.js';

export type CsvTable = 'cells' | 'alignment' | 'robust' | 'models';

export interface CsvOptions {
  /** Which table. Default 'cells'. */
  table?: CsvTable;
  /** Line ending. Default '\n' (RFC 4180 says '\r\n'; spreadsheets read both). */
  newline?: '\n' | '\r\n';
}

type Cell = string | number | null | undefined;

/** RFC 4180 quoting: fields with a comma, quote or line break are quoted, quotes doubled. */
function field(v: Cell): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function table(header: string[], rows: Cell[][], newline: string): string {
  return [header, ...rows].map((r) => r.map(field).join(',')).join(newline) + newline;
}

const sum = (s: Summary | undefined, k: keyof Summary): number | null | undefined => s?.[k];

/**
 * One results table as CSV, one row per entry. 'cells': every measured point with its counts,
 * accuracy, success rate, Wilson bounds, perturbation summaries and params (as JSON);
 * 'alignment': one row per alignment record; 'robust'; 'models'. Empty values are blank.
 */
export function toCsv(results: Results, options: CsvOptions = {}): string {
  const nl = options.newline ?? '\n';
  const t = options.table ?? 'cells';
  const method = (dataset: string, id: string) =>
    results.models.find((m) => m.dataset === dataset && m.id === id)?.method;
  switch (t) {
    case 'cells':
      return table(
        [
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
          'clean_correct',
          'correct',
          'successes',
          'accuracy',
          'accuracy_lower',
          'accuracy_upper',
          'success_rate',
          'success_lower',
          'success_upper',
          'confidence',
          'linf_mean',
          'linf_max',
          'l2_mean',
          'l2_median',
          'l2_max',
          'out_of_bounds',
          'seconds',
          'params',
        ],
        results.cells.map((c) => [
          c.dataset,
          c.model,
          method(c.dataset, c.model),
          modelLabel(results, c.dataset, c.model),
          c.attack,
          c.variant,
          c.norm ?? 'linf',
          c.epsilon,
          c.source,
          c.n,
          c.cleanCorrect,
          c.correct,
          c.successes,
          c.accuracy,
          c.accuracyInterval[0],
          c.accuracyInterval[1],
          c.successRate,
          c.successInterval[0],
          c.successInterval[1],
          c.confidence,
          sum(c.linf, 'mean'),
          sum(c.linf, 'max'),
          sum(c.l2, 'mean'),
          sum(c.l2, 'median'),
          sum(c.l2, 'max'),
          c.outOfBounds,
          c.seconds,
          c.params ? JSON.stringify(c.params) : undefined,
        ]),
        nl,
      );
    case 'alignment':
      return table(
        [
          'dataset',
          'model',
          'method',
          'comparison',
          'n',
          'zero_norm',
          'angle_mean',
          'angle_std',
          'angle_min',
          'angle_q05',
          'angle_q25',
          'angle_median',
          'angle_q75',
          'angle_q95',
          'angle_max',
          'cosine_mean',
          'cosine_median',
        ],
        (results.alignment ?? []).map((a) => [
          a.dataset,
          a.model,
          method(a.dataset, a.model),
          a.comparison,
          a.n,
          a.zeroNorm,
          a.angle.mean,
          a.angle.std,
          a.angle.min,
          a.angle.q05,
          a.angle.q25,
          a.angle.median,
          a.angle.q75,
          a.angle.q95,
          a.angle.max,
          a.cosine.mean,
          a.cosine.median,
        ]),
        nl,
      );
    case 'robust':
      return table(
        [
          'dataset',
          'model',
          'method',
          'epsilon',
          'attacks',
          'n',
          'correct',
          'accuracy',
          'accuracy_lower',
          'accuracy_upper',
          'confidence',
        ],
        (results.robust ?? []).map((r) => [
          r.dataset,
          r.model,
          method(r.dataset, r.model),
          r.epsilon,
          r.attacks.join(' '),
          r.n,
          r.correct,
          r.accuracy,
          r.accuracyInterval[0],
          r.accuracyInterval[1],
          r.confidence,
        ]),
        nl,
      );
    case 'models':
      return table(
        ['dataset', 'id', 'method', 'label', 'architecture', 'seed', 'clean_accuracy', 'params'],
        results.models.map((m) => [
          m.dataset,
          m.id,
          m.method,
          modelLabel(results, m.dataset, m.id),
          m.architecture,
          m.seed,
          m.cleanAccuracy,
          m.params ? JSON.stringify(m.params) : undefined,
        ]),
        nl,
      );
    default:
      throw new FigureError(
        `toCsv: options.table: expected 'cells', 'alignment', 'robust' or 'models', found ${JSON.stringify(t)}`,
      );
  }
}
