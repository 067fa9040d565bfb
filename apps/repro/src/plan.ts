/**
 * The plan of a study: from the configuration and what the dataset holds, the models to train
 * and the attack steps to run, each with the key its result is stored under. Pure: it knows
 * nothing of workers, files or tensors, so what a configuration runs can be read (and tested)
 * without running it.
 */
import { attackInfo, type Variant } from '@fa-robust/attacks';
import type { AuditAttack, DatasetName, Method, ReproConfig, TrainSchedule } from './config.js';
import { hash } from './hash.js';
import type { AttackStepSpec, TrainSpec } from './steps.js';

/** A model of the study: trained once per configuration, then reused. */
export interface ModelSpec {
  id: string;
  method: Method;
  seed: number;
  /** Seeds the feedback side apart from `seed` (config.feedbackSeeds 'separate'); absent: `seed`. */
  feedbackSeed?: number;
  /** wm: its mirror's own rate and noise fields (config.train.mirror); absent: through the optimizer. */
  mirror?: { rate: number; batch: number };
}

/** The feedback seed of a model with forward seed `seed` when feedback seeds are separate. */
export const feedbackSeedOf = (seed: number) => (seed + 2000) % 2 ** 32;

/**
 * What a step is for: the paper's figures (its equations, its grid), the audit's in-ball
 * evaluation (its cells feed robust accuracy, the verdict and the checks), or a point of an
 * accuracy-vs-steps/restarts curve (it becomes a CurveRecord, not a cell).
 */
export type StepRole = 'paper' | 'audit' | 'curve';

/** One attack step of the plan, under the key its stored result is found by. */
export interface PlannedStep {
  key: string;
  /** What the progress display calls it. */
  label: string;
  role: StepRole;
  /** For a curve point: which curve, and its x. */
  curve?: { parameter: 'steps' | 'restarts'; value: number };
  spec: AttackStepSpec;
}

/** Everything that decides a model's weights, except its own spec (hashed into its folder). */
export interface TrainConfig {
  size: number | null;
  epochs: number;
  batchSize: number;
  optimizer: TrainSpec['optimizer'];
  learningRate: number;
  /** Absent for a constant rate (so the models of earlier runs keep their folders). */
  schedule?: TrainSchedule;
}

/** What one dataset's part of a study does. */
export interface DatasetPlan {
  dataset: DatasetName;
  train: TrainConfig;
  models: ModelSpec[];
  steps: PlannedStep[];
  /** Each studied rule's own-path vs true input-gradient angles; empty without the audit. */
  alignments: { model: string; key: string; n: number }[];
  /** The eps values at which robust accuracy is assembled (the audit's). */
  robustEpsilons: number[];
  /** Images every audit step runs on (the first N of the test set); 0 without the audit. */
  auditSize: number;
}

/** The id of the independently trained BP network examples are transferred from. */
export const SURROGATE_ID = 'bp-surrogate';

/** The attacks' own word for the configuration's choice of update rules. */
export function attackVariant(config: ReproConfig): Variant {
  return config.attacks.variant === 'paper' ? 'paper' : 'standard';
}

/** MI-FGSM's decay: the configured one, else the paper's 0.8 for its rules and Dong et al.'s 1.0 for the standard ones. */
export function momentumDecay(config: ReproConfig, variant: Variant): number {
  return config.attacks.mu ?? (variant === 'paper' ? 0.8 : 1);
}

/** The model whose own gradient is the true one and that the verdict compares FA against. */
export const REFERENCE_ID = 'bp';

/** AutoAttack is run by the app as a cascade (not a runAttack name): its description. */
export const AUTOATTACK = 'autoattack' as const;

/** The models of a study: one per rule (BP first), and the BP surrogate when the audit transfers from one. */
export function planModels(config: ReproConfig): ModelSpec[] {
  const mirror = config.train.mirror;
  const spec = (id: string, method: Method, seed: number): ModelSpec => ({
    id,
    method,
    seed,
    ...(config.feedbackSeeds === 'separate' ? { feedbackSeed: feedbackSeedOf(seed) } : {}),
    ...(method === 'wm' && mirror != null
      ? { mirror: { rate: mirror.rate, batch: mirror.batch } }
      : {}),
  });
  const specs: ModelSpec[] = [
    spec('bp', 'bp', config.seed),
    ...subjects(config).map((r) => spec(r, r, config.seed)),
  ];
  if (config.audit.enabled && config.audit.surrogate)
    specs.push(spec(SURROGATE_ID, 'bp', config.seed + 1000));
  return specs;
}

/** The rules studied against BP (the paper's: 'fa'), in the configuration's order. */
export function subjects(config: Pick<ReproConfig, 'rules'>): Method[] {
  return config.rules.filter((r) => r !== REFERENCE_ID);
}

/**
 * Whether a study is the paper's pair (BP and FA only): its steps keep the keys they had before
 * studies could hold other rules (the targets of a step were not hashed then), so that stored
 * results are read back; any other set of rules hashes each step's targets too.
 */
function paperPair(config: Pick<ReproConfig, 'rules'>): boolean {
  const s = subjects(config);
  return s.length === 1 && s[0] === 'fa';
}

export function trainConfig(config: ReproConfig, dataset: DatasetName): TrainConfig {
  return {
    size: config.train.size,
    epochs: config.train.epochs[dataset],
    batchSize: config.train.batchSize,
    optimizer: config.train.optimizer,
    learningRate: config.train.learningRate,
    ...(config.train.schedule.type === 'constant' ? {} : { schedule: config.train.schedule }),
  };
}

/**
 * What trains the models a step involves beyond the configuration's common settings (wm's
 * mirror), by id, for the step's hash: a model trained otherwise gets its steps recomputed. {}
 * when no involved model has any, so that every other step keeps its key.
 */
function modelExtras(
  models: readonly ModelSpec[],
  ids: readonly string[],
): { models?: Record<string, unknown> } {
  const extra = Object.fromEntries(
    ids.flatMap((id) => {
      const m = models.find((x) => x.id === id);
      return m?.mirror ? [[id, { mirror: m.mirror }]] : [];
    }),
  );
  return Object.keys(extra).length ? { models: extra } : {};
}

/** The folder name a model is saved under: its dataset, id and the hash of what trains it. */
export function modelFolder(dataset: DatasetName, spec: ModelSpec, train: TrainConfig): string {
  return `${dataset}-${spec.id}-${hash({ dataset, ...spec, train }).slice(0, 12)}`;
}

/**
 * The work of a step in input-gradient evaluations, from the attack's own cost per example; a
 * forward-only query is measured at about half a gradient evaluation (paper preset, MNIST:
 * BIM-10 on 10,000 images 40 s, Square-1000 on 1,000 images 186 s). Used for the ETA only.
 */
export function stepCost(spec: AttackStepSpec): number {
  if (spec.eps === 0) return 0;
  // AutoAttack: APGD-CE's 100 steps on every image, then the rest on the few left (measured
  // 0.9-5x PGD-100 on these LeNets: BENCHMARKS.md)
  if (spec.attack === AUTOATTACK) return spec.n * 300;
  const steps = spec.params.steps;
  const restarts = typeof spec.params.restarts === 'number' ? spec.params.restarts : 1;
  const cost = attackInfo(spec.attack).cost(typeof steps === 'number' ? { steps } : {});
  return spec.n * restarts * (cost.gradients + cost.forwards / 2);
}

/** The plan of one dataset's study, given how many test images it has. */
export function planDataset(config: ReproConfig, dataset: DatasetName, nTest: number): DatasetPlan {
  const train = trainConfig(config, dataset);
  const models = planModels(config);
  const variant = attackVariant(config);
  const bs = config.attacks.batchSize;
  // what decides the models and the images a step sees (the feedback seeds only when they are
  // separate, so that the paper's stored steps keep their keys)
  const dataKey = {
    dataset,
    train,
    testSize: config.testSize,
    seed: config.seed,
    ...(config.feedbackSeeds === 'separate' ? { feedbackSeeds: 'separate' } : {}),
  };
  // an attack's revision (when it has one) is hashed too: a fixed attack is not read back from
  // the store of its earlier version
  const pair = paperPair(config);
  const stepHash = (
    attack: AttackStepSpec['attack'],
    params: unknown,
    extra: Record<string, unknown> = {},
  ) => {
    const revision = attack === AUTOATTACK ? undefined : attackInfo(attack).revision;
    return hash({ dataKey, params, ...extra, ...(revision ? { revision } : {}), bs }).slice(0, 12);
  };

  // The parameters that define a cell (stored with it), and the options the attack takes.
  const paramsOf = (name: AttackStepSpec['attack'], eps: number) => {
    const takes = attackInfo(name).options;
    return {
      variant,
      ...(takes.includes('steps') ? { steps: config.attacks.iterations } : {}),
      ...(takes.includes('decay') ? { decay: momentumDecay(config, variant) } : {}),
      epsilon: eps,
      seed: config.seed,
    };
  };
  // The paper's equations score the final iterate; the standard attacks keep the best one found.
  const optionsOf = (name: AttackStepSpec['attack'], eps: number) => {
    const { epsilon: _e, seed: _s, ...rest } = paramsOf(name, eps);
    return { ...rest, keepBest: variant !== 'paper' };
  };
  const gradientStep = (
    name: AttackStepSpec['attack'],
    eps: number,
    what: string,
    label: string,
    spec: Pick<AttackStepSpec, 'source' | 'gradientTag' | 'targets' | 'trueGradient'>,
  ): PlannedStep => {
    const params = paramsOf(name, eps);
    const h = stepHash(name, params, {
      ...(pair ? {} : { targets: spec.targets }),
      ...modelExtras(models, [spec.source, ...spec.targets]),
    });
    return {
      key: `${dataset}/${name}/${variant}/eps=${eps}/${what}/${h}`,
      label,
      role: 'paper',
      spec: { attack: name, eps, n: nTest, params, options: optionsOf(name, eps), ...spec },
    };
  };

  const studied = subjects(config);
  const steps: PlannedStep[] = [];
  // 1. the paper: white-box through each network's own backward path, and transferred, with
  // its update rules, on its grid. These cells are drawn as the paper's figures; they feed no
  // verdict (the paper's MI-FGSM leaves its ball, its FGSM and BIM the pixel range).
  for (const name of config.attacks.names) {
    for (const eps of config.attacks.epsilons) {
      const pairs: [string, string[]][] = [
        [REFERENCE_ID, studied],
        ...studied.map((r): [string, string[]] => [r, [REFERENCE_ID]]),
      ];
      for (const [source, targets] of pairs) {
        steps.push(
          gradientStep(
            name,
            eps,
            `own-gradient-of=${source}`,
            `${dataset} ${name} eps=${eps} on ${source} (and transferred to ${targets.join(', ')})`,
            { source, gradientTag: 'own', targets },
          ),
        );
      }
    }
  }
  if (!config.audit.enabled) {
    return { dataset, train, models, steps, alignments: [], robustEpsilons: [], auditSize: 0 };
  }
  steps.push(...planAudit(config, dataset, nTest, models, dataKey));
  const nAlign = Math.min(config.audit.alignmentSize, nTest);
  return {
    dataset,
    train,
    models,
    steps,
    alignments: subjects(config).map((model) => ({
      model,
      key: `${dataset}/alignment/${model}/${hash({ dataKey, n: nAlign, ...modelExtras(models, [model]) }).slice(0, 12)}`,
      n: nAlign,
    })),
    robustEpsilons: [...config.audit.epsilons[dataset]].sort((a, b) => a - b),
    auditSize: auditSize(config, nTest),
  };
}

/** Images every audit step runs on. */
export function auditSize(config: ReproConfig, nTest: number): number {
  return Math.min(config.audit.size ?? config.testSize ?? nTest, nTest);
}

/**
 * 2. The audit: an evaluation under a stated threat model (L-inf ball of radius eps, pixels in
 * [0, 1]), every attack in its standard projected form, on the same first `size` images:
 * - each network's own backward path (FGSM, BIM, MI-FGSM with Dong et al.'s decay 1.0, APGD),
 *   its examples given to the other network;
 * - FA through its true gradient (its BP twin): FGSM and BIM, and AutoAttack, whose examples
 *   are also given to BP; BP under AutoAttack through its own (= true) gradient;
 * - examples transferred from an independently trained BP surrogate;
 * - a gradient-free attack (below the sanity eps 0.5), and random-sign noise of the same
 *   radius, on both networks;
 * - PGD accuracy against its steps and its restarts at one eps (does more compute help?).
 */
function planAudit(
  config: ReproConfig,
  dataset: DatasetName,
  nTest: number,
  models: ModelSpec[],
  dataKey: unknown,
): PlannedStep[] {
  const a = config.audit;
  const n = auditSize(config, nTest);
  const bs = config.attacks.batchSize;
  const seed = config.seed;
  const steps: PlannedStep[] = [];
  const studied = subjects(config);
  const pair = paperPair(config);
  const step = (
    role: StepRole,
    attack: AttackStepSpec['attack'],
    eps: number,
    spec: Pick<AttackStepSpec, 'source' | 'gradientTag' | 'targets' | 'trueGradient'> & {
      options: Record<string, number | string | boolean>;
      n?: number;
    },
    label: string,
    curve?: PlannedStep['curve'],
  ): PlannedStep => {
    const count = spec.n ?? n;
    const takesVariant = attack !== AUTOATTACK && attackInfo(attack).options.includes('variant');
    const params = {
      ...(takesVariant ? { variant: 'standard' } : {}),
      ...spec.options,
      epsilon: eps,
      seed,
    };
    const what = `${spec.trueGradient ? 'true' : spec.gradientTag === 'none' ? 'model' : 'own'}-of=${spec.source}`;
    const revision = attack === AUTOATTACK ? undefined : attackInfo(attack).revision;
    const h = hash({
      dataKey,
      params,
      n: count,
      ...(revision ? { revision } : {}),
      bs,
      ...(pair ? {} : { targets: spec.targets }),
      ...modelExtras(models, [spec.source, ...spec.targets]),
    });
    return {
      key: `${dataset}/${role}/${attack}/eps=${eps}/${what}/${h.slice(0, 12)}`,
      label: `${dataset} ${label}`,
      role,
      ...(curve ? { curve } : {}),
      spec: {
        attack,
        eps,
        n: count,
        source: spec.source,
        gradientTag: spec.gradientTag,
        targets: spec.targets,
        ...(spec.trueGradient ? { trueGradient: true } : {}),
        params,
        // the standard rules keep the best adversarial found at any step
        options: { ...(takesVariant ? { variant: 'standard' } : {}), ...spec.options },
      },
    };
  };
  const optionsOf = (name: AuditAttack): Record<string, number> => {
    if (name === 'bim') return { steps: a.iterations };
    if (name === 'mifgsm') return { steps: a.iterations, decay: momentumDecay(config, 'standard') };
    return {};
  };
  const surrogate = models.some((m) => m.id === SURROGATE_ID);
  const gf = a.gradientFree;
  for (const eps of [...a.epsilons[dataset]].sort((x, y) => x - y)) {
    for (const name of a.attacks) {
      const pairs: [string, string[]][] = [
        [REFERENCE_ID, studied],
        ...studied.map((r): [string, string[]] => [r, [REFERENCE_ID]]),
      ];
      for (const [source, targets] of pairs) {
        // BP's APGD-CE is AutoAttack's first stage, through the same (own = true) gradient
        if (name === 'apgd' && source === REFERENCE_ID && a.autoattack !== 'none') continue;
        steps.push(
          step(
            'audit',
            name,
            eps,
            { source, gradientTag: 'own', targets, options: optionsOf(name) },
            `${name} eps=${eps} on ${source}, own path, in-ball (and transferred to ${targets.join(', ')})`,
          ),
        );
      }
      // each rule's true gradient: the single-step and iterative attacks (AutoAttack below is
      // the strongest); their examples also go to BP
      if (name === 'fgsm' || name === 'bim') {
        for (const r of studied)
          steps.push(
            step(
              'audit',
              name,
              eps,
              {
                source: r,
                gradientTag: 'true',
                trueGradient: true,
                targets: [REFERENCE_ID],
                options: optionsOf(name),
              },
              `${name} eps=${eps} on ${r}, true gradient, in-ball (and transferred to bp)`,
            ),
          );
      }
      if (surrogate && name !== 'apgd') {
        const targets = [...studied, REFERENCE_ID];
        steps.push(
          step(
            'audit',
            name,
            eps,
            { source: SURROGATE_ID, gradientTag: 'own', targets, options: optionsOf(name) },
            `${name} eps=${eps} on the BP surrogate, transferred to ${targets.join(' and ')}`,
          ),
        );
      }
    }
    if (a.autoattack !== 'none') {
      const options = { version: a.autoattack };
      for (const r of studied)
        steps.push(
          step(
            'audit',
            AUTOATTACK,
            eps,
            {
              source: r,
              gradientTag: 'true',
              trueGradient: true,
              targets: [REFERENCE_ID],
              options,
            },
            `AutoAttack (${a.autoattack}) eps=${eps} on ${r}, true gradient (and transferred to bp)`,
          ),
        );
      steps.push(
        step(
          'audit',
          AUTOATTACK,
          eps,
          { source: REFERENCE_ID, gradientTag: 'own', targets: studied, options },
          `AutoAttack (${a.autoattack}) eps=${eps} on bp (and transferred to ${studied.join(', ')})`,
        ),
      );
    }
    for (const id of [...studied, REFERENCE_ID]) {
      // (not at the sanity points, eps >= 0.5, where a grey image is in every ball: the
      // white-box attacks there say what they must; the costly queries buy nothing)
      if (gf !== 'none' && eps < 0.5) {
        steps.push(
          step(
            'audit',
            gf,
            eps,
            {
              source: id,
              gradientTag: 'none',
              targets: [],
              options: { steps: a.gradientFreeBudget },
            },
            `${gf} eps=${eps} on ${id} (gradient-free, ${a.gradientFreeBudget} queries)`,
          ),
        );
      }
      if (a.noise > 0) {
        steps.push(
          step(
            'audit',
            'noise',
            eps,
            { source: id, gradientTag: 'none', targets: [], options: { repeats: a.noise } },
            `random-sign noise eps=${eps} on ${id} (${a.noise} draws)`,
          ),
        );
      }
    }
  }
  // 3. does more compute help? PGD against its steps and its restarts, at one eps
  if (a.curves) {
    const c = a.curves;
    const eps = c.epsilon[dataset];
    const nc = Math.min(c.size, n);
    const who = [
      { source: REFERENCE_ID, gradientTag: 'own' as const, trueGradient: false },
      ...studied.flatMap((r) => [
        { source: r, gradientTag: 'own' as const, trueGradient: false },
        { source: r, gradientTag: 'true' as const, trueGradient: true },
      ]),
    ];
    for (const w of who) {
      const base = {
        source: w.source,
        gradientTag: w.gradientTag,
        targets: [],
        n: nc,
        ...(w.trueGradient ? { trueGradient: true } : {}),
      };
      const path = w.trueGradient ? 'true gradient' : 'own path';
      for (const s of c.steps) {
        steps.push(
          step(
            'curve',
            'pgd',
            eps,
            { ...base, options: { steps: s, restarts: 1 } },
            `PGD-${s} eps=${eps} on ${w.source}, ${path} (steps curve, ${nc} images)`,
            { parameter: 'steps', value: s },
          ),
        );
      }
      for (const r of c.restarts) {
        steps.push(
          step(
            'curve',
            'pgd',
            eps,
            { ...base, options: { steps: c.restartSteps, restarts: r } },
            `PGD-${c.restartSteps} x${r} eps=${eps} on ${w.source}, ${path} (restarts curve, ${nc} images)`,
            { parameter: 'restarts', value: r },
          ),
        );
      }
    }
  }
  return steps;
}
