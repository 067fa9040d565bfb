import {
  attackLabel,
  datasetLabel,
  type ResultCell,
  type Results,
  transferSource,
} from '@fa-robust/metrics';
import { fmtEps, formatP, pct, sameEps } from './format.js';
import { formatWall, type WallTime } from './runlog.js';
import { type AuditVerdict, HEADLINE_EPS, verdictLabel } from './verdict.js';

function cell(
  results: Results,
  q: Partial<ResultCell> & { epsilon: number },
): ResultCell | undefined {
  return results.cells.find(
    (c) =>
      c.dataset === q.dataset &&
      c.model === q.model &&
      c.attack === q.attack &&
      c.source === q.source &&
      // no variant asked: the audit's cells (standard rules, or attacks without variants)
      (q.variant === undefined ? c.variant !== 'paper' : c.variant === q.variant) &&
      sameEps(c.epsilon, q.epsilon),
  );
}

export interface ClaimCheck {
  claim: string;
  /** Our number under the threat model (in-ball attacks), with its basis. */
  ours: string;
  holds: boolean | null;
  /** The same claim judged on the paper's own update rules (not eps-bounded), where it used them. */
  paper?: { ours: string; holds: boolean | null };
}

/** Robust accuracy of a group of in-ball attacks (robust record by label), or null. */
function group(results: Results, dataset: string, model: string, label: string, eps: number) {
  return (
    results.robust?.find(
      (r) =>
        r.dataset === dataset && r.model === model && r.label === label && sameEps(r.epsilon, eps),
    )?.accuracy ?? null
  );
}

/** The worst accuracy over in-ball audit cells matching `source` (per cell, not per example). */
function worstInBall(
  results: Results,
  dataset: string,
  model: string,
  source: string,
  eps: number[],
) {
  const accs = results.cells
    .filter(
      (c) =>
        c.dataset === dataset &&
        c.model === model &&
        c.source === source &&
        c.variant !== 'paper' &&
        c.inBall === true &&
        c.inBounds === true &&
        eps.some((e) => sameEps(e, c.epsilon)),
    )
    .map((c) => c.accuracy)
    .filter((v): v is number => v != null);
  return accs.length ? Math.min(...accs) : null;
}

/**
 * The paper's claims, each judged on in-ball attacks (every example inside its L-inf ball and
 * the pixel range, the audit's cells) at the eps where the claim can hold at all (below 0.5: at
 * 0.5 a grey image is inside every ball), and beside it, where the paper used them, on the
 * paper's own update rules over its grid (null: not enough cells to say).
 */
export function checkClaims(results: Results, attacks: string[], epsilons: number[]): ClaimCheck[] {
  const checks: ClaimCheck[] = [];
  const eMax = Math.max(...epsilons);
  const worstPaper = (dataset: string, model: string, source: string, eps: number[]) => {
    const accs = attacks.flatMap((a) =>
      eps.map(
        (e) =>
          cell(results, { dataset, model, attack: a, source, epsilon: e, variant: 'paper' })
            ?.accuracy ?? null,
      ),
    );
    const ok = accs.filter((v): v is number => v != null);
    return ok.length ? Math.min(...ok) : null;
  };
  const auditEps = (d: string) =>
    [...new Set((results.robust ?? []).filter((r) => r.dataset === d).map((r) => r.epsilon))]
      .filter((e) => e < 0.5)
      .sort((a, b) => a - b);
  const headline = (d: string) => {
    const h = HEADLINE_EPS[d];
    const list = auditEps(d);
    return h != null && list.some((e) => sameEps(e, h)) ? h : (list[list.length - 1] ?? null);
  };
  const minOver = (f: (e: number) => number | null, eps: number[]) => {
    const v = eps.map(f).filter((x): x is number => x != null);
    return v.length ? Math.min(...v) : null;
  };
  const cleanOf = (d: string, m: string) =>
    cell(results, { dataset: d, model: m, attack: 'none', source: 'none', epsilon: 0 })?.accuracy ??
    null;
  const has = (d: string) => results.models.some((m) => m.dataset === d);
  const E = (d: string, e: number | null) => (e == null ? '—' : fmtEps(e, d));
  if (has('mnist')) {
    const d = 'mnist';
    const eps = auditEps(d);
    const h = headline(d);
    const top = eps[eps.length - 1] ?? null;
    const faOwn = minOver((e) => group(results, d, 'fa', 'own path', e), eps);
    const faPaper = worstPaper(d, 'fa', 'own', epsilons);
    checks.push({
      claim:
        'MNIST: FA keeps ~97-98% accuracy for every eps in [0, 1] under FGSM, BIM and MI-FGSM through its own backward path',
      ours: `FA's own-path robust accuracy (worst case per image over the in-ball own-path attacks), lowest for eps up to ${E(d, top)}: ${pct(faOwn)} (no model can keep more than the largest class share at eps >= 0.5)`,
      holds: faOwn == null ? null : faOwn >= 0.9,
      paper: {
        ours: `FA's lowest accuracy over the paper's update rules and every eps in [0, ${eMax}]: ${pct(faPaper)}`,
        holds: faPaper == null ? null : faPaper >= 0.9,
      },
    });
    const bpAA = h == null ? null : group(results, d, 'bp', 'every in-ball attack', h);
    const bpPaper = worstPaper(d, 'bp', 'own', [eMax]);
    checks.push({
      claim: 'MNIST: BP falls to ~0% accuracy',
      ours: `BP's robust accuracy at eps ${E(d, h)} (every in-ball attack, AutoAttack included): ${pct(bpAA)}`,
      holds: bpAA == null ? null : bpAA <= 0.1,
      paper: {
        ours: `BP's accuracy at eps ${eMax}, worst paper rule: ${pct(bpPaper)}`,
        holds: bpPaper == null ? null : bpPaper <= 0.1,
      },
    });
    const bpOnFa = worstInBall(results, d, 'bp', transferSource('fa'), eps);
    const faOnOwn = top == null ? null : group(results, d, 'fa', 'own path', top);
    const bpOnFaTrue = minOver(
      (e) => worstInBall(results, d, 'bp', transferSource('fa', 'true'), [e]),
      h == null ? [] : [h],
    );
    const bpOnFaPaper = worstPaper(d, 'bp', transferSource('fa'), epsilons);
    checks.push({
      claim: 'MNIST: adversarial examples made on FA do not fool BP',
      ours:
        `BP's lowest accuracy on FA's own-path in-ball examples, eps up to ${E(d, top)}: ${pct(bpOnFa)}; ` +
        `but they are weak on FA itself (at eps ${E(d, top)} FA keeps ${pct(faOnOwn)} under its own path), and FA's true-gradient examples leave BP at ${pct(bpOnFaTrue)} at eps ${E(d, h)}`,
      holds: bpOnFa == null ? null : bpOnFa >= 0.8,
      paper: {
        ours: `BP's lowest accuracy on FA's examples, paper's rules, all eps (MI-FGSM's reach 10x eps): ${pct(bpOnFaPaper)}`,
        holds: bpOnFaPaper == null ? null : bpOnFaPaper >= 0.8,
      },
    });
    const faOnBp = h == null ? null : worstInBall(results, d, 'fa', transferSource('bp'), [h]);
    const faOnBpPaper = worstPaper(d, 'fa', transferSource('bp'), [eMax]);
    checks.push({
      claim: 'MNIST: adversarial examples made on BP fool FA',
      ours: `FA's accuracy on BP's in-ball examples at eps ${E(d, h)} (worst attack): ${pct(faOnBp)} (clean ${pct(cleanOf(d, 'fa'))})`,
      holds: faOnBp == null ? null : faOnBp <= 0.5,
      paper: {
        ours: `FA's accuracy on BP's examples at eps ${eMax}, paper's rules: ${pct(faOnBpPaper)}`,
        holds: faOnBpPaper == null ? null : faOnBpPaper <= 0.5,
      },
    });
  }
  if (has('cifar10')) {
    const d = 'cifar10';
    const eps = auditEps(d);
    const h = headline(d);
    const cleanFa = cleanOf(d, 'fa');
    const cleanBp = cleanOf(d, 'bp');
    const faOwn = h == null ? null : group(results, d, 'fa', 'own path', h);
    const faPaper = worstPaper(d, 'fa', 'own', [eMax]);
    checks.push({
      claim: 'CIFAR-10: FA degrades too under its own-gradient attacks',
      ours: `FA clean ${pct(cleanFa)}, own-path robust accuracy at eps ${E(d, h)}: ${pct(faOwn)}`,
      holds: faOwn == null || cleanFa == null ? null : faOwn < cleanFa - 0.05,
      paper: {
        ours: `at eps ${eMax}, worst paper rule: ${pct(faPaper)}`,
        holds: faPaper == null || cleanFa == null ? null : faPaper < cleanFa - 0.05,
      },
    });
    const gaps = eps.map((e) => ({
      e,
      fa: group(results, d, 'fa', 'own path', e),
      bp: group(results, d, 'bp', 'own path', e),
    }));
    const known = gaps.filter((g) => g.fa != null && g.bp != null);
    const paperGaps = epsilons
      .filter((e) => e > 0 && e < 0.5)
      .map((e) => ({ e, fa: worstPaper(d, 'fa', 'own', [e]), bp: worstPaper(d, 'bp', 'own', [e]) }))
      .filter((g) => g.fa != null && g.bp != null);
    checks.push({
      claim: 'CIFAR-10: FA degrades more slowly than BP, the gap largest for eps < 0.5',
      ours: known.length
        ? `own path, in-ball: ${known.map((g) => `eps ${E(d, g.e)}: FA ${pct(g.fa)} vs BP ${pct(g.bp)}`).join('; ')}`
        : 'no audit eps in (0, 0.5)',
      holds: known.length ? known.every((g) => g.fa! > g.bp!) : null,
      paper: {
        ours: paperGaps.length
          ? paperGaps.map((g) => `eps ${g.e}: FA ${pct(g.fa)} vs BP ${pct(g.bp)}`).join('; ')
          : 'no eps in (0, 0.5) on the paper grid',
        holds: paperGaps.length ? paperGaps.every((g) => g.fa! > g.bp!) : null,
      },
    });
    const bpOnFa = h == null ? null : worstInBall(results, d, 'bp', transferSource('fa'), [h]);
    const faOnBp = h == null ? null : worstInBall(results, d, 'fa', transferSource('bp'), [h]);
    const bpOnFaP = worstPaper(d, 'bp', transferSource('fa'), [eMax]);
    const faOnBpP = worstPaper(d, 'fa', transferSource('bp'), [eMax]);
    const both = (a: number | null, b: number | null) =>
      a == null || b == null || cleanBp == null || cleanFa == null
        ? null
        : a < cleanBp - 0.05 && b < cleanFa - 0.05;
    checks.push({
      claim: 'CIFAR-10: adversarial examples transfer both ways',
      ours: `in-ball at eps ${E(d, h)}: BP on FA's examples ${pct(bpOnFa)} (clean ${pct(cleanBp)}), FA on BP's examples ${pct(faOnBp)} (clean ${pct(cleanFa)})`,
      holds: both(bpOnFa, faOnBp),
      paper: {
        ours: `at eps ${eMax}, paper's rules: BP on FA's ${pct(bpOnFaP)}, FA on BP's ${pct(faOnBpP)}`,
        holds: both(bpOnFaP, faOnBpP),
      },
    });
  }
  return checks;
}

function accuracyTable(
  results: Results,
  dataset: string,
  attacks: string[],
  epsilons: number[],
  variant?: string,
): string {
  // the rules beyond the paper's pair, each with its own rows
  const others = results.models
    .filter((m) => m.dataset === dataset && !['bp', 'fa', 'bp-surrogate'].includes(m.id))
    .map((m) => m.id);
  const series: { label: string; model: string; source: string }[] = [
    { label: 'BP (own gradient)', model: 'bp', source: 'own' },
    ...others.flatMap((id) => {
      const R = id.toUpperCase();
      return [
        { label: `${R} (own backward path)`, model: id, source: 'own' },
        { label: `${R} (true gradient)`, model: id, source: 'true' },
        { label: `BP on ${R}'s examples`, model: 'bp', source: transferSource(id) },
        { label: `${R} on BP's examples`, model: id, source: transferSource('bp') },
        {
          label: `${R} on BP-surrogate examples`,
          model: id,
          source: transferSource('bp-surrogate'),
        },
      ];
    }),
    { label: 'FA (own = feedback path)', model: 'fa', source: 'own' },
    { label: 'FA (true gradient)', model: 'fa', source: 'true' },
    { label: "BP on FA's examples", model: 'bp', source: transferSource('fa') },
    {
      label: "BP on FA's true-gradient examples",
      model: 'bp',
      source: transferSource('fa', 'true'),
    },
    { label: "FA on BP's examples", model: 'fa', source: transferSource('bp') },
    { label: 'FA on BP-surrogate examples', model: 'fa', source: transferSource('bp-surrogate') },
    { label: 'BP on BP-surrogate examples', model: 'bp', source: transferSource('bp-surrogate') },
  ];
  const lines: string[] = [];
  // a cell outside its ball or the pixel range is marked: it is not an eps-bounded attack
  const mark = (v: ResultCell | undefined) =>
    v ? `${pct(v.accuracy)}${v.inBall === false ? '†' : v.inBounds === false ? '*' : ''}` : '—';
  for (const attack of attacks) {
    const rows = series
      .map((s) => ({
        s,
        values: epsilons.map((e) =>
          cell(results, {
            dataset,
            model: s.model,
            attack,
            source: s.source,
            epsilon: e,
            ...(variant ? { variant } : {}),
          }),
        ),
      }))
      .filter((r) => r.values.some((v) => v != null));
    if (!rows.length) continue;
    lines.push(
      `**${attackLabel(attack, variant)}** — accuracy on ${rows[0]!.values.find((v) => v)?.n ?? '?'} test images`,
      '',
    );
    lines.push(
      `| | ${epsilons.map((e) => `eps ${fmtEps(e, dataset)}`).join(' | ')} |`,
      `|---|${epsilons.map(() => '---').join('|')}|`,
    );
    for (const r of rows) lines.push(`| ${r.s.label} | ${r.values.map(mark).join(' | ')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

export interface ReportMeta {
  command: string;
  /** This run's time. */
  seconds: number;
  /** Nothing was computed: the report is rebuilt from stored steps (--report-only). */
  reportOnly?: boolean;
  /** The study's wall time over every run recorded in runs/ (see runlog.ts). */
  wall?: WallTime;
  figures: string[];
  datasetNotes: string[];
  /** Worker threads the run used (the compute time of each part divided by it is about its wall time). */
  workers?: number;
}

/** The study's wall time over its recorded runs, as a sentence (empty without records). */
export function wallSentence(wall: WallTime | undefined): string {
  if (!wall?.runs) return '';
  const at = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  return ` **Wall time:** ${formatWall(wall.seconds)} over the study's ${wall.runs} recorded run${wall.runs > 1 ? 's' : ''} (\`runs/\`, ${at(wall.first!)} to ${at(wall.last!)}; the union of their intervals, so the gaps between runs do not count and shards running at once count once).`;
}

/** The command that redoes a study: a report-only run's command without --report-only. */
export const rerunCommand = (command: string) => command.replace(/\s+--report-only\b/g, '');

const f = (x: { accuracy: number; interval: [number, number] } | null | undefined) =>
  x ? `${pct(x.accuracy)} [${pct(x.interval[0])}, ${pct(x.interval[1])}]` : '—';

/** The robust accuracy of a model by group of in-ball attacks, one row per eps. */
function robustTable(results: Results, dataset: string, model: string): string[] {
  const recs = (results.robust ?? []).filter(
    (r) => r.dataset === dataset && r.model === model && r.label,
  );
  if (!recs.length) return [];
  const labels = [
    'own path',
    'true gradient',
    'AutoAttack',
    'Square',
    'BP-surrogate transfer',
    'random noise',
    'every in-ball attack',
  ].filter((l) => recs.some((r) => r.label === l));
  const eps = [...new Set(recs.map((r) => r.epsilon))].sort((a, b) => a - b);
  const clean = results.cells.find(
    (c) => c.dataset === dataset && c.model === model && c.attack === 'none',
  );
  const n = recs[0]!.n;
  const lines = [
    `**${model === 'fa' ? 'FA' : model.toUpperCase()}** (clean ${pct(clean?.accuracy)}), robust accuracy on the same ${n} test images, 95% Wilson intervals:`,
    '',
    `| eps | ${labels.join(' | ')} |`,
    `|---|${labels.map(() => '---').join('|')}|`,
  ];
  for (const e of eps) {
    const row = labels.map((l) => {
      const r = recs.find((x) => x.label === l && sameEps(x.epsilon, e));
      return r && r.accuracy != null
        ? f({ accuracy: r.accuracy, interval: r.accuracyInterval })
        : '—';
    });
    lines.push(`| ${fmtEps(e, dataset)} | ${row.join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

/**
 * Seconds of compute per part ('MNIST: training', 'MNIST: audit: AutoAttack', ...), from the
 * models' and cells' own times (a transfer cell shares its step's time with its source cell).
 */
export function computeParts(results: Results): Map<string, number> {
  const parts = new Map<string, number>();
  const add = (k: string, s: number | undefined) => {
    if (s != null) parts.set(k, (parts.get(k) ?? 0) + s);
  };
  for (const m of results.models) {
    const p = (m.params ?? {}) as Record<string, unknown>;
    add(
      `${datasetLabel(m.dataset)}: training`,
      typeof p.trainSeconds === 'number' ? p.trainSeconds : undefined,
    );
  }
  for (const c of results.cells) {
    if (c.attack === 'none' || c.source.startsWith('transfer:')) continue;
    const part = c.variant === 'paper' ? "the paper's attacks" : `audit: ${attackLabel(c.attack)}`;
    add(`${datasetLabel(c.dataset)}: ${part}`, c.seconds);
  }
  return parts;
}

/** Seconds of compute per part, from the cells' and models' own times. */
function timeTable(results: Results, workers: number | undefined): string[] {
  const parts = computeParts(results);
  if (!parts.size) return [];
  const lines = [
    '| part | compute (worker-minutes) |',
    '|---|---|',
    ...[...parts].map(([k, s]) => `| ${k} | ${(s / 60).toFixed(1)} |`),
  ];
  const total = [...parts.values()].reduce((a, b) => a + b, 0);
  lines.push(
    `| total | ${(total / 60).toFixed(1)} |`,
    '',
    `Compute is the sum of each step's own wall time on its worker (the steps and restarts curves are not counted); ${workers ? `with ${workers} workers the wall time is about the total / ${workers}` : 'with W workers the wall time is about the total / W'}. Models reused from an earlier run keep the training time recorded beside them, where there is one.`,
    '',
  );
  return lines;
}

export function renderReport(results: Results, verdicts: AuditVerdict[], meta: ReportMeta): string {
  const cfg = results.config as Record<string, unknown> & {
    attacks?: {
      names?: string[];
      epsilons?: number[];
      variant?: string;
      iterations?: number;
      mu?: number | null;
    };
    audit?: {
      size?: number | null;
      autoattack?: string;
      gradientFreeBudget?: number;
      noise?: number;
    };
  };
  const attacks = cfg.attacks?.names ?? ['fgsm', 'bim', 'mifgsm'];
  const epsilons =
    cfg.attacks?.epsilons ??
    [...new Set(results.cells.map((c) => c.epsilon))].sort((a, b) => a - b);
  const paperRules = !['standard', 'canonical'].includes(cfg.attacks?.variant ?? '');
  const mu = cfg.attacks?.mu ?? (paperRules ? 0.8 : 1);
  const out: string[] = [];
  const auditN = results.robust?.[0]?.n;
  out.push(
    '# On the Adversarial Robustness of Neural Networks without Weight Transport — reproduction and audit',
    '',
    `Generated ${results.createdAt} by \`${meta.command}\`` +
      (meta.reportOnly
        ? ' from the steps earlier runs stored (report only, nothing recomputed; '
        : ` in ${(meta.seconds / 60).toFixed(1)} min (`) +
      `preset \`${String(cfg.preset)}\`, seed ${String(cfg.seed)}, backend ${results.environment.backend}; ` +
      `the paper's figures with ${paperRules ? "the paper's update equations" : 'the standard update rules'}, ` +
      `${cfg.attacks?.iterations ?? 10} iterations, mu ${mu}).` +
      wallSentence(meta.wall),
    '',
    `**Threat model.** L∞ balls of radius ε around ${auditN ? `the first ${auditN}` : 'the'} test images, pixels in [0, 1]. ` +
      'Every robust accuracy, verdict and claim below counts only attacks whose every example stayed inside its ball and the pixel range (checked per cell, float32 slack 1e-5), ' +
      'run on the same images (paired), with the per-example worst case over attacks. ' +
      "The paper's own update rules (its MI-FGSM reaches 10·ε; its FGSM and BIM leave [0, 1]) are run on its grid for its figures only, and marked where they leave the threat model.",
    '',
  );
  if (cfg.preset === 'smoke')
    out.push(
      '> **A smoke run: its numbers mean nothing.** It trains on 512 images for one epoch and attacks a few dozen, to check that every part of the study runs end to end in a minute. Its models are near chance, so its verdicts say so (inconclusive). Run the `quick` or `paper` preset for numbers.',
      '',
    );
  if (meta.datasetNotes.length)
    out.push('Data:', '', ...meta.datasetNotes.map((n) => `- ${n}`), '');
  out.push(
    '## Models',
    '',
    '| dataset | model | method | clean accuracy | notes |',
    '|---|---|---|---|---|',
  );
  for (const m of results.models) {
    const p = (m.params ?? {}) as Record<string, unknown>;
    out.push(
      `| ${datasetLabel(m.dataset)} | ${m.id} | ${m.method.toUpperCase()} | ${pct(m.cleanAccuracy)} | ` +
        `${[
          p.trainImages != null ? `${p.trainImages} train images` : '',
          p.epochs != null ? `${p.epochs} epochs` : '',
          m.seed != null ? `seed ${m.seed}` : '',
          typeof p.trainSeconds === 'number'
            ? `trained in ${(p.trainSeconds / 60).toFixed(1)} min`
            : '',
        ]
          .filter(Boolean)
          .join(', ')} |`,
    );
  }
  out.push('', '## The verdict: is FA robust, or is its backward path a poor guide?', '');
  out.push(
    'The paper attacks each network through its own backward path; for FA that path uses the feedback matrices, not W^T, so the attacker follows an approximate gradient. ' +
      'The forward function of an FA network is an ordinary differentiable function: an attacker can use its true gradient (FGSM, BIM and AutoAttack through the BP twin), ' +
      'need no gradient at all (Square), or transfer examples from an independently trained BP network. ' +
      `If any of these does better than the own-path attacks by ${pct(0.1)} or more on the same images, significantly by McNemar's exact test (p < 0.05), the apparent robustness is gradient masking. ` +
      `Where it is, the attacks run through both gradients (FGSM and BIM: the same loss, steps and seeds) say what masks: if the true gradient does as badly with them, the feedback path is not the poor guide, the cross-entropy loss is (**gradient masking (loss)**: it gives no direction on confident logits, whichever gradient follows it); if the true gradient does better with them by ${pct(0.1)} or more, with p < 0.05, it is **gradient masking (feedback path)**, and if it does significantly better by less, **gradient masking (feedback path and loss)**.`,
    '',
  );
  const bpShown = new Set<string>();
  for (const v of verdicts) {
    // a study of several rules names each; the paper's (FA alone) keeps its headings
    const several = verdicts.filter((w) => w.dataset === v.dataset).length > 1;
    out.push(
      `### ${datasetLabel(v.dataset)}${several ? `, ${v.model.toUpperCase()}` : ''}: **${verdictLabel(v)}**`,
      '',
      `${v.summary}.`,
      '',
    );
    if (v.rows.length) {
      out.push(
        '| eps | own path | true gradient (incl. AutoAttack) | Square | BP-surrogate transfer | strongest check | gap | McNemar p |',
        '|---|---|---|---|---|---|---|---|',
      );
      for (const r of v.rows) {
        out.push(
          `| ${fmtEps(r.epsilon, v.dataset)} | ${f(r.own)} | ${f(r.trueGradient)} | ${f(r.gradientFree)} | ${f(r.surrogate)} | ${r.strongest?.check ?? '—'} | ${r.gap == null ? '—' : `${(100 * r.gap).toFixed(1)} pts`} | ${r.pValue == null ? '—' : `${formatP(r.pValue)}${r.significant ? '' : ' (n.s.)'}`} |`,
        );
      }
      out.push('');
    }
    out.push(...robustTable(results, v.dataset, v.model));
    if (!bpShown.has(v.dataset)) out.push(...robustTable(results, v.dataset, 'bp'));
    bpShown.add(v.dataset);
    const al = results.alignment?.find((a) => a.dataset === v.dataset && a.model === v.model);
    const layers = (results.layerAlignment ?? []).filter(
      (l) => l.dataset === v.dataset && l.model === v.model,
    );
    if (al || layers.length) out.push('**The mechanism.**', '');
    if (al) {
      const d = al.dimension;
      out.push(
        `Angle between ${v.model.toUpperCase()}'s feedback-path input gradient and its true input gradient over ${al.n} test images: ` +
          `median ${al.angle.median?.toFixed(1)}°, mean ${al.angle.mean?.toFixed(1)}°, standard deviation ${al.angle.std?.toFixed(2)}°` +
          (d
            ? `; two random directions in ${d} dimensions make 90° ± ${(57.3 / Math.sqrt(d)).toFixed(2)}° (57.3°/√d): the feedback path's input gradient is as unrelated to the true one as a random vector.`
            : ' (90° = unrelated, 0° = identical).'),
        '',
      );
    }
    if (layers.length) {
      out.push(
        `Angle between each layer's forward weights W and its feedback matrix B: ${layers
          .map((l) => `${l.layer} ${l.angle == null ? '—' : `${l.angle.toFixed(1)}°`}`)
          .join(', ')}. ` +
          "The first layer's B receives no learning signal (nothing is propagated below it), so it never aligns; the input gradient passes through it.",
        '',
      );
    }
  }

  out.push(
    '',
    "## The paper's claims and our numbers",
    '',
    "Judged on in-ball attacks (the audit's cells, eps below 0.5); beside it, the paper's own update rules on its grid, which it used.",
    '',
    "| claim (Akrout 2019) | ours, in-ball | agrees | ours, the paper's update rules | agrees |",
    '|---|---|---|---|---|',
  );
  const yn = (h: boolean | null | undefined) => (h == null ? 'n/a' : h ? 'yes' : '**no**');
  for (const c of checkClaims(results, attacks, epsilons)) {
    out.push(
      `| ${c.claim} | ${c.ours} | ${yn(c.holds)} | ${c.paper?.ours ?? '—'} | ${c.paper ? yn(c.paper.holds) : '—'} |`,
    );
  }

  const checks = results.checks ?? [];
  if (checks.length) {
    out.push(
      '',
      '## Sanity checks',
      '',
      "Carlini et al. (2019)'s checklist, run on the numbers. A failure says a number cannot be read as robustness as it stands; for FA's own path, failures are the evidence of masking.",
      '',
    );
    const order = { fail: 0, warn: 1, pass: 2 } as const;
    const sorted = [...checks].sort(
      (a, b) => order[a.status] - order[b.status] || a.dataset.localeCompare(b.dataset),
    );
    const count = (st: string) => checks.filter((c) => c.status === st).length;
    out.push(
      `${count('fail')} failed, ${count('warn')} warnings, ${count('pass')} passed.`,
      '',
      '| dataset | check | status | what was compared |',
      '|---|---|---|---|',
    );
    for (const c of sorted.filter((x) => x.status !== 'pass'))
      out.push(
        `| ${datasetLabel(c.dataset)} | ${c.check} | **${c.status}** | ${c.message.replaceAll('|', '\\|')} |`,
      );
    // the passes, one line per dataset and check (every one is in results.json)
    const passed = new Map<string, number>();
    for (const c of sorted.filter((x) => x.status === 'pass')) {
      const k = `${c.dataset}|${c.check}`;
      passed.set(k, (passed.get(k) ?? 0) + 1);
    }
    for (const [k, count] of passed) {
      const [d, check] = k.split('|') as [string, string];
      const one = sorted.find((c) => c.dataset === d && c.check === check && c.status === 'pass')!;
      out.push(
        `| ${datasetLabel(d)} | ${check} | pass | ${count > 1 ? `${count} comparisons, e.g. ` : ''}${one.message.replaceAll('|', '\\|')} |`,
      );
    }
  }

  const datasets = [...new Set(results.models.map((m) => m.dataset))];
  out.push('', '## All numbers', '');
  out.push(
    "Marks: † the cell's perturbation leaves its eps-ball (not an eps-bounded attack), * it leaves the pixel range [0, 1]. Neither feeds a verdict.",
    '',
  );
  for (const d of datasets) {
    out.push(`### ${datasetLabel(d)}`, '');
    const auditEps = [
      ...new Set(
        results.cells
          .filter((c) => c.dataset === d && c.variant !== 'paper' && c.attack !== 'none')
          .map((c) => c.epsilon),
      ),
    ].sort((a, b) => a - b);
    const auditAttacks = [
      ...new Set(
        results.cells
          .filter((c) => c.dataset === d && c.variant !== 'paper' && c.attack !== 'none')
          .map((c) => c.attack),
      ),
    ];
    if (auditAttacks.length) {
      out.push('#### The audit (in-ball, standard rules)', '');
      out.push(
        accuracyTable(
          results,
          d,
          auditAttacks.filter((a) => a !== 'square' && a !== 'noise' && a !== 'spsa'),
          auditEps,
          undefined,
        ),
      );
    }
    out.push("#### The paper's update rules, on its grid", '');
    out.push(accuracyTable(results, d, attacks, epsilons, 'paper'));
  }
  const extra = results.cells.filter(
    (c) => c.attack === 'square' || c.attack === 'spsa' || c.attack === 'noise',
  );
  if (extra.length) {
    out.push(
      'Gradient-free attacks and random noise:',
      '',
      '| dataset | model | attack | eps | n | accuracy |',
      '|---|---|---|---|---|---|',
    );
    for (const c of extra)
      out.push(
        `| ${datasetLabel(c.dataset)} | ${c.model} | ${attackLabel(c.attack)} | ${fmtEps(c.epsilon, c.dataset)} | ${c.n} | ${pct(c.accuracy)} |`,
      );
    out.push('');
  }
  const time = timeTable(results, meta.workers);
  if (time.length) out.push('## Time', '', ...time);
  if (meta.figures.length) {
    out.push(
      '## Figures',
      '',
      ...meta.figures.filter((fig) => fig.endsWith('.png')).map((fig) => `![${fig}](${fig})`),
      '',
    );
  }
  out.push(
    '## How to rerun',
    '',
    '```sh',
    rerunCommand(meta.command),
    '```',
    '',
    'The run is resumable: every finished experiment cell is saved under `cells/` and trained models under `models/`; ' +
      'rerunning the same command continues where it stopped and reuses everything computed under the same configuration. ' +
      'results.json holds every number with the full configuration, seeds, backend and versions (schema: @fa-robust/metrics); results.csv the same as a table.',
    '',
  );
  return out.join('\n');
}
