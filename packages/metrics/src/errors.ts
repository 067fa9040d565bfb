/**
 * Typed errors of @fa-robust/metrics. Each names what was being done, the argument or field
 * involved, what was expected and what was found, so a user can act on the message alone.
 */

/** An argument given to a metric is malformed: wrong length, shape, dtype or value. */
export class MetricsInputError extends Error {
  override name = 'MetricsInputError';
  constructor(
    /** The function that refused the input, e.g. 'successRate'. */
    readonly fn: string,
    /** The argument, e.g. 'labels' or 'adversarialCorrect[2]'. */
    readonly argument: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${fn}: ${argument}: expected ${expected}, found ${found}`);
  }
}

/**
 * A results file (or object) does not follow the results schema. `path` names the bad field
 * the way you would write it in JavaScript, e.g. `cells[3].epsilon`.
 */
export class ResultsValidationError extends Error {
  override name = 'ResultsValidationError';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly found: string,
    /** The file the results came from, when known. */
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${path}: expected ${expected}, found ${found}`);
  }
}

/** A figure could not be built or rendered: no data for it, or the renderer failed. */
export class FigureError extends Error {
  override name = 'FigureError';
}

/** A short, single-line description of any value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  if (typeof value === 'function') return 'a function';
  return 'an object';
}
