import * as tfl from '@tensorflow/tfjs-layers';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { FeedbackOptionError } from './errors.js';
import { checkSeed, mixSeed, randomSeed, SEED_STREAM } from './init.js';
import { checkMode, type FeedbackMode } from './modes.js';

export type LenetDataset = 'mnist' | 'cifar10';

export type LenetVariant = 'lenet5' | 'biotorch-cifar';

export interface LenetOptions {
  /** 'mnist': 28x28x1 input; 'cifar10': 32x32x3 input. */
  dataset: LenetDataset;
  /** The feedback mode of every conv and dense layer. Default 'fa'. */
  feedback?: FeedbackMode;
  /**
   * Seeds every layer's kernel and feedback weights (each layer gets its own seed derived from
   * this one). Same seed, same initial model, on every backend. Default: random.
   */
  seed?: number;
  /**
   * Seeds the feedback side separately: every layer's feedback weights (B, B_dfa), brsf's
   * redraws and weight mirroring's noise, while `seed` keeps seeding the forward weights. Same
   * `seed` with another `feedbackSeed`: the same initial forward network, other feedback
   * matrices (to tell the rule's variance from the initialisation's). Default: `seed` (as
   * before: one seed for both).
   */
  feedbackSeed?: number;
  /** Passed to every layer (see FeedbackArgs.weightDecay). Default: the layers' default. */
  weightDecay?: number;
  /** wm: passed to every layer (FeedbackArgs.mirrorRate): a mirror of its own rate. */
  mirrorRate?: number;
  /** wm: passed to every layer (FeedbackArgs.mirrorBatch). */
  mirrorBatch?: number;
  /** The model name. Default `lenet-<dataset>-<feedback>` (`lenet-cifar10-biotorch-<feedback>`). */
  name?: string;
  /**
   * Which network:
   * - `'lenet5'` (default): LeNet-5 as the paper and BioTorch's MNIST LeNet have it (the table
   *   below), for both datasets.
   * - `'biotorch-cifar'` (cifar10 only): the network BioTorch's benchmark calls "LeNet" on
   *   CIFAR-10 (`LeNetCIFAR` in biotorch/models/le_net.py), a different, larger one: 3x3 convs of
   *   32, 64 and 128 channels with ReLU, max pooling after the first two, a global average
   *   pool, a 256-unit dense layer with ReLU and 10 logits (128,842 parameters). Its published
   *   CIFAR-10 numbers are for this network, not for LeNet-5.
   */
  variant?: LenetVariant;
  /**
   * How kernels and biases start (feedback weights are Xavier-uniform either way):
   * - `'pytorch'` (default): PyTorch's default for nn.Conv2d / nn.Linear, as the paper's
   *   PyTorch code has it: kernel and bias uniform in ±1/sqrt(fanIn).
   * - `'xavier'`: Xavier-uniform kernels, zero biases (tfjs' default).
   *
   * Measured here (10k CIFAR-10 images, 3 epochs, Adam 1e-3, seed 1): FA LeNet reaches 28% test
   * accuracy with 'pytorch' and stays at chance (10%, loss above ln 10) with 'xavier'; PyTorch
   * 1.13 with the same two inits does the same (23% and 11%). On MNIST (10k, 2 epochs) FA gets
   * 85% vs 73%. BP is about the same with both.
   */
  init?: 'pytorch' | 'xavier';
}

const INPUT: Record<LenetDataset, [number, number, number]> = {
  mnist: [28, 28, 1],
  cifar10: [32, 32, 3],
};

/** The two networks: conv kernel size, the three convs' filters, fc1's units. */
const LENET5 = { kernel: 5, filters: [6, 16, 120], hidden: 84 } as const;
const BIOTORCH_CIFAR = { kernel: 3, filters: [32, 64, 128], hidden: 256 } as const;

/** The number of classes of both datasets: the length of lenet's output. */
export const LENET_CLASSES = 10;

/**
 * LeNet-5 (`variant: 'lenet5'`, the default), with ReLU, max pooling and logits out (no
 * softmax), as the paper uses it and BioTorch builds it for MNIST:
 *
 * | layer   | mnist (28x28x1)                | cifar10 (32x32x3)      |
 * |---------|--------------------------------|------------------------|
 * | conv1   | 5x5, 6 filters, 'same' + ReLU  | 5x5, 6, 'valid' + ReLU |
 * | pool1   | max 2x2 -> 14x14x6             | max 2x2 -> 14x14x6     |
 * | conv2   | 5x5, 16, 'valid' + ReLU        | same                   |
 * | pool2   | max 2x2 -> 5x5x16              | same                   |
 * | conv3   | 5x5, 120, 'valid' + ReLU -> 1x1x120 | same              |
 * | flatten | 120                            | 120                    |
 * | fc1     | dense 84 + ReLU                | same                   |
 * | fc2     | dense 10, logits               | same                   |
 *
 * BioTorch's CIFAR-10 "LeNet" is another network: `variant: 'biotorch-cifar'` (see LenetOptions).
 *
 * BioTorch pads 28x28 MNIST to 32x32 with zeros; conv1's 'same' padding on 28x28 is exactly
 * that (2 zero pixels on each side, then a valid 5x5 conv). Kernels and biases start as
 * PyTorch starts them (see `init`), feedback weights Xavier-uniform. In 'dfa' every layer projects the error of fc2 (the
 * dfa output layer) with its own B_dfa.
 *
 * @example
 * const model = lenet({ dataset: 'mnist', feedback: 'fa', seed: 1 });
 * const logits = model.predict(tf.zeros([1, 28, 28, 1]));
 */
export function lenet(options: LenetOptions): tfl.Sequential {
  const where = 'lenet';
  if (options == null || !(options.dataset in INPUT)) {
    throw new FeedbackOptionError(where, 'dataset', "'mnist' or 'cifar10'", options?.dataset);
  }
  const { dataset } = options;
  const feedback = checkMode(where, options.feedback ?? 'fa');
  const seed = options.seed == null ? randomSeed() : checkSeed(where, options.seed);
  const fs = options.feedbackSeed;
  if (fs != null && (typeof fs !== 'number' || !Number.isInteger(fs) || fs < 0 || fs > 0xffffffff))
    throw new FeedbackOptionError(where, 'feedbackSeed', 'an integer in [0, 2^32)', fs);
  const feedbackSeed = fs ?? seed;
  const dfa = feedback === 'dfa';
  const init = options.init ?? 'pytorch';
  if (init !== 'pytorch' && init !== 'xavier')
    throw new FeedbackOptionError(where, 'init', "'pytorch' or 'xavier'", init);
  const variant = options.variant ?? 'lenet5';
  if (variant !== 'lenet5' && variant !== 'biotorch-cifar')
    throw new FeedbackOptionError(where, 'variant', "'lenet5' or 'biotorch-cifar'", variant);
  if (variant === 'biotorch-cifar' && dataset !== 'cifar10')
    throw new FeedbackOptionError(
      where,
      'variant',
      "'lenet5' for mnist ('biotorch-cifar' is a CIFAR-10 network: 32x32x3 input)",
      variant,
    );
  const channels = INPUT[dataset][2];
  const arch = variant === 'lenet5' ? LENET5 : BIOTORCH_CIFAR;
  // fan-in of conv1, conv2, conv3, fc1, fc2
  const fanIn = [
    0,
    arch.kernel ** 2 * channels,
    arch.kernel ** 2 * arch.filters[0],
    arch.kernel ** 2 * arch.filters[1],
    arch.filters[2],
    arch.hidden,
  ];
  const initializers = (i: number) => {
    if (init === 'xavier')
      // the layer's own default (Xavier-uniform from its seed), from the forward seed
      return feedbackSeed === seed
        ? {}
        : {
            kernelInitializer: tfl.initializers.glorotUniform({
              seed: mixSeed(mixSeed(seed, 100 + i), SEED_STREAM.kernel),
            }),
          };
    const bound = 1 / Math.sqrt(fanIn[i]!);
    const layerSeed = mixSeed(seed, 100 + i);
    return {
      // variance scaling with scale 1/3 over fanIn, uniform: limit sqrt(3 * (1/3) / fanIn)
      kernelInitializer: tfl.initializers.varianceScaling({
        scale: 1 / 3,
        mode: 'fanIn',
        distribution: 'uniform',
        seed: mixSeed(layerSeed, 900),
      }),
      biasInitializer: tfl.initializers.randomUniform({
        minval: -bound,
        maxval: bound,
        seed: mixSeed(layerSeed, 901),
      }),
    };
  };
  const common = (i: number) => ({
    feedback,
    ...initializers(i),
    // the layer's seed drives its feedback side (and, under 'xavier', its kernel: set above)
    seed: mixSeed(feedbackSeed, 100 + i),
    ...(options.weightDecay != null ? { weightDecay: options.weightDecay } : {}),
    ...(options.mirrorRate != null ? { mirrorRate: options.mirrorRate } : {}),
    ...(options.mirrorBatch != null ? { mirrorBatch: options.mirrorBatch } : {}),
    ...(dfa ? { dfaOutputUnits: LENET_CLASSES } : {}),
  });
  const defaultName =
    variant === 'lenet5' ? `lenet-${dataset}-${feedback}` : `lenet-${dataset}-biotorch-${feedback}`;
  const model = tfl.sequential({ name: options.name ?? defaultName });
  const { kernel, filters } = arch;
  model.add(tfl.layers.inputLayer({ inputShape: INPUT[dataset], name: 'input' }));
  model.add(
    conv2d({
      name: 'conv1',
      filters: filters[0],
      kernelSize: kernel,
      padding: variant === 'lenet5' && dataset === 'mnist' ? 'same' : 'valid',
      activation: 'relu',
      ...common(1),
    }),
  );
  model.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }));
  model.add(
    conv2d({
      name: 'conv2',
      filters: filters[1],
      kernelSize: kernel,
      activation: 'relu',
      ...common(2),
    }),
  );
  model.add(tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }));
  model.add(
    conv2d({
      name: 'conv3',
      filters: filters[2],
      kernelSize: kernel,
      activation: 'relu',
      ...common(3),
    }),
  );
  // biotorch-cifar: conv3 leaves 4x4x128; F.avg_pool2d over the whole map
  if (variant === 'biotorch-cifar') model.add(tfl.layers.globalAveragePooling2d({ name: 'pool3' }));
  else model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(dense({ name: 'fc1', units: arch.hidden, activation: 'relu', ...common(4) }));
  model.add(
    dense({ name: 'fc2', units: LENET_CLASSES, ...common(5), ...(dfa ? { dfaOutput: true } : {}) }),
  );
  return model;
}
