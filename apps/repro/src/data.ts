/** Phase 1 of a dataset's study: its data, from the configured folder, the cache or a download. */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  DatasetError,
  loadCifar10,
  loadFashionMnist,
  loadMnist,
  MissingDataError,
  type Split,
} from '@fa-robust/datasets';
import type { DatasetName, ReproConfig } from './config.js';

const LOADERS = {
  mnist: loadMnist,
  'fashion-mnist': loadFashionMnist,
  cifar10: loadCifar10,
} as const;

/** What the data folder holds for each dataset (as the datasets package reads it). */
const LAYOUT: Record<DatasetName, string> = {
  mnist: 'mnist/*.gz',
  'fashion-mnist': 'fashion-mnist/*.gz',
  cifar10: 'cifar10/cifar-10-batches-bin/*.bin',
};

export type LoadedData =
  | { train?: Split; test: Split; note: string; skipped?: false }
  /** `failed`: the data is there but could not be read (corrupt, unreadable), not just absent. */
  | { skipped: true; failed: boolean; note: string };

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
  const dataDir = config.dataDir ? resolve(options.cwd, config.dataDir) : null;
  if (dataDir) {
    // a data folder that is not one is the user's mistake: say so, do not fall through to a download
    const s = await stat(dataDir).catch((e: NodeJS.ErrnoException) => e);
    if (s instanceof Error || !s.isDirectory()) {
      const what =
        s instanceof Error
          ? s.code === 'ENOENT'
            ? 'does not exist'
            : `cannot be read (${s.code})`
          : 'is a file, not a folder';
      return {
        skipped: true,
        failed: true,
        note: `${dataset}: skipped, the data folder ${dataDir} ${what} (--data-dir or dataDir: a folder holding ${LAYOUT[dataset]})`,
      };
    }
  }
  try {
    const loaded = await LOADERS[dataset]({
      ...(dataDir ? { dataDir } : {}),
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
      // the loader's whole message: which files, where it looked, where to put them
      return {
        skipped: true,
        failed: false,
        note: `${dataset}: skipped, data not available: ${e.message.split('\n').join(' ').replace(/\s+/g, ' ')}`,
      };
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof DatasetError || code === 'EACCES' || code === 'EISDIR' || code === 'EPERM') {
      return {
        skipped: true,
        failed: true,
        note: `${dataset}: could not be loaded: ${(e as Error).message.split('\n')[0]}${code === 'EACCES' ? ' (permission denied: make the file readable)' : ''}`,
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
