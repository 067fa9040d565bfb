const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const backend = require('@fa-robust/backend');
const { work } = require('./work.cjs');

work({ tf, tfl, backend }, 'require').catch((e) => {
  console.error(e);
  process.exit(1);
});
