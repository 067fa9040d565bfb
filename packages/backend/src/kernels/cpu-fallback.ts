import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '../errors.js';

/**
 * A kernel for `targetBackend` that runs the cpu backend's kernel of the same name: inputs are
 * read from the target backend, computed on cpu, and the outputs written back. Correct for any
 * kernel the cpu backend has, and slow (two copies and a JS kernel): it is used only for
 * gradient kernels that wasm lacks and that LeNet-style training does not hit every step.
 */
export function cpuFallbackKernel(kernelName: string, targetBackend: string): tf.KernelConfig {
  return {
    kernelName,
    backendName: targetBackend,
    kernelFunc: ({ inputs, attrs, backend: target }) => {
      const backend = target as tf.KernelBackend;
      const cpu = tf.findBackend('cpu');
      const cpuKernel = tf.getKernel(kernelName, 'cpu');
      if (cpu == null || cpuKernel == null) {
        throw new BackendError(
          `${kernelName} on '${targetBackend}' falls back to the cpu backend, but ` +
            `@tensorflow/tfjs-backend-cpu is not loaded. Install it, or call setupBackend() which loads it.`,
        );
      }
      const cpuInputs: tf.NamedTensorInfoMap = {};
      const made: tf.DataId[] = [];
      try {
        for (const [name, info] of Object.entries(inputs)) {
          if (info == null) continue;
          const values = backend.readSync(info.dataId) as tf.backend_util.BackendValues;
          const dataId = cpu.write(values, info.shape, info.dtype);
          made.push(dataId);
          cpuInputs[name] = { dataId, shape: info.shape, dtype: info.dtype };
        }
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu });
        const outs = Array.isArray(out) ? out : [out];
        for (const o of outs) made.push(o.dataId);
        const results = outs.map((o) => {
          const values = cpu.readSync(o.dataId) as tf.backend_util.BackendValues;
          const dataId = backend.write(values, o.shape, o.dtype);
          return { dataId, shape: o.shape, dtype: o.dtype } as tf.TensorInfo;
        });
        return Array.isArray(out) ? results : results[0]!;
      } finally {
        for (const id of made) cpu.disposeData(id, true);
      }
    },
  };
}
