import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { alignment } from './alignment.js';
import { conv2d } from './conv2d.js';
import { dense, type FaDense } from './dense.js';
import { FeedbackOptionError } from './errors.js';
import { mixSeed, SEED_STREAM, xavierLimit } from './init.js';
import { MIRROR_AMPLITUDE, MIRROR_BATCH, mirrorEstimate } from './kernels.js';
import { FEEDBACK_MODES, type FeedbackMode } from './modes.js';
import { seededTensor, values } from './test-utils.js';
import { train } from './train.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

/** A small conv + dense model whose every layer uses `feedback`. */
function small(
  feedback: FeedbackMode,
  seed: number,
  extra: Record<string, unknown> = {},
): tfl.Sequential {
  const dfa = feedback === 'dfa';
  const m = tfl.sequential();
  m.add(tfl.layers.inputLayer({ inputShape: [6, 6, 1] }));
  m.add(
    conv2d({
      name: 'c',
      filters: 3,
      kernelSize: 3,
      activation: 'relu',
      feedback,
      seed,
      ...(dfa ? { dfaOutputUnits: 4 } : {}),
      ...extra,
    }),
  );
  m.add(tfl.layers.flatten());
  m.add(
    dense({
      name: 'd',
      units: 4,
      feedback,
      seed: seed + 1,
      ...(dfa ? { dfaOutput: true } : {}),
      ...extra,
    }),
  );
  return m;
}

const data = () => ({
  x: seededTensor([12, 6, 6, 1], 31, 0.5),
  y: tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], 'int32'),
});

function weight(model: tfl.LayersModel, name: string): Float32Array {
  const w = model.weights.find((v) => v.originalName === name);
  if (w == null)
    throw new Error(`no weight ${name} in ${model.weights.map((v) => v.originalName)}`);
  return Float32Array.from(values(w.read()));
}

describe('feedback weights', () => {
  it('are made by the mode: none in bp and usf, non-trainable except kp and wm, B_dfa [outputs, inputs] in dfa', () => {
    for (const mode of FEEDBACK_MODES) {
      const trained = mode === 'kp' || mode === 'wm';
      const m = small(mode, 1);
      const fb = m.weights.filter((w) => w.originalName.endsWith('/feedback'));
      if (mode === 'bp' || mode === 'usf') expect(fb).toHaveLength(0);
      else {
        expect(fb.map((w) => w.trainable)).toEqual([trained, trained]);
        expect(fb.map((w) => w.shape)).toEqual(
          mode === 'dfa'
            ? [
                [4, 36],
                [4, 48],
              ]
            : [
                [3, 3, 1, 3],
                [48, 4],
              ],
        );
        expect(m.trainableWeights).toHaveLength(trained ? 6 : 4);
      }
      m.dispose();
    }
  });

  it('are Xavier-uniform, seeded: the same seed gives the same W and B on wasm and cpu', async () => {
    const draw = async (backend: string, seed: number) => {
      await tf.setBackend(backend);
      const m = small('fa', seed);
      const out = ['c/kernel', 'c/feedback', 'd/kernel', 'd/feedback'].map((n) => weight(m, n));
      m.dispose();
      return out;
    };
    const [wasm, cpu, other] = [await draw('wasm', 5), await draw('cpu', 5), await draw('wasm', 6)];
    await tf.setBackend('wasm');
    for (let i = 0; i < wasm.length; i++) {
      expect(Array.from(cpu[i]!)).toEqual(Array.from(wasm[i]!)); // bitwise
      expect(Array.from(other[i]!)).not.toEqual(Array.from(wasm[i]!));
    }
    expect(Array.from(wasm[1]!)).not.toEqual(Array.from(wasm[0]!)); // B is not W
    const limit = xavierLimit([3, 3, 1, 3]);
    expect(Math.max(...wasm[1]!.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...wasm[1]!.map(Math.abs))).toBeGreaterThan(limit * 0.7);
  });

  it.each(['fa', 'frsf', 'dfa'] as const)(
    '%s: training leaves the fixed feedback weights bitwise unchanged',
    async (mode) => {
      const m = small(mode, 2);
      const before = ['c/kernel', 'c/feedback', 'd/kernel', 'd/feedback'].map((n) => weight(m, n));
      const { x, y } = data();
      await train(
        m,
        { x, y },
        { epochs: 3, batchSize: 4, optimizer: 'sgd', learningRate: 0.1, seed: 1 },
      );
      const after = ['c/kernel', 'c/feedback', 'd/kernel', 'd/feedback'].map((n) => weight(m, n));
      expect(Array.from(after[0]!)).not.toEqual(Array.from(before[0]!)); // W moved
      expect(Array.from(after[2]!)).not.toEqual(Array.from(before[2]!));
      expect(Array.from(after[1]!)).toEqual(Array.from(before[1]!)); // B did not
      expect(Array.from(after[3]!)).toEqual(Array.from(before[3]!));
      tf.dispose([x, y]);
      m.dispose();
    },
  );

  it('kp: B gets the update of W plus the same decay, so W - B shrinks by (1 - lr·decay) per SGD step', async () => {
    const [lr, decay, steps] = [0.1, 0.5, 48];
    const m = small('kp', 3, { weightDecay: decay });
    const diff = (name: string) => {
      const w = weight(m, `${name}/kernel`);
      const b = weight(m, `${name}/feedback`);
      return Math.hypot(...w.map((v, i) => v - b[i]!));
    };
    const d0 = [diff('c'), diff('d')];
    const angle0 = alignment(m).map((a) => a.angle!);
    const { x, y } = data();
    await train(
      m,
      { x, y },
      { epochs: steps / 3, batchSize: 4, optimizer: 'sgd', learningRate: lr, seed: 1 },
    );
    const factor = (1 - lr * decay) ** steps;
    expect(diff('c') / d0[0]!).toBeCloseTo(factor, 4);
    expect(diff('d') / d0[1]!).toBeCloseTo(factor, 4);
    const angle1 = alignment(m).map((a) => a.angle!);
    expect(angle0[0]).toBeGreaterThan(60);
    // ...so B turns towards W (measured: 102 -> 56 and 88 -> 67 degrees)
    for (let i = 0; i < 2; i++) expect(angle1[i]!).toBeLessThan(angle0[i]! - 15);
    tf.dispose([x, y]);
    m.dispose();
  });

  it("wm: the mirror estimate is x^T(xW)/(N·var x) on the layer's seeded noise, and W on average", () => {
    const w = seededTensor([7, 5], 3, 1);
    const wv = Float64Array.from(values(w));
    const seed = 12345;
    // the same noise, drawn here, and the product in float64
    const noise = values(
      tf.randomUniform([MIRROR_BATCH, 7], -MIRROR_AMPLITUDE, MIRROR_AMPLITUDE, 'float32', seed),
    );
    const expected = new Float64Array(35);
    const variance = MIRROR_AMPLITUDE ** 2 / 3;
    for (let n = 0; n < MIRROR_BATCH; n++) {
      const x = Array.from({ length: 7 }, (_, i) => noise[n * 7 + i]!);
      for (let o = 0; o < 5; o++) {
        let y = 0;
        for (let i = 0; i < 7; i++) y += x[i]! * wv[i * 5 + o]!;
        for (let i = 0; i < 7; i++) expected[i * 5 + o]! += (x[i]! * y) / (MIRROR_BATCH * variance);
      }
    }
    const got = mirrorEstimate(w, seed);
    expect(got.shape).toEqual([7, 5]);
    const gv = values(got);
    for (let i = 0; i < 35; i++) expect(gv[i]!).toBeCloseTo(expected[i]!, 4);
    got.dispose();
    // unbiased: the mean of many estimates approaches W (a conv kernel through its reshape)
    const k = seededTensor([3, 3, 2, 4], 5, 1);
    const draws = 300;
    const mean = tf.tidy(() => {
      let sum = tf.zerosLike(k);
      for (let d = 0; d < draws; d++) sum = tf.add(sum, mirrorEstimate(k, d + 1));
      return tf.div(sum, draws);
    });
    const err = Math.hypot(...values(tf.sub(mean, k))) / Math.hypot(...values(k));
    expect(err).toBeLessThan(0.1);
    tf.dispose([w, k, mean]);
  });

  it('wm: each training step moves B to (1 - lr)·B + lr·Ŵ, so B turns to W; the step count is saved', async () => {
    const m = small('wm', 5);
    const dense1 = m.getLayer('d') as FaDense;
    expect(m.trainableWeights.map((v) => v.originalName)).toContain('d/feedback');
    const lr = 0.2;
    const w0 = tf.tensor(weight(m, 'd/kernel'), [48, 4]);
    const b0 = weight(m, 'd/feedback');
    const { x, y } = data();
    // one step (a batch of all 12): the noise of mirror step 1 of layer d's seed
    await train(m, { x, y }, { epochs: 1, batchSize: 12, optimizer: 'sgd', learningRate: lr });
    expect(dense1.feedbackState.draws).toBe(1);
    const seed = mixSeed(mixSeed(6, SEED_STREAM.mirror), 1);
    const est = values(mirrorEstimate(w0, seed));
    const b1 = weight(m, 'd/feedback');
    for (let i = 0; i < b1.length; i++)
      expect(b1[i]!).toBeCloseTo((1 - lr) * b0[i]! + lr * est[i]!, 5);
    // inference takes no mirror step
    tf.dispose(m.predict(x) as tf.Tensor);
    expect(dense1.feedbackState.draws).toBe(1);
    const before = alignment(m).map((a) => a.angle!);
    await train(
      m,
      { x, y },
      { epochs: 30, batchSize: 12, optimizer: 'sgd', learningRate: lr, seed: 2 },
    );
    const after = alignment(m).map((a) => a.angle!);
    expect(before.every((a) => a > 60)).toBe(true);
    // measured: c 97 -> 6.6, d 76 -> 16 degrees
    for (const a of after) expect(a).toBeLessThan(25);
    expect((dense1.getConfig() as { feedbackDraws: number }).feedbackDraws).toBe(31);
    tf.dispose([x, y, w0]);
    m.dispose();
  });

  it('wm with mirrorRate: before each training step the layer sets B to (1 - rate)·B + rate·Ŵ itself, and the optimizer leaves B alone', async () => {
    const rate = 0.5;
    const m = small('wm', 5, { mirrorRate: rate, mirrorBatch: 256 });
    const dense1 = m.getLayer('d') as FaDense;
    const w0 = tf.tensor(weight(m, 'd/kernel'), [48, 4]);
    const b0 = weight(m, 'd/feedback');
    const { x, y } = data();
    // Adam would move B by about lr per element for any nonzero gradient: B must get zero
    await train(m, { x, y }, { epochs: 1, batchSize: 12, optimizer: 'adam', learningRate: 0.05 });
    expect(dense1.feedbackState.draws).toBe(1);
    const seed = mixSeed(mixSeed(6, SEED_STREAM.mirror), 1);
    // the mirror ran before the step, on the initial W, with 256 noise fields
    const est = values(mirrorEstimate(w0, seed, 256));
    const b1 = weight(m, 'd/feedback');
    for (let i = 0; i < b1.length; i++)
      expect(b1[i]!).toBeCloseTo((1 - rate) * b0[i]! + rate * est[i]!, 5);
    // the step changed W and nothing else changed B
    expect(Array.from(weight(m, 'd/kernel'))).not.toEqual(Array.from(values(w0)));
    tf.dispose(m.predict(x) as tf.Tensor);
    expect(Array.from(weight(m, 'd/feedback'))).toEqual(Array.from(b1));
    // B follows W more closely than the default wm (its mirror through the optimizer) does
    const slow = small('wm', 5);
    for (const model of [m, slow])
      await train(
        model,
        { x, y },
        { epochs: 8, batchSize: 12, optimizer: 'adam', learningRate: 0.05, seed: 3 },
      );
    const fast = alignment(m).map((a) => a.angle!);
    const lagging = alignment(slow).map((a) => a.angle!);
    // measured: c 7.3 and d 16.5 degrees, against 34.8 and 38.7 through the optimizer
    for (const a of fast) expect(a).toBeLessThan(20);
    for (const [i, a] of fast.entries()) expect(a).toBeLessThan(lagging[i]! - 15);
    // the options are in the config, and a reloaded layer keeps mirroring the same way
    const config = dense1.getConfig() as { mirrorRate: number; mirrorBatch: number };
    expect([config.mirrorRate, config.mirrorBatch]).toEqual([0.5, 256]);
    expect(slow.getLayer('d').getConfig()).not.toHaveProperty('mirrorRate');
    tf.dispose([x, y, w0]);
    m.dispose();
    slow.dispose();
  });

  it('refuses mirror options outside wm and out of range, naming what they take', () => {
    expect(() => dense({ units: 2, feedback: 'fa', mirrorRate: 0.5 })).toThrow(
      /option 'mirrorRate' must be absent unless feedback is 'wm'/,
    );
    expect(() => dense({ units: 2, feedback: 'kp', mirrorBatch: 8 })).toThrow(FeedbackOptionError);
    for (const r of [0, 1.5, -0.1, Number.NaN])
      expect(() => dense({ units: 2, feedback: 'wm', mirrorRate: r })).toThrow(
        /mirrorRate' must be a number in \(0, 1\]/,
      );
    for (const b of [0, 2.5])
      expect(() => dense({ units: 2, feedback: 'wm', mirrorBatch: b })).toThrow(
        /mirrorBatch' must be an integer >= 1/,
      );
  });

  it('brsf: M is redrawn at every training batch from the seeded sequence, and not by inference', async () => {
    const m = small('brsf', 4);
    const layer = m.getLayer('d') as FaDense;
    const m0 = weight(m, 'd/feedback');
    const { x, y } = data();
    tf.dispose(m.predict(x) as tf.Tensor);
    expect(Array.from(weight(m, 'd/feedback'))).toEqual(Array.from(m0));
    const seen = [m0];
    await train(
      m,
      { x, y },
      {
        epochs: 1,
        batchSize: 4,
        optimizer: 'sgd',
        learningRate: 0.1,
        onBatch: () => void seen.push(weight(m, 'd/feedback')),
      },
    );
    expect(layer.feedbackState.draws).toBe(3);
    expect(new Set(seen.map((s) => s.join())).size).toBe(4);
    // draw t is Xavier-uniform with seed mix(seed, 1000 + t), independent of the backend
    const limit = xavierLimit([48, 4]);
    for (let t = 0; t < seen.length; t++) {
      const expected = tf.randomUniform(
        [48, 4],
        -limit,
        limit,
        'float32',
        mixSeed(5, SEED_STREAM.brsfDraw + t),
      );
      expect(Array.from(seen[t]!)).toEqual(Array.from(values(expected)));
      expected.dispose();
    }
    expect(m.getLayer('d').getConfig().feedbackDraws).toBe(3);
    tf.dispose([x, y]);
    m.dispose();
  });

  it('usf and frsf: B is sign-concordant with W, so the angle is below 90 degrees; fa is near 90', () => {
    const angles = (mode: FeedbackMode) => {
      const m = tfl.sequential({
        layers: [dense({ units: 64, feedback: mode, seed: 8, inputShape: [64] })],
      });
      const a = alignment(m)[0]!.angle!;
      m.dispose();
      return a;
    };
    expect(angles('bp')).toBeLessThan(0.1);
    expect(Math.abs(angles('fa') - 90)).toBeLessThan(5);
    // E[|w|]/sqrt(E[w^2]) for uniform w is sqrt(3)/2: cos 30 degrees
    expect(angles('usf')).toBeGreaterThan(27);
    expect(angles('usf')).toBeLessThan(33);
    // |M|∘sign(W) with M and W independent uniform: cos = E|m||w| / (E m^2) = 3/4
    expect(Math.abs(angles('frsf') - (Math.acos(0.75) * 180) / Math.PI)).toBeLessThan(3);
  });
});

describe('option errors', () => {
  it('name the layer, the option, what was expected and what was found', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as FeedbackOptionError;
      }
      throw new Error('did not throw');
    };
    const e1 = err(() => dense({ units: 2, feedback: 'wt' as FeedbackMode }));
    expect(e1).toBeInstanceOf(FeedbackOptionError);
    expect(e1.where).toBe('dense');
    expect(e1.field).toBe('feedback');
    expect(e1.message).toMatch(
      /dense: option 'feedback' must be one of 'bp', 'fa', 'usf', 'frsf', 'brsf', 'kp', 'wm', 'dfa'; found 'wt'/,
    );
    expect(err(() => conv2d({ filters: 1, kernelSize: 1, seed: -1 })).message).toMatch(
      /conv2d: option 'seed' must be an integer in \[0, 2\^32\); found -1/,
    );
    expect(err(() => dense({ units: 2, weightDecay: -1 })).field).toBe('weightDecay');
    expect(
      err(() => dense({ units: 2, feedback: 'usf', feedbackInitializer: tfl.initializers.ones() }))
        .message,
    ).toMatch(/'feedbackInitializer' must be absent in mode 'usf'/);
    expect(err(() => dense({ units: 2, feedback: 'dfa' })).message).toMatch(
      /'dfaOutputUnits' must be a positive integer in mode 'dfa'/,
    );
    expect(err(() => dense({ units: 2, feedback: 'fa', dfaOutput: true })).message).toMatch(
      /'dfaOutput' must be absent unless feedback is 'dfa'/,
    );
    expect(
      err(() =>
        conv2d({ filters: 1, kernelSize: 1, feedback: 'dfa', dfaOutput: true, dfaOutputUnits: 2 }),
      ).field,
    ).toBe('dfaOutput');
    expect(err(() => conv2d({ filters: 1, kernelSize: 3, dilationRate: 2 })).message).toMatch(
      /'dilationRate' must be 1/,
    );
    expect(err(() => dense({ units: 2, feedback: 'fa', feedbackDraws: 3 })).field).toBe(
      'feedbackDraws',
    );
  });

  it('accept a feedbackInitializer instance or its serialized form', () => {
    const a = dense({
      units: 3,
      feedback: 'fa',
      feedbackInitializer: tfl.initializers.constant({ value: 0.5 }),
      inputShape: [2],
    });
    const b = dense({
      units: 3,
      feedback: 'fa',
      feedbackInitializer: { className: 'Constant', config: { value: 0.5 } },
      inputShape: [2],
    });
    for (const l of [a, b]) {
      tf.dispose(l.apply(tf.zeros([1, 2])) as tf.Tensor);
      expect(Array.from(values(l.feedbackState.weight!.read()))).toEqual(new Array(6).fill(0.5));
      l.dispose();
    }
  });
});
