/**
 * Phase 3 of a dataset's study: the plan's attack steps, side by side on the workers (or in
 * this thread), each stored as it finishes so that a rerun continues where a run stopped.
 */
import { decodeStep, encodeStep, type StoredStep, StoredStepError } from './codec.js';
import { shareSplit } from './data.js';
import type { PhaseEnv } from './models.js';
import { type PlannedStep, stepCost } from './plan.js';
import { forEachConcurrent } from './pool.js';
import { formatDuration } from './progress.js';
import type { StepContext, StepOutput } from './steps.js';
import { attackStep } from './steps.js';
import type { CellStore, ShardSpec, StepOrigin } from './store.js';
import type { ContextMessage } from './worker.js';

export interface ExecuteEnv extends PhaseEnv {
  store: CellStore;
  /** What computes the steps here (recorded with each; a step stored by another backend is reported). */
  origin: StepOrigin;
  /** Compute nothing: a step the store does not hold gives no cells (counted in `missing`). */
  reportOnly?: boolean;
  /**
   * Compute only this shard's steps: the plan's distinct steps taken in turn, the j-th (from 0)
   * belonging to shard (j mod count) + 1. The others' are reused if stored, else counted in
   * `missing` and given no cells.
   */
  shard?: ShardSpec;
  /** The steps' context in this thread. */
  ctx: StepContext;
  /** The same context as the workers load it (model folders instead of models). */
  workerContext: Omit<ContextMessage, 'test'>;
}

export interface Executed {
  /** One per planned step, in plan order (not in the order they finished). */
  outputs: StepOutput[];
  computed: number;
  reused: number;
  /** Reused steps that another backend computed, by that backend. */
  otherBackends: Record<string, number>;
  /** Steps not in the store and not computed (report only). */
  missing: number;
}

/** Runs every step of `steps` that the store does not hold; returns all their outputs. */
export async function executeSteps(steps: PlannedStep[], env: ExecuteEnv): Promise<Executed> {
  const { store, pool, ctx, board, log, signal } = env;
  const dataset = ctx.dataset;
  const stored = new Map<string, StepOutput>();
  for (const s of steps) {
    const value = store.get<StoredStep>(s.key);
    if (value === undefined) continue;
    try {
      stored.set(s.key, decodeStep(value));
    } catch (e) {
      if (!(e instanceof StoredStepError)) throw e;
      // hand-edited or damaged, though it parses: keep the file for a look, compute the step
      const file = await store.setAsideKey(s.key);
      log(
        `${s.label}: its stored result ${file} is not valid (${e.message}); set aside as ${file}.unreadable, computing it again`,
      );
    }
  }
  // a step planned twice (a point two curves share) runs once
  const first = new Map<string, number>();
  steps.forEach((s, i) => {
    if (!first.has(s.key)) first.set(s.key, i);
  });
  const shard = env.shard;
  const turn = new Map([...first.keys()].map((k, j) => [k, j]));
  const mine = (key: string) => !shard || turn.get(key)! % shard.count === shard.index - 1;
  // what this run takes care of: its own steps, and those already stored
  const total = [...first.keys()].filter((k) => stored.has(k) || mine(k)).length;
  const overall = performance.now();
  // the time left is estimated from the work left, in gradient evaluations per image, not
  // from the count of steps (an FGSM step costs a tenth of a BIM one)
  const costLeft = [...new Map(steps.map((s) => [s.key, s])).values()]
    .filter((s) => !stored.has(s.key) && mine(s.key))
    .reduce((sum, s) => sum + stepCost(s.spec), 0);
  let costDone = 0;
  let done = 0;
  let computed = 0;
  let reused = 0;
  let missing = 0;
  const otherBackends: Record<string, number> = {};
  if (env.reportOnly) {
    const outputs = steps.map((s) => stored.get(s.key) ?? { cells: [], masks: [] });
    const missing = [...first.keys()].filter((k) => !stored.has(k)).length;
    return { outputs, computed: 0, reused: first.size - missing, otherBackends: {}, missing };
  }
  if (pool && steps.some((s) => !stored.has(s.key) && mine(s.key))) {
    await pool.broadcast({
      type: 'context',
      context: { ...env.workerContext, test: shareSplit(ctx.test) },
    });
  }
  const outputs: StepOutput[] = new Array(steps.length);
  await forEachConcurrent(steps, pool?.size ?? 1, async (step, i) => {
    signal?.throwIfAborted();
    if (first.get(step.key) !== i) return;
    const had = stored.get(step.key);
    if (had) {
      outputs[i] = had;
      done++;
      reused++;
      const from = store.origin(step.key)?.backend;
      if (from && from !== env.origin.backend) otherBackends[from] = (otherBackends[from] ?? 0) + 1;
      return;
    }
    if (!mine(step.key)) {
      outputs[i] = { cells: [], masks: [] }; // another shard's, not stored yet
      missing++;
      return;
    }
    // eps = 0 needs no attack (the clean images are the answer): no progress to show
    const bar = step.spec.eps > 0 ? board.task(step.label, 'img') : undefined;
    const hooks = { ...(bar ? { onProgress: bar } : {}), ...(signal ? { signal } : {}) };
    const out =
      pool && step.spec.eps > 0
        ? await pool.run<StepOutput>({ type: 'attack', spec: step.spec }, hooks)
        : await attackStep(ctx, step.spec, hooks);
    bar?.finish();
    await store.put(step.key, encodeStep(out), env.origin);
    outputs[i] = out;
    done++;
    computed++;
    costDone += stepCost(step.spec);
    const rate = (performance.now() - overall) / 1000 / Math.max(costDone, 1);
    log(
      `[${done}/${total}] ${step.label}: done; about ${formatDuration(rate * (costLeft - costDone))} left for ${dataset}`,
    );
  });
  steps.forEach((s, i) => {
    outputs[i] ??= outputs[first.get(s.key)!]!;
  });
  for (const [b, count] of Object.entries(otherBackends))
    log(
      `${dataset}: ${count} reused steps were computed on the ${b} backend, not ${env.origin.backend}: their numbers are ${b}'s (results.json records it; a fresh --out recomputes them here)`,
    );
  return { outputs, computed, reused, otherBackends, missing };
}
