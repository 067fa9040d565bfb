/**
 * Inputs that used to be read wrongly or silently: misspelled options (ignored, the defaults
 * ran), one-hot labels of the wrong width or with empty rows (read by argmax), and the error
 * paths of a gradient source that fails (tensors leaked per failed call).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { autoAttack } from './autoattack.js';
import { bim } from './bim.js';
import { cw } from './cw.js';
import { AttackInputError, GradientError } from './errors.js';
import { fgsm } from './fgsm.js';
import { customGradient, modelGradient } from './gradient.js';
import { ATTACK_INFO, ATTACKS, type AttackName } from './registry.js';
import { runAttack } from './runner.js';
import { spsa } from './spsa.js';
import { barModel, useBarTask } from './test-utils.js';
import type { AttackResult } from './types.js';

const H = 8;
const W = 8;
const K = 4;
const N = 4;
const bar = useBarTask(N, 5, H, W, K);

/** The cheapest legitimate options of an attack (so that a run that ignores a typo is short). */
function light(name: AttackName): Record<string, unknown> {
  const takes = ATTACK_INFO[name].options;
  return {
    epsilon: 0.1,
    ...(takes.includes('steps') ? { steps: 1 } : {}),
    ...(takes.includes('binarySearchSteps') ? { binarySearchSteps: 1 } : {}),
    ...(takes.includes('samples') ? { samples: 2 } : {}),
  };
}

/** A one-step cascade: enough for autoAttack to read its labels. */
const cheap = {
  epsilon: 0.1,
  version: 'custom' as const,
  attacks: [{ name: 'bim', attack: 'bim' as const, options: { steps: 1 } }],
};

const run = (name: AttackName, options: Record<string, unknown>) =>
  (ATTACKS[name] as (...a: unknown[]) => Promise<AttackResult>)(bar.m.model, bar.x, bar.y, options);

describe('unknown options are refused, not ignored', () => {
  it("bim(..., { step: 3 }) names the option, bim's options and the likely one", async () => {
    const err = await bim(bar.m.model, bar.x, bar.y, { epsilon: 0.1, step: 3 } as never).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(AttackInputError);
    expect(err.message).toBe(
      "bim: options.step must be one of bim's options (epsilon, gradient, variant, clipToBounds, steps, alpha, bounds, loss, target, keepBest, seed, signal, validate); found 'step' (did you mean 'steps'?)",
    );
    expect(err.field).toBe('options.step');
  });

  it.each(Object.keys(ATTACKS) as AttackName[])('%s refuses a misspelled option', async (name) => {
    const start = tf.memory().numTensors;
    const err = await run(name, { ...light(name), seeed: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(AttackInputError);
    expect(err.message).toMatch(
      new RegExp(
        `^${name}: options.seeed must be one of ${name}'s options \\(epsilon, .*seed.*\\); found 'seeed' \\(did you mean 'seed'\\?\\)$`,
      ),
    );
    // its own options are listed
    for (const o of ATTACK_INFO[name].options)
      if (o !== 'gradient' || !ATTACK_INFO[name].gradientFree) expect(err.message).toContain(o);
    expect(tf.memory().numTensors).toBe(start);
  });

  it.each(Object.keys(ATTACKS) as AttackName[])(
    '%s still takes every common option (and the runner passes them)',
    async (name) => {
      const r = await run(name, {
        ...light(name),
        bounds: [0, 1],
        seed: 3,
        keepBest: true,
        validate: true,
        signal: new AbortController().signal,
        target: undefined,
      });
      r.adversarial.dispose();
    },
  );

  it('norm on a one-norm attack: its own norm is fine, another is refused', async () => {
    const r = await fgsm(bar.m.model, bar.x, bar.y, { epsilon: 0.1, norm: 'linf' } as never);
    r.adversarial.dispose();
    await expect(
      fgsm(bar.m.model, bar.x, bar.y, { epsilon: 0.1, norm: 'l2' } as never),
    ).rejects.toThrow(
      "fgsm: options.norm must be 'linf' (fgsm attacks in the linf norm only); found 'l2'",
    );
    await expect(
      cw(bar.m.model, bar.x, bar.y, { epsilon: 1, norm: 'linf', steps: 1 } as never),
    ).rejects.toThrow(
      "cw: options.norm must be 'l2' (cw attacks in the l2 norm only); found 'linf'",
    );
  });

  it('a gradient-free attack still says why it takes no gradient', async () => {
    await expect(
      spsa(bar.m.model, bar.x, bar.y, {
        epsilon: 0.1,
        gradient: modelGradient(bar.m.model),
      } as never),
    ).rejects.toThrow('spsa: options.gradient must be absent: spsa is gradient-free');
  });

  it('runAttack refuses an unknown option of the attack, and an unknown option of its own', async () => {
    const data = { x: bar.x.dataSync() as Float32Array, y: bar.y, shape: [N, H, W, 1] };
    const base = { model: bar.m.model, attack: 'bim' as const, data, epsilons: [0.1] };
    await expect(runAttack({ ...base, options: { step: 3 } })).rejects.toThrow(
      "runAttack: options.step must be one of bim's options (variant, clipToBounds, steps, alpha, bounds, loss, keepBest, seed, validate); found 'step' (did you mean 'steps'?)",
    );
    await expect(runAttack({ ...base, batchsize: 2 } as never)).rejects.toThrow(
      /^runAttack: batchsize must be one of runAttack's options \(model, attack, options, data, epsilons, batchSize, .*\); found 'batchsize' \(did you mean 'batchSize'\?\)$/,
    );
    // what the runner passes to the attack itself (epsilon, seed, signal, validate, target) is fine
    const ok = await runAttack({
      ...base,
      options: { steps: 2, seed: 4, validate: true },
      signal: new AbortController().signal,
      target: [1, 2, 3, 0],
      batchSize: 3,
    });
    expect(ok.count).toBe(N);
    // a custom attack function's options are its own business
    const custom = await runAttack({
      ...base,
      attack: (model, x, y, o) => bim(model, x, y, { epsilon: o.epsilon, steps: o.stepz }),
      options: { stepz: 1 },
    });
    expect(custom.count).toBe(N);
  });

  it("autoAttack refuses an unknown option, and a custom step's unknown or cascade-set option before running", async () => {
    await expect(
      autoAttack(bar.m.model, bar.x, bar.y, { epsilon: 0.1, verison: 'plus' } as never),
    ).rejects.toThrow(
      /^autoAttack: options.verison must be one of autoAttack's options \(epsilon, norm, bounds, version, attacks, gradient, seed, signal, onAttack\); found 'verison' \(did you mean 'version'\?\)$/,
    );
    let ran = 0;
    const counting = (t: tf.Tensor) => {
      ran++;
      return bar.m.model(t);
    };
    const steps = [
      { name: 'bim', attack: 'bim' as const, options: { steps: 2 } },
      { name: 'square', attack: 'square' as const, options: { step: 10 } },
    ];
    await expect(
      autoAttack(counting, bar.x, bar.y, { epsilon: 0.1, version: 'custom', attacks: steps }),
    ).rejects.toThrow(
      /^autoAttack: attacks\[1\].options.step must be one of square's options \(steps, pInit, loss, target, keepBest, validate\); found 'step' \(did you mean 'steps'\?\)$/,
    );
    await expect(
      autoAttack(counting, bar.x, bar.y, {
        epsilon: 0.1,
        version: 'custom',
        attacks: [{ name: 'bim', attack: 'bim', options: { epsilon: 0.5 } }],
      }),
    ).rejects.toThrow(
      'autoAttack: attacks[0].options.epsilon must be absent: the cascade sets epsilon for every attack; found 0.5',
    );
    await expect(
      autoAttack(counting, bar.x, bar.y, {
        epsilon: 0.1,
        version: 'custom',
        attacks: [{ name: 'bim', attack: 'bim', option: { steps: 2 } } as never],
      }),
    ).rejects.toThrow(
      "autoAttack: attacks[0].option must be one of the keys of a step (name, attack, options); found 'option' (did you mean 'options'?)",
    );
    expect(ran).toBe(0);
  });
});

describe('labels', () => {
  it('refuses one-hot labels narrower or wider than the model, naming both widths', async () => {
    const start = tf.memory().numTensors;
    for (const width of [K - 1, K + 2]) {
      const oneHot = tf.tidy(() =>
        tf.oneHot(
          tf.tensor1d(
            bar.y.map((c) => c % (K - 1)),
            'int32',
          ),
          width,
        ),
      );
      await expect(fgsm(bar.m.model, bar.x, oneHot, { epsilon: 0.1 })).rejects.toThrow(
        `fgsm: y must be one-hot rows over the model's ${K} classes; found ${width} columns`,
      );
      await expect(
        fgsm(bar.m.model, bar.x, bar.y, { epsilon: 0.1, target: oneHot }),
      ).rejects.toThrow(
        `fgsm: options.target must be one-hot rows over the model's ${K} classes; found ${width} columns`,
      );
      await expect(autoAttack(bar.m.model, bar.x, oneHot, cheap)).rejects.toThrow(
        `autoAttack: y must be one-hot rows over the model's ${K} classes; found ${width} columns`,
      );
      oneHot.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses an all-zero or ambiguous one-hot row, naming the row', async () => {
    const start = tf.memory().numTensors;
    const rows = bar.y.map((c) => Array.from({ length: K }, (_, j) => (j === c ? 1 : 0)));
    const zero = tf.tensor2d(rows.map((r, i) => (i === 3 ? r.map(() => 0) : r)));
    await expect(fgsm(bar.m.model, bar.x, zero, { epsilon: 0.1 })).rejects.toThrow(
      'fgsm: y[3] must be a one-hot row (one largest entry: the class); found all zeros',
    );
    await expect(autoAttack(bar.m.model, bar.x, zero, cheap)).rejects.toThrow(
      'autoAttack: y[3] must be a one-hot row (one largest entry: the class); found all zeros',
    );
    const two = tf.tensor2d(rows.map((r, i) => (i === 1 ? r.map((v, j) => (j < 2 ? 1 : v)) : r)));
    await expect(fgsm(bar.m.model, bar.x, two, { epsilon: 0.1 })).rejects.toThrow(
      'fgsm: y[1] must be a one-hot row (one largest entry: the class); found its largest value 1 in 2 columns',
    );
    const nan = tf.tensor2d(rows.map((r, i) => (i === 2 ? r.map(() => Number.NaN) : r)));
    await expect(fgsm(bar.m.model, bar.x, nan, { epsilon: 0.1 })).rejects.toThrow(
      'fgsm: y[2] must be a one-hot row (one largest entry: the class); found NaN or infinite values',
    );
    // soft labels (label smoothing) are read by their largest entry
    const soft = tf.tensor2d(rows.map((r) => r.map((v) => (v ? 0.9 : 0.1 / (K - 1)))));
    const r = await fgsm(bar.m.model, bar.x, soft, { epsilon: 0.1 });
    expect(Array.from(r.labels)).toEqual(bar.y);
    tf.dispose([zero, two, nan, soft, r.adversarial]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('autoAttack refuses class indices outside [0, classes)', async () => {
    const wrong = bar.y.map(() => K + 1);
    await expect(autoAttack(bar.m.model, bar.x, wrong, cheap)).rejects.toThrow(
      `autoAttack: y[0] must be a class index < ${K} (the model's classes); found ${K + 1}`,
    );
    await expect(autoAttack(bar.m.model, bar.x, [0, -1, 1, 2], cheap)).rejects.toThrow(
      'autoAttack: y[1] must be a class index (an integer >= 0); found -1',
    );
  });
});

describe('a failing gradient source leaks nothing', () => {
  it.each(['fgsm', 'bim', 'pgd', 'apgd', 'fab', 'cw'] as const)(
    '%s with a source model of fewer classes',
    async (name) => {
      const small = barModel(H, W, K - 1);
      try {
        const gradient = modelGradient(small.model, 'small');
        // once to warm up whatever tfjs keeps per kernel, then counted
        await run(name, { ...light(name), gradient }).catch(() => undefined);
        const start = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) {
          const err = await run(name, { ...light(name), gradient }).catch((e) => e);
          expect(err).toBeInstanceOf(GradientError);
          expect(err.message).toMatch(/its model must return logits of shape \[4, 4\]/);
        }
        expect(tf.memory().numTensors).toBe(start);
      } finally {
        small.dispose();
      }
    },
  );

  it.each(['fgsm', 'pgd', 'cw'] as const)('%s with a source model that throws', async (name) => {
    const throwing = (t: tf.Tensor) => {
      tf.relu(tf.matMul(tf.reshape(t, [N, H * W]), tf.ones([H * W, K])));
      throw new Error('boom');
    };
    const gradient = modelGradient(throwing, 'throwing');
    await run(name, { ...light(name), gradient }).catch(() => undefined);
    const start = tf.memory().numTensors;
    for (let i = 0; i < 3; i++)
      await expect(run(name, { ...light(name), gradient })).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(start);
  });

  it.each(['fgsm', 'bim', 'pgd', 'apgd', 'fab', 'cw'] as const)(
    '%s with a custom gradient of the wrong shape',
    async (name) => {
      const gradient = customGradient((t) => tf.zeros([t.shape[0]!, 3]), 'flat');
      const start = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const err = await run(name, { ...light(name), gradient }).catch((e) => e);
        expect(err).toBeInstanceOf(GradientError);
        expect(err.message).toMatch(/found shape \[4, 3\]/);
      }
      expect(tf.memory().numTensors).toBe(start);
    },
  );
});
