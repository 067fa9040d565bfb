/**
 * Typed errors of @fa-robust/fa-layers. Each names where it happened (the function or layer),
 * the option or input involved, what was expected and what was found, so that a user can act
 * on the message alone.
 */

/** An option given to a layer, to lenet() or to train() is invalid. */
export class FeedbackOptionError extends Error {
  override name = 'FeedbackOptionError';
  constructor(
    /** Where the option was given, e.g. 'dense' or 'train'. */
    readonly where: string,
    /** The option, e.g. 'feedback'. */
    readonly field: string,
    /** What was expected, in words. */
    readonly expected: string,
    /** What was found (JSON when it serialises). */
    readonly found: unknown,
  ) {
    super(`${where}: option '${field}' must be ${expected}; found ${show(found)}`);
  }
}

/**
 * A 'dfa' layer was asked for its backward pass without an output error to project: no layer
 * of the model was marked `dfaOutput: true`, or the gradient did not start from the model's
 * output (e.g. the gradient of a hidden activation).
 */
export class DfaSignalError extends Error {
  override name = 'DfaSignalError';
  constructor(
    /** The layer whose backward pass failed. */
    readonly layer: string,
    message: string,
  ) {
    super(`dfa layer '${layer}': ${message}`);
  }
}

/** The data given to train() (or to a helper that evaluates a model) does not fit the model. */
export class TrainDataError extends Error {
  override name = 'TrainDataError';
  constructor(
    /** Where the data was given, e.g. 'train'. */
    readonly where: string,
    /** The input involved, e.g. 'data.y'. */
    readonly field: string,
    /** What was expected, in words. */
    readonly expected: string,
    /** What was found. */
    readonly found: unknown,
  ) {
    super(`${where}: ${field} must be ${expected}; found ${show(found)}`);
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return 'a function';
  try {
    const json = JSON.stringify(value);
    return json.length > 200 ? `${json.slice(0, 200)}...` : json;
  } catch {
    return String(value);
  }
}
