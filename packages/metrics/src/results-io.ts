import type { Results } from './results-schema.js';
import { parseResults, validateResults } from './results-validate.js';

// Node only (exported by @fa-robust/metrics/node, with the PNG renderer and figure writing).

/** Reads and validates a results file (Node). */
export async function readResults(file: string): Promise<Results> {
  const { readFile } = await import('node:fs/promises');
  return parseResults(await readFile(file, 'utf8'), { file });
}

/** Validates, then writes a results file as indented JSON (Node); creates the folder. */
export async function writeResults(file: string, results: Results): Promise<void> {
  validateResults(results, { file });
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
}
