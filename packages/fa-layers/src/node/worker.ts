/**
 * A replica worker of `@fa-robust/fa-layers/node`: its own tfjs and a copy of the model (and,
 * for all-reduce, of the optimizer); answers its requests one at a time, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ReplicaResult } from '@fa-robust/fa-layers';
import {
  type AllReduceReplica,
  allReduceReplica,
  registerFaLayers,
  shardGradients,
} from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ReplicaReply, ReplicaRequest, ReplicaWorkerData } from './index.js';

if (!parentPort) throw new Error('@fa-robust/fa-layers/node: run this file as a worker thread');
const port = parentPort;
const data = workerData as ReplicaWorkerData;

function errorReply(id: number | null, e: unknown): ReplicaReply {
  const err = e instanceof Error ? e : new Error(String(e));
  return { type: 'error', id, message: err.message, stack: err.stack ?? err.message };
}

async function start(): Promise<tfl.LayersModel> {
  let backendModule: { setupBackend(o: { backend: string }): Promise<unknown> };
  try {
    backendModule = (await import('@fa-robust/backend')) as typeof backendModule;
  } catch (e) {
    throw new Error(
      `replica workers set up tfjs with @fa-robust/backend, which could not be loaded (${(e as Error).message}): npm install @fa-robust/backend`,
    );
  }
  await backendModule.setupBackend({ backend: data.backend });
  if (tf.getBackend() !== data.backend) {
    throw new Error(
      `replica worker: asked for the '${data.backend}' backend, got '${tf.getBackend()}'`,
    );
  }
  registerFaLayers();
  if (data.workerModule != null) await import(data.workerModule);
  return tfl.loadLayersModel(tf.io.fromMemory(data.artifacts));
}

const ready = start().then((model) => ({ model, replica: allReduceReplica(model) }));
ready.then(
  () => port.postMessage({ type: 'ready' } satisfies ReplicaReply),
  (e) => port.postMessage(errorReply(null, e)),
);

async function answer(
  msg: ReplicaRequest,
  model: tfl.LayersModel,
  replica: AllReduceReplica,
): Promise<ReplicaResult | Float32Array | null> {
  switch (msg.op) {
    case 'gradients':
      return shardGradients(model, msg.job);
    case 'begin':
      await replica.begin(msg.state);
      return null;
    case 'shard': {
      // the replica keeps its own gradients for the update: send a copy
      const r = await replica.shard(msg.job);
      return { ...r, gradients: r.gradients.slice() };
    }
    case 'update':
      await replica.update(msg.job);
      return null;
    case 'weights':
      return replica.weights();
    case 'end':
      await replica.end();
      return null;
  }
}

// one request at a time, in order: an update must be applied before the next shard is computed
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: ReplicaRequest) => {
  queue = queue.then(async () => {
    try {
      const { model, replica } = await ready;
      const result = await answer(msg, model, replica);
      const buffer =
        result instanceof Float32Array
          ? result.buffer
          : (result as ReplicaResult | null)?.gradients?.buffer;
      port.postMessage(
        { type: 'result', id: msg.id, result } satisfies ReplicaReply,
        buffer ? [buffer as ArrayBuffer] : [],
      );
    } catch (e) {
      port.postMessage(errorReply(msg.id, e));
    }
  });
});
