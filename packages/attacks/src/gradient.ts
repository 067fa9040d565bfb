import * as tf from '@tensorflow/tfjs-core';
import { GradientError } from './errors.js';
import { logitsFunction, type Model } from './model.js';
import { type Objective, objectiveLoss } from './objective.js';

/** What a gradient source returns for an input batch. */
export interface GradientEvaluation {
  /** d(sum over the batch of the attack loss) / dx: same shape as x. Per example, it is that example's input gradient. */
  gradient: tf.Tensor;
  /** The source model's logits at x, [batch, classes], when the source has a model. */
  logits?: tf.Tensor2D;
}

/**
 * Where an attack's input gradient comes from. Attacks call `evaluate` inside `tf.tidy`, once
 * per step; it must return new tensors (the caller disposes them) and may not dispose `x`.
 */
export interface GradientSource {
  /** 'own': tf.grad through the attacked model's own backward path; 'model': through another model; 'custom': a user function. */
  readonly kind: 'own' | 'model' | 'custom';
  /** A label for results and error messages, e.g. 'own' or 'bp-twin'. */
  readonly label: string;
  /** The model the gradient goes through ('own' and 'model' sources). */
  readonly model?: Model;
  evaluate(x: tf.Tensor, objective: Objective): GradientEvaluation;
}

function wrapGradientError(label: string, error: unknown): never {
  const message = String((error as Error)?.message ?? error);
  const missing = /gradient function not found for (\w+)/.exec(message);
  if (missing) {
    throw new GradientError(
      `gradient source '${label}': tfjs has no gradient registered for kernel ${missing[1]}. ` +
        `tfjs-core registers no gradients by itself: import '@tensorflow/tfjs-layers' (or '@tensorflow/tfjs'), ` +
        `or call setupBackend() from @fa-robust/backend, before attacking`,
      label,
      { cause: error },
    );
  }
  throw error;
}

/**
 * Frees what a failed tf.valueAndGrad left on tfjs' tape: the tensors its kernels saved for
 * the backward pass are kept out of every tidy scope and freed only by a backward pass that
 * completes, so a model that throws mid-forward (or a kernel without a gradient) would leak
 * them on every failed call. Only at gradient depth 0 (the tape is then this call's alone);
 * a no-op where tfjs' engine keeps its tape otherwise.
 */
function releaseFailedTape(): void {
  const state = (
    tf.engine() as unknown as {
      state?: { gradientDepth?: number; activeTape?: { saved?: tf.Tensor[] }[] | null };
    }
  ).state;
  if (state?.gradientDepth !== 0 || !Array.isArray(state.activeTape)) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
}

function modelSource(kind: 'own' | 'model', model: Model, label: string): GradientSource {
  const forward = logitsFunction(
    `${kind === 'own' ? 'ownGradient' : 'modelGradient'}('${label}')`,
    model,
  );
  return {
    kind,
    label,
    model,
    evaluate(x, objective) {
      const batch = x.shape[0]!;
      const k = objective.numClasses;
      // One backward pass gives both the gradient and the logits: f returns [loss | logits] per
      // example, and dy selects the loss column, so the logits ride along without a second forward.
      // Logits of the wrong shape are reported after the backward pass (a zero output tied to
      // them stands in), not thrown from inside it, which would strand the tape's tensors.
      let wrongShape: number[] | null = null;
      const f = (xi: tf.Tensor) => {
        const z = forward(xi) as tf.Tensor2D;
        if (z.rank !== 2 || z.shape[0] !== batch || z.shape[1] !== k) {
          wrongShape = z.shape;
          return tf.add(tf.zeros([batch, 1 + k]), tf.mul(tf.sum(z), 0));
        }
        const loss = objectiveLoss(z, objective);
        return tf.concat([tf.reshape(loss, [batch, 1]), z], 1);
      };
      const dy = tf.tidy(() => tf.concat([tf.ones([batch, 1]), tf.zeros([batch, k])], 1));
      let out: { value: tf.Tensor; grad: tf.Tensor };
      try {
        out = tf.valueAndGrad(f)(x, dy);
      } catch (error) {
        releaseFailedTape();
        wrapGradientError(label, error);
      } finally {
        dy.dispose();
      }
      if (wrongShape) {
        tf.dispose([out.value, out.grad]);
        throw new GradientError(
          `gradient source '${label}': its model must return logits of shape [${batch}, ${k}] like the attacked model; found [${(wrongShape as number[]).join(', ')}]`,
          label,
        );
      }
      const logits = tf.slice(out.value, [0, 1], [batch, k]) as tf.Tensor2D;
      out.value.dispose();
      return { gradient: out.grad, logits };
    },
  };
}

/**
 * The attacked model's own backward path: tf.grad through `model`. For a feedback-alignment
 * network this is the feedback path (fixed random matrices B instead of W^T), as in Akrout 2019.
 * This is what every attack uses when no `gradient` option is given.
 */
export function ownGradient(model: Model, label = 'own'): GradientSource {
  return modelSource('own', model, label);
}

/**
 * The gradient of another model: a true-gradient twin of the attacked network (same forward
 * weights, backprop backward path) or a surrogate for a transfer attack. The source model must
 * return logits over the same classes as the attacked model.
 */
export function modelGradient(model: Model, label = 'model'): GradientSource {
  return modelSource('model', model, label);
}

/** A user function returning d(sum of the attack loss)/dx, of the same shape as x. */
export type CustomGradientFunction = (x: tf.Tensor, objective: Objective) => tf.Tensor;

/**
 * A gradient from any function, e.g. an estimate, a smoothed gradient (EOT), or a gradient
 * through a differentiable approximation of a non-differentiable defence. The function gets
 * the input batch and the objective (loss name, labels, target) and returns a tensor shaped
 * like x; `objectiveLoss` computes the attack loss from logits for it.
 */
export function customGradient(fn: CustomGradientFunction, label = 'custom'): GradientSource {
  return {
    kind: 'custom',
    label,
    evaluate(x, objective) {
      let g: tf.Tensor;
      try {
        g = fn(x, objective);
      } catch (error) {
        wrapGradientError(label, error);
      }
      if (!(g instanceof tf.Tensor) || !tf.util.arraysEqual(g.shape, x.shape)) {
        // the function's tensor is ours to free (never x itself, which is the caller's)
        if (g instanceof tf.Tensor && g !== x) g.dispose();
        throw new GradientError(
          `gradient source '${label}': the function must return a tensor of the input's shape [${x.shape.join(', ')}]; ` +
            `found ${g instanceof tf.Tensor ? `shape [${g.shape.join(', ')}]` : typeof g}`,
          label,
        );
      }
      return { gradient: g === x ? tf.clone(g) : g };
    },
  };
}
