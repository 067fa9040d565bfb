/**
 * Typed errors of @fa-robust/datasets. Each names the file, the field, what was expected and
 * what was found, so a user can act on the message alone; the same facts are fields for code.
 * No loader or parser returns partial data: an error is thrown before anything is returned.
 */

/** Base class: every error this package throws on purpose is a DatasetError. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    message: string,
    /** The file (or archive member) the error is about, when there is one. */
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface FormatErrorDetails {
  /** The file, or a name given to the bytes by the caller. */
  file: string;
  /** What was being read: 'magic number', 'data length', 'label', ... */
  field: string;
  expected: string;
  found: string;
  /** One more sentence for the user, e.g. what the found value suggests. */
  hint?: string;
  cause?: unknown;
}

/**
 * Bytes that are not what their format says: wrong magic number, a truncated file, a record
 * count that disagrees with the header, a label outside the classes, a broken gzip stream.
 */
export class DataFormatError extends DatasetError {
  override name = 'DataFormatError';
  override readonly file: string;
  readonly field: string;
  readonly expected: string;
  readonly found: string;
  constructor(d: FormatErrorDetails) {
    super(
      `${d.file}: bad ${d.field}: expected ${d.expected}, found ${d.found}${d.hint ? `. ${d.hint}` : ''}`,
      d.file,
      { cause: d.cause },
    );
    this.file = d.file;
    this.field = d.field;
    this.expected = d.expected;
    this.found = d.found;
  }
}

/** A file whose size or digest differs from the published one. */
export class ChecksumError extends DatasetError {
  override name = 'ChecksumError';
  override readonly file: string;
  constructor(
    file: string,
    /** 'bytes' (the size), 'md5' or 'sha256'. */
    readonly field: 'bytes' | 'md5' | 'sha256',
    readonly expected: string,
    readonly found: string,
    hint?: string,
  ) {
    super(
      `${file}: ${field === 'bytes' ? 'size' : field} mismatch: expected ${expected}${field === 'bytes' ? ' bytes' : ''}, found ${found}${field === 'bytes' ? ' bytes' : ''}${hint ? `. ${hint}` : ''}`,
      file,
    );
    this.file = file;
  }
}

/** A tar(.gz) archive that cannot be read or lacks the members it should hold. */
export class ArchiveError extends DatasetError {
  override name = 'ArchiveError';
  override readonly file: string;
  constructor(
    /** The archive. */
    file: string,
    readonly expected: string,
    readonly found: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: bad archive: expected ${expected}, found ${found}`, file, options);
    this.file = file;
  }
}

/** One file a loader needed and did not find. */
export interface MissingFile {
  /** The file name, e.g. 'train-images-idx3-ubyte.gz'. */
  file: string;
  split: 'train' | 'test';
  /** Every path that was looked at, in order. */
  searched: string[];
}

/**
 * Files a loader needs are in none of the places it looked and could not be downloaded
 * (download disabled, no cache folder, or offline: see DownloadError). The message lists the
 * missing files, the paths searched, where to put the files and where to get them.
 */
export class MissingDataError extends DatasetError {
  override name = 'MissingDataError';
  constructor(
    message: string,
    /** The dataset, e.g. 'mnist'. */
    readonly dataset: string,
    readonly missing: MissingFile[],
    options?: { cause?: unknown },
  ) {
    super(message, missing[0]?.file, options);
  }
}

/** One failed try of one URL. */
export interface DownloadAttempt {
  url: string;
  /** Why it failed: 'HTTP 404 Not Found', 'connection closed after 500 of 1000 bytes', ... */
  reason: string;
  error: unknown;
}

/**
 * Every URL of a file failed (network down, HTTP error, cut off, or bad checksum). Nothing is
 * cached in that case. A MissingDataError, so `instanceof MissingDataError` catches "offline
 * with no data" whether or not a download was tried.
 */
export class DownloadError extends MissingDataError {
  override name = 'DownloadError';
  constructor(
    message: string,
    dataset: string,
    missing: MissingFile[],
    readonly attempts: DownloadAttempt[],
  ) {
    super(message, dataset, missing, { cause: attempts[attempts.length - 1]?.error });
  }
}
