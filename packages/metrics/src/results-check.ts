import { describe, ResultsValidationError } from './errors.js';
import { wilsonInterval } from './stats.js';

/** Tolerance of derived numbers (accuracy, rates, Wilson bounds) against their counts. */
const TOL = 1e-6;

/**
 * The field checks validateResults is made of: each names the path of the field it checks and
 * throws a ResultsValidationError saying what was expected and what was found.
 */
export class Checker {
  constructor(readonly file: string | undefined) {}

  /** Throws; `foundText` replaces the automatic description of `found`. */
  fail(path: string, expected: string, found: unknown, foundText?: string): never {
    throw new ResultsValidationError(path, expected, foundText ?? describe(found), this.file);
  }

  object(path: string, v: unknown, known?: readonly string[]): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    const o = v as Record<string, unknown>;
    if (known) {
      for (const k of Object.keys(o)) {
        if (!known.includes(k))
          this.fail(
            `${path ? `${path}.` : ''}${k}`,
            `no such field (known: ${known.join(', ')})`,
            o[k],
          );
      }
    }
    return o;
  }

  string(path: string, v: unknown): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(path, 'a non-empty string', v);
    return v as string;
  }

  number(path: string, v: unknown, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)
      this.fail(path, `a number in [${lo}, ${hi}]`, v);
    return v as number;
  }

  integer(path: string, v: unknown, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      this.fail(path, `an integer in [${lo}, ${hi}]`, v);
    return v as number;
  }

  array(path: string, v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v as unknown[];
  }

  json(path: string, v: unknown): void {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) this.fail(path, 'a JSON value (finite numbers)', v);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        this.json(`${path}[${i}]`, x);
      });
      return;
    }
    if (
      typeof v === 'object' &&
      Object.getPrototypeOf(v) !== null &&
      Object.getPrototypeOf(v) !== Object.prototype
    ) {
      this.fail(path, 'a plain JSON object', v);
    }
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as object)) this.json(`${path}.${k}`, x);
      return;
    }
    this.fail(path, 'a JSON value', v);
  }

  close(path: string, found: number, expected: number, what: string): void {
    if (Math.abs(found - expected) > TOL)
      this.fail(path, `${what} = ${expected} (within ${TOL})`, found);
  }

  interval(path: string, v: unknown, count: number, n: number, confidence: number): void {
    const a = this.array(path, v);
    if (a.length !== 2) this.fail(path, '[lower, upper]', v);
    const lower = this.number(`${path}[0]`, a[0], 0, 1);
    const upper = this.number(`${path}[1]`, a[1], 0, 1);
    const w = wilsonInterval(count, n, { confidence });
    this.close(
      `${path}[0]`,
      lower,
      w.lower,
      `the Wilson lower bound of ${count}/${n} at ${confidence}`,
    );
    this.close(
      `${path}[1]`,
      upper,
      w.upper,
      `the Wilson upper bound of ${count}/${n} at ${confidence}`,
    );
  }

  summary(path: string, v: unknown): void {
    const keys = ['n', 'mean', 'std', 'min', 'q05', 'q25', 'median', 'q75', 'q95', 'max'] as const;
    const o = this.object(path, v, keys);
    const n = this.integer(`${path}.n`, o.n, 0, Number.MAX_SAFE_INTEGER);
    for (const k of keys.slice(1)) {
      const x = o[k];
      if (n === 0) {
        if (x !== null) this.fail(`${path}.${k}`, 'null (n is 0)', x);
      } else if (typeof x !== 'number' || !Number.isFinite(x)) {
        this.fail(`${path}.${k}`, 'a finite number', x);
      }
    }
    if (n > 0) {
      const order = ['min', 'q05', 'q25', 'median', 'q75', 'q95', 'max'] as const;
      for (let i = 1; i < order.length; i++) {
        const prev = o[order[i - 1]!] as number;
        const cur = o[order[i]!] as number;
        if (cur < prev - TOL)
          this.fail(`${path}.${order[i]}`, `a value >= ${order[i - 1]} (${prev})`, cur);
      }
      if ((o.std as number) < 0) this.fail(`${path}.std`, 'a number >= 0', o.std);
    }
  }
}
