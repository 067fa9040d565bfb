import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, PRESETS, type ReproConfig, validateConfig } from './config.js';
import { attackVariant, modelFolder, planDataset, planModels, stepCost } from './plan.js';

const quick = (): ReproConfig => structuredClone(PRESETS.quick);

describe('planDataset (pure: config and test-set size in, typed steps out)', () => {
  it('plans the quick preset: the paper grid with its rules, then the in-ball audit on one image set', () => {
    const plan = planDataset(quick(), 'mnist', 1000);
    const paper = plan.steps.filter((s) => s.role === 'paper');
    // eps {0, .2, .4, .6, .8, 1} x 3 attacks x 2 sources, the paper's rules only
    expect(paper).toHaveLength(36);
    expect(new Set(paper.map((s) => s.spec.eps))).toEqual(new Set(quick().attacks.epsilons));
    expect(paper.every((s) => s.spec.params.variant === 'paper')).toBe(true);
    const audit = plan.steps.filter((s) => s.role === 'audit');
    // every audit step: the standard rules, the same 200 images
    expect(new Set(audit.map((s) => s.spec.n))).toEqual(new Set([200]));
    expect(audit.every((s) => s.spec.params.variant !== 'paper')).toBe(true);
    expect(new Set(audit.map((s) => s.spec.eps))).toEqual(new Set([0.1, 0.2, 0.3, 0.5, 1]));
    const at = (eps: number) =>
      audit
        .filter((s) => s.spec.eps === eps)
        .map(
          (s) =>
            `${s.spec.attack}:${s.spec.source}:${s.spec.gradientTag}>${s.spec.targets.join('+')}`,
        );
    expect(at(0.1)).toEqual([
      'fgsm:bp:own>fa',
      'fgsm:fa:own>bp',
      'fgsm:fa:true>bp',
      'fgsm:bp-surrogate:own>fa+bp',
      'bim:bp:own>fa',
      'bim:fa:own>bp',
      'bim:fa:true>bp',
      'bim:bp-surrogate:own>fa+bp',
      'mifgsm:bp:own>fa',
      'mifgsm:fa:own>bp',
      'mifgsm:bp-surrogate:own>fa+bp',
      'apgd:fa:own>bp',
      'autoattack:fa:true>bp',
      'autoattack:bp:own>fa',
      'square:fa:none>',
      'noise:fa:none>',
      'square:bp:none>',
      'noise:bp:none>',
    ]);
    for (const s of audit.filter((x) => x.spec.gradientTag === 'true')) {
      expect(s.spec.source).toBe('fa'); // the attacked model is FA; only its gradient is the twin's
      expect(s.spec.trueGradient).toBe(true);
    }
    // BP's APGD is AutoAttack's first stage; Square is not run at the sanity points
    expect(at(0.5).filter((x) => x.startsWith('square'))).toEqual([]);
    expect(at(0.5).filter((x) => x.startsWith('noise'))).toHaveLength(2);
    // MI-FGSM in its standard form uses Dong et al.'s decay 1.0 (the paper's rules keep 0.8)
    const mi = audit.find((s) => s.spec.attack === 'mifgsm')!;
    expect(mi.spec.options).toEqual({ variant: 'standard', steps: 10, decay: 1 });
    expect(paper.find((s) => s.spec.attack === 'mifgsm')!.spec.params.decay).toBe(0.8);
    // the curves: PGD at 1, 10, 100 steps and 1, 2, 5 restarts, for BP, FA own and FA true
    const curves = plan.steps.filter((s) => s.role === 'curve');
    expect(curves).toHaveLength(3 * 6);
    expect(
      curves.every((s) => s.spec.attack === 'pgd' && s.spec.eps === 0.1 && s.spec.n === 50),
    ).toBe(true);
    expect(
      curves.filter((s) => s.curve!.parameter === 'restarts').map((s) => s.spec.params.restarts),
    ).toEqual([1, 2, 5, 1, 2, 5, 1, 2, 5]);
    // PGD-10 x1 is a point of both curves: planned twice, one key
    const keys = plan.steps.map((s) => s.key);
    expect(new Set(keys).size).toBe(keys.length - 3);
    expect(plan.alignments.map((a) => [a.model, a.n])).toEqual([['fa', 200]]);
    expect(plan.auditSize).toBe(200);
    expect(plan.robustEpsilons).toEqual([0.1, 0.2, 0.3, 0.5, 1]);
    expect(plan.models.map((m) => `${m.id}:${m.method}:${m.seed}`)).toEqual([
      'bp:bp:1',
      'fa:fa:1',
      'bp-surrogate:bp:1001',
    ]);
  });

  it("plans CIFAR-10's audit at k/255 and the paper's at its own grid", () => {
    const plan = planDataset(PRESETS.paper, 'cifar10', 10000);
    const eps = [...new Set(plan.steps.filter((s) => s.role === 'audit').map((s) => s.spec.eps))];
    expect(eps.map((e) => Math.round(e * 255 * 1000) / 1000)).toEqual([1, 2, 4, 8, 16, 127.5, 255]);
    expect(plan.auditSize).toBe(200);
  });

  it("keeps the store keys of the paper's steps, so earlier runs' stored steps are reused", () => {
    // keys written by earlier versions (the paper preset's cells/ of the committed study)
    const keys = new Set(planDataset(PRESETS.paper, 'mnist', 10000).steps.map((s) => s.key));
    expect(keys).toContain('mnist/bim/paper/eps=0.1/own-gradient-of=bp/19a1e5ef0fa6');
    expect(keys).toContain('mnist/bim/paper/eps=0.2/own-gradient-of=bp/6d03cd56e018');
    const q = planDataset(quick(), 'mnist', 1000);
    expect(q.alignments[0]?.key).toBe('mnist/alignment/fa/1203841a58ab');
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
    // the paper's iterations: its FGSM keys stay, its iterative attacks' keys move, the
    // audit's (its own iterations) stay
    base.forEach((k, i) => {
      const paper = !k.includes('/audit/') && !k.includes('/curve/');
      if (paper && !k.includes('/fgsm/')) expect(changed[i]).not.toBe(k);
      else expect(changed[i]).toBe(k);
    });
    const biggerAudit = quick();
    biggerAudit.audit.size = 300;
    const moved = planDataset(biggerAudit, 'mnist', 1000).steps.map((s) => s.key);
    base.forEach((k, i) => {
      if (k.includes('/audit/')) expect(moved[i]).not.toBe(k);
      else if (!k.includes('/curve/')) expect(moved[i]).toBe(k);
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
    expect(plan.alignments).toEqual([]);
    expect(plan.robustEpsilons).toEqual([]);
    expect(planModels(c).map((m) => m.id)).toEqual(['bp', 'fa']);
  });

  it('caps the audit budgets at the test images there are', () => {
    const plan = planDataset(quick(), 'mnist', 40);
    expect(plan.steps.find((s) => s.spec.gradientTag === 'none')!.spec.n).toBe(40);
    expect(plan.alignments[0]!.n).toBe(40);
    expect(plan.steps.every((s) => s.spec.n === 40)).toBe(true);
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
    // PGD with restarts: each restart its own steps
    const pgd = steps.find((s) => s.role === 'curve' && s.spec.params.restarts === 5)!.spec;
    expect(stepCost(pgd)).toBe(50 * 5 * 10);
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

describe('the rules a study trains', () => {
  it('plans every rule like FA: own path, true gradient, AutoAttack, transfer from BP and the surrogate, alignment', () => {
    const config = { ...quick(), rules: ['bp', 'fa', 'kp'] } as ReproConfig;
    validateConfig(config);
    const plan = planDataset(config, 'mnist', 1000);
    expect(planModels(config).map((m) => `${m.id}:${m.method}`)).toEqual([
      'bp:bp',
      'fa:fa',
      'kp:kp',
      'bp-surrogate:bp',
    ]);
    const at = (role: string, attack: string, eps: number) =>
      plan.steps
        .filter((s) => s.role === role && s.spec.attack === attack && s.spec.eps === eps)
        .map((s) => `${s.spec.source}/${s.spec.gradientTag}->${s.spec.targets.join('+')}`)
        .sort();
    expect(at('paper', 'bim', 0.2)).toEqual(['bp/own->fa+kp', 'fa/own->bp', 'kp/own->bp']);
    expect(at('audit', 'bim', 0.1)).toEqual([
      'bp-surrogate/own->fa+kp+bp',
      'bp/own->fa+kp',
      'fa/own->bp',
      'fa/true->bp',
      'kp/own->bp',
      'kp/true->bp',
    ]);
    expect(at('audit', 'autoattack', 0.1)).toEqual(['bp/own->fa+kp', 'fa/true->bp', 'kp/true->bp']);
    expect(at('audit', 'square', 0.1)).toEqual(['bp/none->', 'fa/none->', 'kp/none->']);
    expect(at('curve', 'pgd', 0.1)).toHaveLength(5 * (3 + 3));
    expect(plan.alignments.map((a) => a.model)).toEqual(['fa', 'kp']);
    // every key is distinct (but the point the steps and restarts curves share, once per curve
    // pair), and a step with other targets than the paper pair's has another key
    const curves = plan.steps.filter((s) => s.role === 'curve');
    expect(new Set(plan.steps.map((s) => s.key)).size).toBe(plan.steps.length - curves.length / 6);
    const pairKeys = new Set(planDataset(quick(), 'mnist', 1000).steps.map((s) => s.key));
    const bpOwn = plan.steps.find((s) => s.key.includes('/bim/paper/eps=0.2/own-gradient-of=bp/'))!;
    expect(pairKeys.has(bpOwn.key)).toBe(false);
  });

  it('gives every step another key when the feedback seeds are separate (other models)', () => {
    const shared = planDataset(quick(), 'mnist', 1000);
    const separate = planDataset({ ...quick(), feedbackSeeds: 'separate' }, 'mnist', 1000);
    const keys = new Set(shared.steps.map((s) => s.key));
    expect(separate.steps.some((s) => keys.has(s.key))).toBe(false);
    expect(separate.alignments[0]!.key).not.toBe(shared.alignments[0]!.key);
    expect(
      planModels({ ...quick(), feedbackSeeds: 'separate' }).map((m) => m.feedbackSeed),
    ).toEqual([2001, 2001, 3001]);
  });

  it("gives wm's mirror to the wm model alone: its folder and its steps change, no other's", () => {
    const base = { ...quick(), rules: ['bp', 'fa', 'wm'] } as ReproConfig;
    const mirrored = {
      ...base,
      train: { ...base.train, mirror: { rate: 0.5, batch: 1024 } },
    } as ReproConfig;
    validateConfig(mirrored);
    const before = planDataset(base, 'mnist', 1000);
    const after = planDataset(mirrored, 'mnist', 1000);
    expect(after.models.map((m) => m.mirror ?? null)).toEqual([
      null,
      null,
      { rate: 0.5, batch: 1024 },
      null,
    ]);
    const folders = (p: typeof before) => p.models.map((m) => modelFolder('mnist', m, p.train));
    const [f0, f1] = [folders(before), folders(after)];
    expect(f1.map((f, i) => f === f0[i])).toEqual([true, true, false, true]);
    // a step changes its key exactly when wm is its source or one of its targets
    const oldKeys = new Set(before.steps.map((s) => s.key));
    const involves = (s: (typeof after.steps)[number]) =>
      s.spec.source === 'wm' || s.spec.targets.includes('wm');
    expect(after.steps.some(involves)).toBe(true);
    for (const s of after.steps)
      expect({ key: s.key, kept: oldKeys.has(s.key) }).toEqual({ key: s.key, kept: !involves(s) });
    expect(after.alignments.map((a, i) => a.key === before.alignments[i]!.key)).toEqual([
      true,
      false,
    ]);
    // bad mirrors are refused, naming what the field takes
    for (const mirror of [{ rate: 0, batch: 64 }, { rate: 0.5, batch: 1.5 }, { rate: 0.5 }, 'fast'])
      expect(() =>
        validateConfig({ ...base, train: { ...base.train, mirror } } as ReproConfig),
      ).toThrow(/train\.mirror: expected \{ rate in \(0, 1\], batch: an integer >= 1 \} or null/);
  });

  it('refuses rules without bp, unknown rules and bp alone, naming the known ones', () => {
    const bad = (rules: unknown) => () => validateConfig({ ...quick(), rules } as ReproConfig);
    expect(bad(['fa', 'kp'])).toThrow(/rules: expected a list with 'bp' \(the reference/);
    expect(bad(['bp', 'feedback'])).toThrow(ConfigError);
    expect(bad(['bp', 'feedback'])).toThrow(
      /rules\[1\]: expected one of 'bp', 'fa', 'usf', 'frsf', 'brsf', 'kp', 'wm', 'dfa', found "feedback"/,
    );
    expect(bad(['bp'])).toThrow(/rules: expected 'bp' and at least one other of fa, usf/);
    expect(bad(['bp', 'fa', 'fa'])).toThrow(/no repeated entries/);
  });
});
