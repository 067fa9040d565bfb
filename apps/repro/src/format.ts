/**
 * The app's one way of writing a share and of comparing two epsilons (report, verdict and the
 * study all use these).
 */
import { normEps } from '@fa-robust/metrics';

/** A share in [0, 1] as a percentage with one decimal ('48.9%'); '—' where there is none. */
export function pct(x: number | null | undefined): string {
  return x == null || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`;
}

/** The same epsilon, compared as results files key them (12 significant digits: 0.1 + 0.2 = 0.3). */
export function sameEps(a: number, b: number): boolean {
  return normEps(a) === normEps(b);
}
