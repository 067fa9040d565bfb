type Typed = Uint8Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/**
 * The parts, end to end, in one new array of the first part's type (`make` builds it when
 * there may be no part, or for another type).
 */
export function concatTyped<T extends Typed>(parts: readonly T[], make?: (n: number) => T): T {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const first = parts[0];
  if (make == null && first == null) {
    throw new RangeError('concatTyped: no parts and no `make` to build an empty array');
  }
  const out = make ? make(n) : (new (first!.constructor as new (n: number) => T)(n) as T);
  let o = 0;
  for (const p of parts) {
    out.set(p as never, o);
    o += p.length;
  }
  return out;
}
