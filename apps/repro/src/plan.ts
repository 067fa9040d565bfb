/**
 * The plan of a study: from the configuration and what the dataset holds, the models to train
 * and the attack steps to run, each with the key its result is stored under. Pure: it knows
 * nothing of workers, files or tensors, so what a configuration runs can be read (and tested)
 * without running it.
 */
import { attackInfo, type Variant } from '@fa-robust/attacks';
import type { DatasetName, Method, ReproConfig } from './config.js';
import { hash } from './hash.js';
import type { AttackStepSpec, TrainSpec } from './steps.js';

/** A model of the study: trained once per configuration, then reused. */
export interface ModelSpec {
  id: string;
  method: Method;
  seed: number;
}

/** One attack step of the plan, under the key its stored result is found by. */
export interface PlannedStep {
  key: string;
  /** What the progress display calls it. */
  label: string;
  spec: AttackStepSpec;
}

/** Everything that decides a model's weights, except its own spec (hashed into its folder). */
export interface TrainConfig {
  size: number | null;
  epochs: number;
  batchSize: number;
  optimizer: TrainSpec['optimizer'];
  learningRate: number;
}

/** What one dataset's part of a study does. */
export interface DatasetPlan {
  dataset: DatasetName;
  train: TrainConfig;
  models: ModelSpec[];
  steps: PlannedStep[];
  /** The FA network's feedback-path vs true input-gradient angles; null without the audit. */
  alignment: { key: string; n: number } | null;
  /** The eps values at which FA's robust accuracy is assembled (the audit's). */
  robustEpsilons: number[];
}

/** The id of the independently trained BP network examples are transferred from. */
export const SURROGATE_ID = 'bp-surrogate';

/** The attacks' own word for the configuration's choice of update rules. */
export function attackVariant(config: ReproConfig): Variant {
  return config.attacks.variant === 'paper' ? 'paper' : 'standard';
}

/** The models of a study: BP and FA, and the BP surrogate when the audit transfers from one. */
export function planModels(config: ReproConfig): ModelSpec[] {
  const specs: ModelSpec[] = [
    { id: 'bp', method: 'bp', seed: config.seed },
    { id: 'fa', method: 'fa', seed: config.seed },
  ];
  if (config.audit.enabled && config.audit.surrogate)
    specs.push({ id: SURROGATE_ID, method: 'bp', seed: config.seed + 1000 });
  return specs;
}

export function trainConfig(config: ReproConfig, dataset: DatasetName): TrainConfig {
  return {
    size: config.train.size,
    epochs: config.train.epochs[dataset],
    batchSize: config.train.batchSize,
    optimizer: config.train.optimizer,
    learningRate: config.train.learningRate,
  };
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
  const steps = spec.params.steps;
  const cost = attackInfo(spec.attack).cost(typeof steps === 'number' ? { steps } : {});
  return spec.n * (cost.gradients + cost.forwards / 2);
}

/** The plan of one dataset's study, given how many test images it has. */
export function planDataset(config: ReproConfig, dataset: DatasetName, nTest: number): DatasetPlan {
  const train = trainConfig(config, dataset);
  const models = planModels(config);
  const variant = attackVariant(config);
  const bs = config.attacks.batchSize;
  const dataKey = { dataset, train, testSize: config.testSize, seed: config.seed };
  // an attack's revision (when it has one) is hashed too: a fixed attack is not read back from
  // the store of its earlier version
  const stepHash = (
    attack: AttackStepSpec['attack'],
    params: unknown,
    extra: Record<string, unknown> = {},
  ) => {
    const revision = attackInfo(attack).revision;
    return hash({ dataKey, params, ...extra, ...(revision ? { revision } : {}), bs }).slice(0, 12);
  };

  // The parameters that define a cell (stored with it), and the options the attack takes.
  const paramsOf = (name: AttackStepSpec['attack'], eps: number) => {
    const takes = attackInfo(name).options;
    return {
      variant,
      ...(takes.includes('steps') ? { steps: config.attacks.iterations } : {}),
      ...(takes.includes('decay') ? { decay: config.attacks.mu } : {}),
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
    return {
      key: `${dataset}/${name}/${variant}/eps=${eps}/${what}/${stepHash(name, params)}`,
      label,
      spec: { attack: name, eps, n: nTest, params, options: optionsOf(name, eps), ...spec },
    };
  };

  const steps: PlannedStep[] = [];
  // 1. the paper: white-box through each network's own backward path, and transferred. The
  // audit compares against the own-gradient attack, so that runs at every audit eps too.
  const paperEpsilons = [
    ...new Set([
      ...config.attacks.epsilons,
      ...(config.audit.enabled ? config.audit.epsilons : []),
    ]),
  ].sort((a, b) => a - b);
  for (const name of config.attacks.names) {
    for (const eps of paperEpsilons) {
      for (const [source, other] of [
        ['bp', 'fa'],
        ['fa', 'bp'],
      ] as const) {
        steps.push(
          gradientStep(
            name,
            eps,
            `own-gradient-of=${source}`,
            `${dataset} ${name} eps=${eps} on ${source} (and transferred to ${other})`,
            { source, gradientTag: 'own', targets: [other] },
          ),
        );
      }
    }
  }
  if (!config.audit.enabled) {
    return { dataset, train, models, steps, alignment: null, robustEpsilons: [] };
  }

  // 2. the audit: FA's true gradient (only the gradient comes from its twin; the attacked model
  // is FA), and transfer from an independently trained BP surrogate
  const surrogate = models.some((m) => m.id === SURROGATE_ID);
  for (const name of config.attacks.names) {
    for (const eps of config.audit.epsilons) {
      steps.push(
        gradientStep(
          name,
          eps,
          'true-gradient-of=fa',
          `${dataset} ${name} eps=${eps} on fa with its true gradient`,
          { source: 'fa', gradientTag: 'true', trueGradient: true, targets: [] },
        ),
      );
      if (surrogate) {
        steps.push(
          gradientStep(
            name,
            eps,
            `own-gradient-of=${SURROGATE_ID}`,
            `${dataset} ${name} eps=${eps} on the BP surrogate, transferred to fa and bp`,
            { source: SURROGATE_ID, gradientTag: 'own', targets: ['fa', 'bp'] },
          ),
        );
      }
    }
  }
  // 3. the audit: a gradient-free attack on both networks, on its own (smaller) image budget
  const gf = config.audit.gradientFree;
  if (gf !== 'none') {
    const nGf = Math.min(config.audit.gradientFreeSize ?? nTest, nTest);
    const budget = config.audit.gradientFreeBudget;
    for (const eps of config.audit.epsilons) {
      for (const id of ['fa', 'bp']) {
        // (the variant stays in the params, as cells and store keys have always recorded it)
        const params = { epsilon: eps, steps: budget, seed: config.seed, variant: 'standard' };
        steps.push({
          key: `${dataset}/${gf}/eps=${eps}/model=${id}/${stepHash(gf, params, { nGf })}`,
          label: `${dataset} ${gf} eps=${eps} on ${id} (gradient-free, ${nGf} images)`,
          spec: {
            attack: gf,
            eps,
            source: id,
            gradientTag: 'none',
            targets: [],
            n: nGf,
            params,
            options: { steps: budget },
          },
        });
      }
    }
  }
  const nAlign = Math.min(config.audit.alignmentSize, nTest);
  return {
    dataset,
    train,
    models,
    steps,
    alignment: {
      key: `${dataset}/alignment/fa/${hash({ dataKey, n: nAlign }).slice(0, 12)}`,
      n: nAlign,
    },
    robustEpsilons: [...config.audit.epsilons],
  };
}
