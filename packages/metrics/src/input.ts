import { describe, MetricsInputError } from './errors.js';

/**
 * What the metrics read from a tensor. A `tf.Tensor` of @tensorflow/tfjs-core satisfies it;
 * tfjs itself is never imported, so the package works on plain arrays without it.
 */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly isDisposed?: boolean;
  dataSync(): ArrayLike<number>;
}

/** A 1-D list of numbers: `number[]`, any typed array, or a 1-D tensor. */
export type NumericInput = ArrayLike<number> | TensorLike;

/**
 * Per-example correctness (or any yes/no per example): `boolean[]`, 0/1 numbers, a
 * `Uint8Array`, or a 1-D bool/int tensor.
 */
export type MaskInput = ArrayLike<boolean> | ArrayLike<number> | TensorLike;

/**
 * Classes per example: class indices (1-D: `number[]`, `Int32Array`, an int tensor of shape
 * [n]), or one score vector per example (2-D: logits, probabilities or one-hot rows, as
 * `number[][]` or a tensor of shape [n, k]) whose argmax is taken.
 */
export type ClassInput =
  | ArrayLike<number>
  | readonly ArrayLike<number>[]
  | TensorLike
  /** What `model.predict(x)` returns (`Tensor | Tensor[]`): a list of exactly one output. */
  | readonly TensorLike[];

/**
 * Per-example vectors (gradients, images): a tensor of shape [n, ...] (flattened per example),
 * an array of per-example arrays, or one flat array holding `examples` equal-length rows.
 */
export type ExamplesInput = TensorLike | readonly ArrayLike<number>[] | ArrayLike<number>;

export function isTensorLike(x: unknown): x is TensorLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    Array.isArray((x as TensorLike).shape) &&
    typeof (x as TensorLike).dtype === 'string' &&
    typeof (x as TensorLike).dataSync === 'function'
  );
}

function isArrayLike(x: unknown): x is ArrayLike<unknown> {
  if (Array.isArray(x)) return true;
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) return true;
  return false;
}

interface Matrix {
  values: ArrayLike<number>;
  rows: number;
  cols: number;
  /** 1 when the input was one list, 2 when it was rows (or a tensor of rank >= 2). */
  rank: number;
}

function readTensor(fn: string, arg: string, t: TensorLike): ArrayLike<number> {
  if (t.isDisposed) throw new MetricsInputError(fn, arg, 'a live tensor', 'a disposed tensor');
  if (t.dtype === 'string' || t.dtype === 'complex64') {
    throw new MetricsInputError(fn, arg, 'a numeric or bool tensor', `dtype '${t.dtype}'`);
  }
  return t.dataSync();
}

/** Reads any supported input as rows x cols numbers without copying plain typed arrays. */
export function toMatrix(fn: string, arg: string, input: unknown): Matrix {
  if (isTensorLike(input)) {
    const values = readTensor(fn, arg, input);
    const shape = input.shape;
    if (shape.length === 0)
      throw new MetricsInputError(fn, arg, 'a tensor of rank >= 1', 'a scalar');
    if (shape.length === 1) return { values, rows: shape[0]!, cols: 1, rank: 1 };
    const rows = shape[0]!;
    return { values, rows, cols: rows === 0 ? 0 : values.length / rows, rank: 2 };
  }
  if (!isArrayLike(input)) {
    throw new MetricsInputError(fn, arg, 'an array, typed array or tensor', describe(input));
  }
  const n = input.length;
  if (n > 0 && (isArrayLike(input[0]) || isTensorLike(input[0]))) {
    const first = input[0];
    if (isTensorLike(first)) {
      throw new MetricsInputError(
        fn,
        arg,
        'one tensor of shape [n, ...] (not a list of tensors)',
        'an array of tensors',
      );
    }
    const cols = (first as ArrayLike<unknown>).length;
    const values = new Float64Array(n * cols);
    for (let i = 0; i < n; i++) {
      const row = input[i];
      if (!isArrayLike(row) || row.length !== cols) {
        throw new MetricsInputError(
          fn,
          `${arg}[${i}]`,
          `an array of length ${cols} like ${arg}[0]`,
          describe(row),
        );
      }
      for (let j = 0; j < cols; j++) {
        const v = row[j];
        if (typeof v !== 'number')
          throw new MetricsInputError(fn, `${arg}[${i}][${j}]`, 'a number', describe(v));
        values[i * cols + j] = v;
      }
    }
    return { values, rows: n, cols, rank: 2 };
  }
  return { values: input as ArrayLike<number>, rows: n, cols: 1, rank: 1 };
}

/** Class index per example; 2-D inputs are reduced by argmax (the first maximum wins). */
/**
 * `model.predict` returns a list for a model with several outputs: take the one output of a
 * one-element list, and refuse a longer one (which output holds the classes is the caller's
 * to say).
 */
function singleOutput(
  fn: string,
  arg: string,
  input: ClassInput,
): ArrayLike<number> | readonly ArrayLike<number>[] | TensorLike {
  if (!Array.isArray(input) || input.length === 0 || !input.every(isTensorLike)) {
    return input as ArrayLike<number> | readonly ArrayLike<number>[] | TensorLike;
  }
  if (input.length !== 1) {
    throw new MetricsInputError(
      fn,
      arg,
      'one tensor of class scores (a model with several outputs: pass the one that holds the classes, e.g. predict(x)[0])',
      `a list of ${input.length} tensors`,
    );
  }
  return input[0] as TensorLike;
}

export function toClassIndices(fn: string, arg: string, input: ClassInput): Int32Array {
  const m = toMatrix(fn, arg, singleOutput(fn, arg, input));
  const out = new Int32Array(m.rows);
  if (m.rank === 1 || m.cols === 1) {
    for (let i = 0; i < m.rows; i++) {
      const v = m.values[i] as unknown;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new MetricsInputError(
          fn,
          `${arg}[${i}]`,
          'a class index (an integer >= 0), or one score row per example',
          describe(v),
        );
      }
      out[i] = v;
    }
    return out;
  }
  for (let i = 0; i < m.rows; i++) {
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < m.cols; j++) {
      const v = m.values[i * m.cols + j]!;
      if (Number.isNaN(v))
        throw new MetricsInputError(fn, `${arg}[${i}][${j}]`, 'a score that is not NaN', 'NaN');
      if (v > bestValue) {
        bestValue = v;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

/** A 0/1 mask per example from booleans, 0/1 numbers or a bool tensor. */
export function toMask(fn: string, arg: string, input: MaskInput): Uint8Array {
  const m = toMatrix(fn, arg, input);
  if (m.rank !== 1 && m.cols !== 1) {
    throw new MetricsInputError(
      fn,
      arg,
      'one value per example (a 1-D mask)',
      `${m.rows} rows of ${m.cols}`,
    );
  }
  const out = new Uint8Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    const v = m.values[i] as unknown;
    if (v === true || v === 1) out[i] = 1;
    else if (v === false || v === 0) out[i] = 0;
    else throw new MetricsInputError(fn, `${arg}[${i}]`, 'true/false or 1/0', describe(v));
  }
  return out;
}

/** Per-example rows of equal length; `examples` splits a flat array into that many rows. */
export function toExamples(
  fn: string,
  arg: string,
  input: ExamplesInput,
  examples?: number,
): { values: ArrayLike<number>; n: number; dim: number } {
  const m = toMatrix(fn, arg, input);
  let n: number;
  let dim: number;
  if (examples !== undefined) {
    if (!Number.isInteger(examples) || examples < 1) {
      throw new MetricsInputError(fn, 'options.examples', 'an integer >= 1', describe(examples));
    }
    const total = m.values.length;
    if (total % examples !== 0) {
      throw new MetricsInputError(
        fn,
        arg,
        `a length divisible by examples=${examples}`,
        `length ${total}`,
      );
    }
    n = examples;
    dim = total / examples;
  } else if (m.rank === 1) {
    n = 1;
    dim = m.rows;
  } else {
    n = m.rows;
    dim = m.cols;
  }
  for (let i = 0; i < m.values.length; i++) {
    const v = m.values[i] as unknown;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new MetricsInputError(
        fn,
        arg,
        'finite numbers',
        `${describe(v)} at flat index ${i} (example ${dim > 0 ? Math.floor(i / dim) : 0})`,
      );
    }
  }
  return { values: m.values, n, dim };
}

export function sameLength(fn: string, a: string, na: number, b: string, nb: number): void {
  if (na !== nb) throw new MetricsInputError(fn, b, `${na} examples, as many as ${a}`, `${nb}`);
}
