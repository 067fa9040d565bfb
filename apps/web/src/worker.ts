/**
 * All tensor work of the page, off the main thread: the backend, the data, training, loading
 * exported models, attacks and curves. Requests run one at a time, in order; `cancel` aborts
 * the running one. Every tensor a request makes is disposed before it answers (the answer says
 * how many tensors are alive, so a test can see that the count does not grow).
 */
import '@tensorflow/tfjs-backend-webgl'; // registers webgl: setupBackend tries it after webgpu
import {
  apgd,
  bim,
  fgsm,
  type GradientSource,
  mifgsm,
  modelGradient,
  pgd,
  runAttack,
  square,
} from '@fa-robust/attacks';
import { setupBackend } from '@fa-robust/backend';
import { loadMnistFromUrl, type Split } from '@fa-robust/datasets';
import {
  backpropTwin,
  evaluate,
  FEEDBACK_MODES,
  type FeedbackMode,
  feedbackLayers,
  inputGradients,
  lenet,
  registerFaLayers,
  train,
} from '@fa-robust/fa-layers';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {
  AttackResult,
  CurveSeries,
  CurvesResult,
  InitResult,
  ModelSummary,
  PageAttack,
  Prediction,
  Request,
  Response,
  TrainProgress,
} from './protocol.js';

registerFaLayers();

interface Entry {
  model: tfl.LayersModel;
  /** The backprop twin: the same forward weights, the true gradient. */
  twin: tfl.LayersModel;
  summary: ModelSummary;
}

const models = new Map<string, Entry>();
let trainSplit: Split | null = null;
let testSplit: Split | null = null;
let current: { task: number; controller: AbortController } | null = null;
let queue: Promise<void> = Promise.resolve();

const post = (r: Response) => (self as unknown as Worker).postMessage(r);

self.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  if (req.type === 'cancel') {
    if (current && (req.task === 0 || current.task === req.task)) current.controller.abort();
    return;
  }
  queue = queue.then(() => handle(req));
};

async function handle(req: Exclude<Request, { type: 'cancel' }>): Promise<void> {
  const controller = new AbortController();
  current = { task: req.task, controller };
  try {
    const data = await run(req, controller.signal);
    post({ type: 'done', task: req.task, data });
  } catch (e) {
    const err = e as Error;
    post({
      type: 'error',
      task: req.task,
      message: err.name === 'AbortError' ? 'cancelled' : (err.message ?? String(e)),
    });
  } finally {
    current = null;
  }
}

function run(req: Exclude<Request, { type: 'cancel' }>, signal: AbortSignal): Promise<unknown> {
  switch (req.type) {
    case 'init':
      return init(req);
    case 'train':
      return trainRule(req, signal);
    case 'load':
      return loadModels(req);
    case 'attack':
      return attackOne(req).then((r) => ({ ...r, tensors: tf.memory().numTensors }));
    case 'curves':
      return curves(req, signal);
  }
}

const progress = (task: number, data: TrainProgress | { kind: 'load'; text: string }) =>
  post({ type: 'progress', task, data });

function needData(): { train: Split; test: Split } {
  if (!trainSplit || !testSplit) throw new Error('the data is not loaded yet (init first)');
  return { train: trainSplit, test: testSplit };
}

function needModel(id: string): Entry {
  const m = models.get(id);
  if (!m)
    throw new Error(
      `no model '${id}' (have: ${[...models.keys()].join(', ') || 'none: train or load one'})`,
    );
  return m;
}

async function init(req: Extract<Request, { type: 'init' }>): Promise<InitResult> {
  const t0 = performance.now();
  const info = await setupBackend({ backend: req.backend });
  progress(req.task, { kind: 'load', text: `backend ${info.name}; loading MNIST` });
  const files = new Map<string, number>();
  const mnist = await loadMnistFromUrl({
    baseUrl: req.dataUrl,
    onProgress: (p) => {
      const pct = Math.floor((100 * p.loaded) / p.total);
      if (files.get(p.file) !== pct && pct % 10 === 0) {
        files.set(p.file, pct);
        progress(req.task, { kind: 'load', text: `${p.file}: ${pct}%` });
      }
    },
  });
  trainSplit = firstImages(mnist.train, req.trainImages);
  testSplit = firstImages(mnist.test, req.testImages);
  return {
    backend: {
      name: info.name,
      reason: info.reason,
      simd: info.simd,
      tfjs: info.tfjsVersion,
    },
    rules: [...FEEDBACK_MODES],
    trainImages: trainSplit.labels.length,
    testImages: testSplit.labels.length,
    seconds: (performance.now() - t0) / 1000,
  };
}

function firstImages(s: Split, n: number): Split {
  const count = Math.min(n, s.labels.length);
  const per = s.shape[1] * s.shape[2] * s.shape[3];
  return {
    ...s,
    images: s.images.subarray(0, count * per),
    labels: s.labels.subarray(0, count),
    shape: [count, s.shape[1], s.shape[2], s.shape[3]],
  };
}

function tensors(s: Split, start = 0, count = s.labels.length): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const per = s.shape[1] * s.shape[2] * s.shape[3];
  return {
    x: tf.tensor4d(s.images.subarray(start * per, (start + count) * per), [
      count,
      s.shape[1],
      s.shape[2],
      s.shape[3],
    ]),
    y: tf.tensor1d(s.labels.subarray(start, start + count), 'int32'),
  };
}

async function testAccuracy(model: tfl.LayersModel): Promise<number> {
  const { x, y } = tensors(needData().test);
  try {
    return (await evaluate(model, { x, y }, 250)).accuracy;
  } finally {
    tf.dispose([x, y]);
  }
}

/** The learning rule of a model: its feedback layers' mode ('bp' where it has none). */
function ruleOf(model: tfl.LayersModel): string {
  const modes = new Set(
    feedbackLayers(model).map((l) => String((l.getConfig() as { feedback?: unknown }).feedback)),
  );
  return modes.size === 0 ? 'bp' : [...modes].join('+');
}

async function put(
  id: string,
  model: tfl.LayersModel,
  summary: Omit<ModelSummary, 'id' | 'rule' | 'testAccuracy' | 'testImages'>,
) {
  const old = models.get(id);
  if (old) {
    old.model.dispose();
    old.twin.dispose();
    models.delete(id);
  }
  const twin = await backpropTwin(model);
  const entry: Entry = {
    model,
    twin,
    summary: {
      id,
      rule: ruleOf(model),
      ...summary,
      testAccuracy: await testAccuracy(model),
      testImages: needData().test.labels.length,
    },
  };
  models.set(id, entry);
  return entry.summary;
}

async function trainRule(
  req: Extract<Request, { type: 'train' }>,
  signal: AbortSignal,
): Promise<{ model: ModelSummary; aborted: boolean; tensors: number }> {
  if (!(FEEDBACK_MODES as readonly string[]).includes(req.rule))
    throw new Error(`unknown learning rule '${req.rule}' (known: ${FEEDBACK_MODES.join(', ')})`);
  const { train: split } = needData();
  const n = Math.min(req.images, split.labels.length);
  const model = lenet({ dataset: 'mnist', feedback: req.rule as FeedbackMode, seed: req.seed });
  const { x, y } = tensors(split, 0, n);
  const batches = Math.ceil(n / req.batchSize);
  let steps = 0;
  try {
    const result = await train(
      model,
      { x, y },
      {
        epochs: req.epochs,
        batchSize: req.batchSize,
        optimizer: 'adam',
        learningRate: req.learningRate,
        seed: req.seed,
        signal,
        onBatch: async (b) => {
          steps++;
          // every 5th batch: each report waits for the device once; every 25th, the test
          // accuracy too (a forward pass over the page's test images), for the live curve
          if (b.batch % 5 === 0 || b.batch === batches - 1)
            progress(req.task, {
              kind: 'batch',
              rule: req.rule,
              epoch: b.epoch,
              batch: b.batch,
              batches,
              loss: b.loss,
              ...(b.batch > 0 && b.batch % 25 === 0
                ? { testAccuracy: await testAccuracy(model) }
                : {}),
            });
        },
        onEpoch: async (e) => {
          progress(req.task, {
            kind: 'epoch',
            rule: req.rule,
            epoch: e.epoch,
            batch: batches - 1,
            batches,
            loss: e.loss,
            testAccuracy: await testAccuracy(model),
          });
        },
      },
    );
    const summary = await put(req.rule, model, {
      origin: 'trained here',
      steps,
      seconds: result.seconds,
    });
    return { model: summary, aborted: result.aborted, tensors: tf.memory().numTensors };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tf.dispose([x, y]);
  }
}

/**
 * Models the repro app exported: `<baseUrl>/index.json` lists them as
 * `{ "models": [{ "id": "mnist-fa", "path": "mnist-fa-d2aced46f833/model.json" }] }`, each path
 * relative to baseUrl (a tfjs LayersModel: model.json and its weights file).
 */
async function loadModels(
  req: Extract<Request, { type: 'load' }>,
): Promise<{ models: ModelSummary[]; tensors: number }> {
  needData();
  const base = new URL(
    req.baseUrl.endsWith('/') ? req.baseUrl : `${req.baseUrl}/`,
    self.location.href,
  );
  const res = await fetch(new URL('index.json', base));
  if (!res.ok)
    throw new Error(
      `${new URL('index.json', base)}: HTTP ${res.status} (is the models folder served?)`,
    );
  const index = (await res.json()) as { models?: { id: string; path: string }[] };
  if (!Array.isArray(index.models) || index.models.length === 0)
    throw new Error(
      `${new URL('index.json', base)}: expected { "models": [{ "id", "path" }, ...] }`,
    );
  const out: ModelSummary[] = [];
  for (const m of index.models) {
    const url = new URL(m.path, base).href;
    progress(req.task, { kind: 'load', text: `loading ${m.id}` });
    const model = await tfl.loadLayersModel(url);
    const shape = model.inputs[0]!.shape;
    if (shape[1] !== 28 || shape[2] !== 28 || shape[3] !== 1) {
      model.dispose();
      progress(req.task, { kind: 'load', text: `skipped ${m.id}: not an MNIST model` });
      continue;
    }
    out.push(await put(m.id, model, { origin: url }));
  }
  return { models: out, tensors: tf.memory().numTensors };
}

function gradientFor(entry: Entry, source: 'own' | 'true' | 'none'): GradientSource | undefined {
  return source === 'true' ? modelGradient(entry.twin, 'true') : undefined;
}

async function attackOne(
  req: Extract<Request, { type: 'attack' }>,
): Promise<Omit<AttackResult, 'tensors'>> {
  const t0 = performance.now();
  const entry = needModel(req.model);
  const { test } = needData();
  if (!Number.isInteger(req.index) || req.index < 0 || req.index >= test.labels.length)
    throw new Error(`image index must be 0..${test.labels.length - 1}; found ${req.index}`);
  if (!(req.epsilon >= 0 && req.epsilon <= 1))
    throw new Error(`eps must be in [0, 1]; found ${req.epsilon}`);
  const { x, y } = tensors(test, req.index, 1);
  const label = test.labels[req.index]!;
  const attack = req.source === 'none' ? 'square' : req.attack;
  const options = {
    epsilon: req.epsilon,
    gradient: gradientFor(entry, req.source),
    seed: req.index,
  };
  try {
    const r =
      attack === 'fgsm'
        ? await fgsm(entry.model, x, y, options)
        : attack === 'bim'
          ? await bim(entry.model, x, y, { ...options, steps: 10 })
          : attack === 'mifgsm'
            ? await mifgsm(entry.model, x, y, { ...options, steps: 10 })
            : attack === 'pgd'
              ? await pgd(entry.model, x, y, { ...options, steps: 20 })
              : attack === 'apgd'
                ? await apgd(entry.model, x, y, { ...options, steps: 50 })
                : await square(entry.model, x, y, {
                    epsilon: req.epsilon,
                    steps: 1000,
                    seed: req.index,
                  });
    try {
      const adversarial = (await r.adversarial.data()) as Float32Array;
      const clean = (await x.data()) as Float32Array;
      const perturbation = new Float32Array(clean.length);
      for (let i = 0; i < clean.length; i++) perturbation[i] = adversarial[i]! - clean[i]!;
      const predictions: AttackResult['predictions'] = {};
      for (const [id, m] of models) {
        predictions[id] = {
          clean: await predict(m.model, x),
          adversarial: await predict(m.model, r.adversarial),
        };
      }
      const g = await inputGradients(entry.model, x, y, { twin: entry.twin });
      const own = (await g.own.data()) as Float32Array;
      const truth = (await g.true.data()) as Float32Array;
      tf.dispose([g.own, g.true]);
      return {
        model: req.model,
        attack,
        source: req.source,
        epsilon: req.epsilon,
        index: req.index,
        label,
        clean,
        adversarial,
        perturbation,
        linf: r.linf[0]!,
        success: r.success[0] === 1,
        predictions,
        gradients: { own, true: truth, cosine: cosine(own, truth) },
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      r.adversarial.dispose();
    }
  } finally {
    tf.dispose([x, y]);
  }
}

async function predict(model: tfl.LayersModel, x: tf.Tensor): Promise<Prediction> {
  const p = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor2D));
  const probs = (await p.data()) as Float32Array;
  p.dispose();
  let label = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[label]!) label = i;
  return { label, confidence: probs[label]! };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

const CURVE_OPTIONS: Record<PageAttack, Record<string, number>> = {
  fgsm: {},
  bim: { steps: 10 },
  mifgsm: { steps: 10 },
  pgd: { steps: 20 },
  apgd: { steps: 50 },
  square: { steps: 300 },
};

async function curves(
  req: Extract<Request, { type: 'curves' }>,
  signal: AbortSignal,
): Promise<CurvesResult> {
  const t0 = performance.now();
  const { test } = needData();
  const n = Math.min(req.images, test.labels.length);
  if (!(n >= 1)) throw new Error(`images must be at least 1; found ${req.images}`);
  const per = test.shape[1] * test.shape[2] * test.shape[3];
  const data = {
    x: test.images.subarray(0, n * per),
    y: test.labels.subarray(0, n),
    shape: [n, test.shape[1], test.shape[2], test.shape[3]],
  };
  const plan: { entry: Entry; source: 'own' | 'true' | 'none'; attack: PageAttack }[] = [];
  for (const id of req.models) {
    const entry = needModel(id);
    plan.push({ entry, source: 'own', attack: req.attack });
    // for bp the own path is the true gradient: one series says both
    if (entry.summary.rule !== 'bp') plan.push({ entry, source: 'true', attack: req.attack });
    if (req.square) plan.push({ entry, source: 'none', attack: 'square' });
  }
  const cleanCorrect: Record<string, Uint8Array> = {};
  const series: CurveSeries[] = [];
  let done = 0;
  for (const p of plan) {
    progress(req.task, {
      kind: 'load',
      text: `${p.entry.summary.id}: ${p.attack} through ${p.source === 'none' ? 'no gradient' : `the ${p.source === 'own' ? 'own path' : 'true gradient'}`} (${++done}/${plan.length})`,
    });
    const gradient = gradientFor(p.entry, p.source);
    const r = await runAttack({
      model: p.entry.model,
      attack: p.attack,
      options: CURVE_OPTIONS[p.attack],
      data,
      epsilons: req.epsilons,
      batchSize: 100,
      signal,
      ...(gradient ? { gradient } : {}),
    });
    cleanCorrect[p.entry.summary.id] = r.cleanCorrect;
    series.push({
      model: p.entry.summary.id,
      source: p.source,
      attack: p.attack,
      epsilons: [...req.epsilons],
      correctAfter: r.perEpsilon.map((e) => e.correctAfter),
    });
  }
  return {
    images: n,
    cleanCorrect,
    series,
    seconds: (performance.now() - t0) / 1000,
    tensors: tf.memory().numTensors,
  };
}
