import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ConfigError,
  DATASETS,
  mergeConfig,
  PRESET_NAMES,
  PRESETS,
  type PresetName,
  type ReproConfig,
  validateConfig,
} from './config.js';

export const USAGE = `Usage: pnpm --filter repro start -- [options]

Reproduces "On the Adversarial Robustness of Neural Networks without Weight Transport"
(Akrout 2019) and audits FA's robustness for gradient masking. Resumable: rerun the same
command after an interruption and it continues where it stopped.

Options (each overrides the preset, then the --config file):
  --preset <smoke|quick|paper|benchmark>
                                 what to run (default: paper; benchmark: every rule, 3 datasets, 3 seeds)
  --config <file.json>           a JSON file with any ReproConfig fields (see README)
  --data-dir <dir>               dataset folder (default: $FA_ROBUST_DATA_DIR, then cache, then download)
  --no-download                  never download; fail with the list of missing files instead
  --out <dir>                    output folder (default: out/<preset>)
  --datasets <list>              mnist,fashion-mnist,cifar10 (default: mnist,cifar10)
  --rules <list>                 learning rules, bp and any of fa,usf,frsf,brsf,kp,wm,dfa (default: bp,fa)
  --seed <n>                     seed for data order, initialisation and attacks
  --seeds <list>                 a study per seed (e.g. 1,2,3), in <out>/seed-<s>/, then SUMMARY.md across them
  --backend <auto|wasm|cpu|tensorflow>
  --workers <n|auto>             worker threads for training and attacks (default: auto, one per core)
  --train-size <n|all>           training images per dataset
  --epochs <n>                   epochs for every dataset (or set train.epochs per dataset in --config)
  --test-size <n|all>            test images attacked (the first n of the test set)
  --eps <list>                   e.g. 0,0.1,0.2 (each in [0, 1])
  --attacks <list>               fgsm,bim,mifgsm
  --variant <paper|standard>     the paper's update rules (default) or the standard ones
  --iterations <n>               BIM / MI-FGSM iterations (default 10)
  --no-audit                     skip the gradient-masking audit
  --report-only                  compute nothing: results, figures and report from what is stored
  --shard <k/n>                  compute shard k of n of the study (1 <= k <= n): n processes, even on
                                 several machines sharing --out, each run with its own k; the last to
                                 finish writes the results
  --audit-eps <list>             the audit's in-ball eps for every dataset (default: per dataset, see README)
  --audit-size <n|all>           test images every audit attack runs on (the same for all)
  --help                         this text
`;

const intOrAll = (flag: string, v: string): number | null => {
  if (v === 'all') return null;
  const n = v.trim() === '' ? Number.NaN : Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError(flag, "a positive integer or 'all'", v, 'flags');
  return n;
};
const int = (flag: string, v: string): number => {
  // (Number('') is 0: '--seed=' must not mean seed 0)
  const n = v.trim() === '' ? Number.NaN : Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(flag, 'an integer', v, 'flags');
  return n;
};
const csv = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Flags → config: preset, then the --config file, then flags; validated. */
export async function resolveConfig(
  argv: string[],
): Promise<{ config: ReproConfig; help: boolean; reportOnly: boolean; shard: Shard | null }> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv.filter((a) => a !== '--'),
      strict: true,
      allowPositionals: false,
      options: {
        preset: { type: 'string' },
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        'no-download': { type: 'boolean' },
        out: { type: 'string' },
        datasets: { type: 'string' },
        rules: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        backend: { type: 'string' },
        workers: { type: 'string' },
        'train-size': { type: 'string' },
        epochs: { type: 'string' },
        'test-size': { type: 'string' },
        eps: { type: 'string' },
        attacks: { type: 'string' },
        variant: { type: 'string' },
        iterations: { type: 'string' },
        'no-audit': { type: 'boolean' },
        'audit-eps': { type: 'string' },
        'report-only': { type: 'boolean' },
        'audit-size': { type: 'string' },
        shard: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new ConfigError('flags', 'known options (see --help)', (e as Error).message, 'flags');
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  let fileJson: Record<string, unknown> | null = null;
  if (typeof v.config === 'string') {
    let text: string;
    try {
      text = await readFile(v.config, 'utf8');
    } catch (e) {
      throw new ConfigError(
        '--config',
        'a readable JSON file',
        `${v.config} (${(e as Error).message})`,
        'flags',
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ConfigError('(file)', 'valid JSON', (e as Error).message, v.config);
    }
    if (json == null || typeof json !== 'object' || Array.isArray(json))
      throw new ConfigError('(file)', 'a JSON object', json, v.config);
    fileJson = json as Record<string, unknown>;
  }
  // The preset is the base: --preset, else the config file's "preset", else 'paper'.
  const presetName =
    (v.preset as string | undefined) ?? (fileJson?.preset as string | undefined) ?? 'paper';
  if (!Object.hasOwn(PRESETS, presetName)) {
    throw new ConfigError(
      v.preset ? '--preset' : 'preset',
      `one of ${PRESET_NAMES.map((p) => `'${p}'`).join(', ')}`,
      presetName,
      v.preset ? 'flags' : String(v.config),
    );
  }
  let config: ReproConfig = structuredClone(PRESETS[presetName as PresetName]);
  if (fileJson) {
    const { preset: _ignored, ...rest } = fileJson;
    config = validateConfig(mergeConfig(config, rest, String(v.config)), String(v.config));
  }

  const flags: Record<string, unknown> = {};
  // paths on the command line are the user's: relative to where they ran the command, which
  // pnpm and npm pass as INIT_CWD (they run the script in apps/repro)
  const userCwd = process.env.INIT_CWD || process.cwd();
  const userPath = (flag: string, p: string) => {
    if (p.trim() === '') throw new ConfigError(flag, 'a folder path', p, 'flags');
    return resolve(userCwd, p);
  };
  if (typeof v['data-dir'] === 'string') flags.dataDir = userPath('--data-dir', v['data-dir']);
  if (v['no-download']) flags.download = false;
  if (typeof v.out === 'string') flags.outDir = userPath('--out', v.out);
  if (typeof v.datasets === 'string') flags.datasets = csv(v.datasets);
  if (typeof v.rules === 'string') flags.rules = csv(v.rules);
  if (typeof v.seed === 'string') flags.seed = int('--seed', v.seed);
  if (typeof v.seeds === 'string') flags.seeds = csv(v.seeds).map((x) => int('--seeds', x));
  if (typeof v.backend === 'string') flags.backend = v.backend;
  if (typeof v.workers === 'string')
    flags.workers = v.workers === 'auto' ? 'auto' : int('--workers', v.workers);
  if (typeof v['train-size'] === 'string')
    flags.train = { ...config.train, size: intOrAll('--train-size', v['train-size']) };
  if (typeof v.epochs === 'string') {
    const e = int('--epochs', v.epochs);
    flags.train = {
      ...config.train,
      ...(flags.train as object),
      epochs: Object.fromEntries(DATASETS.map((d) => [d, e])),
    };
  }
  if (typeof v['test-size'] === 'string') flags.testSize = intOrAll('--test-size', v['test-size']);
  const attacks: Record<string, unknown> = {};
  const numbers = (flag: string, text: string) =>
    csv(text).map((s) => {
      const n = Number(s);
      if (!Number.isFinite(n))
        throw new ConfigError(flag, 'comma-separated numbers in [0, 1]', text, 'flags');
      return n;
    });
  if (typeof v.eps === 'string') attacks.epsilons = numbers('--eps', v.eps);
  if (typeof v.attacks === 'string') attacks.names = csv(v.attacks);
  if (typeof v.variant === 'string') attacks.variant = v.variant;
  if (typeof v.iterations === 'string') attacks.iterations = int('--iterations', v.iterations);
  if (Object.keys(attacks).length) flags.attacks = { ...config.attacks, ...attacks };
  const audit: Record<string, unknown> = {};
  if (v['no-audit']) audit.enabled = false;
  if (typeof v['audit-eps'] === 'string') {
    const list = numbers('--audit-eps', v['audit-eps']);
    audit.epsilons = Object.fromEntries(DATASETS.map((d) => [d, list]));
  }
  if (typeof v['audit-size'] === 'string') audit.size = intOrAll('--audit-size', v['audit-size']);
  if (Object.keys(audit).length) flags.audit = { ...config.audit, ...audit };
  config = validateConfig(mergeConfig(config, flags, 'flags'), 'flags');
  const shard = typeof v.shard === 'string' ? parseShard(v.shard) : null;
  if (shard && v['report-only'])
    throw new ConfigError('--shard', 'not given with --report-only', v.shard, 'flags');
  return { config, help: Boolean(v.help), reportOnly: Boolean(v['report-only']), shard };
}

/** One of n processes sharing a study: it computes the steps whose turn is k (1-based). */
export interface Shard {
  index: number;
  count: number;
}

export function parseShard(v: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v);
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!m || index < 1 || count < 1 || index > count || count > 64)
    throw new ConfigError('--shard', "'k/n' with 1 <= k <= n <= 64, e.g. 1/2", v, 'flags');
  return { index, count };
}
