/**
 * The training curves of a study's models: mean training loss and accuracy per epoch, per
 * model, from the `training` history each model record keeps (params.training).
 */
import {
  datasetLabel,
  FIGURE_FONT,
  type FigureSpec,
  modelColor,
  modelLabel,
  type Results,
} from '@fa-robust/metrics';

interface Epoch {
  epoch: number;
  loss: number;
  accuracy: number;
  learningRate: number;
}

/** A model record's training history, or null when it has none (saved by an older version). */
export function trainingHistory(params: unknown): Epoch[] | null {
  const t = (params as { training?: unknown } | undefined)?.training;
  return Array.isArray(t) && t.length > 0 ? (t as Epoch[]) : null;
}

/** The training figure of one dataset (null when no model of it has a history). */
export function trainingFigure(results: Results, dataset: string): FigureSpec | null {
  const models = results.models.filter(
    (m) => m.dataset === dataset && trainingHistory(m.params) != null,
  );
  if (models.length === 0) return null;
  const values = models.flatMap((m) =>
    trainingHistory(m.params)!.flatMap((e) => [
      { model: modelLabel(results, dataset, m.id), epoch: e.epoch, metric: 'loss', value: e.loss },
      {
        model: modelLabel(results, dataset, m.id),
        epoch: e.epoch,
        metric: 'accuracy',
        value: 100 * e.accuracy,
      },
    ]),
  );
  const labels = models.map((m) => modelLabel(results, dataset, m.id));
  const colors = models.map((m) => modelColor(results, m.id));
  const panel = (metric: 'loss' | 'accuracy') => ({
    title: metric === 'loss' ? 'Training loss (cross-entropy)' : 'Training accuracy (%)',
    width: 300,
    height: 200,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'epoch',
        type: 'quantitative',
        title: 'Epoch',
        axis: { format: 'd', tickMinStep: 1 },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: null,
        scale: metric === 'loss' ? { zero: true } : { zero: false },
      },
      color: {
        field: 'model',
        type: 'nominal',
        title: 'Model',
        scale: { domain: labels, range: colors },
      },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${datasetLabel(dataset)}: training`,
      subtitle: 'Mean over each epoch\u2019s batches, each before its update',
    },
    config: { font: FIGURE_FONT },
    data: { values },
    hconcat: [panel('loss'), panel('accuracy')],
  } as unknown as FigureSpec;
}
