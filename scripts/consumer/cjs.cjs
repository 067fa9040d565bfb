const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const backend = require('@fa-robust/backend');
const faLayers = require('@fa-robust/fa-layers');
const faNode = require('@fa-robust/fa-layers/node');
const attacks = require('@fa-robust/attacks');
const datasets = require('@fa-robust/datasets');
const metrics = require('@fa-robust/metrics');
const metricsNode = require('@fa-robust/metrics/node');
const { work } = require('./work.cjs');

work(
  { tf, tfl, backend, faLayers, faNode, attacks, datasets, metrics, metricsNode },
  'require',
).catch((e) => {
  console.error(e);
  process.exit(1);
});
