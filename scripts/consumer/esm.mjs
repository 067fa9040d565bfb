import * as attacks from '@fa-robust/attacks';
import * as backend from '@fa-robust/backend';
import * as datasets from '@fa-robust/datasets';
import * as faLayers from '@fa-robust/fa-layers';
import * as faNode from '@fa-robust/fa-layers/node';
import * as metrics from '@fa-robust/metrics';
import * as metricsNode from '@fa-robust/metrics/node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import work from './work.cjs';

await work.work(
  { tf, tfl, backend, faLayers, faNode, attacks, datasets, metrics, metricsNode },
  'import',
);
