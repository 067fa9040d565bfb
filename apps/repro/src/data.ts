/** Phase 1 of a dataset's study: its data, from the configured folder, the cache or a download. */
import { dirname, resolve } from 'node:path';
import { loadCifar10, loadMnist, MissingDataError, type Split } from '@fa-robust/datasets';
import type { DatasetName, ReproConfig } from './config.js';

const LOADERS = { mnist: loadMnist, cifar10: loadCifar10 } as const;

export type LoadedData =
  | { train?: Split; test: Split; note: string; skipped?: false }
  | { skipped: true; note: string };

/**
 * Loads `dataset` with the configured sizes. Data that is not to be had (MissingDataError)
 * skips the dataset with a note instead of failing the study; any other error propagates.
 */
export async function loadData(
  config: ReproConfig,
  dataset: DatasetName,
  options: { cwd: string; signal?: AbortSignal },
): Promise<LoadedData> {
  const trainSize = config.train.size ?? undefined;
  const testSize = config.testSize ?? undefined;
  try {
    const loaded = await LOADERS[dataset]({
      ...(config.dataDir ? { dataDir: resolve(options.cwd, config.dataDir) } : {}),
      download: config.download,
      limit: {
        ...(trainSize ? { train: trainSize } : {}),
        ...(testSize ? { test: testSize } : {}),
      },
      signal: options.signal,
    });
    const data = loaded as unknown as { train?: Split; test: Split };
    const where = [...new Set(loaded.sources.map((s) => `${s.from} ${dirname(s.path)}`))].join(
      ', ',
    );
    const note = `${dataset}: ${data.train?.shape[0] ?? 0} training and ${data.test.shape[0]} test images, from ${where}, checksums verified`;
    return { ...data, note };
  } catch (e) {
    if (e instanceof MissingDataError) {
      return {
        skipped: true,
        note: `${dataset}: skipped, data not available (${e.message.split('\n')[0]})`,
      };
    }
    throw e;
  }
}

/** A copy of `split` in shared memory: worker threads read it without a copy each. */
export function shareSplit(split: Split): Split {
  const images = new Float32Array(new SharedArrayBuffer(split.images.byteLength));
  images.set(split.images);
  const labels = new Uint8Array(new SharedArrayBuffer(split.labels.byteLength));
  labels.set(split.labels);
  return { ...split, images, labels };
}
