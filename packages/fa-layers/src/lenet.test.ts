import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { alignment } from './alignment.js';
import type { FaDense } from './dense.js';
import { FeedbackOptionError } from './errors.js';
import { lenet } from './lenet.js';
import { FEEDBACK_MODES } from './modes.js';
import { backpropTwin } from './twin.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

const shapes = (model: ReturnType<typeof lenet>) =>
  model.layers
    .filter((l) => l.name !== 'input')
    .map((l) => [l.name, (l.outputShape as number[]).slice(1)]);

describe('lenet', () => {
  it('mnist: 28x28x1 in, conv1 with same padding (= BioTorch zero-padding to 32x32), logits out', () => {
    const model = lenet({ dataset: 'mnist', feedback: 'fa', seed: 1 });
    expect(model.name).toBe('lenet-mnist-fa');
    expect(model.inputs[0]!.shape).toEqual([null, 28, 28, 1]);
    expect(shapes(model)).toEqual([
      ['conv1', [28, 28, 6]],
      ['pool1', [14, 14, 6]],
      ['conv2', [10, 10, 16]],
      ['pool2', [5, 5, 16]],
      ['conv3', [1, 1, 120]],
      ['flatten', [120]],
      ['fc1', [84]],
      ['fc2', [10]],
    ]);
    // forward parameters as in LeNet-5: 156 + 2416 + 48120 + 10164 + 850
    expect(
      model.trainableWeights.reduce(
        (n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1),
        0,
      ),
    ).toBe(61706);
    expect(model.getLayer('fc2').getConfig().activation).toBe('linear');
    expect(model.getLayer('fc1').getConfig().activation).toBe('relu');
    const out = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    expect(out.shape).toEqual([2, 10]);
    out.dispose();
    model.dispose();
  });

  it('cifar10: 32x32x3 in, valid convolutions, the same layers after conv1', () => {
    const model = lenet({ dataset: 'cifar10', feedback: 'bp', seed: 1 });
    expect(model.inputs[0]!.shape).toEqual([null, 32, 32, 3]);
    expect(shapes(model).slice(0, 5)).toEqual([
      ['conv1', [28, 28, 6]],
      ['pool1', [14, 14, 6]],
      ['conv2', [10, 10, 16]],
      ['pool2', [5, 5, 16]],
      ['conv3', [1, 1, 120]],
    ]);
    expect(
      model.trainableWeights.reduce(
        (n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1),
        0,
      ),
    ).toBe(61706 + 2 * 6 * 25);
    model.dispose();
  });

  it('sets the mode on every layer; dfa projects the 10 logits with a B_dfa per layer, fc2 being the output', () => {
    for (const feedback of FEEDBACK_MODES) {
      const model = lenet({ dataset: 'mnist', feedback, seed: 2 });
      const fb = model.layers.filter((l) => 'feedbackState' in l) as FaDense[];
      expect(fb.map((l) => l.name)).toEqual(['conv1', 'conv2', 'conv3', 'fc1', 'fc2']);
      expect(fb.every((l) => l.feedbackState.mode === feedback)).toBe(true);
      if (feedback === 'dfa') {
        expect(fb.map((l) => l.feedbackState.weight!.shape)).toEqual([
          [10, 784],
          [10, 14 * 14 * 6],
          [10, 5 * 5 * 16],
          [10, 120],
          [10, 84],
        ]);
        expect(fb.map((l) => l.feedbackState.dfaOutput)).toEqual([
          false,
          false,
          false,
          false,
          true,
        ]);
      }
      model.dispose();
    }
  });

  it('is deterministic by seed: same seed, same weights (forward and feedback); the kernels do not depend on the mode', () => {
    const values = (m: ReturnType<typeof lenet>) =>
      m.weights.map((w) => Array.from(w.read().dataSync()));
    const [a, b, c, bp] = [
      lenet({ dataset: 'mnist', feedback: 'fa', seed: 3 }),
      lenet({ dataset: 'mnist', feedback: 'fa', seed: 3 }),
      lenet({ dataset: 'mnist', feedback: 'fa', seed: 4 }),
      lenet({ dataset: 'mnist', feedback: 'bp', seed: 3 }),
    ];
    expect(values(b)).toEqual(values(a));
    expect(values(c)[0]).not.toEqual(values(a)[0]);
    const kernels = (m: ReturnType<typeof lenet>) =>
      m.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(kernels(bp)).toEqual(kernels(a)); // fair comparisons: bp and fa start from the same W
    for (const m of [a, b, c, bp]) m.dispose();
  });

  it('feedbackSeed seeds the feedback side alone: the same forward weights, other feedback matrices', () => {
    const forward = (m: ReturnType<typeof lenet>) =>
      m.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    const feedback = (m: ReturnType<typeof lenet>) =>
      m.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()));
    for (const init of ['pytorch', 'xavier'] as const) {
      const [a, same, other, otherSeed] = [
        lenet({ dataset: 'mnist', feedback: 'fa', seed: 3, init }),
        lenet({ dataset: 'mnist', feedback: 'fa', seed: 3, feedbackSeed: 3, init }),
        lenet({ dataset: 'mnist', feedback: 'fa', seed: 3, feedbackSeed: 9, init }),
        lenet({ dataset: 'mnist', feedback: 'fa', seed: 4, feedbackSeed: 9, init }),
      ];
      expect(feedback(a)).toHaveLength(5); // one B per conv and dense layer
      // feedbackSeed = seed is the one-seed model, weight for weight
      expect(forward(same)).toEqual(forward(a));
      expect(feedback(same)).toEqual(feedback(a));
      // another feedbackSeed: the forward weights stay, every B changes
      expect(forward(other)).toEqual(forward(a));
      feedback(other).forEach((b, i) => {
        expect(b).not.toEqual(feedback(a)[i]);
      });
      // the feedback side depends on feedbackSeed only, the forward side on seed only
      expect(feedback(otherSeed)).toEqual(feedback(other));
      expect(forward(otherSeed)[0]).not.toEqual(forward(other)[0]);
      for (const m of [a, same, other, otherSeed]) m.dispose();
    }
    expect(() => lenet({ dataset: 'mnist', seed: 1, feedbackSeed: -1 })).toThrow(
      /lenet: option 'feedbackSeed' must be an integer in \[0, 2\^32\); found -1/,
    );
  });

  it("init 'pytorch' (default): kernels and biases uniform in ±1/sqrt(fanIn); 'xavier': Glorot kernels, zero biases", () => {
    const fanIn: Record<string, number> = { conv1: 75, conv2: 150, conv3: 400, fc1: 120, fc2: 84 };
    const torch = lenet({ dataset: 'cifar10', feedback: 'fa', seed: 5 });
    const xavier = lenet({ dataset: 'cifar10', feedback: 'fa', seed: 5, init: 'xavier' });
    for (const [name, n] of Object.entries(fanIn)) {
      const bound = 1 / Math.sqrt(n);
      const [kernel, bias] = torch
        .getLayer(name)
        .getWeights()
        .map((w) => Array.from(w.dataSync()));
      const k = kernel!;
      expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(bound);
      // a uniform in ±bound has standard deviation bound/sqrt(3)
      const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length);
      expect(std / (bound / Math.sqrt(3))).toBeGreaterThan(0.85);
      expect(std / (bound / Math.sqrt(3))).toBeLessThan(1.15);
      expect(Math.max(...bias!.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(bias!.some((v) => v !== 0)).toBe(true);
      const [xk, xb] = xavier
        .getLayer(name)
        .getWeights()
        .map((w) => Array.from(w.dataSync()));
      const fanOut =
        (xavier.getLayer(name).getWeights()[0]!.shape as number[]).at(-1)! *
        (name.startsWith('conv') ? 25 : 1);
      const limit = Math.sqrt(6 / (n + fanOut));
      expect(Math.max(...xk!.map(Math.abs))).toBeLessThanOrEqual(limit);
      expect(Math.max(...xk!.map(Math.abs))).toBeGreaterThan(0.9 * limit);
      expect(xb!.every((v) => v === 0)).toBe(true);
    }
    // the feedback weights do not depend on the init of the forward weights
    const feedback = (m: ReturnType<typeof lenet>) =>
      m.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(feedback(torch)).toEqual(feedback(xavier));
    expect(() => lenet({ dataset: 'mnist', init: 'he' as 'xavier' })).toThrow(
      /lenet: option 'init' must be 'pytorch' or 'xavier'/,
    );
    torch.dispose();
    xavier.dispose();
  });

  it("variant 'biotorch-cifar': BioTorch's CIFAR-10 'LeNet' (3x3 convs of 32/64/128, global average pool, 256 units)", async () => {
    const model = lenet({ dataset: 'cifar10', variant: 'biotorch-cifar', feedback: 'fa', seed: 3 });
    expect(model.name).toBe('lenet-cifar10-biotorch-fa');
    expect(shapes(model)).toEqual([
      ['conv1', [30, 30, 32]],
      ['pool1', [15, 15, 32]],
      ['conv2', [13, 13, 64]],
      ['pool2', [6, 6, 64]],
      ['conv3', [4, 4, 128]],
      ['pool3', [128]],
      ['fc1', [256]],
      ['fc2', [10]],
    ]);
    // LeNetCIFAR's parameters, layer by layer: (3·3·inC + 1)·outC and (in + 1)·out
    const perLayer = [
      (9 * 3 + 1) * 32,
      (9 * 32 + 1) * 64,
      (9 * 64 + 1) * 128,
      (128 + 1) * 256,
      (256 + 1) * 10,
    ];
    expect(
      model.trainableWeights.reduce(
        (n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1),
        0,
      ),
    ).toBe(perLayer.reduce((a, b) => a + b, 0));
    expect(perLayer.reduce((a, b) => a + b, 0)).toBe(128842);
    // PyTorch's default init over each layer's own fan-in
    const fanIns: Record<string, number> = {
      conv1: 27,
      conv2: 288,
      conv3: 576,
      fc1: 128,
      fc2: 256,
    };
    for (const [name, fanIn] of Object.entries(fanIns)) {
      const k = model.getLayer(name).getWeights()[0]!.dataSync();
      const bound = 1 / Math.sqrt(fanIn);
      expect(Math.max(...Array.from(k, Math.abs))).toBeLessThanOrEqual(bound + 1e-7);
      expect(Math.max(...Array.from(k, Math.abs))).toBeGreaterThan(0.8 * bound);
    }
    // the FA network's forward function is its backprop twin's
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1);
    const out = model.predict(x) as tf.Tensor;
    expect(out.shape).toEqual([2, 10]);
    expect(alignment(model).map((a) => a.layer)).toEqual(['conv1', 'conv2', 'conv3', 'fc1', 'fc2']);
    const twin = await backpropTwin(model);
    expect(twin.layers.map((l) => l.getClassName())).toContain('GlobalAveragePooling2D');
    const same = twin.predict(x) as tf.Tensor;
    expect(Math.max(...Array.from(tf.abs(tf.sub(same, out)).dataSync()))).toBeLessThan(1e-5);
    tf.dispose([x, out, same]);
    twin.dispose();
    model.dispose();
    expect(() => lenet({ dataset: 'mnist', variant: 'biotorch-cifar' })).toThrow(
      /lenet: option 'variant' must be 'lenet5' for mnist \('biotorch-cifar' is a CIFAR-10 network/,
    );
    expect(() => lenet({ dataset: 'cifar10', variant: 'resnet' as 'lenet5' })).toThrow(
      /lenet: option 'variant' must be 'lenet5' or 'biotorch-cifar'; found 'resnet'/,
    );
  });

  it('refuses an unknown dataset or mode', () => {
    expect(() => lenet({ dataset: 'svhn' as 'mnist' })).toThrow(FeedbackOptionError);
    expect(() => lenet({ dataset: 'svhn' as 'mnist' })).toThrow(
      /lenet: option 'dataset' must be 'mnist' or 'cifar10'; found 'svhn'/,
    );
    expect(() => lenet({ dataset: 'mnist', feedback: 'xx' as 'fa' })).toThrow(
      /lenet: option 'feedback'/,
    );
  });
});
