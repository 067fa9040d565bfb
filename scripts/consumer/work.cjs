// The real work the consumer test does with each installed package. esm.mjs and cjs.cjs load
// the packages their own way (import vs require) and hand them here, so both module systems
// are exercised on the same checks. Prints one line per package; throws on any failure.
const assert = require('node:assert/strict');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

async function work(m, how) {
  const { tf, tfl, backend } = m;
  const info = await backend.setupBackend();
  assert.equal(info.name, 'wasm', `expected wasm, got ${info.name}: ${info.reason}`);
  // A conv net trains on wasm: the gradient needs the Conv2DBackpropFilter kernel we add.
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  const x = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1], 'int32'), 2);
  const opt = tf.train.sgd(0.1);
  const loss = () => tf.losses.softmaxCrossEntropy(y, model.apply(x));
  const l0 = loss().dataSync()[0];
  for (let i = 0; i < 20; i++) opt.minimize(loss);
  const l1 = loss().dataSync()[0];
  assert.ok(l1 < l0, `loss did not fall: ${l0} -> ${l1}`);
  const dir = mkdtempSync(join(tmpdir(), 'consumer-model-'));
  try {
    await model.save(backend.fileSystem(dir));
    const again = await tfl.loadLayersModel(backend.fileSystem(dir));
    assert.deepEqual(Array.from(again.predict(x).dataSync()), Array.from(model.predict(x).dataSync()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${how} @fa-robust/backend: ${info.name} (simd ${info.simd}), conv net loss ${l0.toFixed(3)} -> ${l1.toFixed(3)}, saved and reloaded`);
}

module.exports = { work };
