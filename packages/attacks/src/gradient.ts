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
      const f = (xi: tf.Tensor) => {
        const z = forward(xi) as tf.Tensor2D;
        if (z.rank !== 2 || z.shape[1] !== k) {
          throw new GradientError(
            `gradient source '${label}': its model must return logits of shape [${batch}, ${k}] like the attacked model; found [${z.shape.join(', ')}]`,
            label,
          );
        }
        const loss = objectiveLoss(z, objective);
        return tf.concat([tf.reshape(loss, [batch, 1]), z], 1);
      };
      const dy = tf.tidy(() => tf.concat([tf.ones([batch, 1]), tf.zeros([batch, k])], 1));
      let out: { value: tf.Tensor; grad: tf.Tensor };
      try {
        out = tf.valueAndGrad(f)(x, dy);
      } catch (error) {
        dy.dispose();
        wrapGradientError(label, error);
      }
      dy.dispose();
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
