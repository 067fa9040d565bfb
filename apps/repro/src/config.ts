/**
 * The configuration of a reproduction run: presets, overrides from a JSON file and from
 * flags, and validation that names the bad field, what was expected and what was found,
 * before any work starts.
 */

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10';

/** Every dataset the app studies; the per-dataset settings are maps keyed by these. */
export const DATASETS: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10'];

import { FEEDBACK_MODES, type FeedbackMode } from '@fa-robust/fa-layers';

/** A learning rule: one of @fa-robust/fa-layers' feedback modes. */
export type Method = FeedbackMode;
/** The learning rules a study can train; 'bp' is the reference every other one is compared to. */
export const RULES: readonly Method[] = FEEDBACK_MODES;
export type PaperAttack = 'fgsm' | 'bim' | 'mifgsm';
export type PresetName = 'smoke' | 'quick' | 'paper' | 'benchmark';
export const PRESET_NAMES: readonly PresetName[] = ['smoke', 'quick', 'paper', 'benchmark'];

export interface ReproConfig {
  preset: PresetName;
  datasets: DatasetName[];
  /**
   * The learning rules trained and attacked, each a model of its own: 'bp' (the reference, whose
   * own gradient is the true one) and at least one other (the paper's: 'fa').
   */
  rules: Method[];
  /**
   * Seeds of a study over seeds: the whole study (models, attacks) once per seed, each in
   * `<outDir>/seed-<s>/`, then a summary across them (SUMMARY.md, summary.json). null: one
   * study with `seed`, in `outDir` itself.
   */
  seeds: number[] | null;
  /**
   * 'shared': a model's feedback matrices come from its seed, as its forward weights do (the
   * paper's runs); 'separate': from another seed (seed + 2000), so that a study over seeds
   * varies both independently.
   */
  feedbackSeeds: 'shared' | 'separate';
  /** Where MNIST / Fashion-MNIST / CIFAR-10 files are looked for first (else FA_ROBUST_DATA_DIR, cache, download). */
  dataDir: string | null;
  /** May the loaders download missing files. */
  download: boolean;
  outDir: string;
  seed: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  /**
   * Worker threads, each with its own tfjs, that train the models and run the attack steps
   * side by side: 'auto' = one per core (at most 8); 1 = everything in the main thread.
   * Results do not depend on it. With tfjs-node (already multi-threaded) 'auto' means 1.
   */
  workers: 'auto' | number;
  train: {
    /** Training images per dataset; null = the whole training set. */
    size: number | null;
    epochs: Record<DatasetName, number>;
    batchSize: number;
    optimizer: 'adam' | 'sgd' | 'momentum';
    learningRate: number;
    /** The learning rate per epoch (fa-layers' train schedule): constant, step or cosine. */
    schedule: TrainSchedule;
    /**
     * Weight mirroring's mirror (fa-layers' `mirrorRate`, `mirrorBatch`): a rate of its own and
     * the noise fields of each step, B ← (1 − rate)·B + rate·Ŵ before every step; absent or
     * null: B is trained through the optimizer. Only the wm models (and their steps) depend on it.
     */
    mirror?: { rate: number; batch: number } | null;
  };
  /** Test images attacked per dataset (the first N of the test set); null = all. */
  testSize: number | null;
  attacks: {
    names: PaperAttack[];
    epsilons: number[];
    iterations: number;
    /**
     * MI-FGSM's momentum decay; null = the paper's 0.8 with the paper's update rules, Dong et
     * al.'s 1.0 with the standard ones.
     */
    mu: number | null;
    /**
     * 'paper': the update rules as the paper's equations write them; 'standard': as their
     * authors define them (the attacks' own word; 'canonical', its former name here, is read
     * as 'standard' with a deprecation warning).
     */
    variant: 'paper' | 'standard';
    batchSize: number;
  };
  audit: AuditConfig;
}

/** A learning-rate schedule as a config file writes it (see @fa-robust/fa-layers' train). */
export type TrainSchedule =
  | { type: 'constant' }
  | { type: 'step'; milestones: number[]; factor: number }
  | { type: 'cosine'; min?: number };

/** The white-box attacks the audit runs through a network's own backward path (standard form). */
export type AuditAttack = 'fgsm' | 'bim' | 'mifgsm' | 'apgd';

/**
 * The evaluation under a stated threat model: L-inf balls of radius eps around test images,
 * pixels in [0, 1]. Every attack here runs in its standard, projected form on the same
 * images, so every cell is inside the ball (checked per cell) and results pair up per example.
 */
export interface AuditConfig {
  enabled: boolean;
  /** The in-ball eps grid per dataset, with the sanity points (0.5: a grey image is in every ball; 1). */
  epsilons: Record<DatasetName, number[]>;
  /** Test images every audit attack runs on (the first N; the same for all); null = testSize. */
  size: number | null;
  /** White-box attacks through each network's own backward path (standard, projected, clipped). */
  attacks: AuditAttack[];
  /** Steps of the audit's BIM / MI-FGSM (APGD and AutoAttack take their own defaults, 100). */
  iterations: number;
  /** AutoAttack (Croce & Hein 2020) through the true gradient (FA's twin; BP's own): its version, or 'none'. */
  autoattack: 'standard' | 'plus' | 'none';
  /** Gradient-free attack, on the same images. */
  gradientFree: 'spsa' | 'square' | 'none';
  /** Queries (Square) or iterations (SPSA) of the gradient-free attack. */
  gradientFreeBudget: number;
  /** Random-sign noise of radius eps, this many draws per example (0: none). */
  noise: number;
  /** Train an independent BP surrogate (another seed) and transfer from it. */
  surrogate: boolean;
  /** Examples over which feedback-path vs true input-gradient angles are measured. */
  alignmentSize: number;
  /**
   * Accuracy against PGD's steps and restarts at one eps per dataset, on the first `size`
   * images (does more compute still help?); null: not run.
   */
  curves: {
    epsilon: Record<DatasetName, number>;
    steps: number[];
    restarts: number[];
    /** Steps of each restart in the restarts curve. */
    restartSteps: number;
    size: number;
  } | null;
}

/** k/255 for each k: the CIFAR-10 convention for eps. */
const per255 = (...ks: number[]) => ks.map((k) => k / 255);
/** MNIST's in-ball grid (resolves the curve below 0.4), then the sanity points. */
const MNIST_AUDIT_EPS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 1];
/** CIFAR-10's: 1, 2, 4, 8, 16 / 255, then the sanity points. */
const CIFAR_AUDIT_EPS = [...per255(1, 2, 4, 8, 16), 0.5, 1];
/** Fashion-MNIST's (robust accuracy there is usually quoted at 0.1), then the sanity points. */
const FASHION_AUDIT_EPS = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1];

const grid = (n: number) => Array.from({ length: n + 1 }, (_, i) => Math.round((i / n) * 10) / 10);

export const PRESETS: Record<PresetName, ReproConfig> = {
  smoke: {
    preset: 'smoke',
    datasets: ['mnist', 'cifar10'],
    rules: ['bp', 'fa'],
    seeds: null,
    feedbackSeeds: 'shared',
    dataDir: null,
    download: true,
    outDir: 'out/smoke',
    seed: 1,
    backend: 'auto',
    workers: 'auto',
    train: {
      size: 512,
      epochs: { mnist: 1, 'fashion-mnist': 1, cifar10: 1 },
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 1e-3,
      schedule: { type: 'constant' },
    },
    testSize: 128,
    attacks: {
      names: ['fgsm', 'bim', 'mifgsm'],
      epsilons: [0, 0.3],
      iterations: 10,
      mu: null,
      variant: 'paper',
      batchSize: 128,
    },
    audit: {
      enabled: true,
      epsilons: { mnist: [0.1, 0.5], 'fashion-mnist': [0.1, 0.5], cifar10: [8 / 255, 0.5] },
      size: 64,
      attacks: ['fgsm', 'bim'],
      iterations: 10,
      autoattack: 'standard',
      gradientFree: 'square',
      gradientFreeBudget: 50,
      noise: 1,
      surrogate: true,
      alignmentSize: 32,
      curves: null,
    },
  },
  quick: {
    preset: 'quick',
    datasets: ['mnist', 'cifar10'],
    rules: ['bp', 'fa'],
    seeds: null,
    feedbackSeeds: 'shared',
    dataDir: null,
    download: true,
    outDir: 'out/quick',
    seed: 1,
    backend: 'auto',
    workers: 'auto',
    train: {
      size: 10000,
      epochs: { mnist: 2, 'fashion-mnist': 2, cifar10: 3 },
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 1e-3,
      schedule: { type: 'constant' },
    },
    testSize: 1000,
    attacks: {
      names: ['fgsm', 'bim', 'mifgsm'],
      epsilons: grid(5),
      iterations: 10,
      mu: null,
      variant: 'paper',
      batchSize: 250,
    },
    audit: {
      enabled: true,
      epsilons: {
        mnist: [0.1, 0.2, 0.3, 0.5, 1],
        'fashion-mnist': [0.05, 0.1, 0.2, 0.5, 1],
        cifar10: [...per255(2, 8), 0.5, 1],
      },
      size: 200,
      attacks: ['fgsm', 'bim', 'mifgsm', 'apgd'],
      iterations: 10,
      autoattack: 'standard',
      gradientFree: 'square',
      gradientFreeBudget: 300,
      noise: 10,
      surrogate: true,
      alignmentSize: 200,
      curves: {
        epsilon: { mnist: 0.1, 'fashion-mnist': 0.05, cifar10: 2 / 255 },
        steps: [1, 10, 100],
        restarts: [1, 2, 5],
        restartSteps: 10,
        size: 50,
      },
    },
  },
  paper: {
    preset: 'paper',
    datasets: ['mnist', 'cifar10'],
    rules: ['bp', 'fa'],
    seeds: null,
    feedbackSeeds: 'shared',
    dataDir: null,
    download: true,
    outDir: 'out/paper',
    seed: 1,
    backend: 'auto',
    workers: 'auto',
    train: {
      size: null,
      epochs: { mnist: 5, 'fashion-mnist': 5, cifar10: 10 },
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 1e-3,
      schedule: { type: 'constant' },
    },
    testSize: null,
    attacks: {
      names: ['fgsm', 'bim', 'mifgsm'],
      epsilons: grid(10),
      iterations: 10,
      mu: null,
      variant: 'paper',
      batchSize: 500,
    },
    audit: {
      enabled: true,
      epsilons: {
        mnist: MNIST_AUDIT_EPS,
        'fashion-mnist': FASHION_AUDIT_EPS,
        cifar10: CIFAR_AUDIT_EPS,
      },
      // 200 images keep the whole preset under 2 hours on 2 cores (1 h 54 min measured, from
      // scratch: BENCHMARKS.md; AutoAttack costs 15-20x PGD-100 on the images a model holds);
      // --audit-size 1000 narrows the intervals
      size: 200,
      attacks: ['fgsm', 'bim', 'mifgsm', 'apgd'],
      iterations: 10,
      autoattack: 'standard',
      gradientFree: 'square',
      gradientFreeBudget: 1000,
      noise: 10,
      surrogate: true,
      alignmentSize: 1000,
      curves: {
        epsilon: { mnist: 0.1, 'fashion-mnist': 0.05, cifar10: 2 / 255 },
        steps: [1, 10, 100, 1000],
        restarts: [1, 2, 5, 10],
        restartSteps: 10,
        size: 100,
      },
    },
  },
  /**
   * Every learning rule on MNIST, Fashion-MNIST and CIFAR-10 over three seeds (feedback matrices
   * seeded apart from the forward weights), each evaluated by the audit alone: own path, true
   * gradient (FGSM, BIM, AutoAttack), Square, transfer from a BP surrogate, noise, the sanity
   * points. Training: Adam 1e-3 with a cosine schedule, batch 64, the whole training set, 12
   * epochs on MNIST and Fashion-MNIST: the recipe study (results/recipes) measured FA at 98.10%
   * and 97.67% (seeds 1, 2) and DFA at 97.65% after 8 epochs, 0.4-0.7 points short of their
   * anchors, and FA 98.20%, DFA 98.20% after 12 (BP 99.13-99.17% after 8). Weight mirroring
   * mirrors with its own rate (0.5, 1,024 noise fields a step): through the optimizer its B
   * lags W and it trained like FA (97.98% on MNIST seed 1); with this mirror it came within 0.23
   * points of BP after one epoch (results/recipes/wm-probe).
   */
  benchmark: {
    preset: 'benchmark',
    datasets: ['mnist', 'fashion-mnist', 'cifar10'],
    rules: [...RULES],
    seeds: [1, 2, 3],
    feedbackSeeds: 'separate',
    dataDir: null,
    download: true,
    outDir: 'out/benchmark',
    seed: 1,
    backend: 'auto',
    workers: 'auto',
    train: {
      size: null,
      epochs: { mnist: 12, 'fashion-mnist': 12, cifar10: 10 },
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 1e-3,
      schedule: { type: 'cosine' },
      mirror: { rate: 0.5, batch: 1024 },
    },
    testSize: null,
    attacks: {
      names: [],
      epsilons: [0],
      iterations: 10,
      mu: null,
      variant: 'standard',
      batchSize: 500,
    },
    audit: {
      enabled: true,
      epsilons: {
        mnist: [0.1, 0.2, 0.3, 0.5],
        'fashion-mnist': [0.05, 0.1, 0.2, 0.5],
        cifar10: [...per255(2, 4, 8), 0.5],
      },
      size: 200,
      attacks: ['fgsm', 'bim', 'apgd'],
      iterations: 10,
      autoattack: 'standard',
      gradientFree: 'square',
      gradientFreeBudget: 1000,
      noise: 10,
      surrogate: true,
      alignmentSize: 1000,
      curves: null,
    },
  },
};

/** The largest seed: the BP surrogate's seed + 1000 must still be a 32-bit unsigned integer. */
export const MAX_SEED = 2 ** 32 - 1 - 1000;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    /** Where the bad value came from: a flag, a config file field, or a preset. */
    readonly field: string,
    readonly expected: string,
    readonly found: unknown,
    readonly source = 'config',
  ) {
    super(`${source}: ${field}: expected ${expected}, found ${JSON.stringify(found)}`);
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Deep-merges `over` into `base`, refusing keys `base` does not have (a typo in a config file
 * should be an error, not silently ignored).
 */
export function mergeConfig(
  base: ReproConfig,
  over: Record<string, unknown>,
  source: string,
): ReproConfig {
  const walk = (
    b: Record<string, unknown>,
    o: Record<string, unknown>,
    path: string,
  ): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...b };
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      // own keys only: 'constructor' or 'hasOwnProperty' are not fields of a config
      if (!Object.hasOwn(b, k))
        throw new ConfigError(
          p,
          `one of the known fields (${Object.keys(b).join(', ')})`,
          k,
          source,
        );
      // per-dataset maps (epochs, eps grids) merge shallowly: setting mnist keeps cifar10's
      const perDataset = ['epochs', 'epsilon', 'epsilons'].includes(k);
      out[k] =
        isObject(b[k]) && isObject(v) && !perDataset
          ? walk(b[k] as Record<string, unknown>, v, p)
          : v;
      if (perDataset && isObject(v) && isObject(b[k])) out[k] = { ...(b[k] as object), ...v };
    }
    return out;
  };
  return walk(base as unknown as Record<string, unknown>, over, '') as unknown as ReproConfig;
}

/** Checks every field; throws a ConfigError naming the first bad one. */
export function validateConfig(c: ReproConfig, source = 'config'): ReproConfig {
  const err = (field: string, expected: string, found: unknown) =>
    new ConfigError(field, expected, found, source);
  if (isObject(c.attacks) && (c.attacks.variant as string) === 'canonical') {
    process.emitWarning(
      `${source}: attacks.variant 'canonical' (--variant canonical) is now called 'standard', as @fa-robust/attacks names it; 'canonical' will be refused in a later version`,
      { type: 'DeprecationWarning', code: 'REPRO_VARIANT_CANONICAL' },
    );
    c = { ...c, attacks: { ...c.attacks, variant: 'standard' } };
  }
  const int = (field: string, v: unknown, min: number, nullable = false) => {
    if (nullable && v === null) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw err(field, `an integer >= ${min}${nullable ? ' or null' : ''}`, v);
    }
  };
  const num = (field: string, v: unknown, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      throw err(field, `a number in [${min}, ${max}]`, v);
  };
  const oneOf = <T extends string>(field: string, v: unknown, allowed: readonly T[]) => {
    if (!allowed.includes(v as T))
      throw err(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  };
  const list = <T extends string>(field: string, v: unknown, allowed: readonly T[]) => {
    if (!Array.isArray(v) || v.length === 0)
      throw err(field, `a non-empty list of ${allowed.join(', ')}`, v);
    v.forEach((x, i) => {
      oneOf(`${field}[${i}]`, x, allowed);
    });
    if (new Set(v).size !== v.length) throw err(field, 'no repeated entries', v);
  };
  const epsList = (field: string, v: unknown, allowEmpty = false) => {
    if (!Array.isArray(v) || (!allowEmpty && v.length === 0))
      throw err(field, 'a non-empty list of numbers in [0, 1]', v);
    v.forEach((x, i) => {
      num(`${field}[${i}]`, x, 0, 1);
    });
  };
  oneOf('preset', c.preset, PRESET_NAMES);
  list('datasets', c.datasets, DATASETS);
  list('rules', c.rules, RULES);
  if (!c.rules.includes('bp'))
    throw err(
      'rules',
      "a list with 'bp' (the reference: every other rule is compared to it)",
      c.rules,
    );
  if (c.rules.length < 2)
    throw err(
      'rules',
      `'bp' and at least one other of ${RULES.filter((r) => r !== 'bp').join(', ')}`,
      c.rules,
    );
  if (c.seeds !== null) {
    if (!Array.isArray(c.seeds) || c.seeds.length === 0)
      throw err('seeds', 'null or a non-empty list of seeds', c.seeds);
    c.seeds.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_SEED)
        throw err(`seeds[${i}]`, `an integer in [0, ${MAX_SEED}]`, x);
    });
    if (new Set(c.seeds).size !== c.seeds.length)
      throw err('seeds', 'no repeated entries', c.seeds);
  }
  oneOf('feedbackSeeds', c.feedbackSeeds, ['shared', 'separate'] as const);
  if (c.dataDir !== null && (typeof c.dataDir !== 'string' || c.dataDir === ''))
    throw err('dataDir', 'a folder path or null', c.dataDir);
  if (typeof c.download !== 'boolean') throw err('download', 'true or false', c.download);
  if (typeof c.outDir !== 'string' || c.outDir === '')
    throw err('outDir', 'a folder path', c.outDir);
  // the BP surrogate trains with seed + 1000: both must be 32-bit seeds
  if (typeof c.seed !== 'number' || !Number.isInteger(c.seed) || c.seed < 0 || c.seed > MAX_SEED)
    throw err('seed', `an integer in [0, ${MAX_SEED}] (the surrogate uses seed + 1000)`, c.seed);
  oneOf('backend', c.backend, ['auto', 'tensorflow', 'wasm', 'cpu'] as const);
  if (
    c.workers !== 'auto' &&
    (typeof c.workers !== 'number' ||
      !Number.isInteger(c.workers) ||
      c.workers < 1 ||
      c.workers > 64)
  ) {
    throw err('workers', "'auto' or an integer in [1, 64]", c.workers);
  }
  if (!isObject(c.train)) throw err('train', 'an object', c.train);
  int('train.size', c.train.size, 1, true);
  if (!isObject(c.train.epochs))
    throw err('train.epochs', `an object { ${DATASETS.join(', ')} }`, c.train.epochs);
  for (const d of c.datasets) int(`train.epochs.${d}`, c.train.epochs[d], 1);
  int('train.batchSize', c.train.batchSize, 1);
  oneOf('train.optimizer', c.train.optimizer, ['adam', 'sgd', 'momentum'] as const);
  num('train.learningRate', c.train.learningRate, 1e-8, 10);
  const sc = c.train.schedule as Record<string, unknown> | undefined;
  const scheduleOk =
    isObject(sc) &&
    (sc.type === 'constant' ||
      (sc.type === 'step' &&
        Array.isArray(sc.milestones) &&
        sc.milestones.every((m) => Number.isInteger(m) && (m as number) >= 1) &&
        typeof sc.factor === 'number' &&
        sc.factor > 0 &&
        sc.factor <= 1) ||
      (sc.type === 'cosine' &&
        (sc.min === undefined || (typeof sc.min === 'number' && sc.min >= 0))));
  if (!scheduleOk)
    throw err(
      'train.schedule',
      "{ type: 'constant' }, { type: 'step', milestones: [epochs >= 1], factor in (0, 1] } or { type: 'cosine', min? >= 0 }",
      sc,
    );
  const mirror = c.train.mirror as Record<string, unknown> | null | undefined;
  if (
    mirror != null &&
    !(
      isObject(mirror) &&
      typeof mirror.rate === 'number' &&
      mirror.rate > 0 &&
      mirror.rate <= 1 &&
      Number.isInteger(mirror.batch) &&
      (mirror.batch as number) >= 1 &&
      Object.keys(mirror).every((k) => k === 'rate' || k === 'batch')
    )
  )
    throw err('train.mirror', '{ rate in (0, 1], batch: an integer >= 1 } or null', mirror);
  int('testSize', c.testSize, 1, true);
  if (!isObject(c.attacks)) throw err('attacks', 'an object', c.attacks);
  // (an empty list: no paper part, the audit alone, as the benchmark runs)
  if (!(Array.isArray(c.attacks.names) && c.attacks.names.length === 0))
    list('attacks.names', c.attacks.names, ['fgsm', 'bim', 'mifgsm'] as const);
  epsList('attacks.epsilons', c.attacks.epsilons);
  int('attacks.iterations', c.attacks.iterations, 1);
  if (c.attacks.mu !== null) num('attacks.mu', c.attacks.mu, 0, 10);
  oneOf('attacks.variant', c.attacks.variant, ['paper', 'standard'] as const);
  int('attacks.batchSize', c.attacks.batchSize, 1);
  if (!isObject(c.audit)) throw err('audit', 'an object', c.audit);
  const a = c.audit;
  if (typeof a.enabled !== 'boolean') throw err('audit.enabled', 'true or false', a.enabled);
  if (Array.isArray(a.epsilons)) {
    // one list for every dataset (the former form)
    const list = a.epsilons as unknown as number[];
    c = {
      ...c,
      audit: { ...a, epsilons: Object.fromEntries(DATASETS.map((d) => [d, list])) as never },
    };
  }
  const eps = c.audit.epsilons;
  if (!isObject(eps))
    throw err(
      'audit.epsilons',
      `an object { ${DATASETS.map((d) => `${d}: [...]`).join(', ')} } or one list`,
      eps,
    );
  for (const d of DATASETS) {
    if (eps[d] === undefined && !c.datasets.includes(d)) continue;
    epsList(`audit.epsilons.${d}`, eps[d], !a.enabled || !c.datasets.includes(d));
    if (new Set(eps[d]).size !== eps[d].length)
      throw err(`audit.epsilons.${d}`, 'no repeated entries', eps[d]);
  }
  int('audit.size', a.size, 1, true);
  list('audit.attacks', a.attacks, ['fgsm', 'bim', 'mifgsm', 'apgd'] as const);
  int('audit.iterations', a.iterations, 1);
  oneOf('audit.autoattack', a.autoattack, ['standard', 'plus', 'none'] as const);
  oneOf('audit.gradientFree', a.gradientFree, ['spsa', 'square', 'none'] as const);
  int('audit.gradientFreeBudget', a.gradientFreeBudget, 1);
  int('audit.noise', a.noise, 0);
  if (typeof a.surrogate !== 'boolean') throw err('audit.surrogate', 'true or false', a.surrogate);
  int('audit.alignmentSize', a.alignmentSize, 1);
  if (a.curves !== null) {
    const cv = a.curves;
    if (!isObject(cv))
      throw err('audit.curves', 'null or { epsilon, steps, restarts, restartSteps, size }', cv);
    if (!isObject(cv.epsilon))
      throw err('audit.curves.epsilon', `an object { ${DATASETS.join(', ')} }`, cv.epsilon);
    for (const d of c.datasets) num(`audit.curves.epsilon.${d}`, cv.epsilon[d], 0, 1);
    for (const k of ['steps', 'restarts'] as const) {
      const v = cv[k];
      if (!Array.isArray(v) || v.length === 0)
        throw err(`audit.curves.${k}`, 'a non-empty list of integers >= 1', v);
      v.forEach((x, i) => {
        int(`audit.curves.${k}[${i}]`, x, 1);
      });
    }
    int('audit.curves.restartSteps', cv.restartSteps, 1);
    int('audit.curves.size', cv.size, 1);
  }
  return c;
}

export type { Json };
