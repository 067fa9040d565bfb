import type { Cifar10Spec, IdxDatasetSpec } from './types.js';

/**
 * The published files of each dataset: names, sizes, digests and canonical URLs. md5 values are
 * the published ones; sha256 of the MNIST .gz files and the sizes are those of the canonical
 * copies in the project's data folder (whose md5 match the published ones). The `raw` entries
 * are the digests of the gunzipped canonical files, so an extracted copy is verified too.
 */

export const MNIST_CLASSES: readonly string[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => String(i)),
);

export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
]);

export const MNIST: IdxDatasetSpec = {
  id: 'mnist',
  title: 'MNIST',
  classes: MNIST_CLASSES,
  // The mirror torchvision uses first; the original page serves the same bytes when it is up.
  mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'],
  records: { train: 60000, test: 10000 },
  files: {
    train: {
      images: {
        name: 'train-images-idx3-ubyte.gz',
        bytes: 9912422,
        md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
        sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
        raw: {
          name: 'train-images-idx3-ubyte',
          bytes: 47040016,
          md5: '6bbc9ace898e44ae57da46a324031adb',
          sha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
        },
      },
      labels: {
        name: 'train-labels-idx1-ubyte.gz',
        bytes: 28881,
        md5: 'd53e105ee54ea40749a09fcbcd1e9432',
        sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
        raw: {
          name: 'train-labels-idx1-ubyte',
          bytes: 60008,
          md5: 'a25bea736e30d166cdddb491f175f624',
          sha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
        },
      },
    },
    test: {
      images: {
        name: 't10k-images-idx3-ubyte.gz',
        bytes: 1648877,
        md5: '9fb629c4189551a2d022fa330f9573f3',
        sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
        raw: {
          name: 't10k-images-idx3-ubyte',
          bytes: 7840016,
          md5: '2646ac647ad5339dbf082846283269ea',
          sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
        },
      },
      labels: {
        name: 't10k-labels-idx1-ubyte.gz',
        bytes: 4542,
        md5: 'ec29112dd5afa0611ce80d1b7f02629c',
        sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
        raw: {
          name: 't10k-labels-idx1-ubyte',
          bytes: 10008,
          md5: '27ae3e4e09519cfbb04c329615203637',
          sha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
        },
      },
    },
  },
};

/** md5 as published in the Fashion-MNIST README; no extracted (raw) digests are known. */
export const FASHION_MNIST: IdxDatasetSpec = {
  id: 'fashion-mnist',
  title: 'Fashion-MNIST',
  classes: FASHION_MNIST_CLASSES,
  mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
  records: { train: 60000, test: 10000 },
  files: {
    train: {
      images: {
        name: 'train-images-idx3-ubyte.gz',
        bytes: 26421880,
        md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      },
      labels: {
        name: 'train-labels-idx1-ubyte.gz',
        bytes: 29515,
        md5: '25c81989df183df01b3e8a0aad5dffbe',
      },
    },
    test: {
      images: {
        name: 't10k-images-idx3-ubyte.gz',
        bytes: 4422102,
        md5: 'bef4ecab320f06d8554ea6380940ec79',
      },
      labels: {
        name: 't10k-labels-idx1-ubyte.gz',
        bytes: 5148,
        md5: 'bb300cfdad3c16e7a12a480ee83cd310',
      },
    },
  },
};

const cifarBatch = (name: string, md5: string) => ({ name, md5, bytes: 30730000, records: 10000 });

export const CIFAR10: Cifar10Spec = {
  id: 'cifar10',
  title: 'CIFAR-10',
  classes: CIFAR10_CLASSES,
  mirrors: ['https://www.cs.toronto.edu/~kriz/'],
  archive: {
    name: 'cifar-10-binary.tar.gz',
    bytes: 170052171,
    md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  },
  folder: 'cifar-10-batches-bin',
  batches: {
    train: [
      cifarBatch('data_batch_1.bin', '5dd7e06a14cb22eb9f671a540d1b7c25'),
      cifarBatch('data_batch_2.bin', '5ea93a67294ea407fff1d09f752e9692'),
      cifarBatch('data_batch_3.bin', '942cd6a4bcdd0dd3c604fbe906cb4421'),
      cifarBatch('data_batch_4.bin', 'ae636b3ba5c66a11e91e8cb52e771fcb'),
      cifarBatch('data_batch_5.bin', '53f37980c15c3d472c316c40844f3f0d'),
    ],
    test: [cifarBatch('test_batch.bin', '803d5f7f4d78ea53de84dbe85f74fb6d')],
  },
};

/**
 * Which known file has this md5, if any ("MNIST train-images-idx3-ubyte.gz"): used to say, when
 * a file fails its checksum, that it is another dataset's file of the same name.
 */
export function identifyByMd5(md5: string): string | undefined {
  for (const spec of [MNIST, FASHION_MNIST]) {
    for (const split of ['train', 'test'] as const) {
      for (const f of Object.values(spec.files[split])) {
        if (f.md5 === md5) return `${spec.title} ${f.name}`;
        if (f.raw?.md5 === md5) return `${spec.title} ${f.raw.name}`;
      }
    }
  }
  if (CIFAR10.archive.md5 === md5) return `${CIFAR10.title} ${CIFAR10.archive.name}`;
  for (const b of [...CIFAR10.batches.train, ...CIFAR10.batches.test]) {
    if (b.md5 === md5) return `${CIFAR10.title} ${b.name}`;
  }
  return undefined;
}
