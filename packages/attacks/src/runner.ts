import { concatTyped } from '@fa-robust/internal';
import * as tf from '@tensorflow/tfjs-core';
import { batchesOf, isIterable } from './batches.js';
import { monotonicityFlags } from './checks.js';
import { AttackAbortedError, AttackInputError, describe } from './errors.js';
import { attackOptionNames, checkOptionNames } from './options.js';
import { deriveSeed } from './random.js';
import { ATTACK_INFO, ATTACKS } from './registry.js';
import type {
  DatasetArrays,
  EpsilonResult,
  RunAttackOptions,
  RunResult,
  RunResultJSON,
} from './runner-types.js';
import type { AttackName, AttackResult, SanityFlag } from './types.js';

/** Every key of RunAttackOptions, once: a key added there without a line here fails to compile. */
const RUN_OPTIONS: Record<keyof RunAttackOptions, true> = {
  model: true,
  attack: true,
  options: true,
  data: true,
  epsilons: true,
  batchSize: true,
  gradient: true,
  target: true,
  keepAdversarial: true,
  onBatch: true,
  onProgress: true,
  signal: true,
  seed: true,
  tolerance: true,
};
const RUN_OPTION_NAMES = Object.keys(RUN_OPTIONS);
/** What the runner gives the attack itself, per call: not the attack's `options`. */
const RUNNER_SET = ['epsilon', 'signal', 'gradient', 'target'] as const;

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
  checkOptionNames(fn, '', opts, RUN_OPTION_NAMES, `${fn}'s options`);
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
  for (const k of RUNNER_SET) {
    if (k in baseOptions)
      throw new AttackInputError(
        fn,
        `options.${k}`,
        `absent: give ${k === 'epsilon' ? 'epsilons' : k} to runAttack itself`,
        'a value',
      );
  }
  // a built-in attack's options are checked here, before any data is read (a custom attack
  // function's are its own business); `norm` on a one-norm attack is left to the attack
  if (typeof opts.attack !== 'function') {
    const info = ATTACK_INFO[opts.attack];
    checkOptionNames(
      fn,
      'options',
      baseOptions,
      attackOptionNames(info).filter((k) => !(RUNNER_SET as readonly string[]).includes(k)),
      `${opts.attack}'s options`,
      (key) => key === 'norm' && !info.options.includes('norm'),
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

  const allLabels = concatTyped(labels, (n) => new Int32Array(n));
  const cleanPredictions = concatTyped(cleanPreds, (n) => new Int32Array(n));
  const cleanCorrect = Uint8Array.from(cleanPredictions, (p, i) => (p === allLabels[i] ? 1 : 0));
  const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const flags: SanityFlag[] = [];
  const perEpsilon: EpsilonResult[] = per.map((acc, e) => {
    const predictions = concatTyped(acc.predictions, (n) => new Int32Array(n));
    const success = concatTyped(acc.success, (n) => new Uint8Array(n));
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
      linf: concatTyped(acc.linf, (n) => new Float32Array(n)),
      l2: concatTyped(acc.l2, (n) => new Float32Array(n)),
      zeroGradientSteps: acc.zero.length ? concatTyped(acc.zero, (n) => new Int32Array(n)) : null,
      successRate: mean(success),
      robustAccuracy: mean(correctAfter),
    };
    if (opts.keepAdversarial)
      out.adversarial = concatTyped(acc.adversarial, (n) => new Float32Array(n));
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
    target: targets.length ? concatTyped(targets, (n) => new Int32Array(n)) : null,
    cleanPredictions,
    cleanCorrect,
    cleanAccuracy: mean(cleanCorrect),
    perEpsilon,
    flags,
    elapsedMs: Date.now() - started,
  };
}

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
