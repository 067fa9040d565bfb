export { resolveConfig, USAGE } from './args.js';
export { ConfigError, PRESETS, type ReproConfig, validateConfig } from './config.js';
export { type RunOptions, type RunOutput, runRepro } from './run.js';
export { type AuditVerdict, auditVerdict, type Verdict } from './verdict.js';
