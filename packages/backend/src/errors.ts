/**
 * Typed errors of @fa-robust/backend. Each names what was being done, the file or field
 * involved, what was expected and what was found, so a user can act on the message alone.
 */
export class BackendError extends Error {
  override name = 'BackendError';
}

/** A model file (model.json or its weights) is missing, unreadable or corrupt. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    message: string,
    /** The file the error is about. */
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A kernel was asked for something it does not support. */
export class UnsupportedKernelError extends Error {
  override name = 'UnsupportedKernelError';
}
