import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRESETS, type ReproConfig } from './config.js';
import { attackVariant, planDataset, planModels, stepCost } from './plan.js';

const quick = (): ReproConfig => structuredClone(PRESETS.quick);

describe('planDataset (pure: config and test-set size in, typed steps out)', () => {
  it('plans the quick preset: the paper grid plus the audit eps, then the audit', () => {
    const plan = planDataset(quick(), 'mnist', 1000);
    // eps {0, .2, .4, .6, .8, 1} and the audit's {.1, .3}: 8 values x 3 attacks x 2 sources
    const own = plan.steps.filter(
      (s) => s.spec.gradientTag === 'own' && s.spec.source !== 'bp-surrogate',
    );
    expect(own).toHaveLength(48);
    expect(new Set(own.map((s) => s.spec.eps))).toEqual(
      new Set([0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1]),
    );
    const truth = plan.steps.filter((s) => s.spec.gradientTag === 'true');
    expect(truth.map((s) => `${s.spec.attack}@${s.spec.eps}`)).toEqual([
      'fgsm@0.1',
      'fgsm@0.3',
      'bim@0.1',
      'bim@0.3',
      'mifgsm@0.1',
      'mifgsm@0.3',
    ]);
    for (const s of truth) {
      expect(s.spec.source).toBe('fa'); // the attacked model is FA; only its gradient is the twin's
      expect(s.spec.trueGradient).toBe(true);
      expect(s.spec.targets).toEqual([]);
    }
    const surrogate = plan.steps.filter((s) => s.spec.source === 'bp-surrogate');
    expect(surrogate).toHaveLength(6);
    for (const s of surrogate) expect(s.spec.targets).toEqual(['fa', 'bp']);
    const free = plan.steps.filter((s) => s.spec.gradientTag === 'none');
    expect(free.map((s) => `${s.spec.attack}:${s.spec.source}@${s.spec.eps}/${s.spec.n}`)).toEqual([
      'square:fa@0.1/200',
      'square:bp@0.1/200',
      'square:fa@0.3/200',
      'square:bp@0.3/200',
    ]);
    expect(plan.steps).toHaveLength(64);
    expect(new Set(plan.steps.map((s) => s.key)).size).toBe(64);
    expect(plan.alignment?.n).toBe(200);
    expect(plan.robustEpsilons).toEqual([0.1, 0.3]);
    expect(plan.models.map((m) => `${m.id}:${m.method}:${m.seed}`)).toEqual([
      'bp:bp:1',
      'fa:fa:1',
      'bp-surrogate:bp:1001',
    ]);
  });

  it('keeps the store keys of earlier versions, so their stored steps are reused', () => {
    // keys written by the version before the planner existed (a quick-preset run's cells/)
    const plan = planDataset(quick(), 'mnist', 1000);
    const keys = new Set(plan.steps.map((s) => s.key));
    expect(keys).toContain('mnist/bim/paper/eps=0.1/true-gradient-of=fa/eb5a02c4896b');
    // ... except Square's: its revision 2 changed its outputs, so its old cells are recomputed
    expect(keys).not.toContain('mnist/square/eps=0.3/model=fa/08d6e12d69e9');
    expect([...keys].filter((k) => k.startsWith('mnist/square/eps=0.3/model=fa/'))).toHaveLength(1);
    expect(plan.alignment?.key).toBe('mnist/alignment/fa/1203841a58ab');
  });

  it('gives each attack only the options it takes, as @fa-robust/attacks describes them', () => {
    const plan = planDataset(quick(), 'cifar10', 500);
    const at = (attack: string) =>
      plan.steps.find((s) => s.spec.attack === attack && s.spec.eps === 0.2)!;
    expect(at('fgsm').spec.options).toEqual({ variant: 'paper', keepBest: false });
    expect(at('bim').spec.options).toEqual({ variant: 'paper', steps: 10, keepBest: false });
    expect(at('mifgsm').spec.options).toEqual({
      variant: 'paper',
      steps: 10,
      decay: 0.8,
      keepBest: false,
    });
    expect(at('mifgsm').spec.params).toEqual({
      variant: 'paper',
      steps: 10,
      decay: 0.8,
      epsilon: 0.2,
      seed: 1,
    });
    const standard = quick();
    standard.attacks.variant = 'standard';
    const s = planDataset(standard, 'cifar10', 500).steps.find((x) => x.spec.attack === 'bim')!;
    expect(s.spec.options).toEqual({ variant: 'standard', steps: 10, keepBest: true });
    expect(s.key).toMatch(/^cifar10\/bim\/standard\/eps=0\//);
    expect(attackVariant(standard)).toBe('standard');
  });

  it('a key changes with what defines the step, and only with that', () => {
    const base = planDataset(quick(), 'mnist', 1000).steps.map((s) => s.key);
    const moreIterations = quick();
    moreIterations.attacks.iterations = 20;
    const changed = planDataset(moreIterations, 'mnist', 1000).steps.map((s) => s.key);
    // FGSM takes no steps: its keys stay; every iterative attack's key moves
    base.forEach((k, i) => {
      if (k.includes('/fgsm/')) expect(changed[i]).toBe(k);
      else if (!k.includes('/square/')) expect(changed[i]).not.toBe(k);
    });
    const otherWorkers = quick();
    otherWorkers.workers = 7;
    expect(planDataset(otherWorkers, 'mnist', 1000).steps.map((s) => s.key)).toEqual(base);
  });

  it('without the audit: only the paper steps, no surrogate, no alignment', () => {
    const c = quick();
    c.audit.enabled = false;
    const plan = planDataset(c, 'mnist', 100);
    expect(plan.steps.every((s) => s.spec.gradientTag === 'own')).toBe(true);
    // the audit's eps are not added to the paper grid
    expect(new Set(plan.steps.map((s) => s.spec.eps))).toEqual(new Set(c.attacks.epsilons));
    expect(plan.alignment).toBeNull();
    expect(plan.robustEpsilons).toEqual([]);
    expect(planModels(c).map((m) => m.id)).toEqual(['bp', 'fa']);
  });

  it('caps the audit budgets at the test images there are', () => {
    const plan = planDataset(quick(), 'mnist', 50);
    expect(plan.steps.find((s) => s.spec.gradientTag === 'none')!.spec.n).toBe(50);
    expect(plan.alignment!.n).toBe(50);
    expect(
      plan.steps.filter((s) => s.spec.gradientTag !== 'none').every((s) => s.spec.n === 50),
    ).toBe(true);
  });
});

describe('stepCost (for the ETA)', () => {
  it('counts gradient evaluations, a query as half of one, and nothing at eps 0', () => {
    const steps = planDataset(quick(), 'mnist', 1000).steps;
    const find = (attack: string, eps: number) =>
      steps.find((s) => s.spec.attack === attack && s.spec.eps === eps)!.spec;
    expect(stepCost(find('fgsm', 0.2))).toBe(1000);
    expect(stepCost(find('bim', 0.2))).toBe(10_000);
    expect(stepCost(find('bim', 0))).toBe(0);
    // Square: 300 queries after one for its start, on 200 images
    expect(stepCost(find('square', 0.1))).toBe((200 * 301) / 2);
  });
});

// The planner is pure: it imports no worker, file or tensor code.
it('plan.ts imports nothing of workers, files or tensors', () => {
  const src = readFileSync(new URL('./plan.ts', import.meta.url), 'utf8');
  const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
  expect(imports.sort()).toEqual(
    ['./config.js', './steps.js', './hash.js', '@fa-robust/attacks'].sort(),
  );
});
