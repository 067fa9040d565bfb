/**
 * Phase 4: stored steps into results. Pure: cells in plan order, and FA's robust accuracy per
 * audit eps from the per-example masks, so what a reviewer reads follows from the steps alone.
 */
import {
  createResults,
  type ModelRecord,
  type ResultCell,
  type Results,
  robustRecord,
} from '@fa-robust/metrics';
import { sameEps } from './format.js';
import type { StepOutput } from './steps.js';

export type RobustRecord = NonNullable<Results['robust']>[number];
export type AlignmentRecord = NonNullable<Results['alignment']>[number];

/** The cells of a dataset: its clean cells, then every step's, in plan order. */
export function datasetCells(clean: ResultCell[], outputs: StepOutput[]): ResultCell[] {
  return [...clean, ...outputs.flatMap((o) => o.cells)];
}

/**
 * Robust accuracy of `model` at each eps: correct under every attack that ran on all `nTest`
 * examples at that eps (an attack on a subset, like the gradient-free audit, cannot say which
 * of the others an example survived). Keyed `attack/source`; none where no attack covers all.
 */
export function robustRecords(
  dataset: string,
  model: string,
  outputs: StepOutput[],
  epsilons: readonly number[],
  nTest: number,
): RobustRecord[] {
  const out: RobustRecord[] = [];
  for (const epsilon of epsilons) {
    const byAttack = new Map<string, Uint8Array>();
    for (const { cells, masks } of outputs) {
      cells.forEach((c, i) => {
        if (c.dataset !== dataset || c.model !== model || c.attack === 'none') return;
        if (!sameEps(c.epsilon, epsilon)) return;
        byAttack.set(`${c.attack}/${c.source}`, masks[i]!);
      });
    }
    const full = [...byAttack].filter(([, m]) => m.length === nTest);
    if (full.length) {
      out.push(robustRecord({ dataset, model, epsilon, correct: Object.fromEntries(full) }));
    }
  }
  return out;
}

export interface StudyParts {
  config: Results['config'];
  environment: Results['environment'];
  models: ModelRecord[];
  cells: ResultCell[];
  alignment: AlignmentRecord[];
  robust: RobustRecord[];
  notes: string[];
}

export const STUDY_TITLE =
  'On the Adversarial Robustness of Neural Networks without Weight Transport: reproduction and audit';

/** The results object of a study (validated by createResults). */
export function studyResults(parts: StudyParts): Results {
  return createResults({
    title: STUDY_TITLE,
    config: parts.config,
    environment: parts.environment,
    models: parts.models,
    cells: parts.cells,
    ...(parts.alignment.length ? { alignment: parts.alignment } : {}),
    ...(parts.robust.length ? { robust: parts.robust } : {}),
    notes: parts.notes,
  });
}
