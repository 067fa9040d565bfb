/**
 * Best-so-far bookkeeping: per example, the adversarial to return, kept with tensor ops so
 * the loop never reads data back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { blend } from './geometry.js';
import { fooledMask, type Objective, objectiveLoss } from './objective.js';

/**
 * What a tracker keeps per example. 'latest' (FGSM, BIM, MI-FGSM, PGD): the latest fooling
 * iterate, else the latest iterate. 'highest' (APGD): the highest-loss point, a fooling point
 * before any that does not fool (so every fooling point counts as success), the earlier on ties.
 */
export type BestRule = 'latest' | 'highest';

/**
 * Whether a new point (fooled f, loss l) replaces the kept one (fooled, loss) under 'highest':
 * it fools and the kept one does not, or both agree and its loss is strictly higher.
 */
function higher(f: tf.Tensor, l: tf.Tensor, fooled: tf.Tensor, loss: tf.Tensor): tf.Tensor {
  return tf.logicalOr(
    tf.logicalAnd(f, tf.logicalNot(fooled)),
    tf.logicalAnd(tf.greater(l, loss), tf.logicalOr(f, tf.logicalNot(fooled))),
  );
}

/** Best adversarial so far, per example, kept with tensor ops (no data reads). */
export class Tracker {
  best: tf.Tensor | null = null;
  fooled: tf.Tensor | null = null;
  loss: tf.Tensor | null = null;

  constructor(
    private readonly objective: Objective,
    readonly rule: BestRule = 'latest',
  ) {}

  /**
   * 'latest': the latest fooling iterate wins; an example not fooled yet takes the latest
   * iterate. 'highest': see BestRule.
   */
  observe(x: tf.Tensor, logits: tf.Tensor): void {
    const prev = [this.best, this.fooled, this.loss];
    const [best, fooled, loss] = tf.tidy(() => {
      const f = fooledMask(logits, this.objective);
      const l = objectiveLoss(logits, this.objective);
      if (this.best == null) return [tf.clone(x), f, l];
      const take =
        this.rule === 'highest'
          ? higher(f, l, this.fooled!, this.loss!)
          : tf.logicalOr(f, tf.logicalNot(this.fooled!));
      return [
        blend(take, x, this.best),
        tf.logicalOr(this.fooled!, f),
        tf.where(take, l, this.loss!),
      ];
    });
    this.best = best!;
    this.fooled = fooled!;
    this.loss = loss!;
    tf.dispose(prev.filter((t): t is tf.Tensor => t != null));
  }

  /**
   * Merges another run (a restart): 'latest', its fooled examples win, and unfooled ones where
   * its loss is higher; 'highest', as observe compares.
   */
  merge(other: Tracker): void {
    if (other.best == null) return;
    if (this.best == null) {
      [this.best, this.fooled, this.loss] = [other.best, other.fooled, other.loss];
      other.best = other.fooled = other.loss = null;
      return;
    }
    const prev: tf.Tensor[] = [this.best, this.fooled!, this.loss!];
    const [best, fooled, loss] = tf.tidy(() => {
      const take =
        this.rule === 'highest'
          ? higher(other.fooled!, other.loss!, this.fooled!, this.loss!)
          : tf.logicalOr(
              other.fooled!,
              tf.logicalAnd(tf.logicalNot(this.fooled!), tf.greater(other.loss!, this.loss!)),
            );
      return [
        blend(take, other.best!, this.best!),
        tf.logicalOr(this.fooled!, other.fooled!),
        tf.where(take, other.loss!, this.loss!),
      ];
    });
    [this.best, this.fooled, this.loss] = [best!, fooled!, loss!];
    tf.dispose(prev);
    other.dispose();
  }

  dispose(): void {
    tf.dispose([this.best, this.fooled, this.loss].filter((t): t is tf.Tensor => t != null));
    this.best = this.fooled = this.loss = null;
  }
}
