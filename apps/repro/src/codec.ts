/**
 * How a finished step is written to the cell store: its cells as they are, its per-example
 * masks packed 8 to a byte and base64-encoded (a 10,000-image mask is 1,668 characters, not
 * 10,000). Steps stored by earlier versions ('0'/'1' strings keyed `model|attack|source|eps`)
 * still read back, so an interrupted run of an older version resumes.
 */
import {
  type AlignmentRecord,
  RESULTS_SCHEMA_VERSION,
  type ResultCell,
  transferredFrom,
  validateResults,
} from '@fa-robust/metrics';
import type { StepOutput } from './steps.js';

/** A mask on disk: its length and its bits, little-endian within each byte, base64. */
export interface PackedMask {
  n: number;
  bits: string;
}

/** A step as the store holds it (JSON). */
export interface StoredStep {
  cells: ResultCell[];
  /** One per cell, same order; an object keyed by `model|attack|source|eps` in older stores. */
  masks: PackedMask[] | Record<string, string>;
}

export function packMask(mask: Uint8Array): PackedMask {
  const bytes = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) bytes[i >> 3]! |= 1 << (i & 7);
  return { n: mask.length, bits: Buffer.from(bytes).toString('base64') };
}

export function unpackMask(p: PackedMask): Uint8Array {
  const bytes = Buffer.from(p.bits, 'base64');
  if (!Number.isInteger(p.n) || p.n < 0 || bytes.length !== Math.ceil(p.n / 8)) {
    throw new StoredStepError(`a mask of ${p.n} examples in ${bytes.length} bytes`);
  }
  const out = new Uint8Array(p.n);
  for (let i = 0; i < p.n; i++) out[i] = (bytes[i >> 3]! >> (i & 7)) & 1;
  return out;
}

export class StoredStepError extends Error {
  constructor(found: string) {
    super(`repro cell store: expected a valid stored step, found ${found}`);
    this.name = 'StoredStepError';
  }
}

export function encodeStep(step: StepOutput): StoredStep {
  return { cells: step.cells, masks: step.masks.map(packMask) };
}

/**
 * A stored step, read back and checked as the results file will check it (a file that parses
 * but was hand-edited or damaged must fail here, naming its file, not at the very end of a
 * run): every cell as metrics' schema has it, and each mask as long as its cell's images with
 * as many ones as the cell counts correct.
 */
export function decodeStep(stored: StoredStep): StepOutput {
  if (stored == null || typeof stored !== 'object' || !Array.isArray(stored.cells))
    throw new StoredStepError('no list of cells');
  const { cells, masks } = stored;
  if (masks == null || typeof masks !== 'object') throw new StoredStepError('no masks');
  let out: StepOutput;
  if (Array.isArray(masks)) {
    if (masks.length !== cells.length)
      throw new StoredStepError(`${masks.length} masks for ${cells.length} cells`);
    out = { cells, masks: masks.map(unpackMask) };
  } else {
    // the format of earlier versions: '0'/'1' strings keyed by model|attack|source|eps
    const legacyKey = (c: ResultCell) => `${c.model}|${c.attack}|${c.source}|${c.epsilon}`;
    out = {
      cells,
      masks: cells.map((c) => {
        const s = masks[legacyKey(c)];
        if (typeof s !== 'string') throw new StoredStepError(`no mask for ${legacyKey(c)}`);
        return Uint8Array.from(s, (ch) => (ch === '1' ? 1 : 0));
      }),
    };
  }
  checkStored({ cells });
  out.masks.forEach((m, i) => {
    const c = cells[i]!;
    let ones = 0;
    for (let j = 0; j < m.length; j++) ones += m[j]!;
    if (m.length !== c.n || ones !== c.correct) {
      throw new StoredStepError(
        `cells[${i}] (${c.model}, ${c.attack}, eps ${c.epsilon}) counts ${c.correct} of ${c.n} correct but its mask has ${ones} of ${m.length}`,
      );
    }
  });
  return out;
}

/** A stored gradient-alignment record, checked as the results file will check it. */
export function checkStoredAlignment(record: AlignmentRecord): AlignmentRecord {
  checkStored({ alignment: [record] });
  return record;
}

/** Runs metrics' results validation on stored cells or records, in a minimal results object. */
function checkStored(part: { cells?: ResultCell[]; alignment?: AlignmentRecord[] }): void {
  const models = new Map<string, { dataset: string; id: string; method: string }>();
  const add = (dataset: unknown, id: unknown) => {
    if (typeof dataset === 'string' && typeof id === 'string')
      models.set(JSON.stringify([dataset, id]), { dataset, id, method: id });
  };
  for (const c of [...(part.cells ?? []), ...(part.alignment ?? [])] as Partial<ResultCell>[]) {
    add(c.dataset, c.model);
    const from = typeof c.source === 'string' ? transferredFrom(c.source) : null;
    if (from) add(c.dataset, from);
  }
  if (models.size === 0) add('-', '-');
  try {
    validateResults({
      schemaVersion: RESULTS_SCHEMA_VERSION,
      createdAt: new Date(0).toISOString(),
      config: {},
      environment: { backend: '-', versions: {} },
      models: [...models.values()],
      cells: part.cells ?? [],
      ...(part.alignment ? { alignment: part.alignment } : {}),
    });
  } catch (e) {
    throw new StoredStepError((e as Error).message);
  }
}
