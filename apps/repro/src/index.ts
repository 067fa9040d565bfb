export { resolveConfig, USAGE } from './args.js';
export { ConfigError, PRESETS, type ReproConfig, validateConfig } from './config.js';
export {
  type PendingShard,
  type RunOptions,
  type RunOutput,
  runRepro,
  runShard,
} from './run.js';
export { type AuditVerdict, auditVerdict, type Verdict } from './verdict.js';
