import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendError } from './errors.js';
import { setupBackend } from './setup.js';

afterEach(() => {
  delete process.env.FA_ROBUST_BACKEND;
});

describe('setupBackend', () => {
  it('takes wasm with SIMD in Node when tfjs-node is not installed, and says why', async () => {
    const info = await setupBackend();
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.simd).toBe(true);
    expect(info.reason).toMatch(/tfjs-node is not installed/);
    expect(info.skipped.map((s) => s.why).join(' ')).toMatch(
      /@tensorflow\/tfjs-node: not installed/,
    );
    expect(info.addedKernels).toEqual(expect.arrayContaining(['Conv2DBackpropFilter']));
    expect(info.gradients).toBe(true);
    expect(info.tfjsVersion).toBe(tf.version_core);
  });

  it('forces a backend by option, and by FA_ROBUST_BACKEND when the option says auto', async () => {
    expect((await setupBackend({ backend: 'cpu' })).name).toBe('cpu');
    process.env.FA_ROBUST_BACKEND = 'cpu';
    const viaEnv = await setupBackend();
    expect(viaEnv.name).toBe('cpu');
    expect(viaEnv.requested).toBe('cpu');
    // an explicit option wins over the environment
    expect((await setupBackend({ backend: 'wasm' })).name).toBe('wasm');
  });

  it('refuses an unknown backend, and a forced one that is not installed, with a clear error', async () => {
    await expect(setupBackend({ backend: 'gpu' as never })).rejects.toThrow(BackendError);
    await expect(setupBackend({ backend: 'gpu' as never })).rejects.toThrow(
      /one of 'auto', 'tensorflow', 'wasm', 'cpu'; found 'gpu'/,
    );
    process.env.FA_ROBUST_BACKEND = 'webgpu';
    await expect(setupBackend()).rejects.toThrow(/found 'webgpu' \(from FA_ROBUST_BACKEND\)/);
    delete process.env.FA_ROBUST_BACKEND;
    await expect(setupBackend({ backend: 'tensorflow' })).rejects.toThrow(
      /'tensorflow' was requested but could not be loaded: .*not installed/,
    );
  });

  it('is idempotent: a second call keeps one registration of each added kernel', async () => {
    const a = await setupBackend({ backend: 'wasm' });
    const b = await setupBackend({ backend: 'wasm' });
    expect(b.addedKernels).toEqual(a.addedKernels);
    expect(
      tf.getKernelsForBackend('wasm').filter((k) => k.kernelName === 'Conv2DBackpropFilter'),
    ).toHaveLength(1);
  });
});

describe('setupBackend leaves the process its own error handling', () => {
  const dist = new URL('../dist/index.js', import.meta.url);
  it.skipIf(!existsSync(fileURLToPath(dist)))(
    "after wasm starts, an uncaught error exits with code 1 and Node's own report (not the wasm runtime's code 7)",
    async () => {
      const script = `import { setupBackend } from ${JSON.stringify(dist.href)};
await setupBackend({ backend: 'wasm' });
throw new Error('a bug in the user program');`;
      // (not spawnSync: a blocked test worker misses vitest's heartbeat on a loaded machine)
      const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          (e, _o, stderr) => done({ code: e ? (e.code as number) : 0, stderr }),
        );
        child.stdin?.end();
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Error: a bug in the user program/);
      expect(r.stderr).not.toMatch(/tf-backend-wasm/);
    },
    60_000,
  );
});
