/**
 * FAB's projections (fra31/auto-attack's fab_projections.py, here exact and for any box): the
 * smallest L-inf or L2 step onto a hyperplane that keeps the point in the pixel box. Float64,
 * per example, on the CPU.
 */
import type { Norm } from './types.js';

/**
 * The smallest step d (L-inf or L2) that moves point t onto the hyperplane w . z = w . t - c
 * (c: the hyperplane's value at t) while t + d stays in [lo, hi]^n; written into `out`. When
 * the box does not reach the hyperplane, the step to the box corner nearest to it.
 *
 * With s = sign(c) and u = s * w, each coordinate moves against u by m_i in [0, cap_i] (cap_i
 * the room to the box face it moves to), lowering s * (w . z) by sum |u_i| m_i. The optimum is
 * m_i = min(level, cap_i) for L-inf and m_i = min(level * |u_i|, cap_i) for L2 (the KKT point
 * of min ||d||_2^2), so both solve sum a_i min(level, r_i) = |c| for the level, a piecewise
 * linear increasing function: (a_i, r_i) = (|u_i|, cap_i) for L-inf, (u_i^2, cap_i / |u_i|)
 * for L2. Solved exactly by sorting the breakpoints r_i.
 */
export function projectInto(
  norm: Norm,
  t: ArrayLike<number>,
  tOff: number,
  w: ArrayLike<number>,
  wOff: number,
  c: number,
  lo: number,
  hi: number,
  out: Float64Array,
): void {
  const n = out.length;
  out.fill(0);
  const goal = Math.abs(c);
  if (!(goal > 0)) return;
  const s = c > 0 ? 1 : -1;
  const a = new Float64Array(n);
  const r = new Float64Array(n);
  const cap = new Float64Array(n);
  const idx = new Uint32Array(n);
  let count = 0;
  let total = 0;
  let minR = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const u = s * w[wOff + i]!;
    if (u === 0) continue;
    const ti = t[tOff + i]!;
    const room = Math.max(0, u > 0 ? ti - lo : hi - ti);
    const au = Math.abs(u);
    cap[i] = room;
    a[i] = norm === 'linf' ? au : au * au;
    r[i] = norm === 'linf' ? room : room / au;
    total += a[i]!;
    if (r[i]! < minR) minR = r[i]!;
    idx[count++] = i;
  }
  if (count === 0) return;
  let level = goal / total;
  if (level > minR) {
    // Some coordinates reach their face first: walk the breakpoints in increasing order.
    const order = idx.subarray(0, count).sort((p, q) => r[p]! - r[q]!);
    const rest = new Float64Array(count + 1); // sum of a over the coordinates not yet at their face
    for (let k = count - 1; k >= 0; k--) rest[k] = rest[k + 1]! + a[order[k]!]!;
    level = Number.POSITIVE_INFINITY;
    let reached = 0; // sum of a_i r_i over the coordinates at their face
    for (let k = 0; k < count; k++) {
      const i = order[k]!;
      if (reached + r[i]! * rest[k]! >= goal) {
        level = (goal - reached) / rest[k]!;
        break;
      }
      reached += a[i]! * r[i]!;
    }
  }
  for (let k = 0; k < count; k++) {
    const i = idx[k]!;
    const u = s * w[wOff + i]!;
    const m = Math.min(norm === 'linf' ? level : level * Math.abs(u), cap[i]!);
    out[i] = u > 0 ? -m : m;
  }
}

function projection(
  norm: Norm,
  point: ArrayLike<number>,
  w: ArrayLike<number>,
  b: number,
  bounds: readonly [number, number],
): Float64Array {
  if (point.length !== w.length)
    throw new RangeError(`fab: point and w differ in length (${point.length}, ${w.length})`);
  let c = -b;
  for (let i = 0; i < w.length; i++) c += w[i]! * point[i]!;
  const out = new Float64Array(point.length);
  projectInto(norm, point, 0, w, 0, c, bounds[0], bounds[1], out);
  return out;
}

/**
 * FAB's L-inf projection (fra31/auto-attack's `projection_linf`, here for any box): the step d
 * of smallest L-inf norm with w . (point + d) = b and point + d in [low, high]^n; where the box
 * cannot reach the hyperplane, the step to the corner nearest to it. Float64. Exported for tests.
 */
export function fabProjectionLinf(
  point: ArrayLike<number>,
  w: ArrayLike<number>,
  b: number,
  bounds: readonly [number, number] = [0, 1],
): Float64Array {
  return projection('linf', point, w, b, bounds);
}

/** FAB's L2 projection (`projection_l2`), as fabProjectionLinf with the L2 norm. Exported for tests. */
export function fabProjectionL2(
  point: ArrayLike<number>,
  w: ArrayLike<number>,
  b: number,
  bounds: readonly [number, number] = [0, 1],
): Float64Array {
  return projection('l2', point, w, b, bounds);
}
