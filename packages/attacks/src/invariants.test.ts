/**
 * Property tests: for random inputs, budgets, losses and targets, every attack and norm keeps
 * its perturbation inside its ball and the pixel bounds, reports the norms it actually reached,
 * reports success from a fresh prediction, and leaks no tensor.
 */
import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS } from './registry.js';
import { uniform } from './test-utils.js';
import type { AttackResult } from './types.js';

let net: tfl.LayersModel;
const H = 6;
const K = 4;

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  const seed = (s: number) => tfl.initializers.glorotUniform({ seed: s });
  net = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [H, H, 1],
        filters: 3,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: seed(1),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: K, kernelInitializer: seed(2) }),
    ],
  });
});
afterAll(() => net.dispose());

interface Case {
  attack: keyof typeof ATTACKS;
  norm?: 'linf' | 'l2';
  variant?: 'standard' | 'paper';
  /** The ball the result must stay in, as a multiple of eps. */
  radius: number;
  clipped: boolean;
  extra: Record<string, unknown>;
}

const cases: Case[] = [
  { attack: 'fgsm', radius: 1, clipped: true, extra: {} },
  { attack: 'fgsm', variant: 'paper', radius: 1, clipped: false, extra: {} },
  { attack: 'bim', radius: 1, clipped: true, extra: { steps: 3 } },
  { attack: 'bim', variant: 'paper', radius: 1, clipped: false, extra: { steps: 3 } },
  { attack: 'mifgsm', radius: 1, clipped: true, extra: { steps: 3 } },
  { attack: 'mifgsm', variant: 'paper', radius: 3, clipped: false, extra: { steps: 3 } },
  { attack: 'pgd', norm: 'linf', radius: 1, clipped: true, extra: { steps: 3, restarts: 2 } },
  { attack: 'pgd', norm: 'l2', radius: 1, clipped: true, extra: { steps: 3, restarts: 2 } },
  { attack: 'spsa', radius: 1, clipped: true, extra: { steps: 2, samples: 4 } },
  { attack: 'square', radius: 1, clipped: true, extra: { steps: 6, pInit: 0.3 } },
  { attack: 'noise', norm: 'linf', radius: 1, clipped: true, extra: { repeats: 3 } },
  { attack: 'noise', norm: 'l2', radius: 1, clipped: true, extra: { repeats: 3 } },
];

function check(
  r: AttackResult,
  x: tf.Tensor,
  y: number[],
  target: number[] | undefined,
  c: Case,
  eps: number,
  bounds: [number, number],
) {
  const adv = r.adversarial.dataSync();
  const x0 = x.dataSync();
  const per = x.size / y.length;
  const fresh = tf.tidy(() => tf.argMax(net.apply(r.adversarial) as tf.Tensor, 1));
  const pred = fresh.dataSync();
  fresh.dispose();
  for (let i = 0; i < y.length; i++) {
    let linf = 0;
    let l2 = 0;
    for (let p = i * per; p < (i + 1) * per; p++) {
      const d = adv[p]! - x0[p]!;
      linf = Math.max(linf, Math.abs(d));
      l2 += d * d;
      if (c.clipped) {
        expect(adv[p]!).toBeGreaterThanOrEqual(bounds[0]);
        expect(adv[p]!).toBeLessThanOrEqual(bounds[1]);
      }
    }
    l2 = Math.sqrt(l2);
    expect(Math.abs(r.linf[i]! - linf)).toBeLessThan(1e-5);
    expect(Math.abs(r.l2[i]! - l2)).toBeLessThan(1e-4);
    const tol = 1e-5 * Math.max(1, eps);
    if (c.norm === 'l2') expect(l2).toBeLessThanOrEqual(c.radius * eps + tol);
    else expect(linf).toBeLessThanOrEqual(c.radius * eps + tol);
    expect(r.predictions[i]).toBe(pred[i]);
    const fooled = target ? pred[i] === target[i] : pred[i] !== y[i];
    expect(r.success[i]).toBe(fooled ? 1 : 0);
  }
}

describe('projection, bounds and reporting invariants (property tests)', () => {
  for (const c of cases) {
    const name = `${c.attack}${c.variant ? ` ${c.variant}` : ''}${c.norm ? ` ${c.norm}` : ''}`;
    it(`${name}: inside the eps-ball and the bounds, norms and success as reported`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.double({ min: 0, max: 0.6, noNaN: true }),
          fc.constantFrom<'ce' | 'margin' | 'dlr'>('ce', 'margin', 'dlr'),
          fc.boolean(),
          fc.integer({ min: 0, max: 1000 }),
          fc.constantFrom<[number, number]>([0, 1], [-1, 2]),
          async (batch, eps, loss, targeted, seed, bounds) => {
            const start = tf.memory().numTensors;
            const xs = uniform(batch * H * H, seed).map(
              (v) => bounds[0] + (bounds[1] - bounds[0]) * v,
            );
            const x = tf.tensor4d(xs, [batch, H, H, 1]);
            const y = Array.from({ length: batch }, (_, i) => (seed + i) % K);
            const target = targeted ? y.map((v) => (v + 1) % K) : undefined;
            const r = await ATTACKS[c.attack](net, x, y, {
              epsilon: eps,
              bounds,
              loss,
              target,
              seed,
              ...(c.variant ? { variant: c.variant } : {}),
              ...(c.norm ? { norm: c.norm } : {}),
              ...c.extra,
            });
            try {
              check(r, x, y, target, c, eps, bounds);
              expect(r.targeted).toBe(targeted);
              expect(r.clippedToBounds).toBe(c.clipped);
            } finally {
              tf.dispose([r.adversarial, x]);
            }
            expect(tf.memory().numTensors).toBe(start);
          },
        ),
        { numRuns: 12, seed: 42 },
      );
    });
  }
});
