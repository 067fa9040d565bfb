import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customGradient, modelGradient } from './gradient.js';
import { ATTACK_INFO, ATTACKS, attackInfo } from './registry.js';
import { type LinearModel, linearModel, uniform } from './test-utils.js';
import type { AttackResult } from './types.js';

const D = 12;
const K = 3;
const N = 4;
let m: LinearModel;
let x: tf.Tensor;
const y = [0, 1, 2, 0];

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = linearModel(D, K, 7);
  x = tf.tensor2d(uniform(N * D, 11), [N, D]);
});
afterAll(() => {
  m.dispose();
  x.dispose();
});

/** Runs `name` with a model and gradient source that count their own calls. */
async function counted(name: keyof typeof ATTACK_INFO, options: Record<string, unknown>) {
  let forwards = 0;
  let gradients = 0;
  const model = (t: tf.Tensor) => {
    forwards += t.shape[0]! / N;
    return m.model(t);
  };
  const inner = modelGradient(m.model);
  const gradient = customGradient((t, objective) => {
    gradients++;
    return inner.evaluate(t, objective).gradient;
  });
  const opts = { epsilon: 0.1, seed: 1, keepBest: false, ...options };
  const withSource = ATTACK_INFO[name].gradientFree ? opts : { ...opts, gradient };
  const run = ATTACKS[name] as (...a: unknown[]) => Promise<AttackResult>;
  const r = await run(model, x, y, withSource);
  r.adversarial.dispose();
  return { forwards, gradients, r };
}

describe('ATTACK_INFO', () => {
  it('describes every attack the runner knows, under its own name', () => {
    expect(Object.keys(ATTACK_INFO).sort()).toEqual(Object.keys(ATTACKS).sort());
    for (const [name, info] of Object.entries(ATTACK_INFO)) expect(info.name).toBe(name);
    expect(attackInfo('square').gradientFree).toBe(true);
    expect(() => attackInfo('deepfool')).toThrow(/expected one of fgsm, .*got "deepfool"/);
  });

  it.each([
    ['fgsm', {}],
    ['bim', {}],
    ['bim', { steps: 4 }],
    ['mifgsm', { steps: 3 }],
    ['pgd', {}],
    ['pgd', { steps: 5, restarts: 3, keepBest: true }],
  ] as const)('%s %j: cost() is the number of gradient evaluations made', async (name, o) => {
    const { gradients, r } = await counted(name, o);
    const cost = ATTACK_INFO[name].cost(o);
    expect(cost.gradients).toBe(gradients);
    expect(cost.forwards).toBe(0);
    expect(r.gradientEvaluations).toBe(gradients);
  });

  it.each([
    ['square', { steps: 30 }],
    ['spsa', { steps: 3, samples: 4, samplesPerBatch: 2 }],
    ['noise', {}],
    ['noise', { repeats: 5, norm: 'l2' }],
  ] as const)('%s %j: no gradient, and cost() bounds the queries made', async (name, o) => {
    const { gradients, forwards, r } = await counted(name, o);
    const cost = ATTACK_INFO[name].cost(o);
    expect(gradients).toBe(0);
    expect(cost.gradients).toBe(0);
    expect(r.queries).toBeLessThanOrEqual(cost.forwards);
    // counted model calls (in whole batches) cover the queries plus the clean/final predictions
    expect(forwards).toBeGreaterThanOrEqual(r.queries);
    if (name === 'spsa') expect(r.queries).toBe(cost.forwards);
  });
});
