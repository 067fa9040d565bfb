import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESETS, type ReproConfig } from './config.js';
import { loadData } from './data.js';
import { runRepro } from './run.js';

// A user's mistake or a missing file ends in a sentence saying what is wrong and what to do,
// not a stack trace, and never loses finished work (faults the reliability issue lists).

const dataDir = process.env.FA_ROBUST_DATA_DIR;
const mnist = dataDir ? join(resolve(dataDir), 'mnist') : null;
const haveMnist = mnist != null && existsSync(join(mnist, 't10k-images-idx3-ubyte.gz'));
const cli = resolve(import.meta.dirname, '..', 'dist', 'cli.js');

async function config(over: Partial<ReproConfig>): Promise<ReproConfig> {
  return {
    ...structuredClone(PRESETS.smoke),
    datasets: ['mnist'],
    outDir: await mkdtemp(join(tmpdir(), 'repro-faults-')),
    download: false,
    ...over,
  };
}

describe('no data, a bad data folder, a bad output folder', () => {
  it('a data folder that does not exist: the run says so (it does not fall through to a download)', async () => {
    const c = await config({ dataDir: '/nonexistent/fa-robust-data' });
    await expect(runRepro(c, { command: 't', log: () => {} })).rejects.toThrow(
      /no dataset could be loaded, so there is nothing to run:\n {2}- mnist: skipped, the data folder \/nonexistent\/fa-robust-data does not exist/,
    );
  });

  it('a data folder that is a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-faults-'));
    const file = join(dir, 'data.txt');
    await writeFile(file, 'not a folder');
    const c = await config({ dataDir: file });
    await expect(runRepro(c, { command: 't', log: () => {} })).rejects.toThrow(
      /the data folder .*data\.txt is a file, not a folder/,
    );
  });

  it("no data at all: the loader's guidance (which files, where to put them) reaches the user", async () => {
    const empty = await mkdtemp(join(tmpdir(), 'repro-faults-'));
    const c = await config({ dataDir: empty });
    const e = await runRepro(c, { command: 't', log: () => {} }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).name).toBe('NoDataError');
    expect((e as Error).message).toMatch(
      /mnist: skipped, data not available: .*train-images-idx3-ubyte\.gz/,
    );
  });

  it('an output folder that is a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro-faults-'));
    const file = join(dir, 'out');
    await writeFile(file, '');
    const c = await config({ outDir: file });
    await expect(runRepro(c, { command: 't', log: () => {} })).rejects.toThrow(
      /the output folder .*out is a file \(or lies under one\), not a folder: give --out another folder/,
    );
  });

  it.skipIf(!dataDir || !existsSync(join(resolve(dataDir ?? '.'), 'fashion-mnist')))(
    'loads Fashion-MNIST from the data folder, verified, with its own classes',
    async () => {
      const c = await config({ datasets: ['fashion-mnist'], dataDir: resolve(dataDir!) });
      const r = await loadData(c, 'fashion-mnist', { cwd: process.cwd() });
      if (r.skipped) throw new Error(r.note);
      expect(r.note).toMatch(
        /^fashion-mnist: 512 training and 128 test images, from dataDir .*fashion-mnist, checksums verified/,
      );
      expect(r.test.shape).toEqual([128, 28, 28, 1]);
      expect(r.test.classes[0]).toBe('T-shirt/top');
      // its first test label is 9 (ankle boot), MNIST's is 7
      expect(r.test.labels[0]).toBe(9);
    },
  );

  it.skipIf(!haveMnist)(
    'one corrupt file: that dataset fails with a note naming it, it does not throw',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'repro-faults-'));
      await mkdir(join(dir, 'mnist'));
      for (const f of [
        'train-images-idx3-ubyte.gz',
        'train-labels-idx1-ubyte.gz',
        't10k-images-idx3-ubyte.gz',
        't10k-labels-idx1-ubyte.gz',
      ])
        await copyFile(join(mnist!, f), join(dir, 'mnist', f));
      const labels = join(dir, 'mnist', 't10k-labels-idx1-ubyte.gz');
      const bytes = await readFile(labels);
      await writeFile(labels, bytes.subarray(0, bytes.length - 100));
      const c = await config({ dataDir: dir });
      const r = await loadData(c, 'mnist', { cwd: process.cwd() });
      expect(r.skipped).toBe(true);
      expect(r.skipped && r.failed).toBe(true);
      expect(r.note).toMatch(/^mnist: could not be loaded: .*t10k-labels-idx1-ubyte\.gz/);
    },
  );

  it.skipIf(!existsSync(cli))(
    'the CLI ends a missing data folder with one line and exit code 1, no stack trace',
    async () => {
      const out = await mkdtemp(join(tmpdir(), 'repro-faults-'));
      const child = spawn(
        process.execPath,
        [
          cli,
          '--preset',
          'smoke',
          '--datasets',
          'mnist',
          '--data-dir',
          '/nonexistent/x',
          '--no-download',
          '--out',
          out,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
      });
      const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
      expect(code).toBe(1);
      expect(err).toMatch(/^repro: no dataset could be loaded/);
      expect(err).not.toMatch(/\n\s+at /);
    },
  );
});
