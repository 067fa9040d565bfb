import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gradientAlignment } from './alignment.js';
import { ResultsValidationError } from './errors.js';
import { perturbationStats } from './perturbation.js';
import { alignmentRecord, createResults, resultCell, robustRecord } from './results-build.js';
import { readResults, writeResults } from './results-io.js';
import type { Results } from './results-schema.js';
import { parseResults, validateResults } from './results-validate.js';
import { wilsonInterval } from './stats.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests break parsed JSON on purpose
type Loose = Record<string, any>;

const FIXTURE = new URL('./__fixtures__/paper-like.results.json', import.meta.url);
const fixtureJson = (): Results => JSON.parse(readFileSync(FIXTURE, 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'fa-robust-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function small(): Results {
  return createResults({
    createdAt: new Date('2025-02-01T00:00:00Z'),
    config: { epsilons: [0.1], seed: 1 },
    environment: { backend: 'cpu', versions: { node: '20.19.0' } },
    models: [
      { dataset: 'mnist', id: 'bp', method: 'bp' },
      { dataset: 'mnist', id: 'fa', method: 'fa' },
    ],
    cells: [
      resultCell({
        dataset: 'mnist',
        model: 'bp',
        attack: 'fgsm',
        epsilon: 0.1,
        source: 'own',
        cleanCorrect: [1, 1, 1, 0],
        adversarialCorrect: [0, 1, 1, 0],
      }),
      resultCell({
        dataset: 'mnist',
        model: 'fa',
        attack: 'fgsm',
        epsilon: 0.1,
        source: 'transfer:bp',
        cleanCorrect: [1, 1, 1, 1],
        adversarialCorrect: [1, 1, 1, 1],
      }),
    ],
  });
}

/** The error validateResults throws for `json`. */
function errorOf(json: unknown): ResultsValidationError {
  try {
    validateResults(json);
  } catch (e) {
    if (e instanceof ResultsValidationError) return e;
    throw e;
  }
  throw new Error('validateResults accepted it');
}

describe('resultCell and createResults', () => {
  it('counts a cell by hand: 4 examples, 3 correct before, 2 after, 1 fooled', () => {
    const r = small();
    const c = r.cells[0]!;
    expect(c).toMatchObject({
      n: 4,
      cleanCorrect: 3,
      correct: 2,
      successes: 1,
      accuracy: 0.5,
      successRate: 1 / 3,
      confidence: 0.95,
    });
    expect(c.accuracyInterval).toEqual(Object.values(wilsonInterval(2, 4)));
    expect(c.successInterval).toEqual(Object.values(wilsonInterval(1, 3)));
    expect(r.schemaVersion).toBe(1);
    expect(r.createdAt).toBe('2025-02-01T00:00:00.000Z');
    expect('alignment' in r).toBe(false);
  });

  it('summarises perturbations and records alignment and robust accuracy', () => {
    const p = perturbationStats(
      [
        [0, 0],
        [0, 0],
      ],
      [
        [0.1, 0],
        [0.3, 0.4],
      ],
    );
    const cell = resultCell({
      dataset: 'mnist',
      model: 'bp',
      attack: 'bim',
      epsilon: 0.5,
      source: 'true',
      cleanCorrect: [1, 1],
      adversarialCorrect: [0, 0],
      perturbation: p,
      params: { steps: 10 },
      seconds: 1.5,
    });
    expect(cell.linf).toMatchObject({ n: 2, max: 0.4 });
    expect(cell.l2?.max).toBeCloseTo(0.5, 15);
    expect(cell.successRate).toBe(1);
    const align = alignmentRecord({
      dataset: 'mnist',
      model: 'fa',
      comparison: 'own-vs-true',
      alignment: gradientAlignment(
        [
          [1, 0],
          [0, 0],
        ],
        [
          [1, 1],
          [1, 0],
        ],
      ),
    });
    expect(align).toMatchObject({
      n: 2,
      zeroNorm: 1,
      angle: { n: 1, median: expect.closeTo(45, 12) },
    });
    const robust = robustRecord({
      dataset: 'mnist',
      model: 'bp',
      epsilon: 0.5,
      correct: { 'fgsm/own': [1, 0, 1], 'pgd/true': [1, 1, 0] },
    });
    expect(robust).toMatchObject({
      attacks: ['fgsm/own', 'pgd/true'],
      n: 3,
      correct: 1,
      accuracy: 1 / 3,
    });
    const base = small();
    const r = createResults({
      ...base,
      cells: [...base.cells, cell],
      alignment: [align],
      robust: [robust],
    });
    expect(r.alignment).toHaveLength(1);
    expect(() =>
      resultCell({
        dataset: 'd',
        model: 'm',
        attack: 'a',
        epsilon: 0,
        source: 'own',
        cleanCorrect: [1],
        adversarialCorrect: [1, 0],
      }),
    ).toThrow(
      'resultCell: adversarialCorrect: expected 1 examples, as many as cleanCorrect, found 2',
    );
  });

  it('accepts the fixture file, and what it writes it reads back identically', async () => {
    const r = validateResults(fixtureJson());
    expect(r.cells.length).toBeGreaterThan(200);
    const file = join(dir, 'out', 'results.json');
    await writeResults(file, r);
    expect(await readResults(file)).toEqual(r);
  });
});

describe('validateResults refuses malformed files, naming the bad field', () => {
  it('names the path, the expectation and what was found', () => {
    const bad = fixtureJson() as unknown as { cells: Record<string, unknown>[] };
    bad.cells[3]!.epsilon = '0.1';
    const e = errorOf(bad);
    expect(e.message).toBe('cells[3].epsilon: expected a number in [0, 1000000], found "0.1"');
    expect([e.path, e.expected, e.found]).toEqual([
      'cells[3].epsilon',
      'a number in [0, 1000000]',
      '"0.1"',
    ]);
  });

  it('checks types, versions and dates', () => {
    const cases: [(r: Loose) => void, string | RegExp][] = [
      [
        (r) => {
          r.schemaVersion = 2;
        },
        'schemaVersion: expected 1 (this version of @fa-robust/metrics reads schema 1), found 2',
      ],
      [
        (r) => {
          r.createdAt = 'yesterday';
        },
        `createdAt: expected an ISO 8601 date-time such as '2025-01-31T12:00:00.000Z', found "yesterday"`,
      ],
      [
        (r) => {
          delete r.config;
        },
        'config: expected an object, found undefined',
      ],
      [
        (r) => {
          r.config.x = Number.NaN;
        },
        'config.x: expected a JSON value (finite numbers), found NaN',
      ],
      [
        (r) => {
          r.environment.versions.node = 20;
        },
        'environment.versions.node: expected a non-empty string, found 20',
      ],
      [
        (r) => {
          r.models = [];
        },
        'models: expected at least one model, found an array of length 0',
      ],
      [
        (r) => {
          r.cells[0].epsilion = 0.1;
        },
        /^cells\[0\]\.epsilion: expected no such field \(known: dataset, model, attack, .*\), found 0.1$/,
      ],
      [
        (r) => {
          r.cells[1].n = 4.5;
        },
        'cells[1].n: expected an integer in [0, 9007199254740991], found 4.5',
      ],
      [
        (r) => {
          r.cells[1].norm = 'l1';
        },
        `cells[1].norm: expected 'linf' or 'l2', found "l1"`,
      ],
      [
        (r) => {
          r.extra = 1;
        },
        /^extra: expected no such field/,
      ],
    ];
    for (const [mutate, message] of cases) {
      const r = small() as unknown as Loose;
      mutate(r);
      if (typeof message === 'string') expect(errorOf(r).message).toBe(message);
      else expect(errorOf(r).message).toMatch(message);
    }
  });

  it('checks that counts, rates and intervals agree', () => {
    const cases: [(c: Loose) => void, string | RegExp][] = [
      [
        (c) => {
          c.correct = 5;
        },
        'cells[0].correct: expected an integer in [0, 4], found 5',
      ],
      [
        (c) => {
          c.successes = 0;
        },
        'cells[0].successes: expected an integer in [1, 2] given cleanCorrect=3, correct=2, n=4, found 0',
      ],
      [
        (c) => {
          c.accuracy = 0.6;
        },
        'cells[0].accuracy: expected correct/n = 2/4 = 0.5 (within 0.000001), found 0.6',
      ],
      [
        (c) => {
          c.successRate = 0.5;
        },
        /^cells\[0\]\.successRate: expected successes\/cleanCorrect = 1\/3 = 0.333/,
      ],
      [
        (c) => {
          c.accuracyInterval = [0.2, 0.8];
        },
        /^cells\[0\]\.accuracyInterval\[0\]: expected the Wilson lower bound of 2\/4 at 0.95 = 0.15/,
      ],
      [
        (c) => {
          c.linf = {
            n: 1,
            mean: 1,
            std: 0,
            min: 2,
            q05: 1,
            q25: 1,
            median: 1,
            q75: 1,
            q95: 1,
            max: 1,
          };
        },
        'cells[0].linf.q05: expected a value >= min (2), found 1',
      ],
    ];
    for (const [mutate, message] of cases) {
      const r = small() as unknown as Loose;
      mutate(r.cells[0]);
      if (typeof message === 'string') expect(errorOf(r).message).toBe(message);
      else expect(errorOf(r).message).toMatch(message);
    }
  });

  it('checks references to models and refuses duplicate cells', () => {
    const r1 = small() as unknown as Loose;
    r1.cells[0].model = 'dfa';
    expect(errorOf(r1).message).toBe(
      `cells[0].model: expected a model of dataset 'mnist' listed in models ('bp', 'fa'), found "dfa"`,
    );
    const r2 = small() as unknown as Loose;
    r2.cells[1].source = 'transfer:cnn';
    expect(errorOf(r2).message).toBe(
      `cells[1].source: expected a model of dataset 'mnist' listed in models ('bp', 'fa'), found "cnn"`,
    );
    const r3 = small() as unknown as Loose;
    r3.cells.push({ ...r3.cells[0] });
    expect(errorOf(r3).message).toBe(
      'cells[2]: expected a unique (dataset, model, attack, variant, norm, source, epsilon), found the same as cells[0]',
    );
    const r4 = small() as unknown as Loose;
    r4.models.push({ dataset: 'mnist', id: 'bp', method: 'fa' });
    expect(errorOf(r4).message).toBe(
      `models[2].id: expected a model id unique within dataset 'mnist', found "bp"`,
    );
  });

  it('checks alignment records', () => {
    const r = fixtureJson() as unknown as Loose;
    r.alignment[0].histogram.counts[0] += 1000;
    expect(errorOf(r).message).toMatch(
      /^alignment\[0\]\.histogram\.counts\[0\]: expected an integer in \[0, 500\]/,
    );
    const r2 = fixtureJson() as unknown as Loose;
    r2.alignment[1].angle.n = 3;
    expect(errorOf(r2).message).toBe('alignment[1].angle.n: expected n - zeroNorm = 500, found 3');
  });

  it('reports bad JSON and names the file it came from', async () => {
    expect(() => parseResults('{"schemaVersion": 1,')).toThrow(
      /^\(file\): expected valid JSON, found /,
    );
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...small(), createdAt: 5 }));
    await expect(readResults(file)).rejects.toThrow(
      `${file}: createdAt: expected a non-empty string, found 5`,
    );
    await expect(readResults(file)).rejects.toMatchObject({ file, path: 'createdAt' });
  });
});

describe('the evaluation records (checks, comparisons, curves, layer angles)', () => {
  const withEvaluation = (): Loose =>
    JSON.parse(
      JSON.stringify({
        ...small(),
        layerAlignment: [{ dataset: 'mnist', model: 'fa', layer: 'conv1', angle: 89.5 }],
        checks: [
          {
            dataset: 'mnist',
            model: 'fa',
            check: 'constant-image-bound',
            status: 'fail',
            epsilon: 0.5,
            message: 'FA keeps 83.7% at eps 0.5, above the largest class share 11.4%',
          },
        ],
        comparisons: [
          {
            dataset: 'mnist',
            model: 'fa',
            epsilon: 0.1,
            label: 'own path vs true gradient',
            a: ['bim/own'],
            b: ['autoattack/true'],
            n: 4,
            onlyA: 3,
            onlyB: 0,
            accuracyA: 0.75,
            accuracyB: 0,
            pValue: 0.25,
          },
        ],
        curves: [
          {
            dataset: 'mnist',
            model: 'fa',
            source: 'own',
            attack: 'pgd',
            epsilon: 0.1,
            parameter: 'steps',
            points: [1, 10].map((value) => ({
              value,
              n: 4,
              correct: 2,
              accuracy: 0.5,
              accuracyInterval: (({ lower, upper }) => [lower, upper])(wilsonInterval(2, 4)),
            })),
          },
        ],
      }),
    );

  it('accepts them and keeps them through createResults', () => {
    const json = withEvaluation();
    const r = validateResults(json);
    expect(r.checks?.[0]?.status).toBe('fail');
    expect(r.curves?.[0]?.points).toHaveLength(2);
    const { schemaVersion: _v, ...input } = json;
    expect(createResults(input as never).comparisons).toEqual(json.comparisons);
  });

  it('refuses a bad status, a model not listed, counts that do not add up, a wrong accuracy', () => {
    const a = withEvaluation();
    a.checks[0].status = 'ok';
    expect(errorOf(a).path).toBe('checks[0].status');
    const b = withEvaluation();
    b.layerAlignment[0].model = 'dfa';
    expect(errorOf(b).path).toBe('layerAlignment[0].model');
    const c = withEvaluation();
    c.comparisons[0].onlyB = 2;
    expect(errorOf(c).path).toBe('comparisons[0].onlyB');
    const d = withEvaluation();
    d.curves[0].points[1].accuracy = 0.4;
    expect(errorOf(d).path).toBe('curves[0].points[1].accuracy');
  });

  it('reads the true-gradient transfer source', async () => {
    const { transferGradient, transferredFrom, transferSource } = await import(
      './results-schema.js'
    );
    expect(transferSource('fa', 'true')).toBe('transfer:fa:true');
    expect(transferredFrom('transfer:fa:true')).toBe('fa');
    expect(transferGradient('transfer:fa:true')).toBe('true');
    expect(transferGradient('transfer:fa')).toBe('own');
    expect(transferGradient('own')).toBeNull();
  });
});
