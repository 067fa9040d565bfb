export {
  accuracy,
  adversarialAccuracy,
  correctMask,
  maskAccuracy,
  type RobustAccuracy,
  robustAccuracy,
  successRate,
} from './accuracy.js';
export { type AlignmentOptions, type GradientAlignment, gradientAlignment } from './alignment.js';
export { type CsvOptions, type CsvTable, toCsv } from './csv.js';
export { FigureError, MetricsInputError, ResultsValidationError } from './errors.js';
export {
  ATTACK_LABELS,
  ATTACK_ORDER,
  attackLabel,
  DATASET_LABELS,
  datasetLabel,
  epsilonLabel,
  FIGURE_FONT,
  MODEL_COLORS,
  modelColor,
  modelLabel,
  SOURCE_LABELS,
  sourceLabel,
} from './figure-labels.js';
export {
  type AccuracyFigureOptions,
  type AlignmentFigureOptions,
  type AlignmentRow,
  accuracyModels,
  accuracyRows,
  alignmentRows,
  type BudgetFigureOptions,
  type BudgetRow,
  budgetRows,
  type CurveFigureOptions,
  type CurveRow,
  type LayerAlignmentFigureOptions,
  type LayerAlignmentRow,
  layerAlignmentRows,
  type RobustFigureOptions,
  type RobustRow,
  robustRows,
  type TransferFigureOptions,
  type TransferSeries,
  transferRows,
} from './figure-rows.js';
export {
  accuracyFigure,
  alignmentFigure,
  budgetFigure,
  type FigureSpec,
  figuresFor,
  layerAlignmentFigure,
  type NamedFigure,
  perturbationNotes,
  robustFigure,
  transferFigure,
} from './figure-specs.js';
export {
  type ClassInput,
  type ExamplesInput,
  isTensorLike,
  type MaskInput,
  type NumericInput,
  type TensorLike,
} from './input.js';
export {
  type PerturbationOptions,
  type PerturbationStats,
  perturbationStats,
} from './perturbation.js';
// renderPng here only says it is Node-only: the real one, with writeFigure(s), readResults and
// writeResults, is in @fa-robust/metrics/node, so that this entry bundles for the browser
export { renderPng, renderSvg } from './render.js';
export {
  alignmentRecord,
  type CreateResultsInput,
  createResults,
  type ResultCellInput,
  resultCell,
  robustRecord,
} from './results-build.js';
export {
  type AlignmentRecord,
  type CheckRecord,
  type ComparisonRecord,
  type CurveRecord,
  cellKey,
  type JsonObject,
  type JsonValue,
  type LayerAlignmentRecord,
  type ModelRecord,
  normEps,
  RESULTS_SCHEMA_VERSION,
  type ResultCell,
  type Results,
  type ResultsEnvironment,
  type RobustRecord,
  transferGradient,
  transferredFrom,
  transferSource,
} from './results-schema.js';
export { parseResults, type ValidateOptions, validateResults } from './results-validate.js';
export {
  type Histogram,
  type HistogramOptions,
  histogram,
  type Interval,
  type IntervalOptions,
  mcnemarExact,
  normalQuantile,
  type Proportion,
  proportion,
  quantileSorted,
  type Summary,
  summarize,
  wilsonInterval,
} from './stats.js';
export {
  type TransferCell,
  type TransferEntry,
  type TransferFromResultsOptions,
  type TransferMatrix,
  transferAt,
  transferMatrix,
  transferMatrixFromResults,
} from './transfer.js';
