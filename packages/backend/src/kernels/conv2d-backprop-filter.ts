import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedKernelError } from '../errors.js';
import { KernelComposer } from './compose.js';

/**
 * Conv2DBackpropFilter (dL/dW of a conv2d) built from kernels every backend has: Transpose,
 * Conv2D and Slice. With stride s, dilation d and (explicitly) padded input xp,
 *
 *   dW[kh, kw, ci, co] = sum_{n, i, j} xp[n, i*s + kh*d, j*s + kw*d, ci] * dy[n, i, j, co]
 *
 * which is itself a 'valid' convolution of x' = transpose(xp, [3, 1, 2, 0]) (channels as batch,
 * batch as channels) by the filter dy' = transpose(dy, [1, 2, 0, 3]), with stride d and
 * dilation s: the roles of stride and dilation swap. The result can be a few rows/columns
 * larger than the filter when the forward pass left trailing input unused; those are sliced
 * off. NCHW inputs are transposed to NHWC first. Dilated forward convolutions never reach this
 * kernel: tf.conv2d's gradient refuses dilations > 1 itself.
 */
export function conv2DBackpropFilterViaConv2D(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: tf.KernelBackend;
    attrs?: tf.NamedAttrMap;
  },
  backendName: string,
): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropFilterAttrs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const c = new KernelComposer(backend, backendName);
  try {
    let x = inputs.x as tf.TensorInfo;
    let dy = inputs.dy as tf.TensorInfo;
    if (x.shape.length !== 4 || dy.shape.length !== 4) {
      throw new UnsupportedKernelError(
        `Conv2DBackpropFilter: expected rank-4 x and dy, found x ${JSON.stringify(x.shape)} and dy ${JSON.stringify(dy.shape)}`,
      );
    }
    if (dataFormat === 'NCHW') {
      x = c.run('Transpose', { x }, { perm: [0, 2, 3, 1] });
      dy = c.run('Transpose', { x: dy }, { perm: [0, 2, 3, 1] });
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const [kh, kw, ci, co] = filterShape;
    if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== co) {
      throw new UnsupportedKernelError(
        `Conv2DBackpropFilter: dy shape ${JSON.stringify(dy.shape)} does not match the conv output ` +
          `[${x.shape[0]},${info.outHeight},${info.outWidth},${co}]`,
      );
    }
    const { top, left } = info.padInfo;
    // With dimRoundingMode 'ceil' the forward pass reads past the padded input (as zeros):
    // pad far enough for the last output row/column to see a full window.
    const bottom = Math.max(
      info.padInfo.bottom,
      (info.outHeight - 1) * info.strideHeight + kh - x.shape[1]! - top,
    );
    const right = Math.max(
      info.padInfo.right,
      (info.outWidth - 1) * info.strideWidth + kw - x.shape[2]! - left,
    );
    const xT = c.run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [ci, H, W, n]
    const dyT = c.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, n, co]
    const explicit: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    const wide = c.run('Conv2D', { x: xT, filter: dyT }, {
      strides: 1,
      // stride and dilation trade places (see above); the forward dilation is always 1 here
      // because tf.conv2d's gradient never asks for a dilated Conv2DBackpropFilter.
      dilations: [info.strideHeight, info.strideWidth],
      pad: explicit as unknown as tf.NamedAttrMap[string],
      dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap); // [ci, >=kh, >=kw, co]
    let result = wide;
    if (wide.shape[1] !== kh || wide.shape[2] !== kw) {
      result = c.run('Slice', { x: wide }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    }
    const out = c.run('Transpose', { x: result }, { perm: [1, 2, 0, 3] });
    return c.keep(out);
  } finally {
    c.dispose();
  }
}
