import { describe, expect, it } from 'vitest';
import { BackendError } from './errors.js';
import { BROWSER_ORDER, setupBackend } from './setup-browser.js';

// The browser entry's setupBackend; it runs in headless Chromium in `pnpm test`
// (scripts/check-browser.mjs: wasm chosen, kernels added, a conv gradient checked). Here, in
// Node, the choices and the errors a page sees.
describe('setupBackend (browser entry)', () => {
  it('tries webgpu, webgl, wasm, cpu in that order by default', () => {
    expect(BROWSER_ORDER).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
  });

  it('refuses an unknown backend, naming the browser ones (tensorflow is Node only)', async () => {
    await expect(setupBackend({ backend: 'tensorflow' as 'wasm' })).rejects.toThrow(
      /backend must be 'auto' or one of 'webgpu', 'webgl', 'wasm', 'cpu' in a browser; found 'tensorflow' \('tensorflow' is tfjs-node, Node only\)/,
    );
    await expect(setupBackend({ order: ['webgl', 'gpu' as 'webgl'] })).rejects.toThrow(
      /options\.order: unknown backend 'gpu'/,
    );
  });

  it('says what to import when the backend asked for is not registered', async () => {
    const e = await setupBackend({ backend: 'webgl' }).catch((x) => x);
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(
      /no tfjs backend could be started in this browser\. Tried webgl \(not registered \(import '@tensorflow\/tfjs-backend-webgl' in the page\)\)\. Import '@tensorflow\/tfjs-backend-webgl' for the GPU, or serve the wasm files and pass wasmPaths/,
    );
  });
});
