import { robustAccuracy } from './accuracy.js';
import type { GradientAlignment } from './alignment.js';
import { describe, ResultsValidationError } from './errors.js';
import { type MaskInput, sameLength, toMask } from './input.js';
import type { PerturbationStats } from './perturbation.js';
import { type Summary, summarize, wilsonInterval } from './stats.js';

/** The schema version this package writes and reads. */
export const RESULTS_SCHEMA_VERSION = 1 as const;

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Where the numbers were computed. */
export interface ResultsEnvironment {
  /** tfjs backend name: 'wasm', 'cpu', 'tensorflow', 'webgl'... */
  backend: string;
  /** Versions of what produced the numbers: node, @tensorflow/tfjs-core, @fa-robust/*... */
  versions: Record<string, string>;
  /** Anything else worth keeping (platform, CPU, SIMD, threads...). */
  [key: string]: JsonValue;
}

/** A model evaluated in the study. (dataset, id) is unique. */
export interface ModelRecord {
  dataset: string;
  /** Referenced by cells[].model and by sources 'transfer:<id>' of the same dataset. */
  id: string;
  /** Training method: 'bp', 'fa', 'dfa', 'sign-symmetry'... */
  method: string;
  /** Legend label. Default: the method in upper case ('BP', 'FA'). */
  label?: string;
  architecture?: string;
  seed?: number;
  /** Clean test accuracy in [0, 1]. */
  cleanAccuracy?: number;
  /** Anything else: epochs, optimiser, training time... */
  params?: JsonObject;
}

/**
 * One measured point: a model attacked by one attack at one epsilon with one gradient source,
 * on n examples. Counts are the truth; `accuracy`, `successRate` and the intervals are derived
 * from them and checked against them on validation.
 */
export interface ResultCell {
  dataset: string;
  /** The evaluated (target) model: a ModelRecord id of this dataset. */
  model: string;
  /** 'none' (clean), 'fgsm', 'bim', 'mifgsm', 'pgd', 'spsa', 'square'... */
  attack: string;
  /** A variant of the attack, e.g. 'paper' or 'projected' for MI-FGSM. */
  variant?: string;
  /** Perturbation norm. Default 'linf'. */
  norm?: 'linf' | 'l2';
  /** Perturbation budget in pixel units (pixels in [0, 1] for the paper). */
  epsilon: number;
  /**
   * Where the attack's gradient came from: 'own' (the model's own backward path, the paper's
   * setting), 'true' (the true gradient of its forward function), 'transfer:<id>' (examples
   * crafted on model <id> of the same dataset, then given to this one), 'none' (clean or
   * gradient-free), or another tag such as 'spsa'.
   */
  source: string;
  /** Examples evaluated. */
  n: number;
  /** Examples correct before the attack. */
  cleanCorrect: number;
  /** Examples correct after the attack. */
  correct: number;
  /** Examples correct before the attack and wrong after it. */
  successes: number;
  /** correct / n (adversarial accuracy on all examples, as the paper reports); null when n = 0. */
  accuracy: number | null;
  /** Wilson interval of `accuracy` at `confidence`. */
  accuracyInterval: [number, number];
  /** successes / cleanCorrect, or null when cleanCorrect = 0. */
  successRate: number | null;
  /** Wilson interval of `successRate` ([0, 1] when cleanCorrect = 0). */
  successInterval: [number, number];
  /** Confidence level of the intervals, e.g. 0.95. */
  confidence: number;
  /** Perturbation sizes over the n examples. */
  linf?: Summary;
  l2?: Summary;
  /** Adversarial examples with a pixel outside the valid range. */
  outOfBounds?: number;
  /** Attack parameters: steps, stepSize, mu, seed... */
  params?: JsonObject;
  /** Wall-clock seconds the attack took. */
  seconds?: number;
}

/** Gradient alignment of one model, summarised over examples. */
export interface AlignmentRecord {
  dataset: string;
  model: string;
  /** What was compared, e.g. 'own-vs-true': backward-path input gradient vs true gradient. */
  comparison: string;
  /** Examples compared (including zero-norm ones). */
  n: number;
  /** Examples where a gradient was all zeros (no angle). */
  zeroNorm: number;
  /** Angle in degrees. */
  angle: Summary;
  cosine: Summary;
  /** Histogram of the angles (degrees): edges has counts.length + 1 entries. */
  histogram: { edges: number[]; counts: number[] };
}

/** Robust accuracy: correct under every one of several attacks at one epsilon. */
export interface RobustRecord {
  dataset: string;
  model: string;
  epsilon: number;
  /** The attacks combined, as 'attack/source' or 'attack:variant/source' tags. */
  attacks: string[];
  n: number;
  correct: number;
  /** correct / n; null when n = 0. */
  accuracy: number | null;
  accuracyInterval: [number, number];
  confidence: number;
}

/** A results file, schema version 1. */
export interface Results {
  schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  /** ISO 8601 date-time, e.g. '2025-01-31T12:00:00.000Z'. */
  createdAt: string;
  title?: string;
  /** The full configuration that produced the numbers (any JSON object). */
  config: JsonObject;
  environment: ResultsEnvironment;
  models: ModelRecord[];
  cells: ResultCell[];
  alignment?: AlignmentRecord[];
  robust?: RobustRecord[];
  notes?: string[];
}

// ---------------------------------------------------------------------------------------------
// validation

const TOL = 1e-6;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

class Checker {
  constructor(readonly file: string | undefined) {}

  /** Throws; `foundText` replaces the automatic description of `found`. */
  fail(path: string, expected: string, found: unknown, foundText?: string): never {
    throw new ResultsValidationError(path, expected, foundText ?? describe(found), this.file);
  }

  object(path: string, v: unknown, known?: readonly string[]): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    const o = v as Record<string, unknown>;
    if (known) {
      for (const k of Object.keys(o)) {
        if (!known.includes(k))
          this.fail(
            `${path ? `${path}.` : ''}${k}`,
            `no such field (known: ${known.join(', ')})`,
            o[k],
          );
      }
    }
    return o;
  }

  string(path: string, v: unknown): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(path, 'a non-empty string', v);
    return v as string;
  }

  number(path: string, v: unknown, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)
      this.fail(path, `a number in [${lo}, ${hi}]`, v);
    return v as number;
  }

  integer(path: string, v: unknown, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      this.fail(path, `an integer in [${lo}, ${hi}]`, v);
    return v as number;
  }

  array(path: string, v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v as unknown[];
  }

  json(path: string, v: unknown): void {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) this.fail(path, 'a JSON value (finite numbers)', v);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        this.json(`${path}[${i}]`, x);
      });
      return;
    }
    if (
      typeof v === 'object' &&
      Object.getPrototypeOf(v) !== null &&
      Object.getPrototypeOf(v) !== Object.prototype
    ) {
      this.fail(path, 'a plain JSON object', v);
    }
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as object)) this.json(`${path}.${k}`, x);
      return;
    }
    this.fail(path, 'a JSON value', v);
  }

  close(path: string, found: number, expected: number, what: string): void {
    if (Math.abs(found - expected) > TOL)
      this.fail(path, `${what} = ${expected} (within ${TOL})`, found);
  }

  interval(path: string, v: unknown, count: number, n: number, confidence: number): void {
    const a = this.array(path, v);
    if (a.length !== 2) this.fail(path, '[lower, upper]', v);
    const lower = this.number(`${path}[0]`, a[0], 0, 1);
    const upper = this.number(`${path}[1]`, a[1], 0, 1);
    const w = wilsonInterval(count, n, { confidence });
    this.close(
      `${path}[0]`,
      lower,
      w.lower,
      `the Wilson lower bound of ${count}/${n} at ${confidence}`,
    );
    this.close(
      `${path}[1]`,
      upper,
      w.upper,
      `the Wilson upper bound of ${count}/${n} at ${confidence}`,
    );
  }

  summary(path: string, v: unknown): void {
    const keys = ['n', 'mean', 'std', 'min', 'q05', 'q25', 'median', 'q75', 'q95', 'max'] as const;
    const o = this.object(path, v, keys);
    const n = this.integer(`${path}.n`, o.n, 0, Number.MAX_SAFE_INTEGER);
    for (const k of keys.slice(1)) {
      const x = o[k];
      if (n === 0) {
        if (x !== null) this.fail(`${path}.${k}`, 'null (n is 0)', x);
      } else if (typeof x !== 'number' || !Number.isFinite(x)) {
        this.fail(`${path}.${k}`, 'a finite number', x);
      }
    }
    if (n > 0) {
      const order = ['min', 'q05', 'q25', 'median', 'q75', 'q95', 'max'] as const;
      for (let i = 1; i < order.length; i++) {
        const prev = o[order[i - 1]!] as number;
        const cur = o[order[i]!] as number;
        if (cur < prev - TOL)
          this.fail(`${path}.${order[i]}`, `a value >= ${order[i - 1]} (${prev})`, cur);
      }
      if ((o.std as number) < 0) this.fail(`${path}.std`, 'a number >= 0', o.std);
    }
  }
}

const TOP_KEYS = [
  'schemaVersion',
  'createdAt',
  'title',
  'config',
  'environment',
  'models',
  'cells',
  'alignment',
  'robust',
  'notes',
] as const;
const MODEL_KEYS = [
  'dataset',
  'id',
  'method',
  'label',
  'architecture',
  'seed',
  'cleanAccuracy',
  'params',
] as const;
const CELL_KEYS = [
  'dataset',
  'model',
  'attack',
  'variant',
  'norm',
  'epsilon',
  'source',
  'n',
  'cleanCorrect',
  'correct',
  'successes',
  'accuracy',
  'accuracyInterval',
  'successRate',
  'successInterval',
  'confidence',
  'linf',
  'l2',
  'outOfBounds',
  'params',
  'seconds',
] as const;
const ALIGN_KEYS = [
  'dataset',
  'model',
  'comparison',
  'n',
  'zeroNorm',
  'angle',
  'cosine',
  'histogram',
] as const;
const ROBUST_KEYS = [
  'dataset',
  'model',
  'epsilon',
  'attacks',
  'n',
  'correct',
  'accuracy',
  'accuracyInterval',
  'confidence',
] as const;
const BIG = Number.MAX_SAFE_INTEGER;

export interface ValidateOptions {
  /** The file the JSON came from, named in errors. */
  file?: string;
}

/** The key that identifies a cell: two cells with the same key are duplicates. */
export function cellKey(
  c: Pick<ResultCell, 'dataset' | 'model' | 'attack' | 'variant' | 'norm' | 'source' | 'epsilon'>,
): string {
  return JSON.stringify([
    c.dataset,
    c.model,
    c.attack,
    c.variant ?? null,
    c.norm ?? 'linf',
    c.source,
    normEps(c.epsilon),
  ]);
}

/** Epsilons compared at 12 significant digits, so 0.1 + 0.2 matches 0.3. */
export function normEps(e: number): number {
  return Number(e.toPrecision(12));
}

/**
 * Checks that `json` is a results object of schema version 1 and returns it typed. Refuses a
 * malformed one with a ResultsValidationError naming the path of the first bad field, e.g.
 * `cells[3].epsilon: expected a number in [0, 1000000], found "0.1"`. Besides types it checks
 * that counts agree (correct <= n, successes between cleanCorrect - correct and cleanCorrect...),
 * that accuracy, success rate and Wilson intervals match the counts, that every model a cell
 * names is listed in `models`, and that no cell is duplicated. Unknown fields are refused
 * (typos), except inside `config`, `environment` and `params`, which hold any JSON.
 */
export function validateResults(json: unknown, options: ValidateOptions = {}): Results {
  const c = new Checker(options.file);
  const top = c.object('', json, TOP_KEYS);
  if (top.schemaVersion !== RESULTS_SCHEMA_VERSION) {
    c.fail(
      'schemaVersion',
      `${RESULTS_SCHEMA_VERSION} (this version of @fa-robust/metrics reads schema 1)`,
      top.schemaVersion,
    );
  }
  const createdAt = c.string('createdAt', top.createdAt);
  if (!ISO_DATE.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    c.fail('createdAt', "an ISO 8601 date-time such as '2025-01-31T12:00:00.000Z'", createdAt);
  }
  if (top.title !== undefined) c.string('title', top.title);
  c.object('config', top.config);
  c.json('config', top.config);
  const env = c.object('environment', top.environment);
  c.json('environment', env);
  c.string('environment.backend', env.backend);
  const versions = c.object('environment.versions', env.versions);
  for (const [k, v] of Object.entries(versions)) c.string(`environment.versions.${k}`, v);

  const models = c.array('models', top.models);
  if (models.length === 0) c.fail('models', 'at least one model', models);
  const modelIds = new Set<string>();
  models.forEach((m, i) => {
    const p = `models[${i}]`;
    const o = c.object(p, m, MODEL_KEYS);
    const dataset = c.string(`${p}.dataset`, o.dataset);
    const id = c.string(`${p}.id`, o.id);
    c.string(`${p}.method`, o.method);
    if (o.label !== undefined) c.string(`${p}.label`, o.label);
    if (o.architecture !== undefined) c.string(`${p}.architecture`, o.architecture);
    if (o.seed !== undefined) c.integer(`${p}.seed`, o.seed, -BIG, BIG);
    if (o.cleanAccuracy !== undefined) c.number(`${p}.cleanAccuracy`, o.cleanAccuracy, 0, 1);
    if (o.params !== undefined) {
      c.object(`${p}.params`, o.params);
      c.json(`${p}.params`, o.params);
    }
    const key = JSON.stringify([dataset, id]);
    if (modelIds.has(key)) c.fail(`${p}.id`, `a model id unique within dataset '${dataset}'`, id);
    modelIds.add(key);
  });
  const checkModel = (path: string, dataset: string, id: string) => {
    if (!modelIds.has(JSON.stringify([dataset, id]))) {
      const listed = models
        .map((m) => m as ModelRecord)
        .filter((m) => m.dataset === dataset)
        .map((m) => `'${m.id}'`);
      c.fail(
        path,
        `a model of dataset '${dataset}' listed in models (${listed.join(', ') || 'none'})`,
        id,
      );
    }
  };

  const cells = c.array('cells', top.cells);
  const seen = new Map<string, number>();
  cells.forEach((cell, i) => {
    const p = `cells[${i}]`;
    const o = c.object(p, cell, CELL_KEYS);
    const dataset = c.string(`${p}.dataset`, o.dataset);
    checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
    c.string(`${p}.attack`, o.attack);
    if (o.variant !== undefined) c.string(`${p}.variant`, o.variant);
    if (o.norm !== undefined && o.norm !== 'linf' && o.norm !== 'l2')
      c.fail(`${p}.norm`, "'linf' or 'l2'", o.norm);
    c.number(`${p}.epsilon`, o.epsilon, 0, 1e6);
    const source = c.string(`${p}.source`, o.source);
    if (source.startsWith('transfer:')) {
      const from = source.slice('transfer:'.length);
      if (!from) c.fail(`${p}.source`, "'transfer:<model id>'", source);
      checkModel(`${p}.source`, dataset, from);
    }
    const n = c.integer(`${p}.n`, o.n, 0, BIG);
    const cleanCorrect = c.integer(`${p}.cleanCorrect`, o.cleanCorrect, 0, n);
    const correct = c.integer(`${p}.correct`, o.correct, 0, n);
    const successes = c.integer(`${p}.successes`, o.successes, 0, cleanCorrect);
    const minSucc = Math.max(0, cleanCorrect - correct);
    const maxSucc = Math.min(cleanCorrect, n - correct);
    if (successes < minSucc || successes > maxSucc) {
      c.fail(
        `${p}.successes`,
        `an integer in [${minSucc}, ${maxSucc}] given cleanCorrect=${cleanCorrect}, correct=${correct}, n=${n}`,
        successes,
      );
    }
    const confidence = c.number(`${p}.confidence`, o.confidence, 1e-9, 1 - 1e-9);
    if (n === 0) {
      if (o.accuracy !== null) c.fail(`${p}.accuracy`, 'null (n is 0)', o.accuracy);
    } else {
      const acc = c.number(`${p}.accuracy`, o.accuracy, 0, 1);
      c.close(`${p}.accuracy`, acc, correct / n, `correct/n = ${correct}/${n}`);
    }
    c.interval(`${p}.accuracyInterval`, o.accuracyInterval, correct, n, confidence);
    if (cleanCorrect === 0) {
      if (o.successRate !== null)
        c.fail(`${p}.successRate`, 'null (cleanCorrect is 0)', o.successRate);
    } else {
      const sr = c.number(`${p}.successRate`, o.successRate, 0, 1);
      c.close(
        `${p}.successRate`,
        sr,
        successes / cleanCorrect,
        `successes/cleanCorrect = ${successes}/${cleanCorrect}`,
      );
    }
    c.interval(`${p}.successInterval`, o.successInterval, successes, cleanCorrect, confidence);
    if (o.linf !== undefined) c.summary(`${p}.linf`, o.linf);
    if (o.l2 !== undefined) c.summary(`${p}.l2`, o.l2);
    if (o.outOfBounds !== undefined) c.integer(`${p}.outOfBounds`, o.outOfBounds, 0, n);
    if (o.params !== undefined) {
      c.object(`${p}.params`, o.params);
      c.json(`${p}.params`, o.params);
    }
    if (o.seconds !== undefined) c.number(`${p}.seconds`, o.seconds, 0, Number.MAX_VALUE);
    const key = cellKey(o as unknown as ResultCell);
    const prev = seen.get(key);
    if (prev !== undefined) {
      c.fail(
        p,
        `a unique (dataset, model, attack, variant, norm, source, epsilon)`,
        undefined,
        `the same as cells[${prev}]`,
      );
    }
    seen.set(key, i);
  });

  if (top.alignment !== undefined) {
    c.array('alignment', top.alignment).forEach((a, i) => {
      const p = `alignment[${i}]`;
      const o = c.object(p, a, ALIGN_KEYS);
      const dataset = c.string(`${p}.dataset`, o.dataset);
      checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
      c.string(`${p}.comparison`, o.comparison);
      const n = c.integer(`${p}.n`, o.n, 0, BIG);
      const zero = c.integer(`${p}.zeroNorm`, o.zeroNorm, 0, n);
      c.summary(`${p}.angle`, o.angle);
      c.summary(`${p}.cosine`, o.cosine);
      const angle = o.angle as Summary;
      if (angle.n !== n - zero) c.fail(`${p}.angle.n`, `n - zeroNorm = ${n - zero}`, angle.n);
      if ((o.cosine as Summary).n !== n - zero)
        c.fail(`${p}.cosine.n`, `n - zeroNorm = ${n - zero}`, (o.cosine as Summary).n);
      if (angle.n > 0) {
        c.number(`${p}.angle.min`, angle.min, 0, 180);
        c.number(`${p}.angle.max`, angle.max, 0, 180);
      }
      const h = c.object(`${p}.histogram`, o.histogram, ['edges', 'counts']);
      const edges = c.array(`${p}.histogram.edges`, h.edges);
      const counts = c.array(`${p}.histogram.counts`, h.counts);
      if (counts.length < 1) c.fail(`${p}.histogram.counts`, 'at least one bin', counts);
      if (edges.length !== counts.length + 1)
        c.fail(`${p}.histogram.edges`, `${counts.length + 1} edges (counts.length + 1)`, edges);
      let total = 0;
      edges.forEach((e, j) => {
        c.number(`${p}.histogram.edges[${j}]`, e, -1e6, 1e6);
        if (j > 0 && (e as number) <= (edges[j - 1] as number))
          c.fail(`${p}.histogram.edges[${j}]`, `a value > edges[${j - 1}]`, e);
      });
      counts.forEach((k, j) => {
        total += c.integer(`${p}.histogram.counts[${j}]`, k, 0, n);
      });
      if (total > n - zero)
        c.fail(
          `${p}.histogram.counts`,
          `counts summing to at most n - zeroNorm = ${n - zero}`,
          undefined,
          `a sum of ${total}`,
        );
    });
  }

  if (top.robust !== undefined) {
    c.array('robust', top.robust).forEach((r, i) => {
      const p = `robust[${i}]`;
      const o = c.object(p, r, ROBUST_KEYS);
      const dataset = c.string(`${p}.dataset`, o.dataset);
      checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
      c.number(`${p}.epsilon`, o.epsilon, 0, 1e6);
      const attacks = c.array(`${p}.attacks`, o.attacks);
      if (attacks.length === 0) c.fail(`${p}.attacks`, 'at least one attack', attacks);
      attacks.forEach((a, j) => {
        c.string(`${p}.attacks[${j}]`, a);
      });
      const n = c.integer(`${p}.n`, o.n, 0, BIG);
      const correct = c.integer(`${p}.correct`, o.correct, 0, n);
      const confidence = c.number(`${p}.confidence`, o.confidence, 1e-9, 1 - 1e-9);
      if (n === 0) {
        if (o.accuracy !== null) c.fail(`${p}.accuracy`, 'null (n is 0)', o.accuracy);
      } else {
        c.close(
          `${p}.accuracy`,
          c.number(`${p}.accuracy`, o.accuracy, 0, 1),
          correct / n,
          `correct/n = ${correct}/${n}`,
        );
      }
      c.interval(`${p}.accuracyInterval`, o.accuracyInterval, correct, n, confidence);
    });
  }

  if (top.notes !== undefined) {
    c.array('notes', top.notes).forEach((s, i) => {
      c.string(`notes[${i}]`, s);
    });
  }
  return json as Results;
}

/** JSON.parse + validateResults; a syntax error is reported as a ResultsValidationError too. */
export function parseResults(text: string, options: ValidateOptions = {}): Results {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ResultsValidationError('(file)', 'valid JSON', (e as Error).message, options.file);
  }
  return validateResults(json, options);
}

/** Reads and validates a results file (Node). */
export async function readResults(file: string): Promise<Results> {
  const { readFile } = await import('node:fs/promises');
  return parseResults(await readFile(file, 'utf8'), { file });
}

/** Validates, then writes a results file as indented JSON (Node); creates the folder. */
export async function writeResults(file: string, results: Results): Promise<void> {
  validateResults(results, { file });
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// building

export interface CreateResultsInput {
  config: JsonObject;
  environment: ResultsEnvironment;
  models: ModelRecord[];
  cells: ResultCell[];
  alignment?: AlignmentRecord[];
  robust?: RobustRecord[];
  title?: string;
  notes?: string[];
  /** Default: now. */
  createdAt?: string | Date;
}

/** A validated results object with schemaVersion and createdAt filled in. */
export function createResults(input: CreateResultsInput): Results {
  const { createdAt, alignment, robust, title, notes, ...rest } = input;
  const results: Results = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    createdAt:
      createdAt instanceof Date ? createdAt.toISOString() : (createdAt ?? new Date().toISOString()),
    ...(title !== undefined ? { title } : {}),
    ...rest,
    ...(alignment !== undefined ? { alignment } : {}),
    ...(robust !== undefined ? { robust } : {}),
    ...(notes !== undefined ? { notes } : {}),
  };
  // JSON round trip: drops undefined fields and refuses what JSON cannot hold.
  return validateResults(JSON.parse(JSON.stringify(results)));
}

export interface ResultCellInput {
  dataset: string;
  model: string;
  attack: string;
  variant?: string;
  norm?: 'linf' | 'l2';
  epsilon: number;
  source: string;
  /** Correct before the attack, per example. */
  cleanCorrect: MaskInput;
  /** Correct after the attack, per example (same examples, same order). */
  adversarialCorrect: MaskInput;
  /** Perturbation sizes, from perturbationStats (or per-example L-inf and L2 norms). */
  perturbation?: Pick<PerturbationStats, 'linf' | 'l2'> & { outOfBounds?: number };
  params?: JsonObject;
  seconds?: number;
  /** Default 0.95. */
  confidence?: number;
}

/** Builds a results cell from per-example correctness before and after an attack. */
export function resultCell(input: ResultCellInput): ResultCell {
  const clean = toMask('resultCell', 'cleanCorrect', input.cleanCorrect);
  const adv = toMask('resultCell', 'adversarialCorrect', input.adversarialCorrect);
  sameLength('resultCell', 'cleanCorrect', clean.length, 'adversarialCorrect', adv.length);
  const confidence = input.confidence ?? 0.95;
  let cleanCorrect = 0;
  let correct = 0;
  let successes = 0;
  for (let i = 0; i < clean.length; i++) {
    cleanCorrect += clean[i]!;
    correct += adv[i]!;
    if (clean[i] === 1 && adv[i] === 0) successes++;
  }
  const n = clean.length;
  const ai = wilsonInterval(correct, n, { confidence });
  const si = wilsonInterval(successes, cleanCorrect, { confidence });
  const cell: ResultCell = {
    dataset: input.dataset,
    model: input.model,
    attack: input.attack,
    ...(input.variant !== undefined ? { variant: input.variant } : {}),
    ...(input.norm !== undefined ? { norm: input.norm } : {}),
    epsilon: input.epsilon,
    source: input.source,
    n,
    cleanCorrect,
    correct,
    successes,
    accuracy: n === 0 ? null : correct / n,
    accuracyInterval: [ai.lower, ai.upper],
    successRate: cleanCorrect === 0 ? null : successes / cleanCorrect,
    successInterval: [si.lower, si.upper],
    confidence,
  };
  if (input.perturbation) {
    const p = input.perturbation;
    sameLength('resultCell', 'cleanCorrect', n, 'perturbation.linf', p.linf.length);
    sameLength('resultCell', 'cleanCorrect', n, 'perturbation.l2', p.l2.length);
    cell.linf = summarize(p.linf);
    cell.l2 = summarize(p.l2);
    if (p.outOfBounds !== undefined) cell.outOfBounds = p.outOfBounds;
  }
  if (input.params !== undefined) cell.params = input.params;
  if (input.seconds !== undefined) cell.seconds = input.seconds;
  return cell;
}

/** An alignment record from gradientAlignment's output. */
export function alignmentRecord(input: {
  dataset: string;
  model: string;
  comparison: string;
  alignment: GradientAlignment;
}): AlignmentRecord {
  const a = input.alignment;
  return {
    dataset: input.dataset,
    model: input.model,
    comparison: input.comparison,
    n: a.angle.length,
    zeroNorm: a.zeroNorm,
    angle: a.summary.angle,
    cosine: a.summary.cosine,
    histogram: { edges: [...a.histogram.edges], counts: [...a.histogram.counts] },
  };
}

/**
 * A robust-accuracy record from per-attack correctness masks at one epsilon: the keys of
 * `correct` are the attack tags written to `attacks`.
 */
export function robustRecord(input: {
  dataset: string;
  model: string;
  epsilon: number;
  correct: Readonly<Record<string, MaskInput>>;
  confidence?: number;
}): RobustRecord {
  const confidence = input.confidence ?? 0.95;
  const r = robustAccuracy(input.correct, { confidence });
  return {
    dataset: input.dataset,
    model: input.model,
    epsilon: input.epsilon,
    attacks: Object.keys(input.correct),
    n: r.n,
    correct: r.count,
    accuracy: r.n === 0 ? null : r.value,
    accuracyInterval: [r.lower, r.upper],
    confidence,
  };
}
