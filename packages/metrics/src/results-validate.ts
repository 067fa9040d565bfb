import { ResultsValidationError } from './errors.js';
import { Checker } from './results-check.js';
import {
  cellKey,
  type ModelRecord,
  RESULTS_SCHEMA_VERSION,
  type ResultCell,
  type Results,
  transferredFrom,
} from './results-schema.js';
import type { Summary } from './stats.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

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
  'layerAlignment',
  'checks',
  'comparisons',
  'curves',
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
  'zeroGradient',
  'nonFiniteGradient',
  'inBall',
  'inBounds',
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
  'dimension',
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
  'label',
] as const;
const CHECK_STATUS = ['pass', 'warn', 'fail'] as const;
const BIG = Number.MAX_SAFE_INTEGER;

export interface ValidateOptions {
  /** The file the JSON came from, named in errors. */
  file?: string;
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
    const from = transferredFrom(source);
    if (from !== null) {
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
    if (o.zeroGradient !== undefined) c.integer(`${p}.zeroGradient`, o.zeroGradient, 0, n);
    if (o.nonFiniteGradient !== undefined)
      c.integer(`${p}.nonFiniteGradient`, o.nonFiniteGradient, 0, n);
    for (const k of ['inBall', 'inBounds'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'boolean')
        c.fail(`${p}.${k}`, 'true or false', o[k]);
    }
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
      if (o.dimension !== undefined) c.integer(`${p}.dimension`, o.dimension, 1, BIG);
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
      if (o.label !== undefined) c.string(`${p}.label`, o.label);
    });
  }

  const tags = (path: string, v: unknown) => {
    const list = c.array(path, v);
    if (list.length === 0) c.fail(path, 'at least one attack', list);
    list.forEach((a, j) => {
      c.string(`${path}[${j}]`, a);
    });
  };
  if (top.layerAlignment !== undefined) {
    c.array('layerAlignment', top.layerAlignment).forEach((r, i) => {
      const p = `layerAlignment[${i}]`;
      const o = c.object(p, r, ['dataset', 'model', 'layer', 'angle']);
      const dataset = c.string(`${p}.dataset`, o.dataset);
      checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
      c.string(`${p}.layer`, o.layer);
      if (o.angle !== null) c.number(`${p}.angle`, o.angle, 0, 180);
    });
  }
  if (top.checks !== undefined) {
    c.array('checks', top.checks).forEach((r, i) => {
      const p = `checks[${i}]`;
      const o = c.object(p, r, ['dataset', 'model', 'check', 'status', 'epsilon', 'message']);
      const dataset = c.string(`${p}.dataset`, o.dataset);
      if (o.model !== undefined) checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
      c.string(`${p}.check`, o.check);
      if (!CHECK_STATUS.includes(o.status as (typeof CHECK_STATUS)[number]))
        c.fail(`${p}.status`, "'pass', 'warn' or 'fail'", o.status);
      if (o.epsilon !== undefined) c.number(`${p}.epsilon`, o.epsilon, 0, 1e6);
      c.string(`${p}.message`, o.message);
    });
  }
  if (top.comparisons !== undefined) {
    c.array('comparisons', top.comparisons).forEach((r, i) => {
      const p = `comparisons[${i}]`;
      const o = c.object(p, r, [
        'dataset',
        'model',
        'epsilon',
        'label',
        'a',
        'b',
        'n',
        'onlyA',
        'onlyB',
        'accuracyA',
        'accuracyB',
        'pValue',
      ]);
      const dataset = c.string(`${p}.dataset`, o.dataset);
      checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
      c.number(`${p}.epsilon`, o.epsilon, 0, 1e6);
      c.string(`${p}.label`, o.label);
      tags(`${p}.a`, o.a);
      tags(`${p}.b`, o.b);
      const n = c.integer(`${p}.n`, o.n, 0, BIG);
      const onlyA = c.integer(`${p}.onlyA`, o.onlyA, 0, n);
      c.integer(`${p}.onlyB`, o.onlyB, 0, n - onlyA);
      c.number(`${p}.accuracyA`, o.accuracyA, 0, 1);
      c.number(`${p}.accuracyB`, o.accuracyB, 0, 1);
      c.number(`${p}.pValue`, o.pValue, 0, 1);
    });
  }
  if (top.curves !== undefined) {
    c.array('curves', top.curves).forEach((r, i) => {
      const p = `curves[${i}]`;
      const o = c.object(p, r, [
        'dataset',
        'model',
        'source',
        'attack',
        'epsilon',
        'parameter',
        'points',
      ]);
      const dataset = c.string(`${p}.dataset`, o.dataset);
      checkModel(`${p}.model`, dataset, c.string(`${p}.model`, o.model));
      c.string(`${p}.source`, o.source);
      c.string(`${p}.attack`, o.attack);
      c.number(`${p}.epsilon`, o.epsilon, 0, 1e6);
      if (o.parameter !== 'steps' && o.parameter !== 'restarts')
        c.fail(`${p}.parameter`, "'steps' or 'restarts'", o.parameter);
      c.array(`${p}.points`, o.points).forEach((pt, j) => {
        const q = `${p}.points[${j}]`;
        const po = c.object(q, pt, ['value', 'n', 'correct', 'accuracy', 'accuracyInterval']);
        c.number(`${q}.value`, po.value, 0, BIG);
        const n = c.integer(`${q}.n`, po.n, 1, BIG);
        const correct = c.integer(`${q}.correct`, po.correct, 0, n);
        c.close(
          `${q}.accuracy`,
          c.number(`${q}.accuracy`, po.accuracy, 0, 1),
          correct / n,
          `correct/n = ${correct}/${n}`,
        );
        c.interval(`${q}.accuracyInterval`, po.accuracyInterval, correct, n, 0.95);
      });
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
