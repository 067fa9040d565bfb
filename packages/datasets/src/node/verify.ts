import { ChecksumError } from '../errors.js';
import { identifyByMd5 } from '../sources.js';
import type { FileChecksum } from '../types.js';
import { nodeModules } from './env.js';

/** What was checked of a file: its size, then each digest the spec gives. */
export type Check = 'bytes' | 'md5' | 'sha256';

function mismatchHint(file: string, md5: string | undefined): string {
  const known = md5 == null ? undefined : identifyByMd5(md5);
  return (
    (known ? `It is the ${known} file. ` : '') +
    `Nothing was loaded: replace ${file} with the published file, or delete it to fetch it again`
  );
}

/** Checks size, md5 and (when the spec has one) sha256 of bytes in memory. */
export async function verifyBytes(
  bytes: Uint8Array,
  spec: FileChecksum,
  file: string,
): Promise<Check[]> {
  const { crypto } = await nodeModules();
  const md5 = crypto.createHash('md5').update(bytes).digest('hex');
  if (bytes.length !== spec.bytes) {
    throw new ChecksumError(
      file,
      'bytes',
      String(spec.bytes),
      String(bytes.length),
      mismatchHint(file, md5),
    );
  }
  if (md5 !== spec.md5)
    throw new ChecksumError(file, 'md5', spec.md5, md5, mismatchHint(file, md5));
  if (spec.sha256 == null) return ['bytes', 'md5'];
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  if (sha !== spec.sha256)
    throw new ChecksumError(file, 'sha256', spec.sha256, sha, mismatchHint(file, md5));
  return ['bytes', 'md5', 'sha256'];
}

/** Same as verifyBytes for a file on disk, streamed (for archives too big to hold twice). */
export async function verifyFile(path: string, spec: FileChecksum): Promise<Check[]> {
  const { fs, fsSync, crypto } = await nodeModules();
  const size = (await fs.stat(path)).size;
  if (size !== spec.bytes) {
    throw new ChecksumError(
      path,
      'bytes',
      String(spec.bytes),
      String(size),
      mismatchHint(path, undefined),
    );
  }
  const md5 = crypto.createHash('md5');
  const sha = spec.sha256 == null ? null : crypto.createHash('sha256');
  for await (const chunk of fsSync.createReadStream(path, { highWaterMark: 1 << 20 })) {
    md5.update(chunk as Buffer);
    sha?.update(chunk as Buffer);
  }
  const m = md5.digest('hex');
  if (m !== spec.md5) throw new ChecksumError(path, 'md5', spec.md5, m, mismatchHint(path, m));
  if (sha == null || spec.sha256 == null) return ['bytes', 'md5'];
  const s = sha.digest('hex');
  if (s !== spec.sha256)
    throw new ChecksumError(path, 'sha256', spec.sha256, s, mismatchHint(path, m));
  return ['bytes', 'md5', 'sha256'];
}
