import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainDataError } from './errors.js';
import type { FeedbackMode } from './modes.js';
import { disposeOptimizer } from './optimizers.js';
import {
  type AllReduceReplica,
  allReduceReplica,
  type GradientReplica,
  optimizerState,
  type ReplicaJob,
  restoreOptimizer,
  shardGradients,
} from './replicas.js';
import { blobs, maxAbs, maxAbsDiff, smallNet } from './test-utils.js';
import { type TrainOptions, train } from './train.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

/** A mode, or wm mirroring with its own rate (the layer updates B before each step). */
type Kind = FeedbackMode | 'wm-rate';
const net = (kind: Kind, seed: number) =>
  kind === 'wm-rate'
    ? smallNet('wm', seed, { mirrorRate: 0.5, mirrorBatch: 128 })
    : smallNet(kind, seed);
/** Modes whose seeded draws (of M, of mirror noise) the seed decides. */
const drawn = (kind: Kind) => kind === 'brsf' || kind === 'wm' || kind === 'wm-rate';

/**
 * Replicas in this thread, copies of smallNet(feedback, 7). Other seeds but for brsf and wm,
 * whose draws (of M, of mirror noise) the seed decides: the weights, B included, come with the
 * jobs.
 */
function localReplicas(
  feedback: Kind,
  count: number,
  jobs: ReplicaJob[] = [],
): { replicas: GradientReplica[]; models: tfl.LayersModel[] } {
  const models = Array.from({ length: count }, (_, i) =>
    net(feedback, drawn(feedback) ? 7 : 50 + i),
  );
  const replicas = models.map((m) => ({
    gradients: async (job: ReplicaJob) => {
      jobs.push(job);
      return shardGradients(m, job);
    },
  }));
  return { replicas, models };
}

async function trained(
  feedback: Kind,
  data: ReturnType<typeof blobs>,
  options: TrainOptions,
  seed = 7,
) {
  const model = net(feedback, seed);
  const result = await train(model, data, options);
  const weights = model.getWeights().map((t) => t.dataSync() as Float32Array);
  return { model, result, weights };
}

describe('train with replicas (data-parallel)', () => {
  it.each(['bp', 'fa', 'brsf', 'kp', 'wm', 'wm-rate', 'dfa'] as Kind[])(
    '%s: 1 + 2 replicas train as one thread does, to float32 rounding (SGD, 2 epochs)',
    async (feedback) => {
      const data = blobs(40, 11);
      const options: TrainOptions = {
        epochs: 2,
        batchSize: 8,
        optimizer: 'sgd',
        learningRate: 0.1,
        seed: 2,
      };
      const one = await trained(feedback, data, options);
      const jobs: ReplicaJob[] = [];
      const { replicas, models } = localReplicas(feedback, 2, jobs);
      const par = await trained(feedback, data, { ...options, replicas });
      // every batch of 8 split 3 + 3 + 2: each replica got its shard every step
      expect(jobs.map((j) => j.xShape[0])).toEqual(Array.from({ length: 10 }, () => [3, 2]).flat());
      one.weights.forEach((w, i) => {
        expect(maxAbs(w)).toBeGreaterThan(0);
        expect(maxAbsDiff(par.weights[i]!, w), `weight ${i}`).toBeLessThan(
          1e-5 * Math.max(1, maxAbs(w)),
        );
      });
      // the premise: training moved the weights by far more than that
      const init = net(feedback, 7)
        .getWeights()
        .map((t) => t.dataSync() as Float32Array);
      expect(maxAbsDiff(init[0]!, one.weights[0]!)).toBeGreaterThan(1e-3);
      par.result.history.forEach((h, e) => {
        const o = one.result.history[e]!;
        expect(h.images).toBe(40);
        expect(h.loss).toBeCloseTo(o.loss, 5);
        expect(h.accuracy).toBe(o.accuracy);
      });
      if (feedback === 'brsf') {
        // M is drawn at the draw counter of the trained model, in every replica
        expect(jobs.map((j) => j.draws[0])).toEqual(
          Array.from({ length: 10 }, (_, s) => [s, s]).flat(),
        );
      }
      tf.dispose([data.x, data.y]);
      for (const m of [one.model, par.model, ...models]) m.dispose();
    },
  );

  it('gives the same weights run after run for one replica count (Adam); another count differs only by rounding', async () => {
    const data = blobs(24, 12);
    const options: TrainOptions = {
      epochs: 2,
      batchSize: 8,
      optimizer: 'adam',
      learningRate: 0.01,
      seed: 3,
    };
    const run = async (count: number) => {
      const { replicas, models } = localReplicas('fa', count);
      const r = await trained('fa', data, { ...options, replicas });
      for (const m of [r.model, ...models]) m.dispose();
      return r.weights;
    };
    const [a, b, c] = [await run(1), await run(1), await run(3)];
    a.forEach((w, i) => {
      expect(Array.from(b[i]!), `weight ${i}`).toEqual(Array.from(w));
    });
    a.forEach((w, i) => {
      expect(maxAbsDiff(c[i]!, w)).toBeLessThan(1e-3);
    });
    tf.dispose([data.x, data.y]);
  });

  it('leaves replicas idle when a batch has fewer images than threads, and leaks nothing', async () => {
    const data = blobs(7, 13); // batches of 5 and 2, three threads
    const jobs: ReplicaJob[] = [];
    const { replicas, models } = localReplicas('fa', 2, jobs);
    const model = smallNet('fa', 7);
    // the optimizer makes its state on the first step: count from the end of the first run
    const optimizer = tf.train.sgd(0.1);
    await train(model, data, { batchSize: 5, optimizer, replicas });
    const before = tf.memory().numTensors;
    const r = await train(model, data, { batchSize: 5, optimizer, replicas, onBatch: () => {} });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.history[0]!.images).toBe(7);
    // 5 = 2 + 2 + 1; 2 = 1 + 1 + 0 (the second replica has nothing to do)
    expect(jobs.slice(3).map((j) => j.xShape[0])).toEqual([2, 1, 1]);
    tf.dispose([data.x, data.y]);
    optimizer.dispose();
    for (const m of [model, ...models]) m.dispose();
  });

  it("rejects with a replica's error and leaks nothing; refuses replicas that are not replicas", async () => {
    const data = blobs(16, 14);
    const model = smallNet('bp', 7);
    const optimizer = tf.train.sgd(0.1);
    await train(model, data, { batchSize: 8, optimizer }); // makes no optimizer state, but warms up
    const before = tf.memory().numTensors;
    const failing: GradientReplica = {
      gradients: async () => Promise.reject(new Error('replica down')),
    };
    await expect(
      train(model, data, { batchSize: 8, optimizer, replicas: [failing] }),
    ).rejects.toThrow('replica down');
    expect(tf.memory().numTensors).toBe(before);
    await expect(
      train(model, data, { replicas: [{}] as unknown as GradientReplica[] }),
    ).rejects.toThrow(/replicas.*gradients\(job\)/);
    tf.dispose([data.x, data.y]);
    optimizer.dispose();
    model.dispose();
  });
});

/** All-reduce replicas in this thread, copies of smallNet(feedback, seed) (see localReplicas). */
function allReduceLocal(
  feedback: Kind,
  count: number,
): { replicas: AllReduceReplica[]; models: tfl.LayersModel[] } {
  const models = Array.from({ length: count }, (_, i) =>
    net(feedback, drawn(feedback) ? 7 : 60 + i),
  );
  return { replicas: models.map((m) => allReduceReplica(m)), models };
}

const bits = (ws: readonly Float32Array[]) => ws.map((w) => Array.from(w));

describe('train with all-reduce replicas', () => {
  it.each(['bp', 'fa', 'brsf', 'kp', 'wm', 'wm-rate', 'dfa'] as Kind[])(
    '%s: every replica ends with the weights of this thread, which are those of the gradient protocol, bit for bit (Adam, cosine schedule)',
    async (feedback) => {
      const data = blobs(40, 15);
      const options: TrainOptions = {
        epochs: 3,
        batchSize: 8,
        optimizer: 'adam',
        learningRate: 0.01,
        schedule: { type: 'cosine' },
        seed: 5,
      };
      const one = await trained(feedback, data, options);
      const gradient = localReplicas(feedback, 2);
      const ref = await trained(feedback, data, { ...options, replicas: gradient.replicas });
      const all = allReduceLocal(feedback, 2);
      const par = await trained(feedback, data, { ...options, replicas: all.replicas });
      // the same sums in the same order as the gradient protocol: the same bits
      expect(bits(par.weights)).toEqual(bits(ref.weights));
      expect(par.result.history.map((h) => h.loss)).toEqual(ref.result.history.map((h) => h.loss));
      // each replica applied the same updates to its own copy (no weights were sent after begin)
      const trainable = par.model.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
      const flat = Float32Array.from(trainable.flatMap((w) => Array.from(w)));
      for (const r of all.replicas) expect(Array.from(await r.weights())).toEqual(Array.from(flat));
      // and to float32 rounding, one thread's training
      one.weights.forEach((w, i) => {
        expect(maxAbsDiff(par.weights[i]!, w), `weight ${i}`).toBeLessThan(
          1e-4 * Math.max(1, maxAbs(w)),
        );
      });
      tf.dispose([data.x, data.y]);
      for (const m of [one.model, ref.model, par.model, ...gradient.models, ...all.models])
        m.dispose();
    },
  );

  it("carries an optimizer's state into a second train() call (Adam's powers, momentum), a batch smaller than the threads, and leaks nothing", async () => {
    const data = blobs(7, 16); // batches of 5 and 2, three threads: the last replica idles once
    for (const make of [() => tf.train.adam(0.02), () => tf.train.momentum(0.05, 0.9)]) {
      const run = async (replicas: GradientReplica[] | AllReduceReplica[]) => {
        const model = smallNet('fa', 7);
        const optimizer = make();
        await train(model, data, { batchSize: 5, optimizer, replicas });
        const before = tf.memory().numTensors;
        await train(model, data, { batchSize: 5, optimizer, replicas, epochs: 2 });
        const leaked = tf.memory().numTensors - before;
        const w = model.getWeights().map((t) => t.dataSync() as Float32Array);
        disposeOptimizer(optimizer);
        model.dispose();
        return { w, leaked };
      };
      const gradient = localReplicas('fa', 2);
      const all = allReduceLocal('fa', 2);
      const [a, b] = [await run(gradient.replicas), await run(all.replicas)];
      expect(b.leaked).toBe(0);
      expect(bits(b.w)).toEqual(bits(a.w));
      for (const m of [...gradient.models, ...all.models]) m.dispose();
    }
    tf.dispose([data.x, data.y]);
  });

  it('rebuilds an optimizer from its state: same class, configuration, slots and step', async () => {
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const adam = tf.train.adam(0.1, 0.8, 0.95, 1e-6);
    for (let i = 0; i < 3; i++)
      tf.tidy(() => adam.applyGradients({ [v.name]: tf.tensor1d([0.5, -1, i]) as tf.Variable }));
    const state = await optimizerState(adam);
    expect(state.className).toBe('Adam');
    expect(state.config).toMatchObject({ learningRate: 0.1, beta1: 0.8, beta2: 0.95 });
    expect(state.weights.map((w) => w.name)).toEqual(['iter', `${v.name}/m`, `${v.name}/v`]);
    expect(state.powers?.accBeta1).toBeCloseTo(0.8 ** 4, 6);
    const copy = await restoreOptimizer(state);
    const again = await optimizerState(copy);
    expect(again).toEqual(state);
    await expect(restoreOptimizer({ ...state, className: 'NoSuchOptimizer' })).rejects.toThrow(
      /NoSuchOptimizer.*registerClass|registerClass.*NoSuchOptimizer/s,
    );
    adam.dispose();
    copy.dispose();
    v.dispose();
  });

  it("rejects with a replica's update error, and refuses a replica that is neither protocol", async () => {
    const data = blobs(24, 17);
    const model = smallNet('bp', 7);
    const copy = allReduceReplica(smallNet('bp', 7));
    let updates = 0;
    const failing: AllReduceReplica = {
      ...copy,
      update: async (job) => {
        if (++updates === 2) throw new Error('update lost');
        return copy.update(job);
      },
    };
    await expect(train(model, data, { batchSize: 8, replicas: [failing] })).rejects.toThrow(
      'update lost',
    );
    // its last update fails: train() does not resolve before it is known
    updates = -1;
    await expect(train(model, data, { batchSize: 8, replicas: [failing] })).rejects.toThrow(
      'update lost',
    );
    await expect(
      train(model, data, {
        replicas: [{ begin: async () => {} }] as unknown as AllReduceReplica[],
      }),
    ).rejects.toThrow(/replicas.*AllReduceReplica/);
    tf.dispose([data.x, data.y]);
    model.dispose();
  });
});

describe('shardGradients', () => {
  it("are the gradients of the shard's mean loss, at the job's weights (B included)", async () => {
    const model = smallNet('fa', 8);
    const data = blobs(6, 15);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const labels = tf.oneHot(tf.cast(data.y, 'int32'), 2);
    const weights = new Float32Array(vars.reduce((n, v) => n + v.size, 0));
    let at = 0;
    for (const v of vars) {
      weights.set(v.dataSync(), at);
      at += v.size;
    }
    const replica = smallNet('fa', 9); // other weights: the job's replace them
    const nonTrainable = new Float32Array(
      model.nonTrainableWeights.reduce((n, w) => n + w.read().size, 0),
    );
    at = 0;
    for (const w of model.nonTrainableWeights) {
      nonTrainable.set(w.read().dataSync(), at);
      at += w.read().size;
    }
    const res = shardGradients(replica, {
      weights,
      nonTrainable,
      draws: [0, 0, 0],
      x: data.x.dataSync() as Float32Array,
      xShape: data.x.shape,
      labels: labels.dataSync() as Float32Array,
    });
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          labels,
          model.apply(data.x, { training: true }) as tf.Tensor,
        ) as tf.Scalar,
      vars,
    );
    at = 0;
    for (const v of vars) {
      const want = grads[v.name]!.dataSync();
      const got = res.gradients.subarray(at, at + v.size);
      expect(maxAbs(want)).toBeGreaterThan(0);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * maxAbs(want));
      at += v.size;
    }
    expect(res.lossSum / 6).toBeCloseTo(value.dataSync()[0]!, 5);
    expect(() =>
      shardGradients(replica, {
        weights,
        nonTrainable: nonTrainable.subarray(2),
        draws: [0, 0, 0],
        x: new Float32Array(64),
        xShape: [1, 8, 8, 1],
        labels: new Float32Array(2),
      }),
    ).toThrow(/nonTrainable/);
    expect(() =>
      shardGradients(replica, {
        weights: weights.subarray(1),
        draws: [0, 0, 0],
        x: new Float32Array(64),
        xShape: [1, 8, 8, 1],
        labels: new Float32Array(2),
      }),
    ).toThrow(TrainDataError);
    expect(() =>
      shardGradients(replica, {
        weights,
        draws: [0],
        x: new Float32Array(64),
        xShape: [1, 8, 8, 1],
        labels: new Float32Array(2),
      }),
    ).toThrow(/3 draw counters/);
    expect(() =>
      shardGradients(replica, {
        weights,
        draws: [0, 0, 0],
        x: new Float32Array(60),
        xShape: [1, 8, 8, 1],
        labels: new Float32Array(2),
      }),
    ).toThrow(/60 image values/);
    tf.dispose([data.x, data.y, labels, value, ...Object.values(grads)]);
    model.dispose();
    replica.dispose();
  });
});
