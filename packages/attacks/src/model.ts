import * as tf from '@tensorflow/tfjs-core';
import { AttackInputError, describe, ModelOutputError } from './errors.js';

/** Any function from an input batch to logits of shape [batch, classes]. */
export type LogitsFunction = (x: tf.Tensor) => tf.Tensor;

/**
 * What attacks read from a tfjs-layers model: its `apply`. A `tf.LayersModel` (or
 * `tf.Sequential`) satisfies it; tfjs-layers itself is never imported by this package.
 */
export interface LayersModelLike {
  // biome-ignore lint/suspicious/noExplicitAny: tfjs-layers' Kwargs is { [key: string]: any }
  apply(inputs: tf.Tensor, kwargs?: any): unknown;
}

/**
 * The model an attack accepts: a `tf.LayersModel`, or any `(x: tf.Tensor) => tf.Tensor`
 * returning logits of shape [batch, classes]. The output must be logits (or log-probabilities),
 * not probabilities: remove a final softmax (attacks detect one and refuse it).
 */
export type Model = LogitsFunction | LayersModelLike;

/** Turns a Model into a function returning logits, calling a LayersModel in inference mode. */
export function logitsFunction(fn: string, model: Model): LogitsFunction {
  if (typeof model === 'function') return model as LogitsFunction;
  if (model != null && typeof (model as LayersModelLike).apply === 'function') {
    const m = model as LayersModelLike;
    return (x) => {
      const out = m.apply(x, { training: false });
      if (Array.isArray(out)) {
        if (out.length !== 1) {
          throw new ModelOutputError(fn, 'one tensor of logits', `${out.length} outputs`);
        }
        return out[0] as tf.Tensor;
      }
      return out as tf.Tensor;
    };
  }
  throw new AttackInputError(
    fn,
    'model',
    'a tf.LayersModel or a function (x: tf.Tensor) => tf.Tensor returning logits',
    describe(model),
  );
}

/** Class labels: a 1-D tensor or array of class indices, or a 2-D one-hot tensor. */
export type LabelsInput = tf.Tensor | ArrayLike<number>;

/**
 * The class of each one-hot row (its largest entry, so smoothed labels read as their class),
 * refusing a row that names no class: all zeros, NaN or infinite values, or its largest value
 * in more than one column.
 */
function oneHotClasses(
  fn: string,
  field: string,
  data: ArrayLike<number>,
  rows: number,
  columns: number,
): Int32Array {
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    let max = Number.NEGATIVE_INFINITY;
    let at = -1;
    let ties = 0;
    let finite = true;
    let zeros = true;
    for (let j = 0; j < columns; j++) {
      const v = data[i * columns + j]!;
      if (!Number.isFinite(v)) finite = false;
      if (v !== 0) zeros = false;
      if (v > max) {
        max = v;
        at = j;
        ties = 1;
      } else if (v === max) ties++;
    }
    const found = !finite
      ? 'NaN or infinite values'
      : zeros
        ? 'all zeros'
        : ties > 1
          ? `its largest value ${max} in ${ties} columns`
          : null;
    if (found) {
      throw new AttackInputError(
        fn,
        `${field}[${i}]`,
        'a one-hot row (one largest entry: the class)',
        found,
      );
    }
    out[i] = at;
  }
  return out;
}

/**
 * Reads labels into an Int32Array of length `batch`, checking each is an integer class index
 * (one-hot rows: each names one class; their width is checked against the model's classes by
 * checkLabelClasses, once its output is known).
 */
export function readLabels(
  fn: string,
  field: string,
  input: LabelsInput,
  batch: number,
): Int32Array {
  let values: ArrayLike<number>;
  if (input instanceof tf.Tensor) {
    if (input.isDisposed)
      throw new AttackInputError(fn, field, 'a live tensor', 'a disposed tensor');
    if (input.rank === 1) values = input.dataSync();
    else if (input.rank === 2 && input.shape[1]! > 0) {
      values = oneHotClasses(fn, field, input.dataSync(), input.shape[0]!, input.shape[1]!);
    } else {
      throw new AttackInputError(
        fn,
        field,
        'class indices of shape [batch] or one-hot rows of shape [batch, classes]',
        describe(input),
      );
    }
  } else if (Array.isArray(input) || (ArrayBuffer.isView(input) && !(input instanceof DataView))) {
    values = input;
  } else {
    throw new AttackInputError(
      fn,
      field,
      'a tensor, an array or a typed array of class indices',
      describe(input),
    );
  }
  if (values.length !== batch) {
    throw new AttackInputError(
      fn,
      field,
      `one label per example (${batch}, the batch size of x)`,
      `${values.length} labels`,
    );
  }
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const v = values[i]!;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new AttackInputError(
        fn,
        `${field}[${i}]`,
        'a class index (an integer >= 0)',
        describe(v),
      );
    }
    out[i] = v;
  }
  return out;
}

/** The number of columns of one-hot labels (a 2-D tensor), else null (class indices). */
export function labelColumns(input: LabelsInput): number | null {
  return input instanceof tf.Tensor && input.rank === 2 ? input.shape[1]! : null;
}

/**
 * Checks labels read by readLabels against the model's `classes`: one-hot rows as wide as the
 * model's output (narrower or wider ones name other classes than the model's), indices below it.
 */
export function checkLabelClasses(
  fn: string,
  field: string,
  labels: Int32Array,
  columns: number | null,
  classes: number,
): void {
  if (columns != null && columns !== classes) {
    throw new AttackInputError(
      fn,
      field,
      `one-hot rows over the model's ${classes} classes`,
      `${columns} columns`,
    );
  }
  const bad = labels.findIndex((v) => v >= classes);
  if (bad >= 0) {
    throw new AttackInputError(
      fn,
      `${field}[${bad}]`,
      `a class index < ${classes} (the model's classes)`,
      String(labels[bad]),
    );
  }
}
