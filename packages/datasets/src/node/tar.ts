import { concatTyped } from '@fa-robust/internal';
import { ArchiveError } from '../errors.js';
import { nodeModules } from './env.js';

/** 'cifar-10-batches-bin/x.bin' for './cifar-10-batches-bin/x.bin' and Windows separators. */
function normalizeMember(p: string): string {
  return p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}

/**
 * Reads the named regular-file members of a tar or tar.gz archive into memory with node-tar
 * (strict: a truncated or corrupt archive is an error, not a warning), skipping the others.
 * Every wanted member must be present.
 *
 * @param wanted member paths as written in the archive ('cifar-10-batches-bin/test_batch.bin')
 * @returns member path -> bytes
 */
export async function readTarMembers(
  archive: string,
  wanted: readonly string[],
): Promise<Map<string, Uint8Array>> {
  const { fsSync } = await nodeModules();
  const { Parser } = await import('tar');
  const want = new Set(wanted.map(normalizeMember));
  const found = new Map<string, Uint8Array>();
  const seen: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      input.destroy();
      reject(
        new ArchiveError(
          archive,
          'a complete tar or tar.gz archive',
          `an unreadable one (${(error as Error).message})`,
          {
            cause: error,
          },
        ),
      );
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry) => {
        const name = normalizeMember(entry.path);
        seen.push(name);
        if (!want.has(name) || entry.type !== 'File') {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        // one copy into a plain Uint8Array (Buffer.concat, then a Uint8Array of it, made two)
        entry.on('end', () =>
          found.set(
            name,
            concatTyped<Uint8Array>(chunks, (n) => new Uint8Array(n)),
          ),
        );
      },
    });
    parser.on('error', fail);
    parser.on('end', () => {
      if (!failed) resolve();
    });
    const input = fsSync.createReadStream(archive, { highWaterMark: 1 << 20 });
    input.on('error', fail);
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
  const missing = [...want].filter((w) => !found.has(w));
  if (missing.length > 0) {
    const shown = seen.slice(0, 12);
    throw new ArchiveError(
      archive,
      `member${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`,
      seen.length === 0
        ? 'no members'
        : `${seen.length} member${seen.length === 1 ? '' : 's'}: ${shown.join(', ')}${seen.length > shown.length ? ', ...' : ''}`,
    );
  }
  return found;
}
