/**
 * The built-in attacks, by name: the one list the runner, `ATTACKS`, `ATTACK_INFO` and the
 * `AttackName` type are read from. An attack's file holds its function and its description
 * (`<name>Info`); adding one is that file plus its line here.
 */
import { apgd, apgdInfo } from './apgd.js';
import { bim, bimInfo } from './bim.js';
import { cw, cwInfo } from './cw.js';
import { fab, fabInfo } from './fab.js';
import { fgsm, fgsmInfo } from './fgsm.js';
import type { AttackInfo } from './info.js';
import { mifgsm, mifgsmInfo } from './mifgsm.js';
import { noise, noiseInfo } from './noise.js';
import { pgd, pgdInfo } from './pgd.js';
import type { AttackFunction } from './runner-types.js';
import { spsa, spsaInfo } from './spsa.js';
import { square, squareInfo } from './square.js';

const BUILT_IN = {
  fgsm: [fgsm, fgsmInfo],
  bim: [bim, bimInfo],
  mifgsm: [mifgsm, mifgsmInfo],
  pgd: [pgd, pgdInfo],
  apgd: [apgd, apgdInfo],
  spsa: [spsa, spsaInfo],
  square: [square, squareInfo],
  noise: [noise, noiseInfo],
  fab: [fab, fabInfo],
  cw: [cw, cwInfo],
} as const satisfies Record<string, readonly [AttackFunction, AttackInfo]>;

/** The name of a built-in attack. */
export type AttackName = keyof typeof BUILT_IN;

const entries = Object.entries(BUILT_IN) as [AttackName, (typeof BUILT_IN)[AttackName]][];

/** The built-in attacks by name. */
export const ATTACKS: Readonly<Record<AttackName, AttackFunction>> = Object.freeze(
  Object.fromEntries(entries.map(([name, [run]]) => [name, run])) as Record<
    AttackName,
    AttackFunction
  >,
);

/** Every built-in attack, described. */
export const ATTACK_INFO: Readonly<Record<AttackName, AttackInfo>> = Object.freeze(
  Object.fromEntries(entries.map(([name, [, info]]) => [name, info])) as Record<
    AttackName,
    AttackInfo
  >,
);

/** The description of a built-in attack, or undefined for any other name. */
export function findAttackInfo(name: string): AttackInfo | undefined {
  return Object.hasOwn(ATTACK_INFO, name) ? ATTACK_INFO[name as AttackName] : undefined;
}

/** The description of a built-in attack; a clear error for any other name. */
export function attackInfo(name: string): AttackInfo {
  const info = findAttackInfo(name);
  if (!info) {
    throw new RangeError(
      `attackInfo: expected one of ${Object.keys(ATTACK_INFO).join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
  return info;
}
