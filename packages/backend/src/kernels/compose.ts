import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs registered kernels of one backend directly (below the engine, so nothing is recorded
 * on a gradient tape or tracked as a tensor), and frees every intermediate it made. This is
 * how the missing kernels are built out of the kernels a backend already has.
 */
export class KernelComposer {
  private readonly made: tf.TensorInfo[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
  ) {}

  run(
    kernelName: string,
    inputs: tf.NamedTensorInfoMap,
    attrs: tf.NamedAttrMap = {},
  ): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (kernel == null) {
      throw new Error(`kernel ${kernelName} is not registered for backend '${this.backendName}'`);
    }
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    const info = Array.isArray(out) ? out[0]! : out;
    this.made.push(info);
    return info;
  }

  /** Frees `info` with the intermediates (for outputs of kernels called outside `run`). */
  track(info: tf.TensorInfo): tf.TensorInfo {
    this.made.push(info);
    return info;
  }

  /** Marks `info` as the result: it is kept when the intermediates are freed. */
  keep(info: tf.TensorInfo): tf.TensorInfo {
    const i = this.made.indexOf(info);
    if (i >= 0) this.made.splice(i, 1);
    return info;
  }

  dispose(): void {
    for (const info of this.made) this.backend.disposeData(info.dataId);
    this.made.length = 0;
  }
}
