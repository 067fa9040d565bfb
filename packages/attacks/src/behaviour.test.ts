import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { bim } from './bim.js';
import { fgsm } from './fgsm.js';
import { customGradient, modelGradient, ownGradient } from './gradient.js';
import { mifgsm } from './mifgsm.js';
import { objectiveLoss } from './objective.js';
import { pgd } from './pgd.js';
import { ATTACKS } from './registry.js';
import { spsa } from './spsa.js';
import { square } from './square.js';
import { clampTo, linearGradient, linearModel, twinModels, useBarTask } from './test-utils.js';

const H = 8;
const W = 8;
const K = 4;
const N = 8;
const bar = useBarTask(N, 1, H, W, K);

describe('targeted attacks', () => {
  const target = () => bar.y.map((v: number) => (v + 2) % K);
  const cases: [string, () => Promise<import('./types.js').AttackResult>][] = [
    ['fgsm', () => fgsm(bar.m.model, bar.x, bar.y, { epsilon: 0.5, target: target() })],
    ['bim', () => bim(bar.m.model, bar.x, bar.y, { epsilon: 0.5, target: target() })],
    ['mifgsm', () => mifgsm(bar.m.model, bar.x, bar.y, { epsilon: 0.5, target: target() })],
    [
      'pgd linf',
      () => pgd(bar.m.model, bar.x, bar.y, { epsilon: 0.5, target: target(), steps: 10 }),
    ],
    [
      'pgd l2',
      () => pgd(bar.m.model, bar.x, bar.y, { epsilon: 4, norm: 'l2', target: target(), steps: 10 }),
    ],
    [
      'spsa',
      () =>
        spsa(bar.m.model, bar.x, bar.y, {
          epsilon: 0.5,
          target: target(),
          steps: 40,
          samples: 16,
          learningRate: 0.03,
        }),
    ],
    [
      'square',
      () =>
        square(bar.m.model, bar.x, bar.y, {
          epsilon: 0.5,
          target: target(),
          steps: 300,
          pInit: 0.3,
        }),
    ],
  ];
  for (const [name, run] of cases) {
    it(`${name} reaches the target class on an easy model`, async () => {
      const r = await run();
      expect(r.targeted).toBe(true);
      expect(Array.from(r.predictions)).toEqual(target());
      expect(Array.from(r.success)).toEqual(new Array(N).fill(1));
      r.adversarial.dispose();
    });
  }
});

describe('the attack follows the gradient it is given', () => {
  it('own (feedback) path vs true-gradient twin: each FGSM step is eps * sign of its own source', async () => {
    const models = twinModels(H * W, 16, K, 3);
    const eps = 0.1;
    const own = await fgsm(models.fa, bar.x, bar.y, { epsilon: eps, keepBest: false });
    const twin = await fgsm(models.fa, bar.x, bar.y, {
      epsilon: eps,
      keepBest: false,
      gradient: modelGradient(models.bp, 'bp-twin'),
    });
    const expected = (g: tf.Tensor) =>
      tf.tidy(() => tf.clipByValue(tf.add(bar.x, tf.mul(eps, tf.sign(g))), 0, 1));
    const objective = {
      loss: 'ce' as const,
      labels: tf.tensor1d(bar.y, 'int32'),
      target: null,
      numClasses: K,
    };
    const fa = tf.tidy(() =>
      models.faBackward(
        bar.x,
        tf.sub(tf.softmax(models.fa(bar.x)), tf.oneHot(objective.labels, K)),
      ),
    );
    const bp = tf.grad((xi: tf.Tensor) => tf.sum(objectiveLoss(models.bp(xi), objective)))(bar.x);
    const eFa = expected(fa);
    const eBp = expected(bp);
    expect(Array.from(own.adversarial.dataSync())).toEqual(Array.from(eFa.dataSync()));
    expect(Array.from(twin.adversarial.dataSync())).toEqual(Array.from(eBp.dataSync()));
    expect(Array.from(own.adversarial.dataSync())).not.toEqual(
      Array.from(twin.adversarial.dataSync()),
    );
    expect(own.gradientSource).toBe('own');
    expect(twin.gradientSource).toBe('bp-twin');
    tf.dispose([own.adversarial, twin.adversarial, fa, bp, eFa, eBp, objective.labels]);
    models.dispose();
  });

  it('transfer: the gradient of a surrogate moves the input, success is measured on the attacked model', async () => {
    const target = linearModel(H * W, K, 10);
    const surrogate = linearModel(H * W, K, 20);
    const r = await bim(target.model, bar.x, bar.y, {
      epsilon: 0.2,
      steps: 1,
      alpha: 0.2,
      keepBest: false,
      gradient: modelGradient(surrogate.model, 'surrogate'),
    });
    const xv = bar.x.dataSync();
    const adv = r.adversarial.dataSync();
    const d = H * W;
    for (let i = 0; i < N; i++) {
      const g = linearGradient(surrogate, xv, i, bar.y[i]!, 'ce');
      for (let p = 0; p < d; p++)
        expect(adv[i * d + p]).toBeCloseTo(
          clampTo(xv[i * d + p]! + 0.2 * Math.sign(g[p]!), 0, 1),
          5,
        );
    }
    const fresh = tf.tidy(() => tf.argMax(target.model(r.adversarial), 1));
    expect(Array.from(r.predictions)).toEqual(Array.from(fresh.dataSync()));
    tf.dispose([r.adversarial, fresh]);
    target.dispose();
    surrogate.dispose();
  });
});

describe('memory and determinism', () => {
  it('no tensor leaks over hundreds of iterations: the count is flat inside the loop and restored after', async () => {
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const counting = customGradient((xi, objective) => {
      counts.push(tf.memory().numTensors);
      return tf.grad((v: tf.Tensor) => tf.sum(objectiveLoss(bar.m.model(v), objective)))(xi);
    });
    for (const attack of ['bim', 'mifgsm', 'pgd'] as const) {
      counts.length = 0;
      const r = await ATTACKS[attack](bar.m.model, bar.x, bar.y, {
        epsilon: 0.3,
        steps: 300,
        gradient: counting,
        ...(attack === 'pgd' ? { restarts: 2 } : {}),
      });
      r.adversarial.dispose();
      expect(counts.length).toBe(attack === 'pgd' ? 600 : 300);
      // after the first step (state created), every step starts with the same number of tensors
      expect(new Set(counts.slice(2, attack === 'pgd' ? 300 : undefined)).size).toBe(1);
      expect(tf.memory().numTensors).toBe(start);
    }
    const s = await spsa(bar.m.model, bar.x, bar.y, { epsilon: 0.3, steps: 100, samples: 4 });
    s.adversarial.dispose();
    const q = await square(bar.m.model, bar.x, bar.y, { epsilon: 0.3, steps: 300 });
    q.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('PGD random starts are seeded: same seed, same result; another seed, another start', async () => {
    const a = await pgd(bar.m.model, bar.x, bar.y, {
      epsilon: 0.05,
      steps: 1,
      alpha: 0.01,
      seed: 7,
      keepBest: false,
    });
    const b = await pgd(bar.m.model, bar.x, bar.y, {
      epsilon: 0.05,
      steps: 1,
      alpha: 0.01,
      seed: 7,
      keepBest: false,
    });
    const c = await pgd(bar.m.model, bar.x, bar.y, {
      epsilon: 0.05,
      steps: 1,
      alpha: 0.01,
      seed: 8,
      keepBest: false,
    });
    expect(Array.from(b.adversarial.dataSync())).toEqual(Array.from(a.adversarial.dataSync()));
    expect(Array.from(c.adversarial.dataSync())).not.toEqual(Array.from(a.adversarial.dataSync()));
    tf.dispose([a.adversarial, b.adversarial, c.adversarial]);
  });
});

describe('sanity flags', () => {
  it('flags exactly-zero input gradients (a step-function model) and NaN gradients', async () => {
    const steps = (xi: tf.Tensor) => bar.m.model(tf.sign(tf.sub(xi, 0.5)));
    const r = await bim(steps, bar.x, bar.y, { epsilon: 0.3 });
    const flag = r.flags.find((f) => f.code === 'zero-gradient');
    expect(flag?.count).toBe(N);
    expect(flag?.message).toMatch(/exactly-zero input gradient/);
    expect(Array.from(r.zeroGradientSteps!)).toEqual(new Array(N).fill(10));
    expect(Math.max(...r.linf)).toBe(0); // it could not move
    r.adversarial.dispose();
    const nan = customGradient((xi) => tf.div(tf.zerosLike(xi), tf.zerosLike(xi)), 'nan');
    const n = await fgsm(bar.m.model, bar.x, bar.y, { epsilon: 0.3, gradient: nan });
    expect(n.flags.map((f) => f.code)).toContain('non-finite-gradient');
    expect(n.adversarial.dataSync().every((v) => Number.isFinite(v))).toBe(true);
    n.adversarial.dispose();
    // a healthy run raises none
    const ok = await bim(bar.m.model, bar.x, bar.y, {
      epsilon: 0.3,
      gradient: ownGradient(bar.m.model),
    });
    expect(ok.flags).toEqual([]);
    ok.adversarial.dispose();
  });

  it('takes a tfjs-layers-like model (anything with apply) and calls it in inference mode', async () => {
    const seen: unknown[] = [];
    const layersLike = {
      apply: (input: tf.Tensor, kwargs: unknown) => {
        seen.push(kwargs);
        return bar.m.model(input);
      },
    };
    const r = await fgsm(layersLike, bar.x, bar.y, { epsilon: 0.1 });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((k) => (k as { training?: boolean }).training === false)).toBe(true);
    r.adversarial.dispose();
  });
});

describe('long attacks share the event loop', () => {
  it('a timer set before an attack without a signal fires while it runs', async () => {
    let firedAt = -1;
    let steps = 0;
    const started = performance.now();
    setTimeout(() => {
      firedAt = performance.now();
    }, 0);
    // BIM on the bar task, long enough to pass the 50 ms yield interval many times
    const r = await bim(bar.m.model, bar.x, bar.y, {
      epsilon: 0.1,
      steps: 400,
      gradient: customGradient((t, o) => {
        steps++;
        return modelGradient(bar.m.model).evaluate(t, o).gradient;
      }),
    });
    const ended = performance.now();
    r.adversarial.dispose();
    expect(steps).toBe(400);
    expect(ended - started).toBeGreaterThan(60); // (else the check below says nothing)
    expect(firedAt).toBeGreaterThan(0);
    expect(firedAt).toBeLessThan(ended);
  });
});
