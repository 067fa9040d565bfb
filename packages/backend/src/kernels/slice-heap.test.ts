import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../setup.js';

// Its own file, so its own process: a fresh wasm heap, which a 66 MB output must grow.
beforeAll(async () => {
  expect((await setupBackend({ backend: 'wasm' })).name).toBe('wasm');
});

describe('Slice on wasm', () => {
  it('stays right when the output grows the wasm memory', async () => {
    await tf.setBackend('wasm');
    const heap = () =>
      (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
    const rows = 2000;
    const cols = 16384; // 131 MB in, 66 MB out
    // row r holds 2r
    const x = tf.tidy(() =>
      tf.mul(tf.reshape(tf.range(0, 2 * rows, 2), [rows, 1]), tf.ones([1, cols])),
    );
    const before = heap();
    const out = tf.slice(x, [rows / 2, 0], [rows / 2, cols]);
    expect(heap()).not.toBe(before);
    const got = out.dataSync();
    let wrong = 0;
    for (let r = 0; r < rows / 2; r++)
      if (got[r * cols] !== 2 * (r + rows / 2) || got[r * cols + cols - 1] !== 2 * (r + rows / 2))
        wrong++;
    expect(wrong).toBe(0);
    tf.dispose([x, out]);
  });
});
