export { type ApgdOptions, apgd, apgdCheckpoints, apgdInfo } from './apgd.js';
export {
  type AutoAttackOptions,
  type AutoAttackReport,
  type AutoAttackResult,
  type AutoAttackStep,
  autoAttack,
  autoAttackSteps,
} from './autoattack.js';
export { type BimOptions, bim } from './bim.js';
export { type MaskingCheckOptions, maskingFlags } from './checks.js';
export { type CwOptions, cw, cwInfo } from './cw.js';
export {
  AttackAbortedError,
  AttackError,
  AttackInputError,
  GradientError,
  ModelOutputError,
} from './errors.js';
export { type FabOptions, type FabResult, fab, fabInfo } from './fab.js';
export { type FgsmOptions, fgsm } from './fgsm.js';
export {
  type CustomGradientFunction,
  customGradient,
  type GradientEvaluation,
  type GradientSource,
  modelGradient,
  ownGradient,
} from './gradient.js';
export {
  type AttackCost,
  type AttackCostOptions,
  type AttackInfo,
  type AttackOptionName,
  COMMON_OPTIONS,
} from './info.js';
export { type MifgsmOptions, mifgsm } from './mifgsm.js';
export type { LabelsInput, LayersModelLike, LogitsFunction, Model } from './model.js';
export { type NoiseOptions, noise, noiseInfo } from './noise.js';
export { fooledMask, type LossName, type Objective, objectiveLoss } from './objective.js';
export { type PgdOptions, pgd } from './pgd.js';
export { ATTACK_INFO, ATTACKS, attackInfo } from './registry.js';
export { runAttack, runResultToJSON } from './runner.js';
export type {
  AttackFunction,
  BatchReport,
  DataBatch,
  DatasetArrays,
  DatasetImages,
  EpsilonResult,
  RunAttackOptions,
  RunData,
  RunProgress,
  RunResult,
  RunResultJSON,
} from './runner-types.js';
export { type SpsaOptions, spsa } from './spsa.js';
export { type SquareOptions, square, squareFraction } from './square.js';
export type {
  AttackName,
  AttackOptions,
  AttackResult,
  GradientAttackOptions,
  Norm,
  SanityFlag,
  SanityFlagCode,
  Variant,
} from './types.js';
