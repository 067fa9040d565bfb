/**
 * How a finished step is written to the cell store: its cells as they are, its per-example
 * masks packed 8 to a byte and base64-encoded (a 10,000-image mask is 1,668 characters, not
 * 10,000). Steps stored by earlier versions ('0'/'1' strings keyed `model|attack|source|eps`)
 * still read back, so an interrupted run of an older version resumes.
 */
import type { ResultCell } from '@fa-robust/metrics';
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
    super(`repro cell store: expected a stored step with one mask per cell, found ${found}`);
    this.name = 'StoredStepError';
  }
}

export function encodeStep(step: StepOutput): StoredStep {
  return { cells: step.cells, masks: step.masks.map(packMask) };
}

export function decodeStep(stored: StoredStep): StepOutput {
  const { cells, masks } = stored;
  if (Array.isArray(masks)) {
    if (masks.length !== cells.length)
      throw new StoredStepError(`${masks.length} masks for ${cells.length} cells`);
    return { cells, masks: masks.map(unpackMask) };
  }
  // the format of earlier versions: '0'/'1' strings keyed by model|attack|source|eps
  const legacyKey = (c: ResultCell) => `${c.model}|${c.attack}|${c.source}|${c.epsilon}`;
  return {
    cells,
    masks: cells.map((c) => {
      const s = masks[legacyKey(c)];
      if (typeof s !== 'string') throw new StoredStepError(`no mask for ${legacyKey(c)}`);
      return Uint8Array.from(s, (ch) => (ch === '1' ? 1 : 0));
    }),
  };
}
