/**
 * The messages between the page (main.ts) and the worker that does all the tensor work
 * (worker.ts). Every request carries a task id; the worker answers each with `done` or `error`
 * for that id, and may send `progress` for it before.
 */

/** The gradient an attack follows: the network's own backward path, its true gradient, none. */
export type GradientSourceName = 'own' | 'true' | 'none';

/** The attacks the page offers. 'square' needs no gradient. */
export type PageAttack = 'fgsm' | 'bim' | 'mifgsm' | 'pgd' | 'apgd' | 'square';

export interface ModelSummary {
  id: string;
  /** Learning rule ('bp', 'fa', 'kp', ...), read from the layers. */
  rule: string;
  /** Where it came from: 'trained here' or the URL of its model.json. */
  origin: string;
  /** Clean accuracy on the page's test images. */
  testAccuracy: number;
  testImages: number;
  /** Trained here: batches and seconds. */
  steps?: number;
  seconds?: number;
}

export type Request =
  | {
      type: 'init';
      task: number;
      backend: 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
      dataUrl: string;
      trainImages: number;
      testImages: number;
    }
  | {
      type: 'train';
      task: number;
      rule: string;
      images: number;
      epochs: number;
      batchSize: number;
      learningRate: number;
      seed: number;
    }
  | { type: 'load'; task: number; baseUrl: string }
  | {
      type: 'attack';
      task: number;
      model: string;
      attack: PageAttack;
      source: GradientSourceName;
      epsilon: number;
      index: number;
    }
  | {
      type: 'curves';
      task: number;
      models: string[];
      attack: PageAttack;
      epsilons: number[];
      images: number;
      square: boolean;
    }
  | { type: 'cancel'; task: number };

export interface InitResult {
  backend: { name: string; reason: string; simd: boolean | null; tfjs: string };
  /** The learning rules the page can train (fa-layers' FEEDBACK_MODES). */
  rules: string[];
  trainImages: number;
  testImages: number;
  seconds: number;
}

export interface TrainProgress {
  kind: 'batch' | 'epoch';
  rule: string;
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  /** Every 25 batches and after each epoch: accuracy on the page's test images. */
  testAccuracy?: number;
}

export interface Prediction {
  label: number;
  /** Softmax probability of `label`. */
  confidence: number;
}

export interface AttackResult {
  model: string;
  attack: PageAttack;
  source: GradientSourceName;
  epsilon: number;
  index: number;
  label: number;
  /** 784 pixels each, row-major, in [0, 1] (perturbation: adversarial - clean, in [-eps, eps]). */
  clean: Float32Array;
  adversarial: Float32Array;
  perturbation: Float32Array;
  linf: number;
  /** The attacked model fooled (predicts other than the label on the adversarial)? */
  success: boolean;
  /** Every loaded model's prediction on the clean and on the adversarial image. */
  predictions: Record<string, { clean: Prediction; adversarial: Prediction }>;
  /** The input gradient of the attacked model's loss on the clean image, along each path. */
  gradients: { own: Float32Array; true: Float32Array; cosine: number };
  seconds: number;
  /** Tensors alive in the worker after the attack (should not grow run after run). */
  tensors: number;
}

export interface CurveSeries {
  model: string;
  /** 'own', 'true' or 'none' (Square). */
  source: GradientSourceName;
  attack: PageAttack;
  epsilons: number[];
  /** Per epsilon, 1 where the image is still classified right after the attack. */
  correctAfter: Uint8Array[];
}

export interface CurvesResult {
  images: number;
  /** Per model: 1 where the clean image is classified right. */
  cleanCorrect: Record<string, Uint8Array>;
  series: CurveSeries[];
  seconds: number;
  tensors: number;
}

export type Response =
  | { type: 'progress'; task: number; data: TrainProgress | { kind: 'load'; text: string } }
  | { type: 'done'; task: number; data: unknown }
  | { type: 'error'; task: number; message: string };
