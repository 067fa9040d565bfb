/**
 * The page: controls, pictures and figures. The tensor work happens in worker.ts; this thread
 * only sends requests, draws what comes back, and keeps `#status` (a JSON summary of the page's
 * state, documented in the README) up to date for tests.
 */
import {
  createResults,
  FIGURE_FONT,
  type ModelRecord,
  type ResultCell,
  type RobustRecord,
  renderSvg,
  resultCell,
  robustFigure,
  robustRecord,
} from '@fa-robust/metrics';
import type {
  AttackResult,
  CurvesResult,
  GradientSourceName,
  InitResult,
  ModelSummary,
  PageAttack,
  Request,
  Response,
  TrainProgress,
} from './protocol.js';

type Req = Request extends infer R ? (R extends { task: number } ? Omit<R, 'task'> : never) : never;

const params = new URLSearchParams(location.search);
const base = import.meta.env.BASE_URL;
const settings = {
  backend: (params.get('backend') ?? 'auto') as Extract<Request, { type: 'init' }>['backend'],
  dataUrl: params.get('data') ?? `${base}data/mnist/`,
  modelsUrl: params.get('models') ?? `${base}models/`,
  trainImages: Number(params.get('train') ?? 60000),
  testImages: Number(params.get('test') ?? 1000),
};

interface Status {
  ready: boolean;
  busy: string | null;
  error: string | null;
  backend: InitResult['backend'] | null;
  data: { trainImages: number; testImages: number } | null;
  models: Record<string, Omit<ModelSummary, 'id'>>;
  training: (TrainProgress & { rule: string }) | null;
  attack:
    | (Omit<AttackResult, 'clean' | 'adversarial' | 'perturbation' | 'gradients'> & {
        /** Between the own-path and the true input gradient, and their L2 norms. */
        cosine: number;
        gradientNorms: { own: number; true: number };
      })
    | null;
  curves: {
    images: number;
    attack: PageAttack;
    rows: { model: string; source: GradientSourceName; epsilon: number; accuracy: number }[];
    clean: Record<string, number>;
    seconds: number;
    tensors: number;
  } | null;
  log: string[];
}

const status: Status = {
  ready: false,
  busy: null,
  error: null,
  backend: null,
  data: null,
  models: {},
  training: null,
  attack: null,
  curves: null,
  log: [],
};

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function showStatus() {
  $('status').textContent = JSON.stringify(status, null, 1);
  const busy = status.busy != null;
  for (const id of ['train', 'train-both', 'load', 'run-attack', 'run-curves', 'random'])
    $<HTMLButtonElement>(id).disabled = !status.ready || busy;
  $<HTMLButtonElement>('stop').disabled = !busy;
}

function log(line: string) {
  status.log = [...status.log.slice(-19), line];
  $('setup').textContent = line;
  showStatus();
}

// --- the worker ---------------------------------------------------------------------------

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let nextTask = 1;
const pending = new Map<
  number,
  { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (p: unknown) => void }
>();

worker.onmessage = (e: MessageEvent<Response>) => {
  const r = e.data;
  const p = pending.get(r.task);
  if (!p) return;
  if (r.type === 'progress') p.onProgress?.(r.data);
  else {
    pending.delete(r.task);
    if (r.type === 'done') p.resolve(r.data);
    else p.reject(new Error(r.message));
  }
};
worker.onerror = (e) => {
  status.error = `worker: ${e.message}`;
  showStatus();
};

function call<T>(req: Req, onProgress?: (p: unknown) => void): Promise<T> {
  const task = nextTask++;
  return new Promise<T>((resolve, reject) => {
    pending.set(task, { resolve: resolve as (v: unknown) => void, reject, onProgress });
    worker.postMessage({ ...req, task });
  });
}

/** Runs one user action: marks the page busy, reports errors on the page. */
async function action(name: string, fn: () => Promise<void>) {
  if (status.busy) return;
  status.busy = name;
  status.error = null;
  showStatus();
  try {
    await fn();
  } catch (e) {
    status.error = `${name}: ${(e as Error).message}`;
    log(status.error);
  } finally {
    status.busy = null;
    showStatus();
  }
}

// --- training -------------------------------------------------------------------------------

/** Loss per reported batch and test accuracy per epoch, per rule, for the live figure. */
const curvesByRule = new Map<string, { step: number; loss: number; accuracy?: number }[]>();
let drawPending = false;
let lastDraw = 0;

function scheduleTrainFigure() {
  if (drawPending) return;
  drawPending = true;
  const wait = Math.max(0, 400 - (performance.now() - lastDraw));
  setTimeout(async () => {
    drawPending = false;
    lastDraw = performance.now();
    await drawTrainFigure();
  }, wait);
}

async function drawTrainFigure() {
  const values: { rule: string; step: number; value: number; metric: string }[] = [];
  for (const [rule, points] of curvesByRule) {
    for (const p of points) {
      values.push({ rule, step: p.step, value: p.loss, metric: 'training loss' });
      if (p.accuracy !== undefined)
        values.push({ rule, step: p.step, value: 100 * p.accuracy, metric: 'test accuracy (%)' });
    }
  }
  if (values.length === 0) return;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { font: FIGURE_FONT },
    data: { values },
    hconcat: ['training loss', 'test accuracy (%)'].map((metric) => ({
      title: metric === 'training loss' ? 'Training loss (cross-entropy)' : 'Test accuracy, %',
      width: 300,
      height: 160,
      transform: [{ filter: { field: 'metric', equal: metric } }],
      mark: { type: 'line', point: metric !== 'training loss' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'Batches', axis: { format: 'd' } },
        y: {
          field: 'value',
          type: 'quantitative',
          title: null,
          ...(metric === 'training loss' ? {} : { scale: { domain: [0, 100] } }),
        },
        color: { field: 'rule', type: 'nominal', title: 'Rule' },
      },
    })),
  };
  $('train-figure').innerHTML = await renderSvg(spec as never);
}

function onTrainProgress(p: unknown) {
  const t = p as TrainProgress;
  if ((p as { kind: string }).kind === 'load') return;
  status.training = t;
  const points = curvesByRule.get(t.rule) ?? [];
  const step = (t.epoch - 1) * t.batches + t.batch + 1;
  if (t.kind === 'batch')
    points.push({
      step,
      loss: t.loss,
      ...(t.testAccuracy !== undefined ? { accuracy: t.testAccuracy } : {}),
    });
  else if (t.testAccuracy !== undefined) {
    const last = points[points.length - 1];
    if (last && last.step === step) last.accuracy = t.testAccuracy;
    else points.push({ step, loss: t.loss, accuracy: t.testAccuracy });
  }
  curvesByRule.set(t.rule, points);
  showStatus();
  scheduleTrainFigure();
}

async function trainOne(rule: string) {
  curvesByRule.set(rule, []);
  log(`training ${rule.toUpperCase()}…`);
  const r = await call<{ model: ModelSummary; aborted: boolean }>(
    {
      type: 'train',
      rule,
      images: Number($<HTMLInputElement>('images').value),
      epochs: Number($<HTMLInputElement>('epochs').value),
      batchSize: Number($<HTMLInputElement>('batch').value),
      learningRate: Number($<HTMLInputElement>('lr').value),
      seed: Number($<HTMLInputElement>('seed').value),
    },
    onTrainProgress,
  );
  addModels([r.model]);
  log(
    `${rule.toUpperCase()}: ${(100 * r.model.testAccuracy).toFixed(1)}% on ${r.model.testImages} test images` +
      ` after ${r.model.steps} batches (${r.model.seconds?.toFixed(1)} s)${r.aborted ? ', stopped early' : ''}`,
  );
}

function addModels(list: ModelSummary[]) {
  for (const m of list) {
    const { id, ...rest } = m;
    status.models[id] = rest;
  }
  const rows = Object.entries(status.models).map(
    ([id, m]) =>
      `<tr><td>${esc(id)}</td><td>${esc(m.rule.toUpperCase())}</td><td>${(100 * m.testAccuracy).toFixed(1)}% (${m.testImages})</td><td>${esc(m.origin)}</td></tr>`,
  );
  $('models').querySelector('tbody')!.innerHTML = rows.join('');
  const ids = Object.keys(status.models);
  for (const sel of [$<HTMLSelectElement>('attack-model')]) {
    const prev = sel.value;
    sel.innerHTML = ids.map((id) => `<option value="${esc(id)}">${esc(id)}</option>`).join('');
    // the most interesting default: an FA model
    sel.value = ids.includes(prev)
      ? prev
      : (ids.find((id) => status.models[id]!.rule === 'fa') ?? ids[0] ?? '');
  }
  const checked = new Set(
    [...document.querySelectorAll<HTMLInputElement>('#curve-models input:checked')].map(
      (i) => i.value,
    ),
  );
  $('curve-models').innerHTML = ids
    .map(
      (id) =>
        `<label><input type="checkbox" value="${esc(id)}" ${checked.has(id) || checked.size === 0 ? 'checked' : ''}/> ${esc(id)}</label>`,
    )
    .join(' ');
  showStatus();
}

// --- one attack -----------------------------------------------------------------------------

function grayCanvas(
  pixels: Float32Array,
  title: string,
  map: (v: number) => [number, number, number],
) {
  const c = document.createElement('canvas');
  c.width = 28;
  c.height = 28;
  const ctx = c.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const [r, g, b] = map(pixels[i]!);
    img.data.set([r, g, b, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  fig.append(c, cap);
  return fig;
}

const gray = (v: number): [number, number, number] => {
  const g = Math.round(255 * Math.min(1, Math.max(0, v)));
  return [g, g, g];
};

/** Diverging: blue negative, white zero, red positive, scaled by `scale`. */
const diverging =
  (scale: number) =>
  (v: number): [number, number, number] => {
    const t = scale === 0 ? 0 : Math.max(-1, Math.min(1, v / scale));
    return t >= 0
      ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))]
      : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
  };

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function showAttack(r: AttackResult) {
  const out = $('images-out');
  out.innerHTML = '';
  const g = maxAbs(r.gradients.own);
  const t = maxAbs(r.gradients.true);
  out.append(
    grayCanvas(r.clean, `clean (label ${r.label})`, gray),
    grayCanvas(r.adversarial, `adversarial (ε ${r.epsilon})`, gray),
    grayCanvas(r.perturbation, `perturbation (L∞ ${r.linf.toFixed(3)})`, diverging(r.epsilon || 1)),
    grayCanvas(r.gradients.own, 'gradient, own backward path', diverging(g)),
    grayCanvas(r.gradients.true, 'gradient, true', diverging(t)),
  );
  const via =
    r.source === 'none'
      ? 'with no gradient (Square)'
      : r.source === 'own'
        ? 'through its own backward path'
        : 'through its true gradient';
  $('attack-text').textContent =
    `${r.attack.toUpperCase()} on ${r.model} ${via} at ε = ${r.epsilon}: ${r.success ? 'fooled' : 'not fooled'}. ` +
    `Cosine between the two input gradients on the clean image: ${r.gradients.cosine.toFixed(3)} ` +
    `(1 for backprop; near 0 means the network's own gradient points elsewhere).`;
  $('predictions').querySelector('tbody')!.innerHTML = Object.entries(r.predictions)
    .map(
      ([id, p]) =>
        `<tr><td>${esc(id)}</td><td>${p.clean.label} (${(100 * p.clean.confidence).toFixed(0)}%)</td>` +
        `<td class="${p.adversarial.label === r.label ? 'right' : 'wrong'}">${p.adversarial.label} (${(100 * p.adversarial.confidence).toFixed(0)}%)</td></tr>`,
    )
    .join('');
  const { clean: _c, adversarial: _a, perturbation: _p, gradients, ...rest } = r;
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  status.attack = {
    ...rest,
    cosine: gradients.cosine,
    gradientNorms: { own: norm(gradients.own), true: norm(gradients.true) },
  };
}

// --- curves ---------------------------------------------------------------------------------

const SERIES_LABEL: Record<GradientSourceName, string> = {
  own: 'own path',
  true: 'true gradient',
  none: 'Square',
};

/** The curves as a results object, drawn by the report's own robust-accuracy figure. */
async function drawCurves(r: CurvesResult, attack: PageAttack) {
  const models: ModelRecord[] = Object.keys(r.cleanCorrect).map((id) => ({
    dataset: 'mnist',
    id,
    method: status.models[id]!.rule,
    label: id,
    cleanAccuracy: status.models[id]!.testAccuracy,
  }));
  const cells: ResultCell[] = [];
  const robust: RobustRecord[] = [];
  const rows: NonNullable<Status['curves']>['rows'] = [];
  for (const s of r.series) {
    s.epsilons.forEach((epsilon, i) => {
      const adversarialCorrect = s.correctAfter[i]!;
      cells.push(
        resultCell({
          dataset: 'mnist',
          model: s.model,
          attack: s.attack,
          epsilon,
          source: s.source,
          cleanCorrect: r.cleanCorrect[s.model]!,
          adversarialCorrect,
        }),
      );
      robust.push(
        robustRecord({
          dataset: 'mnist',
          model: s.model,
          epsilon,
          correct: { [`${s.attack}/${s.source}`]: adversarialCorrect },
          label: SERIES_LABEL[s.source],
        }),
      );
      rows.push({
        model: s.model,
        source: s.source,
        epsilon,
        accuracy: adversarialCorrect.reduce((a, v) => a + v, 0) / adversarialCorrect.length,
      });
    });
  }
  const results = createResults({
    config: { page: 'apps/web', attack, images: r.images },
    environment: {
      backend: status.backend?.name ?? 'unknown',
      versions: { '@tensorflow/tfjs-core': status.backend?.tfjs ?? 'unknown' },
    },
    models,
    cells,
    robust,
  });
  const spec = robustFigure(results, {
    dataset: 'mnist',
    subtitle: `${attack.toUpperCase()} on the first ${r.images} test images; 95% Wilson intervals`,
    width: 260,
    height: 180,
  });
  $('curve-figure').innerHTML = await renderSvg(spec);
  status.curves = {
    images: r.images,
    attack,
    rows,
    clean: Object.fromEntries(
      Object.entries(r.cleanCorrect).map(([id, m]) => [
        id,
        m.reduce((a, v) => a + v, 0) / m.length,
      ]),
    ),
    seconds: r.seconds,
    tensors: r.tensors,
  };
}

// --- wiring ---------------------------------------------------------------------------------

/** The attacks the page offers, in its menus (Square, gradient-free, for one image only). */
const ATTACK_MENU: { value: PageAttack; label: string }[] = [
  { value: 'fgsm', label: 'FGSM' },
  { value: 'bim', label: 'BIM-10' },
  { value: 'mifgsm', label: 'MI-FGSM' },
  { value: 'pgd', label: 'PGD-20' },
  { value: 'apgd', label: 'APGD-CE (50 steps)' },
  { value: 'square', label: 'Square (1,000 queries)' },
];
for (const [id, list] of [
  ['attack', ATTACK_MENU],
  ['curve-attack', ATTACK_MENU.filter((m) => m.value !== 'square')],
] as const) {
  $<HTMLSelectElement>(id).innerHTML = list
    .map(
      (m) =>
        `<option value="${m.value}"${m.value === 'bim' ? ' selected' : ''}>${m.label}</option>`,
    )
    .join('');
}

function esc(s: string) {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!,
  );
}

$('train').onclick = () => action('train', () => trainOne($<HTMLSelectElement>('rule').value));
$('train-both').onclick = () =>
  action('train', async () => {
    await trainOne('bp');
    await trainOne('fa');
  });
$('load').onclick = () =>
  action('load', async () => {
    log(`loading models from ${settings.modelsUrl}…`);
    const r = await call<{ models: ModelSummary[] }>(
      { type: 'load', baseUrl: new URL(settings.modelsUrl, location.href).href },
      (p) => log((p as { text: string }).text),
    );
    addModels(r.models);
    log(
      `loaded ${r.models.map((m) => `${m.id} (${(100 * m.testAccuracy).toFixed(1)}%)`).join(', ')}`,
    );
  });
$('stop').onclick = () => worker.postMessage({ type: 'cancel', task: 0 });
$('random').onclick = () => {
  $<HTMLInputElement>('index').value = String(
    Math.floor(Math.random() * (status.data?.testImages ?? 1)),
  );
};
// Square is the gradient-free choice: the two selects follow each other
let lastGradientAttack = 'bim';
$('source').onchange = () => {
  const attack = $<HTMLSelectElement>('attack');
  if ($<HTMLSelectElement>('source').value === 'none') attack.value = 'square';
  else if (attack.value === 'square') attack.value = lastGradientAttack;
};
$('attack').onchange = () => {
  const attack = $<HTMLSelectElement>('attack').value;
  const source = $<HTMLSelectElement>('source');
  if (attack === 'square') source.value = 'none';
  else {
    lastGradientAttack = attack;
    if (source.value === 'none') source.value = 'own';
  }
};
$('run-attack').onclick = () =>
  action('attack', async () => {
    const source = $<HTMLSelectElement>('source').value as GradientSourceName;
    const r = await call<AttackResult>({
      type: 'attack',
      model: $<HTMLSelectElement>('attack-model').value,
      attack: $<HTMLSelectElement>('attack').value as PageAttack,
      source,
      epsilon: Number($<HTMLInputElement>('eps').value),
      index: Number($<HTMLInputElement>('index').value),
    });
    showAttack(r);
    log(`attack done in ${r.seconds.toFixed(2)} s`);
  });
$('run-curves').onclick = () =>
  action('curves', async () => {
    const ids = [...document.querySelectorAll<HTMLInputElement>('#curve-models input:checked')].map(
      (i) => i.value,
    );
    if (ids.length === 0) throw new Error('tick at least one model');
    const epsilons = $<HTMLInputElement>('curve-eps')
      .value.split(/[,\s]+/)
      .filter(Boolean)
      .map(Number);
    if (epsilons.some((e) => !(e > 0 && e <= 1)))
      throw new Error(
        `every ε must be a number in (0, 1]; found "${$<HTMLInputElement>('curve-eps').value}"`,
      );
    const attack = $<HTMLSelectElement>('curve-attack').value as PageAttack;
    const r = await call<CurvesResult>(
      {
        type: 'curves',
        models: ids,
        attack,
        epsilons,
        images: Number($<HTMLInputElement>('curve-images').value),
        square: $<HTMLInputElement>('curve-square').checked,
      },
      (p) => log((p as { text: string }).text),
    );
    await drawCurves(r, attack);
    log(`curves done in ${r.seconds.toFixed(1)} s`);
  });

showStatus();
action('init', async () => {
  const r = await call<InitResult>(
    {
      type: 'init',
      backend: settings.backend,
      dataUrl: new URL(settings.dataUrl, location.href).href,
      trainImages: settings.trainImages,
      testImages: settings.testImages,
    },
    (p) => log((p as { text: string }).text),
  );
  status.backend = r.backend;
  // the learning rules fa-layers has, from the worker (importing it here would pull tfjs in)
  $<HTMLSelectElement>('rule').innerHTML = r.rules
    .map((m) => `<option value="${m}" ${m === 'fa' ? 'selected' : ''}>${m.toUpperCase()}</option>`)
    .join('');
  status.data = { trainImages: r.trainImages, testImages: r.testImages };
  $<HTMLInputElement>('index').max = String(r.testImages - 1);
  status.ready = true;
  log(
    `ready: ${r.backend.name}${r.backend.simd ? ' (SIMD)' : ''}, ${r.trainImages} training and ${r.testImages} test images (${r.seconds.toFixed(1)} s). ${r.backend.reason}.`,
  );
});
