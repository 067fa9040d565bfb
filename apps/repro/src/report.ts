import {
  attackLabel,
  datasetLabel,
  type ResultCell,
  type Results,
  transferSource,
} from '@fa-robust/metrics';
import { pct, sameEps } from './format.js';
import type { AuditVerdict } from './verdict.js';

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
      (q.variant === undefined || c.variant === q.variant) &&
      sameEps(c.epsilon, q.epsilon),
  );
}

export interface ClaimCheck {
  claim: string;
  ours: string;
  holds: boolean | null;
}

/** The paper's claims, each checked against our numbers (null: not enough cells to say). */
export function checkClaims(results: Results, attacks: string[], epsilons: number[]): ClaimCheck[] {
  const checks: ClaimCheck[] = [];
  const eMax = Math.max(...epsilons);
  const eMid = epsilons.filter((e) => e > 0 && e < 0.5);
  const worstOver = (dataset: string, model: string, source: string, eps: number[]) => {
    const accs = attacks.flatMap((a) =>
      eps.map(
        (e) => cell(results, { dataset, model, attack: a, source, epsilon: e })?.accuracy ?? null,
      ),
    );
    const ok = accs.filter((v): v is number => v != null);
    return ok.length ? Math.min(...ok) : null;
  };
  const has = (d: string) => results.models.some((m) => m.dataset === d);
  if (has('mnist')) {
    const faMin = worstOver('mnist', 'fa', 'own', epsilons);
    const bpMax = worstOver('mnist', 'bp', 'own', [eMax]);
    checks.push({
      claim:
        'MNIST: FA keeps ~97-98% accuracy for every eps in [0, 1] under FGSM, BIM and MI-FGSM through its own backward path',
      ours: `FA's lowest accuracy over all attacks and eps: ${pct(faMin)}`,
      holds: faMin == null ? null : faMin >= 0.9,
    });
    checks.push({
      claim: 'MNIST: BP falls to ~0% accuracy',
      ours: `BP's accuracy at eps ${eMax} (worst attack): ${pct(bpMax)}`,
      holds: bpMax == null ? null : bpMax <= 0.1,
    });
    const bpOnFa = worstOver('mnist', 'bp', transferSource('fa'), epsilons);
    const faOnBp = worstOver('mnist', 'fa', transferSource('bp'), [eMax]);
    checks.push({
      claim: 'MNIST: adversarial examples made on FA do not fool BP',
      ours: `BP's lowest accuracy on FA's examples, all eps: ${pct(bpOnFa)}`,
      holds: bpOnFa == null ? null : bpOnFa >= 0.8,
    });
    checks.push({
      claim: 'MNIST: adversarial examples made on BP fool FA',
      ours: `FA's accuracy on BP's examples at eps ${eMax} (worst attack): ${pct(faOnBp)}`,
      holds: faOnBp == null ? null : faOnBp <= 0.5,
    });
  }
  if (has('cifar10')) {
    const gaps = eMid.map((e) => {
      const fa = worstOver('cifar10', 'fa', 'own', [e]);
      const bp = worstOver('cifar10', 'bp', 'own', [e]);
      return { e, fa, bp, gap: fa != null && bp != null ? fa - bp : null };
    });
    const fa = worstOver('cifar10', 'fa', 'own', [eMax]);
    const cleanFa = cell(results, {
      dataset: 'cifar10',
      model: 'fa',
      attack: 'none',
      source: 'none',
      epsilon: 0,
    })?.accuracy;
    const known = gaps.filter((g) => g.gap != null);
    checks.push({
      claim: 'CIFAR-10: FA degrades too under its own-gradient attacks',
      ours: `FA clean ${pct(cleanFa)}, at eps ${eMax} (worst attack) ${pct(fa)}`,
      holds: fa == null || cleanFa == null ? null : fa < cleanFa - 0.05,
    });
    checks.push({
      claim: 'CIFAR-10: FA degrades more slowly than BP, the gap largest for eps < 0.5',
      ours: known.length
        ? known.map((g) => `eps ${g.e}: FA ${pct(g.fa)} vs BP ${pct(g.bp)}`).join('; ')
        : 'no eps in (0, 0.5) measured',
      holds: known.length ? known.every((g) => g.gap! > 0) : null,
    });
    const bpOnFa = worstOver('cifar10', 'bp', transferSource('fa'), [eMax]);
    const faOnBp = worstOver('cifar10', 'fa', transferSource('bp'), [eMax]);
    const cleanBp = cell(results, {
      dataset: 'cifar10',
      model: 'bp',
      attack: 'none',
      source: 'none',
      epsilon: 0,
    })?.accuracy;
    checks.push({
      claim: 'CIFAR-10: adversarial examples transfer both ways',
      ours: `at eps ${eMax}: BP on FA's examples ${pct(bpOnFa)} (clean ${pct(cleanBp)}), FA on BP's examples ${pct(faOnBp)} (clean ${pct(cleanFa)})`,
      holds:
        bpOnFa == null || faOnBp == null || cleanBp == null || cleanFa == null
          ? null
          : bpOnFa < cleanBp - 0.05 && faOnBp < cleanFa - 0.05,
    });
  }
  return checks;
}

function accuracyTable(
  results: Results,
  dataset: string,
  attacks: string[],
  epsilons: number[],
): string {
  const series: { label: string; model: string; source: string }[] = [
    { label: 'BP (own gradient)', model: 'bp', source: 'own' },
    { label: 'FA (own = feedback path)', model: 'fa', source: 'own' },
    { label: 'FA (true gradient)', model: 'fa', source: 'true' },
    { label: "BP on FA's examples", model: 'bp', source: transferSource('fa') },
    { label: "FA on BP's examples", model: 'fa', source: transferSource('bp') },
    { label: 'FA on BP-surrogate examples', model: 'fa', source: transferSource('bp-surrogate') },
    { label: 'BP on BP-surrogate examples', model: 'bp', source: transferSource('bp-surrogate') },
  ];
  const lines: string[] = [];
  for (const attack of attacks) {
    const rows = series
      .map((s) => ({
        s,
        values: epsilons.map((e) =>
          cell(results, { dataset, model: s.model, attack, source: s.source, epsilon: e }),
        ),
      }))
      .filter((r) => r.values.some((v) => v != null));
    if (!rows.length) continue;
    lines.push(
      `**${attackLabel(attack)}** — accuracy on ${rows[0]!.values.find((v) => v)?.n ?? '?'} test images`,
      '',
    );
    lines.push(
      `| | ${epsilons.map((e) => `eps ${e}`).join(' | ')} |`,
      `|---|${epsilons.map(() => '---').join('|')}|`,
    );
    for (const r of rows)
      lines.push(`| ${r.s.label} | ${r.values.map((v) => pct(v?.accuracy)).join(' | ')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

export interface ReportMeta {
  command: string;
  seconds: number;
  figures: string[];
  datasetNotes: string[];
}

export function renderReport(results: Results, verdicts: AuditVerdict[], meta: ReportMeta): string {
  const cfg = results.config as Record<string, unknown> & {
    attacks?: {
      names?: string[];
      epsilons?: number[];
      variant?: string;
      iterations?: number;
      mu?: number;
    };
  };
  const attacks = cfg.attacks?.names ?? ['fgsm', 'bim', 'mifgsm'];
  const epsilons =
    cfg.attacks?.epsilons ??
    [...new Set(results.cells.map((c) => c.epsilon))].sort((a, b) => a - b);
  const out: string[] = [];
  out.push(
    '# On the Adversarial Robustness of Neural Networks without Weight Transport — reproduction and audit',
    '',
    `Generated ${results.createdAt} by \`${meta.command}\` in ${(meta.seconds / 60).toFixed(1)} min ` +
      `(preset \`${String(cfg.preset)}\`, seed ${String(cfg.seed)}, backend ${results.environment.backend}, ` +
      // ('canonical': the former name of 'standard', in results written before it was renamed)
      `attack update rules: ${['standard', 'canonical'].includes(cfg.attacks?.variant ?? '') ? 'standard' : "the paper's equations"}, ` +
      `${cfg.attacks?.iterations ?? 10} iterations, mu ${cfg.attacks?.mu ?? 0.8}).`,
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
        ]
          .filter(Boolean)
          .join(', ')} |`,
    );
  }
  out.push(
    '',
    "## The paper's claims and our numbers",
    '',
    '| claim (Akrout 2019) | ours | agrees |',
    '|---|---|---|',
  );
  for (const c of checkClaims(results, attacks, epsilons)) {
    out.push(
      `| ${c.claim} | ${c.ours} | ${c.holds == null ? 'n/a' : c.holds ? 'yes' : '**no**'} |`,
    );
  }
  const over = new Map<string, { eps: number; linf: number; outOfBounds: number }>();
  for (const c of results.cells) {
    if (c.linf?.max == null || c.linf.max <= c.epsilon + 1e-6) continue;
    const k = attackLabel(c.attack, c.variant);
    const prev = over.get(k);
    if (!prev || c.linf.max / Math.max(c.epsilon, 1e-9) > prev.linf / Math.max(prev.eps, 1e-9)) {
      over.set(k, { eps: c.epsilon, linf: c.linf.max, outOfBounds: c.outOfBounds ?? 0 });
    }
  }
  if (over.size) {
    out.push(
      '',
      '**Perturbation actually reached.** Not every update rule stays inside its eps-ball:',
      '',
    );
    for (const [k, v] of over) {
      out.push(
        `- ${k} reaches L∞ up to ${v.linf.toFixed(2)} at eps ${v.eps}${v.outOfBounds ? `, with ${v.outOfBounds} examples outside [0, 1]` : ''}. ` +
          (k.startsWith('MI-FGSM (paper)')
            ? "The paper's MI-FGSM equation steps eps every iteration and never projects, so after T iterations the perturbation can be T·eps: its curve is not an eps-bounded attack. Use `--variant standard` for the projected rule."
            : 'Compare its curve with care.'),
      );
    }
  }
  out.push('', '## The audit: is FA robust, or is its backward path a poor guide?', '');
  out.push(
    'The paper attacks each network through its own backward path; for FA that path uses the feedback matrices, not W^T, so the attacker follows an approximate gradient. ' +
      'The forward function of an FA network is an ordinary differentiable function: an attacker can use its true gradient (white-box through the BP twin), ' +
      'need no gradient at all (gradient-free attack), or transfer examples from an independently trained BP network. ' +
      'If any of these does significantly better than the own-gradient attack, the apparent robustness is gradient masking.',
    '',
  );
  for (const v of verdicts) {
    out.push(`### ${datasetLabel(v.dataset)}: **${v.verdict}**`, '', `${v.summary}.`, '');
    if (v.rows.length) {
      out.push(
        '| eps | own backward path | true gradient | gradient-free | BP-surrogate transfer | strongest check | gap |',
        '|---|---|---|---|---|---|---|',
      );
      for (const r of v.rows) {
        const f = (x: { accuracy: number; interval: [number, number] } | null) =>
          x ? `${pct(x.accuracy)} [${pct(x.interval[0])}, ${pct(x.interval[1])}]` : '—';
        out.push(
          `| ${r.epsilon} | ${f(r.own)} | ${f(r.trueGradient)} | ${f(r.gradientFree)} | ${f(r.surrogate)} | ${r.strongest?.check ?? '—'} | ${r.gap == null ? '—' : `${(100 * r.gap).toFixed(1)} pts${r.significant ? ' (significant)' : ''}`} |`,
        );
      }
      out.push(
        '',
        'Accuracies are the worst over FGSM, BIM and MI-FGSM for gradient attacks, with Wilson 95% intervals.',
        '',
      );
    }
    const al = results.alignment?.find((a) => a.dataset === v.dataset && a.model === v.model);
    if (al) {
      out.push(
        `Angle between ${v.model.toUpperCase()}'s feedback-path input gradient and its true input gradient over ${al.n} test images: ` +
          `median ${al.angle.median?.toFixed(1)}°, mean ${al.angle.mean?.toFixed(1)}° (90° = unrelated, 0° = identical).`,
        '',
      );
    }
  }
  const datasets = [...new Set(results.models.map((m) => m.dataset))];
  out.push('## All numbers', '');
  for (const d of datasets)
    out.push(`### ${datasetLabel(d)}`, '', accuracyTable(results, d, attacks, epsilons));
  const extra = results.cells.filter((c) => c.attack === 'square' || c.attack === 'spsa');
  if (extra.length) {
    out.push(
      'Gradient-free attacks:',
      '',
      '| dataset | model | attack | eps | n | accuracy |',
      '|---|---|---|---|---|---|',
    );
    for (const c of extra)
      out.push(
        `| ${c.dataset} | ${c.model} | ${attackLabel(c.attack)} | ${c.epsilon} | ${c.n} | ${pct(c.accuracy)} |`,
      );
    out.push('');
  }
  if (meta.figures.length) {
    out.push(
      '## Figures',
      '',
      ...meta.figures.filter((f) => f.endsWith('.png')).map((f) => `![${f}](${f})`),
      '',
    );
  }
  out.push(
    '## How to rerun',
    '',
    '```sh',
    `${meta.command}`,
    '```',
    '',
    'The run is resumable: every finished experiment cell is saved under `cells/` and trained models under `models/`; ' +
      'rerunning the same command continues where it stopped and reuses everything computed under the same configuration. ' +
      'results.json holds every number with the full configuration, seeds, backend and versions (schema: @fa-robust/metrics); results.csv the same as a table.',
    '',
  );
  return out.join('\n');
}
