/**
 * Typed errors of @fa-robust/attacks. Each names the function and the argument or option
 * involved, what was expected and what was found, so a caller can act on the message alone.
 */

/** Base class of every error this package throws. */
export class AttackError extends Error {
  override name = 'AttackError';
}

/** An argument or option is invalid: a negative or NaN epsilon, pixels outside the bounds, labels that do not match the batch. */
export class AttackInputError extends AttackError {
  override name = 'AttackInputError';
  constructor(
    /** The function that refused the input, e.g. 'fgsm' or 'runAttack'. */
    readonly fn: string,
    /** The argument or option, e.g. 'options.epsilon' or 'y'. */
    readonly field: string,
    /** What was expected. */
    readonly expected: string,
    /** What was found. */
    readonly found: string,
  ) {
    super(`${fn}: ${field} must be ${expected}; found ${found}`);
  }
}

/**
 * The model's output is not usable as logits: wrong rank, non-finite values, or rows that are
 * probabilities (every value in [0, 1], every row summing to 1: a final softmax layer).
 */
export class ModelOutputError extends AttackError {
  override name = 'ModelOutputError';
  constructor(
    readonly fn: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${fn}: the model must return ${expected}; found ${found}`);
  }
}

/** A gradient source failed: tfjs has no gradient for a kernel, or a custom source returned a wrong shape. */
export class GradientError extends AttackError {
  override name = 'GradientError';
  constructor(
    message: string,
    /** The gradient source's label. */
    readonly source: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The AbortSignal given to an attack or to runAttack was aborted. Its `name` is 'AbortError'. */
export class AttackAbortedError extends AttackError {
  override name = 'AbortError';
  constructor(
    readonly fn: string,
    options?: { cause?: unknown },
  ) {
    super(`${fn}: aborted`, options);
  }
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  if (typeof (value as { then?: unknown }).then === 'function') return 'a Promise (missing await?)';
  if (typeof value === 'object' && 'shape' in value && 'dtype' in value) {
    const t = value as { shape: number[]; dtype: string };
    return `a ${t.dtype} tensor of shape [${t.shape.join(', ')}]`;
  }
  return typeof value;
}
