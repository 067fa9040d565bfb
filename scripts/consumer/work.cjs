// The real work the consumer test does with each installed package. esm.mjs and cjs.cjs load
// the packages their own way (import vs require) and hand them here, so both module systems
// are exercised on the same checks. Prints one line per package; throws on any failure.
const assert = require('node:assert/strict');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

async function work(m, how) {
  const { tf, tfl, backend, faLayers, faNode, attacks, datasets, metrics, metricsNode } = m;
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
    assert.deepEqual(
      Array.from(again.predict(x).dataSync()),
      Array.from(model.predict(x).dataSync()),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `${how} @fa-robust/backend: ${info.name} (simd ${info.simd}), conv net loss ${l0.toFixed(3)} -> ${l1.toFixed(3)}, saved and reloaded`,
  );

  // fa-layers: an FA LeNet trains, its feedback weights stay fixed, it round-trips through a file
  const fa = faLayers.lenet({ dataset: 'mnist', feedback: 'fa', seed: 3 });
  const xs = tf.randomUniform([32, 28, 28, 1], 0, 1, 'float32', 2);
  const ys = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 32 }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  const fbBefore = fa.getWeights(false).map((w) => Array.from(w.dataSync()));
  const r = await faLayers.train(fa, { x: xs, y: ys }, { epochs: 3, batchSize: 16, seed: 1 });
  assert.equal(r.history.length, 3);
  const fbDir = mkdtempSync(join(tmpdir(), 'consumer-fa-'));
  try {
    await fa.save(backend.fileSystem(fbDir));
    const back = await tfl.loadLayersModel(backend.fileSystem(fbDir));
    assert.deepEqual(
      Array.from(back.predict(xs).dataSync()),
      Array.from(fa.predict(xs).dataSync()),
    );
  } finally {
    rmSync(fbDir, { recursive: true, force: true });
  }
  const twin = await faLayers.backpropTwin(fa);
  const angles = faLayers.alignment(fa).filter((a) => a.angle != null);
  assert.ok(angles.length >= 4, 'alignment reports the FA layers');
  // fa-layers/node: one worker thread (the packed worker script, its own tfjs) trains a shard
  const par = await faNode.trainDataParallel(
    fa,
    { x: xs, y: ys },
    { epochs: 1, batchSize: 16, seed: 1, workers: 1 },
  );
  assert.equal(par.history[0].images, 32);
  assert.ok(Number.isFinite(par.history[0].loss));
  console.log(
    `${how} @fa-robust/fa-layers/node: one epoch on this thread and a worker, loss ${par.history[0].loss.toFixed(3)}`,
  );
  console.log(
    `${how} @fa-robust/fa-layers: FA LeNet loss ${r.history[0].loss.toFixed(3)} -> ${r.history[2].loss.toFixed(3)}, ${angles.length} layers with feedback, twin made, saved and reloaded (${fbBefore.length} weights)`,
  );

  // attacks: FGSM through the FA path and through the true gradient differ
  const labels = tf.argMax(fa.predict(xs), -1);
  const own = await attacks.fgsm(fa, xs, labels, { epsilon: 0.3 });
  const viaTwin = await attacks.fgsm(fa, xs, labels, {
    epsilon: 0.3,
    gradient: attacks.modelGradient(twin),
  });
  assert.equal(own.success.length, 32);
  assert.ok(Math.max(...own.linf) <= 0.3 + 1e-6);
  const fooledOwn = own.success.reduce((a, b) => a + b, 0);
  const fooledTrue = viaTwin.success.reduce((a, b) => a + b, 0);
  console.log(
    `${how} @fa-robust/attacks: FGSM eps 0.3 fooled ${fooledOwn}/32 through the feedback path, ${fooledTrue}/32 through the true gradient`,
  );
  // a short AutoAttack-style cascade through the packed exports (APGD-CE, then Square)
  const aa = await attacks.autoAttack(fa, xs, labels, {
    epsilon: 0.3,
    version: 'custom',
    attacks: [
      { name: 'apgd-ce', attack: 'apgd', options: { steps: 5 } },
      { name: 'square', attack: 'square', options: { steps: 20 } },
    ],
  });
  assert.equal(aa.attacks.length, 2);
  assert.equal(aa.attacks[1].attacked, aa.attacks[0].attacked - aa.attacks[0].fooled);
  assert.ok(aa.robustAccuracy <= aa.cleanAccuracy);
  console.log(
    `${how} @fa-robust/attacks: autoAttack (apgd-ce, square) ${(100 * aa.cleanAccuracy).toFixed(0)}% -> ${(100 * aa.robustAccuracy).toFixed(0)}%`,
  );
  tf.dispose([own.adversarial, viaTwin.adversarial, aa.adversarial, labels]);

  // datasets: parse a synthetic IDX pair, and the real MNIST test set when it is here
  const idx = (magic, dims, body) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => {
      head.writeUInt32BE(d, 4 + 4 * i);
    });
    return new Uint8Array(Buffer.concat([head, Buffer.from(body)]));
  };
  const split = datasets.parseIdxSplit(
    idx(0x803, [2, 2, 2], [0, 255, 51, 102, 0, 0, 0, 255]),
    idx(0x801, [2], [3, 7]),
    { classes: datasets.MNIST_CLASSES ?? Array.from({ length: 10 }, (_, i) => String(i)) },
  );
  assert.deepEqual(Array.from(split.labels), [3, 7]);
  assert.equal(split.images[1], 1);
  let real = 'no FA_ROBUST_DATA_DIR';
  if (process.env.FA_ROBUST_DATA_DIR) {
    const { test } = await datasets.loadMnist({ splits: ['test'], limit: 100, download: false });
    assert.equal(test.labels[0], 7);
    real = `real MNIST test[0] label ${test.labels[0]}, checksums verified`;
  }
  console.log(`${how} @fa-robust/datasets: synthetic IDX parsed; ${real}`);

  // metrics: Wilson interval, a results file, and a figure rendered to PNG
  const w = metrics.wilsonInterval(8, 10, { confidence: 0.95 });
  assert.ok(Math.abs(w.lower - 0.4902) < 1e-4 && Math.abs(w.upper - 0.9433) < 1e-4);
  const cells = ['bp', 'fa'].flatMap((model) =>
    [0, 0.5].map((epsilon) =>
      metrics.resultCell({
        dataset: 'mnist',
        model,
        attack: 'fgsm',
        epsilon,
        source: 'own',
        cleanCorrect: [1, 1, 1, 0],
        adversarialCorrect: epsilon === 0 || model === 'fa' ? [1, 1, 1, 0] : [0, 1, 0, 0],
      }),
    ),
  );
  const results = metrics.createResults({
    config: {},
    environment: { backend: info.name, versions: {} },
    models: [
      { dataset: 'mnist', id: 'bp', method: 'bp' },
      { dataset: 'mnist', id: 'fa', method: 'fa' },
    ],
    cells,
  });
  const png = await metricsNode.renderPng(metrics.accuracyFigure(results, { dataset: 'mnist' }));
  assert.deepEqual(Array.from(png.subarray(1, 4)), [0x50, 0x4e, 0x47]);
  console.log(
    `${how} @fa-robust/metrics: Wilson [${w.lower.toFixed(4)}, ${w.upper.toFixed(4)}], results validated, PNG of ${png.length} bytes`,
  );
  tf.dispose([xs, ys, x, y]);
}

module.exports = { work };
