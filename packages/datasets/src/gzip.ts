import { DataFormatError } from './errors.js';
import { isGzip } from './idx.js';

/**
 * Gunzips bytes with the web-standard DecompressionStream (browsers, Node >= 18, Deno, Bun), so
 * the parsers can take the published .gz files in a browser. The Node loaders use node:zlib.
 * A truncated or corrupt stream is refused with a DataFormatError naming `file`.
 */
export async function gunzip(
  bytes: Uint8Array,
  options: { file?: string } = {},
): Promise<Uint8Array> {
  const file = options.file ?? 'gzip data';
  if (!isGzip(bytes)) {
    throw new DataFormatError({
      file,
      field: 'gzip header',
      expected: '0x1f 0x8b',
      found:
        bytes.length < 2
          ? `${bytes.length} bytes`
          : `0x${bytes[0]!.toString(16).padStart(2, '0')} 0x${bytes[1]!.toString(16).padStart(2, '0')}`,
    });
  }
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
      .stream()
      .pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw corruptGzipError(file, error);
  }
}

/** The error for a gzip stream that fails to inflate (whichever inflater found it). */
export function corruptGzipError(file: string, error: unknown): DataFormatError {
  return new DataFormatError({
    file,
    field: 'gzip stream',
    expected: 'a complete gzip stream',
    found: `a stream that fails to inflate (${(error as Error).message})`,
    hint: 'The file is truncated or corrupt',
    cause: error,
  });
}

/** Gunzips when the bytes start with the gzip magic, returns them unchanged otherwise. */
export async function gunzipIfNeeded(
  bytes: Uint8Array,
  options: { file?: string } = {},
): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzip(bytes, options) : bytes;
}
