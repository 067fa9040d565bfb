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

/**
 * An eps as the dataset's papers write it: k/255 on CIFAR-10 where it is one (8/255), else
 * the number (0.3).
 */
export function fmtEps(e: number, dataset?: string): string {
  const k = e * 255;
  if (dataset === 'cifar10' && e > 0 && e < 0.25 && Math.abs(k - Math.round(k)) < 1e-6)
    return `${Math.round(k)}/255`;
  return String(Number(e.toPrecision(6)));
}

/** A p-value as a reader wants it: 2 significant digits, exponent below 0.001, or '< 1e-12'. */
export function formatP(p: number): string {
  if (p < 1e-12) return '< 1e-12';
  return p < 0.001 ? p.toExponential(1) : p.toPrecision(2);
}
