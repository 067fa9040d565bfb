#!/usr/bin/env node
import { relative } from 'node:path';
import { resolveConfig, type Shard, USAGE } from './args.js';
import { ConfigError } from './config.js';
import { runRepro, runShard } from './run.js';
import { verdictLabel } from './verdict.js';

/** Errors that describe the user's situation: a sentence, not a stack trace (exit 1). */
const USER_ERRORS = ['RunLockedError', 'NoDataError', 'OutputFolderError'];

async function main(argv: string[]): Promise<number> {
  let config: Awaited<ReturnType<typeof resolveConfig>>['config'];
  let reportOnly = false;
  let shard: Shard | null = null;
  try {
    const r = await resolveConfig(argv);
    if (r.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    config = r.config;
    reportOnly = r.reportOnly;
    shard = r.shard;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`repro: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(
      '\nrepro: stopping after the current batch (finished steps are saved; rerun to continue). Ctrl-C again to quit now.\n',
    );
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const command = `pnpm --filter repro start${argv.length ? ` -- ${argv.filter((a) => a !== '--').join(' ')}` : ''}`;
  console.log(
    `repro: preset ${config.preset}, datasets ${config.datasets.join(', ')}, eps ${config.attacks.epsilons.join(',')}, ` +
      `${config.attacks.variant} update rules, audit ${config.audit.enabled ? 'on' : 'off'}, output ${config.outDir}`,
  );
  try {
    const base = { command, signal: controller.signal, ...(reportOnly ? { reportOnly } : {}) };
    const out = shard ? await runShard(config, { ...base, shard }) : await runRepro(config, base);
    const rel = relative(process.cwd(), out.outDir) || '.';
    console.log(
      `\nrepro: ${shard ? `shard ${shard.index}/${shard.count}: ` : ''}${out.computed} steps computed, ${out.reused} reused from an earlier run`,
    );
    if (!out.results) {
      console.log(
        out.waiting
          ? `  ${out.waiting} steps of the other shards are not stored yet: the last shard to finish writes the results (or, once they are done, run again with --report-only)`
          : '  another shard is writing the results',
      );
      return out.failed.length ? 1 : 0;
    }
    if (out.seeds) {
      for (const s of out.seeds)
        console.log(
          `  seed ${s.seed}: ${s.verdicts.map((v) => `${v.dataset} ${v.model} ${verdictLabel(v)}`).join('; ')}`,
        );
      console.log(
        `  wrote ${rel}/SUMMARY.md, summary.json and figures/ (each seed's REPORT.md is in ${rel}/seed-<s>/)`,
      );
    } else {
      for (const v of out.verdicts) {
        const several = out.verdicts.filter((w) => w.dataset === v.dataset).length > 1;
        console.log(
          `  ${v.dataset}${several ? ` ${v.model}` : ''}: ${verdictLabel(v)} — ${v.summary}`,
        );
      }
      console.log(`  wrote ${rel}/REPORT.md, results.json, results.csv and figures/`);
    }
    if (out.failed.length) {
      console.error(
        `repro: ${out.failed.join(', ')} could not be loaded (see the notes above); the other datasets are done`,
      );
      return 1;
    }
    return 0;
  } catch (e) {
    if (controller.signal.aborted) {
      console.error('repro: interrupted; rerun the same command to continue');
      return 130;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    // a user's situation (the folder is another run's) is a sentence, not a stack trace
    if (e instanceof Error && USER_ERRORS.includes(e.name)) console.error(`repro: ${e.message}`);
    else console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
