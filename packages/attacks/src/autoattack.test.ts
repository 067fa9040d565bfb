import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { autoAttack, autoAttackSteps } from './autoattack.js';
import { bim } from './bim.js';
import { customGradient } from './gradient.js';
import { useBarTask } from './test-utils.js';

const H = 8;
const W = 8;
const K = 4;
const N = 12;
const bar = useBarTask(N, 3, H, W, K);

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('autoAttack (the cascade)', () => {
  it('runs each attack only on what is still robust; the first stage equals the attack alone', async () => {
    const eps = 0.3;
    const before = tf.memory().numTensors;
    const r = await autoAttack(bar.m.model, bar.x, bar.y, {
      epsilon: eps,
      version: 'custom',
      attacks: [
        { name: 'bim-5', attack: 'bim', options: { steps: 5 } },
        { name: 'square', attack: 'square', options: { steps: 200, pInit: 0.3 } },
      ],
      seed: 1,
    });
    r.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // independent reference: BIM alone on the whole batch
    const alone = await bim(bar.m.model, bar.x, bar.y, { epsilon: eps, steps: 5 });
    alone.adversarial.dispose();
    const [first, second] = r.attacks;
    expect(sum(r.cleanCorrect)).toBe(N); // the bar model is accurate
    expect(first!.attacked).toBe(N);
    // (eps chosen so that BIM fools some examples, not all: the second stage has work)
    expect(first!.fooled).toBeGreaterThan(0);
    expect(first!.fooled).toBeLessThan(N);
    expect(first!.fooled).toBe(sum(alone.success));
    for (let i = 0; i < N; i++) expect(r.fooledBy[i] === 0).toBe(alone.success[i] === 1);
    // the second attack saw exactly the examples the first left robust
    expect(second!.attacked).toBe(N - first!.fooled);
    expect(sum(r.robust)).toBe(N - first!.fooled - second!.fooled);
    expect(r.robustAccuracy).toBeCloseTo(sum(r.robust) / N, 12);
    expect(second!.robustAccuracy).toBe(r.robustAccuracy);
    // costs: BIM takes 5 gradients per example attacked; Square only queries
    expect(first!.gradientEvaluations).toBe(5 * N);
    expect(second!.gradientEvaluations).toBe(0);
    if (second!.attacked) expect(second!.queries).toBeGreaterThan(0);
  });

  it('counts only adversarials inside the ball: the paper MI-FGSM steps past eps and is refused', async () => {
    const eps = 0.05;
    const r = await autoAttack(bar.m.model, bar.x, bar.y, {
      epsilon: eps,
      version: 'custom',
      attacks: [{ name: 'mifgsm-paper', attack: 'mifgsm', options: { variant: 'paper' } }],
    });
    const a = r.attacks[0]!;
    expect(a.outsideThreatModel).toBeGreaterThan(0);
    // what is returned is within eps of x wherever the example counts as fooled
    const adv = r.adversarial.dataSync();
    const x0 = bar.x.dataSync();
    const d = H * W;
    for (let i = 0; i < N; i++) {
      let linf = 0;
      for (let p = 0; p < d; p++) linf = Math.max(linf, Math.abs(adv[i * d + p]! - x0[i * d + p]!));
      if (r.fooledBy[i]! >= 0) expect(linf).toBeLessThanOrEqual(eps + 1e-5);
      else expect(linf).toBe(0);
    }
    r.adversarial.dispose();
  });

  it('takes bounds float32 cannot hold (normalised pixels), and refuses NaN adversarials', async () => {
    // MNIST normalisation: (0 - 0.1307) / 0.3081 is not a float32; the attacks clip to its neighbour
    const lo = (0 - 0.1307) / 0.3081;
    const hi = (1 - 0.1307) / 0.3081;
    expect(Math.fround(lo)).not.toBe(lo);
    const xn = tf.tidy(() => tf.div(tf.sub(bar.x, 0.1307), 0.3081));
    const big = await autoAttack(bar.m.model, xn, bar.y, {
      epsilon: 3,
      bounds: [lo, hi],
      version: 'custom',
      // (the margin loss: the logits are large here and cross-entropy's gradient is exactly 0)
      attacks: [{ name: 'bim', attack: 'bim', options: { steps: 10, loss: 'margin' } }],
    });
    expect(big.attacks[0]!.outsideThreatModel).toBe(0);
    expect(big.attacks[0]!.fooled).toBe(N); // eps 3 covers the whole box
    // a gradient of NaN makes NaN pixels: never counted as adversarial
    const nan = await autoAttack(bar.m.model, bar.x, bar.y, {
      epsilon: 0.3,
      version: 'custom',
      gradient: customGradient((t) => tf.fill(t.shape, Number.NaN), 'nan'),
      attacks: [{ name: 'fgsm', attack: 'fgsm' }],
    });
    expect(nan.attacks[0]!.fooled).toBe(0);
    expect(nan.robustAccuracy).toBe(1);
    tf.dispose([xn, big.adversarial, nan.adversarial]);
  });

  it('flags a gradient-free attack that fools what the gradient attack missed (a masked gradient)', async () => {
    const masked = customGradient((t) => tf.zerosLike(t), 'masked');
    const r = await autoAttack(bar.m.model, bar.x, bar.y, {
      epsilon: 0.3,
      version: 'custom',
      gradient: masked,
      attacks: [
        { name: 'bim', attack: 'bim', options: { steps: 5 } },
        { name: 'square', attack: 'square', options: { steps: 300, pInit: 0.3 } },
      ],
    });
    r.adversarial.dispose();
    expect(r.attacks[0]!.fooled).toBe(0); // a zero gradient goes nowhere
    expect(r.attacks[1]!.fooled).toBeGreaterThan(0);
    expect(r.flags.map((f) => f.code)).toEqual(['gradient-free-stronger']);
    expect(r.flags[0]!.count).toBe(r.attacks[1]!.fooled);
  });

  it('reports each attack as it goes and stops on abort', async () => {
    const seen: string[] = [];
    const r = await autoAttack(bar.m.model, bar.x, bar.y, {
      epsilon: 0.1,
      version: 'custom',
      attacks: [
        { name: 'a', attack: 'fgsm' },
        { name: 'b', attack: 'bim', options: { steps: 3 } },
      ],
      onAttack: (rep) => seen.push(`${rep.name}:${rep.attacked}`),
    });
    r.adversarial.dispose();
    expect(seen).toEqual([`a:${N}`, `b:${N - r.attacks[0]!.fooled}`]);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      autoAttack(bar.m.model, bar.x, bar.y, {
        epsilon: 0.1,
        version: 'custom',
        attacks: [{ name: 'a', attack: 'fgsm' }],
        signal: controller.signal,
      }),
    ).rejects.toThrow(/autoAttack: aborted/);
  });

  it("runs AutoAttack's 9 target classes on a model with fewer classes (all it has)", async () => {
    const r = await autoAttack(bar.m.model, bar.x, bar.y, {
      epsilon: 0.3,
      version: 'custom',
      attacks: [
        { name: 'apgd-t', attack: 'apgd', options: { steps: 5, targetClasses: 9 } },
        { name: 'fab-t', attack: 'fab', options: { steps: 5, targetClasses: 9 } },
      ],
    });
    r.adversarial.dispose();
    // K = 4 classes: 3 targets each; the cost says so (APGD-T: 5 steps x 3 targets per image)
    expect(r.attacks[0]!.gradientEvaluations).toBe(5 * 3 * N);
    expect(r.attacks.every((a) => a.outsideThreatModel === 0)).toBe(true);
  });

  it('refuses what it cannot run, naming the field', async () => {
    await expect(autoAttack(bar.m.model, bar.x, bar.y, { epsilon: -1 })).rejects.toThrow(
      /options.epsilon must be a finite number >= 0/,
    );
    await expect(
      autoAttack(bar.m.model, bar.x, bar.y, { epsilon: 0.1, version: 'custom' }),
    ).rejects.toThrow(/options.attacks must be a non-empty list/);
    await expect(
      autoAttack(bar.m.model, bar.x, bar.y, {
        epsilon: 0.1,
        version: 'custom',
        attacks: [{ name: 'x', attack: 'deepfool' as 'bim' }],
      }),
    ).rejects.toThrow(/attacks\[0\].attack must be one of fgsm/);
    await expect(
      autoAttack(bar.m.model, bar.x, bar.y, {
        epsilon: 0.5,
        norm: 'l2',
        version: 'custom',
        attacks: [{ name: 'bim', attack: 'bim' }],
      }),
    ).rejects.toThrow(/an attack in the l2 norm; found bim, which attacks in linf/);
    await expect(
      autoAttack(bar.m.model, bar.x, bar.y, { epsilon: 0.1, version: 'fast' as 'plus' }),
    ).rejects.toThrow(/options.version/);
  });

  it('lists the standard and plus cascades as fra31/auto-attack runs them', () => {
    expect(autoAttackSteps('standard').map((s) => s.name)).toEqual([
      'apgd-ce',
      'apgd-t',
      'fab-t',
      'square',
    ]);
    expect(autoAttackSteps('plus').map((s) => s.name)).toEqual([
      'apgd-ce',
      'apgd-dlr',
      'fab',
      'square',
      'apgd-t',
      'fab-t',
    ]);
    const std = autoAttackSteps('standard');
    expect(std[1]!.options).toMatchObject({ loss: 'dlr', targetClasses: 9 });
    expect(std[3]!.options).toMatchObject({ steps: 5000, pInit: 0.8 });
  });
});

// The standard cascade against PGD-100 with 10 restarts on a small trained net: strength.test.ts.
