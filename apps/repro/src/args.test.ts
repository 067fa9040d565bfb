import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from './args.js';
import { ConfigError, PRESETS, validateConfig } from './config.js';

describe('configuration', () => {
  it("defaults to the paper preset: full sets, eps 0..1 in steps of 0.1, 10 iterations, the rules' own mu", async () => {
    const { config } = await resolveConfig([]);
    expect(config.preset).toBe('paper');
    expect(config.train.size).toBeNull();
    expect(config.testSize).toBeNull();
    expect(config.attacks.epsilons).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(config.attacks.iterations).toBe(10);
    // null: 0.8 with the paper's rules, Dong et al.'s 1.0 with the standard ones (plan.test.ts)
    expect(config.attacks.mu).toBeNull();
    expect(config.attacks.variant).toBe('paper');
    expect(config.audit.epsilons.mnist).toEqual([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 1]);
    expect(config.audit.epsilons.cifar10.map((e) => Math.round(e * 255))).toEqual([
      1, 2, 4, 8, 16, 128, 255,
    ]);
    expect(config.attacks.names).toEqual(['fgsm', 'bim', 'mifgsm']);
  });

  it('audit eps: per dataset from a config file (the other keeps its grid), one list for all, or --audit-eps', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-args-'));
    const file = join(dir, 'c.json');
    await writeFile(
      file,
      JSON.stringify({ audit: { epsilons: { mnist: [0.1, 0.3] }, size: 100 } }),
    );
    const { config } = await resolveConfig(['--config', file]);
    expect(config.audit.epsilons.mnist).toEqual([0.1, 0.3]);
    expect(config.audit.epsilons.cifar10).toEqual(PRESETS.paper.audit.epsilons.cifar10);
    expect(config.audit.size).toBe(100);
    await writeFile(file, JSON.stringify({ audit: { epsilons: [0.2] } }));
    const one = await resolveConfig(['--config', file]);
    expect(one.config.audit.epsilons).toEqual({
      mnist: [0.2],
      'fashion-mnist': [0.2],
      cifar10: [0.2],
    });
    const flags = await resolveConfig(['--audit-eps', '0.1,0.2', '--audit-size', '50']);
    expect(flags.config.audit.epsilons).toEqual({
      mnist: [0.1, 0.2],
      'fashion-mnist': [0.1, 0.2],
      cifar10: [0.1, 0.2],
    });
    expect(flags.config.audit.size).toBe(50);
    await expect(resolveConfig(['--audit-eps', '0.1,2'])).rejects.toThrow(
      /audit\.epsilons\.mnist\[1\]: expected a number in \[0, 1\], found 2/,
    );
    await writeFile(file, JSON.stringify({ audit: { gradientFreeSize: 10 } }));
    await expect(resolveConfig(['--config', file])).rejects.toThrow(/audit\.gradientFreeSize/);
  });

  it('reads --shard k/n and refuses any other form', async () => {
    expect((await resolveConfig(['--shard', '2/3'])).shard).toEqual({ index: 2, count: 3 });
    expect((await resolveConfig([])).shard).toBeNull();
    for (const bad of ['0/2', '3/2', '1', '1/0', 'a/b', '', '1/65', '1.5/2'])
      await expect(resolveConfig(['--shard', bad]), bad).rejects.toThrow(
        /--shard: expected 'k\/n' with 1 <= k <= n <= 64, e\.g\. 1\/2/,
      );
    await expect(resolveConfig(['--shard', '1/2', '--report-only'])).rejects.toThrow(
      /--shard: expected not given with --report-only/,
    );
  });

  it('refuses what only looked valid: inherited keys, an empty number, a seed whose surrogate overflows', async () => {
    await expect(resolveConfig(['--preset', 'toString'])).rejects.toThrow(
      /--preset: expected one of 'smoke', 'quick', 'paper', 'benchmark', found "toString"/,
    );
    await expect(resolveConfig(['--seed='])).rejects.toThrow(
      /--seed: expected an integer, found ""/,
    );
    await expect(resolveConfig(['--test-size='])).rejects.toThrow(/--test-size/);
    await expect(resolveConfig(['--seed', String(2 ** 32 - 1000)])).rejects.toThrow(
      /seed: expected an integer in \[0, 4294966295\] \(the surrogate uses seed \+ 1000\)/,
    );
    expect((await resolveConfig(['--seed', '4294966295'])).config.seed).toBe(4294966295);
    const dir = await mkdtemp(join(tmpdir(), 'repro-args-'));
    const file = join(dir, 'c.json');
    for (const bad of [{ constructor: 1 }, { train: { hasOwnProperty: 2 } }]) {
      await writeFile(file, JSON.stringify(bad));
      await expect(resolveConfig(['--config', file])).rejects.toThrow(
        /expected one of the known fields/,
      );
    }
  });

  it('resolves --out and --data-dir against the folder the user ran the command from (INIT_CWD)', async () => {
    const before = process.env.INIT_CWD;
    process.env.INIT_CWD = '/home/someone/project';
    try {
      const { config } = await resolveConfig(['--out', 'runs/a', '--data-dir', '../data']);
      expect(config.outDir).toBe('/home/someone/project/runs/a');
      expect(config.dataDir).toBe('/home/someone/data');
      // the default output folder stays the app's own
      expect((await resolveConfig([])).config.outDir).toBe('out/paper');
    } finally {
      if (before === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = before;
    }
  });

  it('every preset is valid', () => {
    for (const p of Object.values(PRESETS)) expect(validateConfig(structuredClone(p))).toEqual(p);
  });

  it('flags override the preset', async () => {
    const { config } = await resolveConfig([
      '--preset',
      'smoke',
      '--eps',
      '0,0.5',
      '--epochs',
      '3',
      '--test-size',
      'all',
      '--datasets',
      'mnist',
      '--no-audit',
      '--variant',
      'standard',
      '--seed',
      '7',
      '--workers',
      '3',
    ]);
    expect(config.preset).toBe('smoke');
    expect(config.attacks.epsilons).toEqual([0, 0.5]);
    expect(config.train.epochs).toEqual({ mnist: 3, 'fashion-mnist': 3, cifar10: 3 });
    expect(config.testSize).toBeNull();
    expect(config.datasets).toEqual(['mnist']);
    expect(config.audit.enabled).toBe(false);
    expect(config.attacks.variant).toBe('standard');
    expect(config.seed).toBe(7);
    expect(config.workers).toBe(3);
    expect(config.outDir).toBe('out/smoke');
    expect((await resolveConfig(['--workers', 'auto'])).config.workers).toBe('auto');
  });

  it("reads the deprecated --variant canonical as 'standard', with a deprecation warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { config } = await resolveConfig(['--variant', 'canonical']);
      expect(config.attacks.variant).toBe('standard');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([
        expect.stringMatching(
          /^DeprecationWarning: flags: attacks.variant 'canonical'.*'standard'/,
        ),
      ]);
      expect(() =>
        validateConfig({
          ...PRESETS.quick,
          attacks: { ...PRESETS.quick.attacks, variant: 'x' as 'paper' },
        }),
      ).toThrow(/attacks.variant.*'paper', 'standard'/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a config file sets the preset and any field; flags still win', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-cfg-'));
    const file = join(dir, 'c.json');
    await writeFile(
      file,
      JSON.stringify({
        preset: 'quick',
        testSize: 77,
        train: { epochs: { mnist: 4 } },
        attacks: { iterations: 5 },
      }),
    );
    const { config } = await resolveConfig(['--config', file, '--iterations', '6']);
    expect(config.preset).toBe('quick');
    expect(config.testSize).toBe(77);
    expect(config.train.epochs).toEqual({
      ...PRESETS.quick.train.epochs,
      mnist: 4,
    });
    expect(config.train.batchSize).toBe(PRESETS.quick.train.batchSize);
    expect(config.attacks.iterations).toBe(6);
  });

  it.each([
    [['--eps', '0,1.5'], /attacks\.epsilons\[1\]: expected a number in \[0, 1\], found 1\.5/],
    [['--eps', '0,abc'], /--eps: expected comma-separated numbers/],
    [
      ['--preset', 'huge'],
      /--preset: expected one of 'smoke', 'quick', 'paper', 'benchmark', found "huge"/,
    ],
    [
      ['--datasets', 'mnist,svhn'],
      /datasets\[1\]: expected one of 'mnist', 'fashion-mnist', 'cifar10', found "svhn"/,
    ],
    [['--attacks', 'fgsm,fgsm'], /attacks\.names: expected no repeated entries/],
    [['--epochs', '0'], /train\.epochs\.mnist: expected an integer >= 1, found 0/],
    [['--test-size=-3'], /--test-size: expected a positive integer or 'all', found "-3"/],
    [
      ['--backend', 'gpu'],
      /backend: expected one of 'auto', 'tensorflow', 'wasm', 'cpu', found "gpu"/,
    ],
    [['--workers', '0'], /workers: expected 'auto' or an integer in \[1, 64\], found 0/],
    [['--workers', 'two'], /--workers: expected an integer, found "two"/],
    [['--bogus'], /flags: expected known options .*bogus/],
    [['--config', '/nonexistent/x.json'], /--config: expected a readable JSON file/],
  ])('refuses %j with a clear error before any work', async (argv, message) => {
    const err = await resolveConfig(argv as string[]).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(message);
  });

  it('refuses unknown and mistyped fields in a config file, naming the file and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-cfg-'));
    const typo = join(dir, 'typo.json');
    await writeFile(typo, JSON.stringify({ attacks: { iteratons: 5 } }));
    await expect(resolveConfig(['--config', typo])).rejects.toThrow(
      /typo\.json: attacks\.iteratons: expected one of the known fields/,
    );
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ train: { batchSize: '64' } }));
    await expect(resolveConfig(['--config', wrong])).rejects.toThrow(
      /wrong\.json: train\.batchSize: expected an integer >= 1, found "64"/,
    );
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ nope');
    await expect(resolveConfig(['--config', bad])).rejects.toThrow(
      /bad\.json: \(file\): expected valid JSON/,
    );
  });
});
