import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bim } from './bim.js';
import { maskingFlags } from './checks.js';
import { AttackAbortedError, AttackInputError } from './errors.js';
import { fgsm } from './fgsm.js';
import { modelGradient } from './gradient.js';
import type { LabelsInput, Model } from './model.js';
import { runAttack, runResultToJSON } from './runner.js';
import type { DataBatch, RunProgress } from './runner-types.js';
import { barImages, barModel, type LinearModel, twinModels, uniform } from './test-utils.js';

const H = 8;
const W = 8;
const K = 4;
const N = 10;
const D = H * W;
let m: LinearModel;
let data: { x: Float32Array; y: Int32Array; shape: number[] };

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
  m = barModel(H, W, K);
  const d = barImages(N, H, W, K, 4);
  data = { x: d.x, y: d.y, shape: [N, H, W, 1] };
});
afterAll(() => m.dispose());

describe('runAttack', () => {
  it('attacks a dataset in batches at every epsilon; per-example results equal one big call', async () => {
    const start = tf.memory().numTensors;
    const progress: RunProgress[] = [];
    const batches: { offset: number; epsilon: number; n: number }[] = [];
    const run = await runAttack({
      model: m.model,
      attack: 'bim',
      data,
      epsilons: [0, 0.1, 0.45],
      batchSize: 4,
      keepAdversarial: true,
      onProgress: (p) => progress.push(p),
      onBatch: (b) => {
        batches.push({ offset: b.offset, epsilon: b.epsilon, n: b.adversarial.length / D });
      },
    });
    expect(run.count).toBe(N);
    expect(run.exampleShape).toEqual([H, W, 1]);
    expect(run.attack).toBe('bim');
    expect(run.gradientSource).toBe('own');
    expect(Array.from(run.labels)).toEqual(Array.from(data.y));
    expect(run.cleanAccuracy).toBe(1);
    expect(run.perEpsilon.map((e) => e.epsilon)).toEqual([0, 0.1, 0.45]);
    // eps 0 changes nothing
    expect(run.perEpsilon[0]!.successRate).toBe(0);
    expect(Math.max(...run.perEpsilon[0]!.linf)).toBe(0);
    // the same attack on all examples at once gives the same per-example results
    const x = tf.tensor4d(data.x, [N, H, W, 1]);
    const direct = await bim(m.model, x, data.y, { epsilon: 0.45 });
    const e3 = run.perEpsilon[2]!;
    expect(Array.from(e3.success)).toEqual(Array.from(direct.success));
    expect(Array.from(e3.predictions)).toEqual(Array.from(direct.predictions));
    expect(Array.from(e3.correctAfter)).toEqual(
      Array.from(direct.predictions).map((p, i) => (p === data.y[i] ? 1 : 0)),
    );
    const adv = direct.adversarial.dataSync();
    expect(e3.adversarial!.length).toBe(N * D);
    for (let i = 0; i < adv.length; i++)
      expect(Math.abs(e3.adversarial![i]! - adv[i]!)).toBeLessThan(1e-6);
    expect(e3.successRate).toBeGreaterThan(0.5);
    expect(e3.robustAccuracy).toBeCloseTo(1 - e3.successRate, 10);
    tf.dispose([x, direct.adversarial]);
    // progress: one call per batch and epsilon, ending at 100%
    expect(progress.map((p) => p.calls)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(progress.at(-1)!.fraction).toBe(1);
    expect(progress.at(-1)!.examplesDone).toBe(N);
    expect(progress.every((p, i) => i === 0 || p.fraction! >= progress[i - 1]!.fraction!)).toBe(
      true,
    );
    expect(batches.filter((b) => b.epsilon === 0.45)).toEqual([
      { offset: 0, epsilon: 0.45, n: 4 },
      { offset: 4, epsilon: 0.45, n: 4 },
      { offset: 8, epsilon: 0.45, n: 2 },
    ]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('takes an iterator of batches and the { images, labels, shape } form, with the same results', async () => {
    const start = tf.memory().numTensors;
    const tensors: tf.Tensor[] = [];
    function* batches(): Generator<DataBatch> {
      for (let s = 0; s < N; s += 3) {
        const e = Math.min(N, s + 3);
        const t = tf.tensor4d(data.x.slice(s * D, e * D), [e - s, H, W, 1]);
        tensors.push(t);
        yield { x: t, y: data.y.slice(s, e) };
      }
    }
    const a = await runAttack({ model: m.model, attack: 'fgsm', data: batches(), epsilons: [0.2] });
    const b = await runAttack({
      model: m.model,
      attack: 'fgsm',
      // a @fa-robust/datasets Split: { images, labels: Uint8Array, shape: [n, h, w, c], classes }
      data: {
        images: data.x,
        labels: Uint8Array.from(data.y),
        shape: [N, H, W, 1] as const,
        classes: ['0', '1', '2', '3'],
      },
      epsilons: [0.2],
    });
    expect(Array.from(a.perEpsilon[0]!.success)).toEqual(Array.from(b.perEpsilon[0]!.success));
    expect(Array.from(a.perEpsilon[0]!.linf)).toEqual(Array.from(b.perEpsilon[0]!.linf));
    // the runner does not dispose the caller's tensors
    expect(tensors.every((t) => !t.isDisposed)).toBe(true);
    tf.dispose(tensors);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('stops on an AbortSignal between batches and leaks nothing', async () => {
    const start = tf.memory().numTensors;
    const ctl = new AbortController();
    const err = await runAttack({
      model: m.model,
      attack: 'pgd',
      data,
      epsilons: [0.1, 0.2],
      batchSize: 2,
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.calls === 2) ctl.abort();
      },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(AttackAbortedError);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses bad arguments clearly', async () => {
    const base = { model: m.model, attack: 'fgsm' as const, data };
    await expect(runAttack({ ...base, epsilons: [] })).rejects.toThrow(
      /epsilons must be a non-empty array/,
    );
    await expect(runAttack({ ...base, epsilons: [0.1, -1] })).rejects.toThrow(AttackInputError);
    await expect(
      runAttack({ ...base, epsilons: [0.1], options: { epsilon: 0.3 } }),
    ).rejects.toThrow(/options.epsilon must be absent/);
    await expect(
      runAttack({ ...base, attack: 'deepfool' as never, epsilons: [0.1] }),
    ).rejects.toThrow(/attack must be one of fgsm, bim/);
    await expect(
      runAttack({ ...base, data: { ...data, shape: [N, 9, 9, 1] }, epsilons: [0.1] }),
    ).rejects.toThrow(/data.shape/);
    await expect(
      runAttack({ ...base, data: { ...data, y: data.y.slice(1) }, epsilons: [0.1] }),
    ).rejects.toThrow(/data.y must be 10 labels/);
  });

  it('flags a success rate that falls as epsilon grows', async () => {
    // an attack that gives up above eps 0.45: the runner must notice the drop
    const lazy = (model: Model, x: tf.Tensor, y: LabelsInput, o: { epsilon: number }) =>
      fgsm(model, x, y, { ...o, epsilon: o.epsilon > 0.45 ? 0 : o.epsilon });
    const run = await runAttack({ model: m.model, attack: lazy, data, epsilons: [0.1, 0.45, 0.6] });
    const flags = run.flags.filter((f) => f.code === 'success-not-monotone');
    expect(flags).toHaveLength(1);
    expect(flags[0]!.epsilon).toBe(0.6);
    expect(flags[0]!.message).toMatch(/below .* at the smaller epsilon 0.45/);
    const honest = await runAttack({
      model: m.model,
      attack: 'bim',
      data,
      epsilons: [0.1, 0.45, 0.6],
    });
    expect(honest.perEpsilon[1]!.successRate).toBeGreaterThan(0);
    expect(honest.flags.filter((f) => f.code === 'success-not-monotone')).toEqual([]);
  });

  it('converts to JSON-friendly plain arrays', async () => {
    const run = await runAttack({
      model: m.model,
      attack: 'fgsm',
      data,
      epsilons: [0.3],
      keepAdversarial: true,
    });
    const json = JSON.parse(JSON.stringify(runResultToJSON(run)));
    expect(json.perEpsilon[0].success).toEqual(Array.from(run.perEpsilon[0]!.success));
    expect(json.perEpsilon[0].adversarial).toBeUndefined();
    expect(json.cleanCorrect).toHaveLength(N);
  });
});

describe('maskingFlags: evidence across runs', () => {
  it('a gradient-free attack beating a gradient attack on a step-function model', async () => {
    // sign() has a zero gradient everywhere: BIM cannot move, Square can
    const shattered = (xi: tf.Tensor) => m.model(tf.sign(tf.sub(xi, 0.45)));
    const grad = await runAttack({ model: shattered, attack: 'bim', data, epsilons: [0.5] });
    const free = await runAttack({
      model: shattered,
      attack: 'square',
      data,
      epsilons: [0.5],
      options: { steps: 200, pInit: 0.3 },
    });
    expect(grad.flags.some((f) => f.code === 'zero-gradient' && f.count === N)).toBe(true);
    expect(grad.perEpsilon[0]!.successRate).toBe(0);
    expect(free.perEpsilon[0]!.successRate).toBeGreaterThan(0.5);
    const flags = maskingFlags([grad, free]);
    expect(flags).toHaveLength(1);
    expect(flags[0]!.code).toBe('gradient-free-stronger');
    expect(flags[0]!.count).toBe(Math.round(free.perEpsilon[0]!.successRate * N));
    expect(maskingFlags([free])).toEqual([]);
  });

  it("another model's gradient beating the model's own backward path (feedback alignment vs its twin)", async () => {
    const models = twinModels(D, 32, K, 9);
    const xs = uniform(N * D, 11);
    // label each example with the model's own clean prediction, so clean accuracy is 100%
    const pred = tf.tidy(() => tf.argMax(models.bp(tf.tensor2d(xs, [N, D])), 1));
    const d = { x: xs, y: pred.dataSync() as Int32Array, shape: [N, D] };
    const own = await runAttack({
      model: models.fa,
      attack: 'bim',
      data: d,
      epsilons: [0.05, 0.1],
    });
    const twin = await runAttack({
      model: models.fa,
      attack: 'bim',
      data: d,
      epsilons: [0.05, 0.1],
      gradient: modelGradient(models.bp, 'bp-twin'),
    });
    expect(own.gradientKind).toBe('own');
    expect(twin.gradientKind).toBe('model');
    const twinBest = twin.perEpsilon[1]!.successRate;
    expect(twinBest).toBeGreaterThan(own.perEpsilon[1]!.successRate);
    const flags = maskingFlags([own, twin]);
    expect(flags.length).toBeGreaterThan(0);
    expect(flags.every((f) => f.code === 'other-gradient-stronger')).toBe(true);
    expect(flags[0]!.message).toMatch(/bim via 'bp-twin' succeeds .* bim via 'own'/);
    tf.dispose(pred);
    models.dispose();
  });
});
