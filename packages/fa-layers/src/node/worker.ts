/**
 * A replica worker of `@fa-robust/fa-layers/node`: its own tfjs and a copy of the model; answers
 * each job with the gradients of its shard (shardGradients), one job at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ReplicaJob, registerFaLayers, shardGradients } from '@fa-robust/fa-layers';
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

const ready = start();
ready.then(
  () => port.postMessage({ type: 'ready' } satisfies ReplicaReply),
  (e) => port.postMessage(errorReply(null, e)),
);

port.on('message', async (msg: ReplicaRequest) => {
  try {
    const model = await ready;
    const result = shardGradients(model, msg.job as ReplicaJob);
    port.postMessage({ type: 'result', id: msg.id, result } satisfies ReplicaReply, [
      result.gradients.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    port.postMessage(errorReply(msg.id, e));
  }
});
