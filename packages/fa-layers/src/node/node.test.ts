import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupBackend } from '@fa-robust/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FeedbackMode } from '../modes.js';
import { type GradientReplica, type ReplicaJob, shardGradients } from '../replicas.js';
import { blobs, smallNet } from '../test-utils.js';
import { type TrainOptions, train } from '../train.js';
import { ReplicaWorkerError, trainDataParallel, workerReplicas } from './index.js';

beforeAll(async () => {
  await setupBackend({ backend: 'wasm' });
});

const options: TrainOptions = {
  epochs: 2,
  batchSize: 8,
  optimizer: 'adam',
  learningRate: 0.01,
  seed: 4,
};

function weightsOf(model: { getWeights(): tf.Tensor[] }): number[][] {
  return model.getWeights().map((t) => Array.from(t.dataSync()));
}

describe('workerReplicas (worker threads)', () => {
  it.each(['brsf', 'kp'] as FeedbackMode[])(
    '%s: a worker thread computes the bits a copy of the model in this thread computes',
    async (feedback) => {
      const data = blobs(24, 21);
      // reference: the same split, the replica a copy of the model in this thread
      const copy = smallNet(feedback, 7);
      const local: GradientReplica = {
        gradients: async (job: ReplicaJob) => shardGradients(copy, job),
      };
      const a = smallNet(feedback, 7);
      const ra = await train(a, data, { ...options, replicas: [local] });
      const b = smallNet(feedback, 7);
      const pool = await workerReplicas(b, { workers: 1 });
      try {
        expect(pool.replicas).toHaveLength(1);
        // all-reduce: the worker keeps its own weights and optimizer and applies every update itself
        const rb = await train(b, data, { ...options, replicas: pool.replicas });
        expect(rb.history.map((h) => h.loss)).toEqual(ra.history.map((h) => h.loss));
        const own = b.trainableWeights.flatMap((w) => Array.from(w.read().dataSync()));
        expect(Array.from(await pool.replicas[0]!.weights())).toEqual(own);
      } finally {
        await pool.close();
        await pool.close(); // idempotent
      }
      expect(weightsOf(b)).toEqual(weightsOf(a));
      // and the training did something
      expect(weightsOf(b)[0]).not.toEqual(weightsOf(smallNet(feedback, 7))[0]);
      tf.dispose([data.x, data.y]);
      for (const m of [copy, a, b]) m.dispose();
    },
  );

  it('trainDataParallel starts, uses and stops the workers; it trains like one thread, to rounding', async () => {
    const data = blobs(32, 22);
    const one = smallNet('fa', 7);
    const r1 = await train(one, data, { ...options, optimizer: 'sgd', learningRate: 0.1 });
    const two = smallNet('fa', 7);
    const r2 = await trainDataParallel(two, data, {
      ...options,
      optimizer: 'sgd',
      learningRate: 0.1,
      workers: 1,
    });
    expect(r2.history).toHaveLength(2);
    r2.history.forEach((h, e) => {
      expect(h.loss).toBeCloseTo(r1.history[e]!.loss, 5);
    });
    const [w1, w2] = [weightsOf(one), weightsOf(two)];
    w1.forEach((w, i) => {
      w.forEach((v, j) => {
        expect(Math.abs(w2[i]![j]! - v)).toBeLessThan(1e-5);
      });
    });
    // workers: 0 is plain train()
    const zero = await workerReplicas(two, { workers: 0 });
    expect(zero.replicas).toHaveLength(0);
    tf.dispose([data.x, data.y]);
    for (const m of [one, two]) m.dispose();
  });

  it('reports a worker that cannot start, or that dies while training, and stops the others', async () => {
    const model = smallNet('fa', 7);
    const bad = join(tmpdir(), `fa-robust-bad-worker-module-${process.pid}.mjs`);
    writeFileSync(bad, "throw new Error('no custom layers here');\n");
    const failed = workerReplicas(model, { workers: 2, workerModule: bad });
    await expect(failed).rejects.toBeInstanceOf(ReplicaWorkerError);
    await expect(failed).rejects.toThrow(/replica worker \d: no custom layers here/);

    const data = blobs(64, 23);
    const pool = await workerReplicas(model, { workers: 1 });
    const replica = pool.replicas[0]!;
    let calls = 0;
    // the worker thread dies after its second job
    const dying: GradientReplica = {
      gradients: async (job) => {
        if (++calls === 3)
          await (
            replica as unknown as { worker: { terminate(): Promise<number> } }
          ).worker.terminate();
        return replica.gradients(job);
      },
    };
    await expect(train(model, data, { batchSize: 8, replicas: [dying] })).rejects.toThrow(
      /replica worker 1 exited unexpectedly/,
    );
    await pool.close();
    // the same, all-reduce: the worker dies after its second update
    const pool3 = await workerReplicas(model, { workers: 1 });
    const inner = pool3.replicas[0]!;
    let updates = 0;
    const dyingAllReduce = {
      begin: (s: Parameters<typeof inner.begin>[0]) => inner.begin(s),
      shard: (j: Parameters<typeof inner.shard>[0]) => inner.shard(j),
      weights: () => inner.weights(),
      end: () => inner.end(),
      update: async (j: Parameters<typeof inner.update>[0]) => {
        const done = inner.update(j);
        if (++updates === 2)
          await (
            inner as unknown as { worker: { terminate(): Promise<number> } }
          ).worker.terminate();
        return done;
      },
    };
    await expect(train(model, data, { batchSize: 8, replicas: [dyingAllReduce] })).rejects.toThrow(
      /replica worker 1 exited unexpectedly/,
    );
    await pool3.close();
    // closing the pool while train() waits on a worker fails that train() instead of hanging it
    const pool2 = await workerReplicas(model, { workers: 1 });
    let closes = 0;
    const closing: GradientReplica = {
      gradients: async (job) => {
        const answer = pool2.replicas[0]!.gradients(job);
        if (++closes === 2) void pool2.close();
        return answer;
      },
    };
    await expect(train(model, data, { batchSize: 8, replicas: [closing] })).rejects.toThrow(
      /replica worker 1 was closed/,
    );
    tf.dispose([data.x, data.y]);
    model.dispose();
  });
});
