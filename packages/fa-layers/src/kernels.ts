import * as tf from '@tensorflow/tfjs-core';
import { DfaSignalError } from './errors.js';
import { type FeedbackMode, feedbackMatrix, modeSpec } from './modes.js';

/**
 * The two ops every feedback layer runs: a matMul and a conv2d whose forward pass is the
 * backend's own kernel and whose gradient sends the error through the feedback weights.
 *
 * They are registered kernels (forwarding to the backend's BatchMatMul / Conv2D) with a
 * registered gradient, rather than tf.customGrad, because a registered gradient is lazy per
 * input: when nothing asks for the input gradient (the first layer during training) it is never
 * computed, exactly as with tfjs's own MatMul and Conv2D. The backward pass costs what backprop
 * costs: one matMul / conv2DBackpropInput with B in place of W for the input, and the usual
 * matMul / conv2DBackpropFilter for the weights. No copies, no reads from the device.
 *
 * Inputs are passed as an array [x, w] or [x, w, feedback]; the gradient returns one entry
 * per input ('0', '1', '2').
 */
export const FEEDBACK_MATMUL = 'FaRobustFeedbackMatMul';
export const FEEDBACK_CONV2D = 'FaRobustFeedbackConv2D';

export interface FeedbackAttrs {
  /** The feedback mode. */
  mode: FeedbackMode;
  /** L2 weight decay added to the kernel's gradient (and, in kp, to B's). */
  decay: number;
  /** The mode table's `scale` of the kernel shape (usf: the scale of sign(W)); else 0. */
  scale: number;
  /** dfa: whether this layer's output is the model output, whose gradient is the error e. */
  dfaOutput: boolean;
  /** The layer name, for error messages. */
  layer: string;
  /** wm: the seed of this step's mirror noise; 0 in other modes. */
  mirrorSeed: number;
  /** wm: noise fields per mirror step. */
  mirrorBatch?: number;
  /** wm: the layer mirrors with its own rate before each step, so B's gradient is zero. */
  mirrorOwnRate?: boolean;
}

/** Noise receptive fields per mirror step. */
export const MIRROR_BATCH = 64;
/** The mirror noise is uniform in [-MIRROR_AMPLITUDE, MIRROR_AMPLITUDE] (variance a²/3). */
export const MIRROR_AMPLITUDE = 0.5;

/**
 * The weight mirror's estimate of W (Akrout et al. 2019, "Deep learning without weight
 * transport"): MIRROR_BATCH receptive fields x of iid uniform noise (seeded by `seed`) go
 * through the layer's forward weights, y = x·W (the pre-activation: a conv kernel acts on one
 * receptive field as its [kh·kw·inC, outC] reshape), and x^T·y / (N·var(x)), whose expectation
 * is W, comes back in the kernel's shape. Nothing but the layer's own input and output is read.
 */
export function mirrorEstimate(w: tf.Tensor, seed: number, batch = MIRROR_BATCH): tf.Tensor {
  return tf.tidy(() => {
    const out = w.shape.at(-1)!;
    const fanIn = w.size / out;
    const a = MIRROR_AMPLITUDE;
    const x = tf.randomUniform([batch, fanIn], -a, a, 'float32', seed) as tf.Tensor2D;
    const y = tf.matMul(x, tf.reshape(w, [fanIn, out]) as tf.Tensor2D);
    const corr = tf.matMul(x, y, true, false);
    return tf.reshape(tf.mul(corr, tf.scalar(1 / (batch * ((a * a) / 3)))), w.shape);
  });
}

export interface ConvAttrs extends FeedbackAttrs {
  strides: [number, number];
  pad: 'valid' | 'same';
}

// ---------------------------------------------------------------------------------------------
// DFA: the output error of the backward pass in progress.
// ---------------------------------------------------------------------------------------------

/**
 * The gradient at the output of the dfa output layer, set by that layer's backward pass and
 * read by the dfa layers below it in the same backward pass (tfjs walks the tape from the
 * output down, and a backward pass runs synchronously, so no other pass can interleave). The
 * output layer's forward pass clears it, so a stale error is never used.
 */
let dfaSignal: tf.Tensor | null = null;

export function clearDfaSignal(): void {
  dfaSignal = null;
}

function readDfaSignal(layer: string, batch: number, outputUnits: number): tf.Tensor {
  const e = dfaSignal;
  if (e == null || e.isDisposed) {
    throw new DfaSignalError(
      layer,
      'no output error to project: mark the last layer of the model `dfaOutput: true` ' +
        "(lenet({ feedback: 'dfa' }) does) and take the gradient of a loss of the model's output",
    );
  }
  if (e.shape[0] !== batch || e.shape[1] !== outputUnits) {
    throw new DfaSignalError(
      layer,
      `the output error has shape [${e.shape}], expected [${batch}, ${outputUnits}] ` +
        '(batch, dfaOutputUnits): is dfaOutputUnits the number of units of the dfa output layer?',
    );
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// The gradients: B comes from the mode table (modes.ts).
// ---------------------------------------------------------------------------------------------

/** B in the kernel's shape (the mode table's `matrix`), for every mode but a direct one. */
function kernelShapedB(a: FeedbackAttrs, w: tf.Tensor, fb: tf.Tensor | undefined): tf.Tensor {
  const b = feedbackMatrix(a.mode, w, fb, a.scale);
  if (b == null) throw new Error(`feedbackMatrix: no kernel-shaped B in mode '${a.mode}'`);
  return b;
}

type Grads = Record<string, () => tf.Tensor>;

/**
 * The gradients common to both ops: the kernel's (true gradient plus decay) and the feedback
 * weight's: zero when it is fixed, the mode table's `gradient` when it trains (kp: the same true
 * gradient plus the same decay applied to B).
 */
function weightGrads(
  attrs: FeedbackAttrs,
  w: tf.Tensor,
  fb: tf.Tensor | undefined,
  trueKernelGrad: () => tf.Tensor,
  grads: Grads,
): void {
  const { decay } = attrs;
  const withDecay = (g: tf.Tensor, v: tf.Tensor) =>
    decay > 0 ? tf.add(g, tf.mul(v, tf.scalar(decay))) : g;
  const trainFeedback = modeSpec(attrs.mode).weight?.gradient;
  if (trainFeedback != null) {
    // Both W and B need the same true gradient: computed once, outside the per-input scopes.
    const g = trueKernelGrad();
    grads['1'] = () => withDecay(g, w);
    grads['2'] = () =>
      attrs.mirrorOwnRate
        ? tf.zerosLike(fb!) // the layer mirrors B itself before each step
        : trainFeedback(g, fb!, decay, () =>
            mirrorEstimate(w, attrs.mirrorSeed, attrs.mirrorBatch),
          );
  } else {
    grads['1'] = () => withDecay(trueKernelGrad(), w);
    // A fixed feedback weight is never trained; its gradient is asked for only by a caller
    // that differentiates with respect to it explicitly.
    if (fb != null) grads['2'] = () => tf.zerosLike(fb);
  }
}

function dfaInputGrad(attrs: FeedbackAttrs, dy: tf.Tensor, x: tf.Tensor, fb: tf.Tensor): tf.Tensor {
  const e = attrs.dfaOutput ? dy : readDfaSignal(attrs.layer, x.shape[0]!, fb.shape[0]!);
  return tf.reshape(tf.matMul(e as tf.Tensor2D, fb as tf.Tensor2D), x.shape);
}

function matMulGrad(
  dy: tf.Tensor | tf.Tensor[],
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
): Grads {
  const a = attrs as unknown as FeedbackAttrs;
  const g = dy as tf.Tensor2D;
  const [x, w, fb] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D | undefined];
  const direct = modeSpec(a.mode).direct === true;
  if (direct && a.dfaOutput) dfaSignal = g;
  const grads: Grads = {
    '0': () =>
      direct
        ? dfaInputGrad(a, g, x, fb!)
        : tf.matMul(g, kernelShapedB(a, w, fb) as tf.Tensor2D, false, true),
  };
  weightGrads(a, w, fb, () => tf.matMul(x, g, true, false), grads);
  return grads;
}

function conv2dGrad(
  dy: tf.Tensor | tf.Tensor[],
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
): Grads {
  const a = attrs as unknown as ConvAttrs;
  const g = dy as tf.Tensor4D;
  const [x, w, fb] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
  // A conv layer is never the dfa output layer (the layers refuse it): it only reads the error.
  const grads: Grads = {
    '0': () =>
      modeSpec(a.mode).direct === true
        ? dfaInputGrad(a, g, x, fb!)
        : tf.conv2dTranspose(g, kernelShapedB(a, w, fb) as tf.Tensor4D, x.shape, a.strides, a.pad),
  };
  weightGrads(
    a,
    w,
    fb,
    () =>
      tf.engine().runKernel(
        tf.Conv2DBackpropFilter,
        { x, dy: g } as unknown as tf.NamedTensorMap,
        {
          strides: a.strides,
          pad: a.pad,
          dataFormat: 'NHWC',
          filterShape: w.shape,
        } as unknown as tf.NamedAttrMap,
      ),
    grads,
  );
  return grads;
}

// ---------------------------------------------------------------------------------------------
// Registration (lazy, per backend, idempotent).
// ---------------------------------------------------------------------------------------------

function forward(kernelName: string, delegate: string, backendName: string): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const inner = tf.getKernel(delegate, backendName);
      if (inner == null) {
        throw new Error(
          `${kernelName}: the '${backendName}' backend has no ${delegate} kernel to run the forward pass`,
        );
      }
      const list = inputs as unknown as tf.TensorInfo[];
      if (delegate === tf.BatchMatMul) {
        return inner.kernelFunc({
          inputs: { a: list[0], b: list[1] },
          attrs: { transposeA: false, transposeB: false },
          backend,
        });
      }
      const a = attrs as unknown as ConvAttrs;
      return inner.kernelFunc({
        inputs: { x: list[0], filter: list[1] },
        attrs: { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dilations: [1, 1] },
        backend,
      });
    },
  };
}

const registeredOn = new Set<string>();

/** Registers the two feedback kernels for a backend (and their gradients), once. */
export function ensureFeedbackKernels(backendName: string): void {
  if (registeredOn.has(backendName)) return;
  if (tf.getGradient(FEEDBACK_MATMUL) == null) {
    tf.registerGradient({ kernelName: FEEDBACK_MATMUL, saveAllInputs: true, gradFunc: matMulGrad });
  }
  if (tf.getGradient(FEEDBACK_CONV2D) == null) {
    tf.registerGradient({ kernelName: FEEDBACK_CONV2D, saveAllInputs: true, gradFunc: conv2dGrad });
  }
  if (tf.getKernel(FEEDBACK_MATMUL, backendName) == null) {
    tf.registerKernel(forward(FEEDBACK_MATMUL, tf.BatchMatMul, backendName));
  }
  if (tf.getKernel(FEEDBACK_CONV2D, backendName) == null) {
    tf.registerKernel(forward(FEEDBACK_CONV2D, tf.Conv2D, backendName));
  }
  registeredOn.add(backendName);
}

/** Runs one of this package's feedback kernels on the active backend (registering them there first). */
function runFeedback(
  kernel: string,
  x: tf.Tensor,
  w: tf.Tensor,
  fb: tf.Tensor | null,
  attrs: FeedbackAttrs,
): tf.Tensor {
  ensureFeedbackKernels(tf.getBackend());
  const inputs = fb == null ? [x, w] : [x, w, fb];
  return tf
    .engine()
    .runKernel(
      kernel,
      inputs as unknown as tf.NamedTensorMap,
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
}

/** x [n, in] · w [in, out], whose gradient sends dy through the feedback of `attrs.mode`. */
export function feedbackMatMul(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  fb: tf.Tensor | null,
  attrs: FeedbackAttrs,
): tf.Tensor2D {
  return runFeedback(FEEDBACK_MATMUL, x, w, fb, attrs) as tf.Tensor2D;
}

/** conv2d(x NHWC, w) without dilation, whose gradient sends dy through the feedback of `attrs.mode`. */
export function feedbackConv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  fb: tf.Tensor | null,
  attrs: ConvAttrs,
): tf.Tensor4D {
  return runFeedback(FEEDBACK_CONV2D, x, w, fb, attrs) as tf.Tensor4D;
}
