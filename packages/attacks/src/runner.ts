import * as tf from '@tensorflow/tfjs-core';
import { bim } from './bim.js';
import { AttackAbortedError, AttackInputError, describe } from './errors.js';
import { fgsm } from './fgsm.js';
import type { GradientSource } from './gradient.js';
import { mifgsm } from './mifgsm.js';
import type { LabelsInput, Model } from './model.js';
import type { LossName } from './objective.js';
import { pgd } from './pgd.js';
import { deriveSeed } from './random.js';
import { spsa } from './spsa.js';
import { square } from './square.js';
import type { AttackName, AttackResult, Norm, SanityFlag, Variant } from './types.js';

/** Any attack with the signature of the built-in ones. */
export type AttackFunction = (
  model: Model,
  x: tf.Tensor,
  y: LabelsInput,
  // biome-ignore lint/suspicious/noExplicitAny: each attack has its own options type
  options: any,
) => Promise<AttackResult>;

/** The built-in attacks by name. */
export const ATTACKS: Readonly<Record<AttackName, AttackFunction>> = {
  fgsm,
  bim,
  mifgsm,
  pgd,
  spsa,
  square,
};

/** A whole dataset in memory: `x` holds shape[0] examples of shape shape.slice(1), row-major (NHWC for images). */
export interface DatasetArrays {
  x: Float32Array;
  y: ArrayLike<number>;
  /** [examples, ...exampleShape], e.g. [10000, 28, 28, 1]. */
  shape: readonly number[];
}

/** The same, named as @fa-robust/datasets names it ({ images, labels, shape }). */
export interface DatasetImages {
  images: Float32Array;
  labels: ArrayLike<number>;
  shape: readonly number[];
  /** Class names (a @fa-robust/datasets Split has them); not used. */
  classes?: readonly string[];
}

/** One batch from an iterator: a tensor (not disposed by the runner) or a Float32Array with its shape. */
export interface DataBatch {
  x: Float32Array | tf.Tensor;
  y: ArrayLike<number> | tf.Tensor;
  /** [batch, ...exampleShape]; required when x is a Float32Array. */
  shape?: readonly number[];
  /** Target labels for a targeted attack. */
  target?: ArrayLike<number>;
}

export type RunData =
  | DatasetArrays
  | DatasetImages
  | Iterable<DataBatch>
  | AsyncIterable<DataBatch>;

export interface RunProgress {
  /** Attack calls finished (one per batch and epsilon). */
  calls: number;
  /** Examples whose every epsilon is done. */
  examplesDone: number;
  /** Examples in the dataset; undefined for an iterator. */
  total: number | undefined;
  /** The epsilon just finished. */
  epsilon: number;
  batchIndex: number;
  /** Fraction of the whole run done, in [0, 1]; undefined for an iterator. */
  fraction: number | undefined;
  elapsedMs: number;
}

/** What onBatch receives after each attack call: the batch's results at one epsilon. */
export interface BatchReport {
  batchIndex: number;
  /** Index of the batch's first example in the run. */
  offset: number;
  epsilon: number;
  epsilonIndex: number;
  result: Omit<AttackResult, 'adversarial'>;
  /** The adversarial batch, [batch * prod(exampleShape)], same layout as the input. */
  adversarial: Float32Array;
  exampleShape: readonly number[];
}

export interface RunAttackOptions {
  /** The attacked model: a tf.LayersModel or a function returning logits. */
  model: Model;
  /** A built-in attack's name, or an attack function. */
  attack: AttackName | AttackFunction;
  /** The attack's own options (steps, alpha, variant, loss, bounds...), the same for every epsilon. */
  // biome-ignore lint/suspicious/noExplicitAny: the options of the chosen attack
  options?: Record<string, any>;
  data: RunData;
  /** The budgets to attack at, e.g. [0, 0.1, ..., 1]. Every example is attacked at every one. */
  epsilons: readonly number[];
  /** Examples per attack call (bounds memory). Default 100. Iterators' batches are used as they come. */
  batchSize?: number;
  /** The gradient source of gradient attacks. Default: the model's own (ownGradient(model)). */
  gradient?: GradientSource;
  /** Target labels (one per example) for a targeted attack over DatasetArrays; iterators give batch.target. */
  target?: ArrayLike<number>;
  /** Keep every adversarial example in the result (memory: examples x features x epsilons floats). Default false. */
  keepAdversarial?: boolean;
  /** Called after every attack call with that batch's results and adversarial images (e.g. to stream them to disk). */
  onBatch?: (report: BatchReport) => void | Promise<void>;
  onProgress?: (progress: RunProgress) => void;
  /** Aborts between steps and batches with an AttackAbortedError (name 'AbortError'). */
  signal?: AbortSignal;
  /** Base seed; each (batch, epsilon) call gets a seed derived from it. Default 0. */
  seed?: number;
  /** A success rate that falls by more than this between a smaller and a larger epsilon is flagged. Default 0.01. */
  tolerance?: number;
}

/** One epsilon's per-example results over the whole run (arrays of length `count`). */
export interface EpsilonResult {
  epsilon: number;
  /** 1 where the attack succeeded (untargeted: misclassified; targeted: classified as the target), re-predicted on the adversarial. */
  success: Uint8Array;
  /** 1 where the prediction on the adversarial equals the true label. */
  correctAfter: Uint8Array;
  predictions: Int32Array;
  /** Perturbation reached, per example. */
  linf: Float32Array;
  l2: Float32Array;
  /** Per example, gradient evaluations that returned an exactly-zero gradient (null for gradient-free attacks). */
  zeroGradientSteps: Int32Array | null;
  /** Mean of success over all examples. */
  successRate: number;
  /** Mean of correctAfter over all examples. */
  robustAccuracy: number;
  /** With keepAdversarial: [count * prod(exampleShape)], the input's layout. */
  adversarial?: Float32Array;
}

/** What runAttack returns: plain typed arrays, no tensors. */
export interface RunResult {
  attack: string;
  variant: Variant | null;
  norm: Norm | null;
  loss: LossName | null;
  targeted: boolean;
  /** The gradient source's label (null for gradient-free attacks) and kind. */
  gradientSource: string | null;
  gradientKind: GradientSource['kind'] | null;
  /** The attack's options as given (without epsilon). */
  options: Record<string, unknown>;
  epsilons: number[];
  /** Examples attacked. */
  count: number;
  exampleShape: number[];
  labels: Int32Array;
  target: Int32Array | null;
  cleanPredictions: Int32Array;
  /** 1 where the clean prediction equals the label. */
  cleanCorrect: Uint8Array;
  cleanAccuracy: number;
  /** In the order of `epsilons`. */
  perEpsilon: EpsilonResult[];
  /** Evidence of evaluation problems seen in this run. */
  flags: SanityFlag[];
  elapsedMs: number;
}

function isIterable(d: unknown): d is Iterable<DataBatch> | AsyncIterable<DataBatch> {
  return (
    d != null &&
    (typeof (d as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (d as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}

const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface NormalisedBatch {
  x: tf.Tensor;
  owned: boolean;
  y: LabelsInput;
  target?: ArrayLike<number>;
}

async function* batchesOf(
  data: RunData,
  batchSize: number,
  target: ArrayLike<number> | undefined,
): AsyncGenerator<NormalisedBatch> {
  const fn = 'runAttack';
  if (isIterable(data) && !('shape' in (data as object))) {
    let i = 0;
    for await (const b of data as AsyncIterable<DataBatch>) {
      if (b == null || typeof b !== 'object')
        throw new AttackInputError(fn, `data batch ${i}`, '{ x, y, shape? }', describe(b));
      if (b.x instanceof tf.Tensor) {
        yield { x: b.x, owned: false, y: b.y, target: b.target };
      } else if (b.x instanceof Float32Array) {
        const shape = b.shape;
        if (!shape || product(shape) !== b.x.length) {
          throw new AttackInputError(
            fn,
            `data batch ${i}: shape`,
            `[batch, ...] with ${b.x.length} values in all`,
            describe(shape),
          );
        }
        yield { x: tf.tensor(b.x, [...shape]), owned: true, y: b.y, target: b.target };
      } else {
        throw new AttackInputError(
          fn,
          `data batch ${i}: x`,
          'a Float32Array or a tf.Tensor',
          describe(b.x),
        );
      }
      i++;
    }
    return;
  }
  const d = data as Partial<DatasetArrays & DatasetImages>;
  const x = d.x ?? d.images;
  const y = d.y ?? d.labels;
  const shape = d.shape;
  if (!(x instanceof Float32Array))
    throw new AttackInputError(fn, 'data.x', 'a Float32Array (or data.images)', describe(x));
  if (!Array.isArray(shape) || shape.length < 2 || product(shape) !== x.length) {
    throw new AttackInputError(
      fn,
      'data.shape',
      `[examples, ...exampleShape] with ${x.length} values in all`,
      describe(shape),
    );
  }
  const n = shape[0]!;
  if (y == null || y.length !== n)
    throw new AttackInputError(fn, 'data.y', `${n} labels (shape[0])`, describe(y));
  if (target != null && target.length !== n)
    throw new AttackInputError(fn, 'target', `${n} target labels`, describe(target));
  const per = product(shape.slice(1));
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const xs = tf.tensor(x.subarray(start * per, end * per), [end - start, ...shape.slice(1)]);
    const slice = (a: ArrayLike<number>) => Array.prototype.slice.call(a, start, end) as number[];
    yield { x: xs, owned: true, y: slice(y), target: target ? slice(target) : undefined };
  }
}

function concat<T extends Uint8Array | Int32Array | Float32Array>(
  parts: T[],
  make: (n: number) => T,
): T {
  const out = make(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p as never, o);
    o += p.length;
  }
  return out;
}

/**
 * Attacks a whole dataset in batches at every epsilon in one call, and returns per-example
 * results as typed arrays (no tensors). Batches are loaded once and attacked at each epsilon in
 * turn; memory is bounded by batchSize (plus the adversarials when keepAdversarial is set).
 *
 * @example
 * const run = await runAttack({ model, attack: 'bim', data: { x, y, shape: [1000, 28, 28, 1] },
 *   epsilons: [0, 0.1, 0.2, 0.3], options: { steps: 10 } });
 * run.perEpsilon.map((e) => e.robustAccuracy);
 */
export async function runAttack(opts: RunAttackOptions): Promise<RunResult> {
  const fn = 'runAttack';
  const started = Date.now();
  if (opts == null || typeof opts !== 'object')
    throw new AttackInputError(fn, 'options', 'an object', describe(opts));
  const attackFn =
    typeof opts.attack === 'function' ? opts.attack : ATTACKS[opts.attack as AttackName];
  if (typeof attackFn !== 'function') {
    throw new AttackInputError(
      fn,
      'attack',
      `one of ${Object.keys(ATTACKS).join(', ')} or an attack function`,
      describe(opts.attack),
    );
  }
  const attackName = typeof opts.attack === 'function' ? opts.attack.name || 'custom' : opts.attack;
  const eps = opts.epsilons;
  if (
    !Array.isArray(eps) ||
    eps.length === 0 ||
    !eps.every((e) => typeof e === 'number' && Number.isFinite(e) && e >= 0)
  ) {
    throw new AttackInputError(
      fn,
      'epsilons',
      'a non-empty array of finite numbers >= 0',
      describe(eps),
    );
  }
  const batchSize = opts.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new AttackInputError(fn, 'batchSize', 'an integer >= 1', describe(batchSize));
  const tolerance = opts.tolerance ?? 0.01;
  const baseOptions = { ...(opts.options ?? {}) };
  for (const k of ['epsilon', 'signal', 'gradient', 'target'] as const) {
    if (k in baseOptions)
      throw new AttackInputError(
        fn,
        `options.${k}`,
        `absent: give ${k === 'epsilon' ? 'epsilons' : k} to runAttack itself`,
        'a value',
      );
  }
  const total =
    isIterable(opts.data) && !('shape' in (opts.data as object))
      ? undefined
      : (opts.data as DatasetArrays).shape?.[0];
  const baseSeed = opts.seed ?? (baseOptions.seed as number | undefined) ?? 0;

  const labels: Int32Array[] = [];
  const targets: Int32Array[] = [];
  const cleanPreds: Int32Array[] = [];
  const per = eps.map(() => ({
    success: [] as Uint8Array[],
    predictions: [] as Int32Array[],
    linf: [] as Float32Array[],
    l2: [] as Float32Array[],
    zero: [] as Int32Array[],
    adversarial: [] as Float32Array[],
    flags: new Map<string, SanityFlag>(),
  }));
  let exampleShape: number[] | null = null;
  let meta: AttackResult | null = null;
  let count = 0;
  let calls = 0;
  let batchIndex = 0;
  for await (const batch of batchesOf(opts.data, batchSize, opts.target)) {
    try {
      const n = batch.x.shape[0]!;
      const shape = batch.x.shape.slice(1);
      if (exampleShape && !tf.util.arraysEqual(exampleShape, shape)) {
        throw new AttackInputError(
          fn,
          `data batch ${batchIndex}`,
          `examples of shape [${exampleShape.join(', ')}] like the first batch`,
          `[${shape.join(', ')}]`,
        );
      }
      exampleShape = shape;
      for (let e = 0; e < eps.length; e++) {
        if (opts.signal?.aborted) throw new AttackAbortedError(fn, { cause: opts.signal.reason });
        const r = await attackFn(opts.model, batch.x, batch.y, {
          ...baseOptions,
          epsilon: eps[e],
          ...(opts.gradient ? { gradient: opts.gradient } : {}),
          ...(batch.target ? { target: batch.target } : {}),
          signal: opts.signal,
          seed: deriveSeed(baseSeed, batchIndex, e),
          // Pixels and logits are checked once per batch.
          validate: e === 0 ? baseOptions.validate : false,
        });
        let adv: Float32Array | null = null;
        try {
          if (opts.keepAdversarial || opts.onBatch)
            adv = (await r.adversarial.data()) as Float32Array;
        } finally {
          r.adversarial.dispose();
        }
        meta ??= r;
        if (e === 0) {
          labels.push(r.labels);
          cleanPreds.push(r.cleanPredictions);
          if (r.target) targets.push(r.target);
        }
        const acc = per[e]!;
        acc.success.push(r.success);
        acc.predictions.push(r.predictions);
        acc.linf.push(r.linf);
        acc.l2.push(r.l2);
        if (r.zeroGradientSteps) acc.zero.push(r.zeroGradientSteps);
        if (opts.keepAdversarial && adv) acc.adversarial.push(adv);
        for (const f of r.flags) {
          const prev = acc.flags.get(f.code);
          if (prev) prev.count = (prev.count ?? 0) + (f.count ?? 0);
          else acc.flags.set(f.code, { ...f });
        }
        calls++;
        if (opts.onBatch && adv) {
          const { adversarial: _, ...rest } = r;
          await opts.onBatch({
            batchIndex,
            offset: count,
            epsilon: eps[e]!,
            epsilonIndex: e,
            result: rest,
            adversarial: adv,
            exampleShape: shape,
          });
        }
        const examplesDone = count + (e === eps.length - 1 ? n : 0);
        opts.onProgress?.({
          calls,
          examplesDone,
          total,
          epsilon: eps[e]!,
          batchIndex,
          fraction: total ? (count * eps.length + (e + 1) * n) / (total * eps.length) : undefined,
          elapsedMs: Date.now() - started,
        });
      }
      count += n;
    } finally {
      if (batch.owned) batch.x.dispose();
    }
    batchIndex++;
  }
  if (count === 0 || !meta || !exampleShape)
    throw new AttackInputError(fn, 'data', 'at least one example', 'none');

  const allLabels = concat(labels, (n) => new Int32Array(n));
  const cleanPredictions = concat(cleanPreds, (n) => new Int32Array(n));
  const cleanCorrect = Uint8Array.from(cleanPredictions, (p, i) => (p === allLabels[i] ? 1 : 0));
  const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const flags: SanityFlag[] = [];
  const perEpsilon: EpsilonResult[] = per.map((acc, e) => {
    const predictions = concat(acc.predictions, (n) => new Int32Array(n));
    const success = concat(acc.success, (n) => new Uint8Array(n));
    const correctAfter = Uint8Array.from(predictions, (p, i) => (p === allLabels[i] ? 1 : 0));
    for (const f of acc.flags.values()) {
      if (f.code === 'zero-gradient') {
        f.message = `${f.count} of ${count} examples had an exactly-zero input gradient at one or more steps at epsilon ${eps[e]} (source '${meta!.gradientSource}'): gradient masking or a saturated loss; try loss: 'margin', another gradient source, or spsa/square.`;
      }
      flags.push(f);
    }
    const out: EpsilonResult = {
      epsilon: eps[e]!,
      success,
      correctAfter,
      predictions,
      linf: concat(acc.linf, (n) => new Float32Array(n)),
      l2: concat(acc.l2, (n) => new Float32Array(n)),
      zeroGradientSteps: acc.zero.length ? concat(acc.zero, (n) => new Int32Array(n)) : null,
      successRate: mean(success),
      robustAccuracy: mean(correctAfter),
    };
    if (opts.keepAdversarial) out.adversarial = concat(acc.adversarial, (n) => new Float32Array(n));
    return out;
  });
  flags.push(...monotonicityFlags(perEpsilon, tolerance, count));
  return {
    attack: attackName,
    variant: meta.variant ?? null,
    norm: meta.norm ?? null,
    loss: meta.loss ?? null,
    targeted: meta.targeted,
    gradientSource: meta.gradientSource,
    gradientKind: meta.gradientSource == null ? null : (opts.gradient?.kind ?? 'own'),
    options: baseOptions,
    epsilons: [...eps],
    count,
    exampleShape,
    labels: allLabels,
    target: targets.length ? concat(targets, (n) => new Int32Array(n)) : null,
    cleanPredictions,
    cleanCorrect,
    cleanAccuracy: mean(cleanCorrect),
    perEpsilon,
    flags,
    elapsedMs: Date.now() - started,
  };
}

/** Flags a success rate that falls (by more than tolerance) from a smaller to a larger epsilon. */
export function monotonicityFlags(
  perEpsilon: readonly EpsilonResult[],
  tolerance: number,
  count: number,
): SanityFlag[] {
  const sorted = [...perEpsilon].sort((a, b) => a.epsilon - b.epsilon);
  const flags: SanityFlag[] = [];
  let best = sorted[0];
  for (const cur of sorted.slice(1)) {
    if (!best) break;
    if (cur.epsilon > best.epsilon && cur.successRate < best.successRate - tolerance) {
      const lost = Math.round((best.successRate - cur.successRate) * count);
      flags.push({
        code: 'success-not-monotone',
        epsilon: cur.epsilon,
        count: lost,
        message:
          `success rate ${(cur.successRate * 100).toFixed(1)}% at epsilon ${cur.epsilon} is below ${(best.successRate * 100).toFixed(1)}% ` +
          `at the smaller epsilon ${best.epsilon}: a larger budget contains every smaller one, so the attack is not finding what exists ` +
          '(too few steps, a step size tied to epsilon, or a misleading gradient).',
      });
    }
    if (cur.successRate > best.successRate) best = cur;
  }
  return flags;
}

/** A RunResult with every typed array as a plain number array, for JSON.stringify. */
export type RunResultJSON = Omit<
  RunResult,
  'labels' | 'target' | 'cleanPredictions' | 'cleanCorrect' | 'perEpsilon'
> & {
  labels: number[];
  target: number[] | null;
  cleanPredictions: number[];
  cleanCorrect: number[];
  perEpsilon: (Omit<
    EpsilonResult,
    'success' | 'correctAfter' | 'predictions' | 'linf' | 'l2' | 'zeroGradientSteps' | 'adversarial'
  > & {
    success: number[];
    correctAfter: number[];
    predictions: number[];
    linf: number[];
    l2: number[];
    zeroGradientSteps: number[] | null;
    adversarial?: number[];
  })[];
};

/**
 * Converts a RunResult to plain arrays (JSON.stringify writes typed arrays as objects).
 * Adversarial images are left out unless `includeAdversarial` is set.
 */
export function runResultToJSON(
  run: RunResult,
  options: { includeAdversarial?: boolean } = {},
): RunResultJSON {
  const arr = (a: ArrayLike<number>) => Array.from(a);
  return {
    ...run,
    labels: arr(run.labels),
    target: run.target ? arr(run.target) : null,
    cleanPredictions: arr(run.cleanPredictions),
    cleanCorrect: arr(run.cleanCorrect),
    perEpsilon: run.perEpsilon.map(({ adversarial, ...e }) => ({
      ...e,
      success: arr(e.success),
      correctAfter: arr(e.correctAfter),
      predictions: arr(e.predictions),
      linf: arr(e.linf),
      l2: arr(e.l2),
      zeroGradientSteps: e.zeroGradientSteps ? arr(e.zeroGradientSteps) : null,
      ...(options.includeAdversarial && adversarial ? { adversarial: arr(adversarial) } : {}),
    })),
  };
}
