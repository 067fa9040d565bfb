import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readResults } from '@fa-robust/metrics/node';
import { describe, expect, it } from 'vitest';
import { PRESETS, type ReproConfig } from './config.js';
import { runRepro } from './run.js';
import { readRuns } from './runlog.js';
import { auditVerdict, verdictLabel } from './verdict.js';

const dataDir = process.env.FA_ROBUST_DATA_DIR;
const haveMnist =
  dataDir != null && existsSync(join(resolve(dataDir), 'mnist', 't10k-images-idx3-ubyte.gz'));
if (!haveMnist)
  console.warn(
    `repro e2e tests skipped: no MNIST under FA_ROBUST_DATA_DIR (${dataDir ?? 'unset'}); set it to a folder holding mnist/*.gz`,
  );

const cli = resolve(import.meta.dirname, '..', 'dist', 'cli.js');

/** The smoke preset on MNIST only, into a fresh folder. */
async function smoke(): Promise<ReproConfig> {
  const out = await mkdtemp(join(tmpdir(), 'repro-e2e-'));
  return {
    ...structuredClone(PRESETS.smoke),
    datasets: ['mnist'],
    outDir: out,
    dataDir: resolve(dataDir!),
    download: false,
  };
}

describe.skipIf(!haveMnist)('repro end to end on real MNIST', () => {
  it('the smoke preset writes results, figures and a report, then a rerun reuses every step', async () => {
    const config = await smoke();
    const lines: string[] = [];
    const first = await runRepro(config, { command: 'test', log: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/^backend: wasm/);
    expect(first.reused).toBe(0);
    expect(first.computed).toBeGreaterThan(10);
    const results = await readResults(join(config.outDir, 'results.json')); // validates the schema
    expect(results.models.map((m) => m.id)).toEqual(['bp', 'fa', 'bp-surrogate']);
    // the paper's BIM on its grid, own path and transferred between BP and FA
    const paper = results.cells.filter(
      (c) => c.attack === 'bim' && c.epsilon === 0.3 && c.variant === 'paper',
    );
    expect(paper.map((c) => `${c.model}/${c.source}`).sort()).toEqual(
      ['bp/own', 'fa/own', 'fa/transfer:bp', 'bp/transfer:fa'].sort(),
    );
    for (const c of paper) expect(c.n).toBe(PRESETS.smoke.testSize);
    // the audit's BIM at eps 0.1, in-ball, on the audit's images
    const audit = results.cells.filter(
      (c) => c.attack === 'bim' && c.epsilon === 0.1 && c.variant === 'standard',
    );
    expect(audit.map((c) => `${c.model}/${c.source}`).sort()).toEqual(
      [
        'bp/own',
        'fa/own',
        'fa/transfer:bp',
        'bp/transfer:fa',
        'fa/true',
        'bp/transfer:fa:true',
        'fa/transfer:bp-surrogate',
        'bp/transfer:bp-surrogate',
        'bp-surrogate/own',
      ].sort(),
    );
    for (const c of audit) expect(c.n).toBe(PRESETS.smoke.audit.size);
    // white-box BIM breaks the BP network that the smoke run trained
    expect(
      results.cells.find(
        (c) => c.model === 'bp' && c.attack === 'bim' && c.source === 'own' && c.epsilon === 0.3,
      )!.accuracy!,
    ).toBeLessThan(0.1);
    // every audit cell is inside its ball and the pixel range, and says so; the paper's
    // MI-FGSM steps eps every iteration without projection and its cells say they are not
    for (const c of results.cells.filter((x) => x.linf && x.epsilon > 0)) {
      if (c.variant === 'paper') {
        expect(c.inBounds).toBe(c.outOfBounds === 0);
        if (c.attack === 'mifgsm') {
          expect(c.linf!.max!).toBeGreaterThan(c.epsilon);
          expect(c.inBall).toBe(false);
        }
      } else {
        expect(c.linf!.max!).toBeLessThanOrEqual(c.epsilon + 1e-5);
        expect([c.inBall, c.inBounds, c.outOfBounds]).toEqual([true, true, 0]);
      }
    }
    // robust accuracy per group of in-ball attacks, paired comparisons and the checks
    const labels = results.robust!.filter((r) => r.model === 'fa' && r.epsilon === 0.1);
    expect(labels.map((r) => r.label)).toEqual([
      'own path',
      'true gradient',
      'AutoAttack',
      'Square',
      'random noise',
      'BP-surrogate transfer',
      'every in-ball attack',
    ]);
    const all = labels.find((r) => r.label === 'every in-ball attack')!;
    for (const r of labels) expect(r.correct).toBeGreaterThanOrEqual(all.correct);
    expect(results.comparisons!.some((c) => c.label === 'own path vs true gradient')).toBe(true);
    const checkIds = new Set(results.checks!.map((c) => c.check));
    for (const id of ['in-ball', 'constant-image-bound', 'monotone-in-eps', 'beats-random-noise'])
      expect(checkIds).toContain(id);
    expect(results.checks!.find((c) => c.check === 'in-ball')!.status).toBe('pass');
    expect(results.layerAlignment!.map((l) => l.layer)).toHaveLength(5);
    expect(results.alignment?.[0]?.comparison).toBe('own-vs-true');
    const files = await readdir(join(config.outDir, 'figures'));
    expect(files).toEqual(
      expect.arrayContaining([
        'accuracy-mnist.png',
        'accuracy-mnist.svg',
        'transfer-mnist.png',
        'alignment.png',
      ]),
    );
    const report = await readFile(join(config.outDir, 'REPORT.md'), 'utf8');
    expect(report).toMatch(/mifgsm reaches L-inf \d\.\d+ at eps 0\.3/);
    expect(report).toMatch(/## The paper's claims and our numbers/);
    expect(report).toMatch(/## Sanity checks/);
    // the report states the verdict that the audit gives on the results file it wrote
    const verdict = auditVerdict(results, 'mnist', 'fa');
    expect(first.verdicts.map((v) => v.verdict)).toEqual([verdict.verdict]);
    expect(report).toContain(`### MNIST: **${verdictLabel(verdict)}**`);
    // the run kept a record of its wall time, and the report states it
    const runs1 = await readRuns(config.outDir);
    expect(runs1.map((r) => [r.command, r.outcome, r.computed])).toEqual([
      ['test', 'finished', first.computed],
    ]);
    expect(report).toMatch(
      /\*\*Wall time:\*\* \d+\.\d min over the study's 1 recorded run \(`runs\/`/,
    );
    expect(report).toContain(verdict.summary);
    expect(report).not.toMatch(/no audit cells/);
    expect((await readFile(join(config.outDir, 'results.csv'), 'utf8')).split('\n')[0]).toMatch(
      /^dataset,model,method,label,attack,/,
    );

    const again = await runRepro(config, { command: 'test', log: () => {} });
    expect(again.computed).toBe(0);
    expect(again.reused).toBe(first.computed);
    expect((await readRuns(config.outDir)).map((r) => r.computed)).toEqual([first.computed, 0]);
    expect(again.results.cells).toEqual(results.cells.map((c) => ({ ...c })));
    expect(again.results.environment.reusedFromOtherBackends).toBeUndefined();
    // a step stored by a run on another backend is reused, and said: its numbers are that backend's
    const cellFiles = (await readdir(join(config.outDir, 'cells'))).filter(
      (f) => f.includes('_fgsm_') && f.endsWith('.json'),
    );
    const one = join(config.outDir, 'cells', cellFiles[0]!);
    const stored = JSON.parse(await readFile(one, 'utf8'));
    expect(stored.origin.backend).toBe('wasm');
    await writeFile(one, JSON.stringify({ ...stored, origin: { backend: 'cpu' } }));
    const said: string[] = [];
    const mixed = await runRepro(config, { command: 'test', log: (l) => said.push(l) });
    expect(mixed.results.environment.reusedFromOtherBackends).toEqual({ cpu: 1 });
    expect(said.join('\n')).toMatch(/1 reused steps were computed on the cpu backend, not wasm/);

    // a hand-edited step that still parses (more correct than images), and a hand-edited
    // gradient-alignment record: each is named, set aside and computed again; nothing else is
    const bimFile = (await readdir(join(config.outDir, 'cells'))).find(
      (f) => f.includes('_audit_bim_') && f.endsWith('.json'),
    )!;
    const bim = JSON.parse(await readFile(join(config.outDir, 'cells', bimFile), 'utf8'));
    bim.value.cells[0].correct = bim.value.cells[0].n + 5;
    await writeFile(join(config.outDir, 'cells', bimFile), JSON.stringify(bim));
    const alignFile = (await readdir(join(config.outDir, 'cells'))).find(
      (f) => f.includes('_alignment_') && f.endsWith('.json'),
    )!;
    const align = JSON.parse(await readFile(join(config.outDir, 'cells', alignFile), 'utf8'));
    align.value.n = -1;
    await writeFile(join(config.outDir, 'cells', alignFile), JSON.stringify(align));
    const told: string[] = [];
    const edited = await runRepro(config, { command: 'test', log: (l) => told.push(l) });
    expect(edited.computed).toBe(1);
    const text = told.join('\n');
    expect(text).toContain(`${bimFile} is not valid (`);
    expect(text).toMatch(/cells\[0\]\.correct/);
    expect(text).toContain(`set aside as ${join(config.outDir, 'cells', bimFile)}.unreadable`);
    expect(text).toContain(`${alignFile} is not valid (`);
    const left = await readdir(join(config.outDir, 'cells'));
    expect(left).toContain(`${bimFile}.unreadable`);
    expect(left).toContain(`${alignFile}.unreadable`);
    expect(left).toContain(bimFile); // computed again
    const timeless = (cs: typeof again.results.cells) => cs.map(({ seconds: _s, ...c }) => c);
    expect(timeless(edited.results.cells)).toEqual(timeless(again.results.cells));
    expect(edited.results.alignment).toEqual(again.results.alignment);
  });

  it('studies any set of rules against BP (here uSF and DFA, no FA): cells, alignment and a verdict each', async () => {
    const base = await smoke();
    const config: ReproConfig = {
      ...base,
      rules: ['bp', 'usf', 'dfa'],
      audit: {
        ...base.audit,
        epsilons: { ...base.audit.epsilons, mnist: [0.3] },
        attacks: ['bim'],
        size: 32,
        noise: 0,
        alignmentSize: 16,
      },
    };
    const out = await runRepro(config, { command: 'test', log: () => {} });
    const results = await readResults(join(config.outDir, 'results.json'));
    expect(results.models.map((m) => `${m.id}:${m.method}`)).toEqual([
      'bp:bp',
      'usf:usf',
      'dfa:dfa',
      'bp-surrogate:bp',
    ]);
    const audit = results.cells.filter(
      (c) => c.attack === 'bim' && c.epsilon === 0.3 && c.variant === 'standard',
    );
    for (const rule of ['usf', 'dfa'])
      expect(audit.map((c) => `${c.model}/${c.source}`)).toEqual(
        expect.arrayContaining([
          `${rule}/own`,
          `${rule}/true`,
          `${rule}/transfer:bp`,
          `bp/transfer:${rule}`,
          `${rule}/transfer:bp-surrogate`,
        ]),
      );
    expect(results.alignment!.map((a) => a.model)).toEqual(['usf', 'dfa']);
    expect(out.verdicts.map((v) => `${v.dataset}/${v.model}`)).toEqual(['mnist/usf', 'mnist/dfa']);
    const report = await readFile(join(config.outDir, 'REPORT.md'), 'utf8');
    expect(report).toMatch(/### MNIST, USF: \*\*/);
    expect(report).toMatch(/### MNIST, DFA: \*\*/);
    expect(report).toMatch(/USF \(own backward path\)/);
    await rm(config.outDir, { recursive: true, force: true });
  });

  it('a study over seeds (the benchmark, small): one study per seed, then SUMMARY.md across them', async () => {
    const base = await smoke();
    const config: ReproConfig = {
      ...base,
      rules: ['bp', 'fa'],
      seeds: [1, 2],
      feedbackSeeds: 'separate',
      train: {
        ...base.train,
        epochs: { ...base.train.epochs, mnist: 2 },
        schedule: { type: 'cosine' },
      },
      // the benchmark's form: no paper part, the audit alone (here a small one)
      attacks: { ...base.attacks, names: [] },
      // (at eps 0.3 AutoAttack's first attack fools these briefly trained models: its later,
      // costly ones have nothing left to do)
      audit: {
        ...base.audit,
        epsilons: { ...base.audit.epsilons, mnist: [0.3] },
        attacks: ['bim'],
        size: 32,
        gradientFree: 'none',
        noise: 0,
        alignmentSize: 16,
      },
    };
    // keep the summary to look at: FA_ROBUST_KEEP_SUMMARY=dir
    if (process.env.FA_ROBUST_KEEP_SUMMARY) config.outDir = process.env.FA_ROBUST_KEEP_SUMMARY;
    const out = await runRepro(config, { command: 'test', log: () => {} });
    expect(out.seeds!.map((s) => s.seed)).toEqual([1, 2]);
    for (const seed of [1, 2]) {
      const r = await readResults(join(config.outDir, `seed-${seed}`, 'results.json'));
      expect(r.cells.some((c) => c.variant === 'paper')).toBe(false);
      const fa = r.models.find((m) => m.id === 'fa')!;
      expect(fa.seed).toBe(seed);
      // the cosine schedule over 2 epochs, and the training curve kept per epoch
      const training = (fa.params as { training: { epoch: number; learningRate: number }[] })
        .training;
      expect(training.map((e) => [e.epoch, e.learningRate])).toEqual([
        [1, 1e-3],
        [2, 5e-4],
      ]);
      expect(existsSync(join(config.outDir, `seed-${seed}`, 'figures', 'training-mnist.png'))).toBe(
        true,
      );
    }
    // the feedback matrices are seeded apart: seed 1 and 2 differ in their B; the two seeds' FA
    // models differ in everything
    const summary = JSON.parse(await readFile(join(config.outDir, 'summary.json'), 'utf8'));
    expect(summary.seeds).toEqual([1, 2]);
    const fa = summary.rows.find((r: { rule: string }) => r.rule === 'fa');
    expect(fa.clean.values).toHaveLength(2);
    expect(fa.clean.mean).toBeCloseTo((fa.clean.values[0] + fa.clean.values[1]) / 2, 12);
    expect(Object.keys(fa.ownPath)).toEqual(['0.3']);
    expect(fa.ownPath['0.3'].intervals).toHaveLength(2);
    const verdicts = Object.values(fa.verdicts as Record<string, number>).reduce(
      (a, b) => a + b,
      0,
    );
    expect(verdicts).toBe(2);
    const md = await readFile(join(config.outDir, 'SUMMARY.md'), 'utf8');
    expect(md).toMatch(/^# Learning rules under a sound evaluation/);
    expect(md).toMatch(/\| FA \| \d+\.\d \(\d+\.\d–\d+\.\d\) \|/);
    expect(md).toMatch(/\*\*Is any learning rule robust under the true gradient\?\*\*/);
    for (const f of [
      'summary-robust-mnist.png',
      'summary-gap-mnist.png',
      'summary-alignment-mnist.png',
    ])
      expect(existsSync(join(config.outDir, 'figures', f))).toBe(true);
    // a rerun reuses every step of every seed
    const again = await runRepro(config, { command: 'test', log: () => {} });
    expect(again.computed).toBe(0);
    // --report-only while seed 2 has nothing finished: the summary of seed 1 alone, which says so
    await rm(join(config.outDir, 'seed-2'), { recursive: true, force: true });
    const lines: string[] = [];
    const partial = await runRepro(config, {
      command: 'test',
      reportOnly: true,
      log: (l) => lines.push(l),
    });
    expect(partial.computed).toBe(0);
    expect(lines).toContain('seed 2: nothing finished yet (report only); left out of the summary');
    const partialMd = await readFile(join(config.outDir, 'SUMMARY.md'), 'utf8');
    expect(partialMd).toMatch(
      /\*\*Partial \(report only\):\*\* seed 2 has no finished dataset yet/,
    );
    // what it cost: seed 1's compute, and the wall time of its two computing runs (the
    // report-only run computed nothing and kept no record)
    expect((await readRuns(join(config.outDir, 'seed-1'))).map((r) => r.outcome)).toEqual([
      'finished',
      'finished',
    ]);
    expect(partialMd).toMatch(
      /\*\*Cost:\*\* compute \d+\.\d worker-hours over the seeds shown \(training \d+\.\d, attacks \d+\.\d;.*measured wall time \d+\.\d min over 2 recorded runs/,
    );
    expect(partialMd).toMatch(/Command: `test` \(report only: rebuilt from the steps/);
    const one = JSON.parse(await readFile(join(config.outDir, 'summary.json'), 'utf8'));
    expect(one.seeds).toEqual([1]);
    expect(one.rows.find((r: { rule: string }) => r.rule === 'fa').clean.values).toEqual([
      fa.clean.values[0],
    ]);
    if (!process.env.FA_ROBUST_KEEP_SUMMARY)
      await rm(config.outDir, { recursive: true, force: true });
  });

  it('plots accuracy against PGD steps and restarts, from one shared point', async () => {
    const config = await smoke();
    config.attacks = { ...config.attacks, names: ['fgsm'], epsilons: [0] };
    config.audit = {
      ...config.audit,
      epsilons: { mnist: [0.1], 'fashion-mnist': [0.1], cifar10: [0.1] },
      attacks: ['fgsm'],
      autoattack: 'none',
      gradientFree: 'none',
      noise: 0,
      surrogate: false,
      size: 16,
      curves: {
        epsilon: { mnist: 0.1, 'fashion-mnist': 0.1, cifar10: 0.1 },
        steps: [1, 10],
        restarts: [1, 2],
        restartSteps: 10,
        size: 16,
      },
    };
    // a run whose record cannot be written (runs/ is a file here) runs anyway, and says so
    await writeFile(join(config.outDir, 'runs'), 'not a folder');
    const lines: string[] = [];
    const { results } = await runRepro(config, { command: 'test', log: (l) => lines.push(l) });
    expect(
      lines.some((l) => /could not start this run's record in runs\/ .*running without it/.test(l)),
    ).toBe(true);
    const curves = results.curves!;
    expect(curves.map((c) => `${c.model}/${c.source}/${c.parameter}`)).toEqual([
      'bp/own/steps',
      'bp/own/restarts',
      'fa/own/steps',
      'fa/own/restarts',
      'fa/true/steps',
      'fa/true/restarts',
    ]);
    for (const c of curves)
      expect(c.points.map((p) => p.value)).toEqual(c.parameter === 'steps' ? [1, 10] : [1, 2]);
    // PGD-10 with one restart is one step, shared by both curves
    const [steps, restarts] = [curves[0]!, curves[1]!];
    expect(steps.points[1]!.correct).toBe(restarts.points[0]!.correct);
    // curve points are not cells
    expect(results.cells.some((c) => c.attack === 'pgd')).toBe(false);
    expect(results.checks!.some((c) => c.check === 'steps-converged')).toBe(true);
    // report only: nothing computed, a step not stored is left out and said
    const cellsDir = join(config.outDir, 'cells');
    const gone = (await readdir(cellsDir)).find(
      (f) => f.includes('_audit_fgsm_') && f.includes('true-of=fa'),
    );
    await rm(join(cellsDir, gone!));
    const partial = await runRepro(config, { command: 'test', log: () => {}, reportOnly: true });
    expect(partial.computed).toBe(0);
    expect(partial.results.notes!.join(' ')).toMatch(
      /1 of \d+ steps not finished yet, left out of this report/,
    );
    expect(partial.results.cells.some((c) => c.source === 'true')).toBe(false);
    expect(partial.results.cells.length).toBeLessThan(results.cells.length);
  });

  it('continues after an interruption and loses no finished step; same numbers as an uninterrupted run in one thread', async () => {
    const config = await smoke();
    config.audit = { ...config.audit, enabled: false };
    config.workers = 2;
    const controller = new AbortController();
    let finished = 0;
    const interrupted = runRepro(config, {
      command: 'test',
      signal: controller.signal,
      log: (l) => {
        if (/^\[\d+\/\d+\]/.test(l) && ++finished === 4) controller.abort(new Error('stop'));
      },
    });
    await expect(interrupted).rejects.toThrow();
    // the step running on the other worker may still have landed; none was half written
    const stored = (await readdir(join(config.outDir, 'cells'))).filter((f) => f.endsWith('.json'));
    expect(stored.length).toBeGreaterThanOrEqual(4);
    expect(stored.length).toBeLessThanOrEqual(5);
    const resumed = await runRepro(config, { command: 'test', log: () => {} });
    expect(resumed.reused).toBe(stored.length);
    expect(resumed.computed).toBeGreaterThan(0);
    // determinism: a fresh run in another folder, all in the main thread, gives the same cells
    const fresh = await smoke();
    fresh.audit = config.audit;
    fresh.workers = 1;
    const clean = await runRepro(fresh, { command: 'test', log: () => {} });
    const strip = (cs: typeof clean.results.cells) => cs.map(({ seconds: _s, ...c }) => c);
    expect(strip(resumed.results.cells)).toEqual(strip(clean.results.cells));
  });

  it.skipIf(!existsSync(cli))(
    'survives kill -9 of the CLI: the rerun continues from the saved steps',
    async () => {
      const config = await smoke();
      const args = [
        cli,
        '--preset',
        'smoke',
        '--datasets',
        'mnist',
        '--no-audit',
        '--out',
        config.outDir,
        '--data-dir',
        config.dataDir!,
        '--no-download',
      ];
      const env = { ...process.env, CI: '1' };
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      await new Promise<void>((done) => {
        child.stdout.on('data', (d) => {
          out += d;
          if (/\[3\/\d+\]/.test(out) && !child.killed) child.kill('SIGKILL');
        });
        child.on('exit', () => done());
      });
      expect(child.signalCode).toBe('SIGKILL');
      const rerun = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out2 = '';
      rerun.stdout.on('data', (d) => {
        out2 += d;
      });
      const code = await new Promise<number | null>((done) => rerun.on('exit', (c) => done(c)));
      expect(code).toBe(0);
      expect(out2).toMatch(/resuming: ([3-9]|\d{2,}) finished steps found/);
      expect(out2).toMatch(/steps computed, ([3-9]|\d{2,}) reused from an earlier run/);
      expect(existsSync(join(config.outDir, 'REPORT.md'))).toBe(true);
    },
  );
});

describe.skipIf(!haveMnist)('shards of one study on one output folder', () => {
  it.skipIf(!existsSync(cli))(
    'two --shard processes at once: each model trained once, each step computed once, results as one run gives',
    async () => {
      const config = await smoke();
      const args = (more: string[]) => [
        cli,
        '--preset',
        'smoke',
        '--datasets',
        'mnist',
        '--no-audit',
        '--workers',
        '1',
        '--data-dir',
        config.dataDir!,
        '--no-download',
        ...more,
      ];
      const env = { ...process.env, CI: '1' };
      const run = (more: string[]) =>
        new Promise<{ code: number | null; out: string }>((done) => {
          const child = spawn(process.execPath, args(more), {
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
          });
          child.stderr.on('data', (d) => {
            out += d;
          });
          child.on('exit', (code) => done({ code, out }));
        });
      const [a, b] = await Promise.all([
        run(['--out', config.outDir, '--shard', '1/2']),
        run(['--out', config.outDir, '--shard', '2/2']),
      ]);
      expect([a.code, b.code], `${a.out}\n----\n${b.out}`).toEqual([0, 0]);
      const both = `${a.out}\n${b.out}`;
      // each model trained by one shard; the other waited for it or found it saved
      for (const id of ['bp', 'fa'])
        expect(both.match(new RegExp(`train mnist/${id}: done`, 'g')) ?? []).toHaveLength(1);
      const computed = [a.out, b.out].map((o) =>
        Number(/shard \d\/2: (\d+) steps computed/.exec(o)?.[1] ?? Number.NaN),
      );
      expect(computed.every((c) => c > 0)).toBe(true);
      // exactly one of them wrote the results, from every step
      const writers = [a.out, b.out].filter((o) => o.includes('wrote '));
      expect(writers).toHaveLength(1);
      const sharded = await readResults(join(config.outDir, 'results.json'));
      const stored = (await readdir(join(config.outDir, 'cells'))).filter((f) =>
        f.endsWith('.json'),
      );
      expect(computed[0]! + computed[1]!).toBe(stored.length);
      expect((await readdir(config.outDir)).filter((f) => f.startsWith('.repro'))).toEqual([]);
      // the same numbers as one process computing everything
      const whole = await smoke();
      const one = await run(['--out', whole.outDir]);
      expect(one.code, one.out).toBe(0);
      const single = await readResults(join(whole.outDir, 'results.json'));
      const strip = (cs: typeof single.cells) => cs.map(({ seconds: _s, ...c }) => c);
      expect(strip(sharded.cells)).toEqual(strip(single.cells));
    },
  );
});

describe('the CLI refuses bad flags before any work', () => {
  it.skipIf(!existsSync(cli))('exits 2 with the field, the expectation and the usage', async () => {
    const child = spawn(process.execPath, [cli, '--eps', '0,2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/attacks\.epsilons\[1\]: expected a number in \[0, 1\], found 2/);
    expect(err).toMatch(/Usage: pnpm --filter repro start/);
  });
});
