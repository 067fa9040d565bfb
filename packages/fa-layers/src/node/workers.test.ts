import * as os from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveReplicaWorkers, resolveWorkerCount } from './index.js';

// availableParallelism() as the machine says, unless a test sets it
vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  return { ...actual, availableParallelism: vi.fn(actual.availableParallelism) };
});
const cores = vi.mocked(os.availableParallelism);

afterEach(() => {
  cores.mockRestore();
});

describe('resolveWorkerCount', () => {
  it("takes 'auto' as every core but one (none on tfjs-node) and refuses other counts", () => {
    expect(resolveReplicaWorkers('auto', 'tensorflow')).toBe(0);
    cores.mockReturnValue(4);
    expect(resolveReplicaWorkers(undefined, 'wasm')).toBe(3);
    expect(resolveReplicaWorkers('auto', 'cpu')).toBe(3);
    expect(resolveReplicaWorkers('auto', 'tensorflow')).toBe(0);
    cores.mockReturnValue(1);
    expect(resolveReplicaWorkers(undefined, 'wasm')).toBe(0);
    expect(resolveReplicaWorkers(3, 'wasm')).toBe(3);
    expect(() => resolveReplicaWorkers(-1, 'wasm')).toThrow(RangeError);
    expect(() => resolveReplicaWorkers(1.5, 'wasm')).toThrow(/integer >= 0/);
  });

  it('is what workerReplicas reads, and names where the count was given', () => {
    cores.mockReturnValue(8);
    expect(resolveWorkerCount('auto', 'wasm')).toBe(7);
    expect(resolveWorkerCount(undefined, 'tensorflow')).toBe(0);
    expect(resolveWorkerCount(0, 'tensorflow')).toBe(0);
    expect(resolveWorkerCount(2, 'tensorflow')).toBe(2);
    expect(() => resolveWorkerCount(-2, 'wasm', 'repro --workers')).toThrow(
      /^repro --workers: workers must be 'auto' or an integer >= 0, got -2$/,
    );
    expect(() => resolveWorkerCount(Number.NaN, 'wasm')).toThrow(RangeError);
    expect(() => resolveWorkerCount('all' as 'auto', 'wasm')).toThrow(/^workers: .*got all$/);
  });
});
