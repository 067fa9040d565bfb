/**
 * A worker thread of the repro run: its own tfjs (and wasm instance), fed plain-data jobs by
 * WorkerPool. Messages are handled one at a time, in the order they arrive.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fileSystem, setupBackend } from '@fa-robust/backend';
import type { Split } from '@fa-robust/datasets';
import * as tfl from '@tensorflow/tfjs-layers';
import type { DatasetName } from './config.js';
import type { PoolReply, PoolRequest } from './pool.js';
import {
  type AttackStepSpec,
  attackStep,
  type StepContext,
  stepContext,
  type TrainSpec,
  trainModel,
} from './steps.js';

export interface ContextMessage {
  dataset: DatasetName;
  test: Split;
  /** model id -> folder it was saved in. */
  models: Record<string, string>;
  clean: Record<string, Uint8Array>;
  batchSize: number;
  seed: number;
}

export type WorkerJob =
  | { type: 'context'; context: ContextMessage }
  | { type: 'attack'; spec: AttackStepSpec }
  | { type: 'train'; spec: TrainSpec; data: Split; dir: string };

if (!parentPort) throw new Error('repro worker: run this file as a worker thread');
const port = parentPort;
const { backend } = workerData as { backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu' };
const ready = setupBackend({ backend });
let ctx: (StepContext & { dispose(): void }) | null = null;

async function handle(job: WorkerJob, reply: (m: PoolReply) => void): Promise<unknown> {
  await ready;
  const onProgress = (done: number, total: number) => reply({ type: 'progress', done, total });
  switch (job.type) {
    case 'context': {
      if (ctx) {
        ctx.dispose();
        for (const m of Object.values(ctx.models)) m.dispose();
      }
      const c = job.context;
      const models: Record<string, tfl.LayersModel> = {};
      for (const [id, dir] of Object.entries(c.models))
        models[id] = await tfl.loadLayersModel(fileSystem(dir));
      ctx = stepContext({
        dataset: c.dataset,
        test: c.test,
        labels: Int32Array.from(c.test.labels),
        models,
        clean: c.clean,
        batchSize: c.batchSize,
        seed: c.seed,
      });
      return null;
    }
    case 'attack':
      if (!ctx) throw new Error('repro worker: an attack job arrived before its context');
      return attackStep(ctx, job.spec, { onProgress });
    case 'train': {
      const { model, seconds, history } = await trainModel(job.spec, job.data, job.dir, {
        onProgress,
        log: (line) => reply({ type: 'log', line }),
      });
      model.dispose();
      return { seconds, history };
    }
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: PoolRequest<WorkerJob>) => {
  queue = queue.then(async () => {
    const reply = (m: PoolReply) => port.postMessage({ ...m, id: msg.id });
    try {
      const value = await handle(msg.job, reply);
      reply({ type: 'done', value });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      reply({ type: 'error', message: err.message, stack: err.stack ?? err.message });
    }
  });
});
