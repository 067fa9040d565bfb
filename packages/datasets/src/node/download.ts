import { ChecksumError, type DownloadAttempt } from '../errors.js';
import type { FileChecksum } from '../types.js';
import { nodeModules } from './env.js';
import type { Check } from './verify.js';

export interface DownloadProgress {
  url: string;
  loaded: number;
  total: number;
}

export interface DownloadFileOptions {
  /** The fetch to use (default globalThis.fetch): inject one for proxies, tests or logging. */
  fetch?: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** Why one URL failed; the message is the user-facing reason. */
class AttemptFailure extends Error {}

function describeFetchError(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return `${e.message ?? String(error)}${cause ? ` (${cause})` : ''}`;
}

/**
 * Downloads `urls` (tried in order) to `dest`, verifying size and digests on the fly. The bytes
 * go to a temporary file next to `dest`, which is flushed and renamed to `dest` only when
 * complete and verified; on any failure the temporary file is removed. So `dest` either does
 * not exist or holds the verified file, whatever happens (crash included: a crash leaves at
 * most a `*.part-*` file, never a wrong `dest`).
 *
 * @returns the URL that worked and the checks made; throws `{ attempts }` (an Error with an
 *   `attempts` array) when every URL failed.
 */
export async function downloadVerified(
  urls: readonly string[],
  dest: string,
  spec: FileChecksum,
  options: DownloadFileOptions = {},
): Promise<{ url: string; checks: Check[] }> {
  const attempts: DownloadAttempt[] = [];
  for (const url of urls) {
    try {
      const checks = await downloadOnce(url, dest, spec, options);
      return { url, checks };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      attempts.push({
        url,
        reason:
          error instanceof AttemptFailure || error instanceof ChecksumError
            ? error.message
            : describeFetchError(error),
        error,
      });
    }
  }
  throw Object.assign(
    new Error(`every URL failed: ${attempts.map((a) => `${a.url}: ${a.reason}`).join('; ')}`),
    {
      attempts,
    },
  );
}

async function downloadOnce(
  url: string,
  dest: string,
  spec: FileChecksum,
  options: DownloadFileOptions,
): Promise<Check[]> {
  const { fs, path, crypto } = await nodeModules();
  const fetchFn = options.fetch ?? globalThis.fetch;
  const response = await fetchFn(url, { signal: options.signal });
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new AttemptFailure(
      `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
    );
  }
  if (response.body == null) throw new AttemptFailure('the response has no body');
  const header = response.headers.get('content-length');
  const announced = header == null ? undefined : Number(header);
  await fs.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.part-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const md5 = crypto.createHash('md5');
  const sha = spec.sha256 == null ? null : crypto.createHash('sha256');
  const handle = await fs.open(tmp, 'wx');
  let loaded = 0;
  try {
    try {
      const reader = response.body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw new AttemptFailure(
            `connection closed after ${loaded} of ${announced ?? spec.bytes} bytes (${describeFetchError(error)})`,
            { cause: error },
          );
        }
        if (chunk.done) break;
        loaded += chunk.value.length;
        if (loaded > spec.bytes) {
          await reader.cancel().catch(() => {});
          throw new ChecksumError(
            url,
            'bytes',
            String(spec.bytes),
            `more than ${spec.bytes}`,
            'Not the published file',
          );
        }
        md5.update(chunk.value);
        sha?.update(chunk.value);
        await handle.write(chunk.value);
        options.onProgress?.({ url, loaded, total: spec.bytes });
      }
      if (announced != null && loaded !== announced) {
        throw new AttemptFailure(`connection closed after ${loaded} of ${announced} bytes`);
      }
      if (loaded !== spec.bytes) {
        throw new ChecksumError(
          url,
          'bytes',
          String(spec.bytes),
          String(loaded),
          'Not the published file (truncated?)',
        );
      }
      const m = md5.digest('hex');
      if (m !== spec.md5)
        throw new ChecksumError(
          url,
          'md5',
          spec.md5,
          m,
          'The download is corrupt; nothing was cached',
        );
      if (sha != null && spec.sha256 != null) {
        const s = sha.digest('hex');
        if (s !== spec.sha256) {
          throw new ChecksumError(
            url,
            'sha256',
            spec.sha256,
            s,
            'The download is corrupt; nothing was cached',
          );
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, dest);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  return spec.sha256 == null ? ['bytes', 'md5'] : ['bytes', 'md5', 'sha256'];
}
