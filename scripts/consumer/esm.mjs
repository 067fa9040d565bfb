import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as backend from '@fa-robust/backend';
import work from './work.cjs';

await work.work({ tf, tfl, backend }, 'import');
