import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { SeededRandom } from '@gradhooks/core';

import { CLASSES, loadDigits, PIXELS, sampleIndices, shiftDomain, subset } from '../src/data.js';
import type { DigitSet } from '../src/data.js';
import { METHODS, runExperiment } from '../src/experiment.js';

const digits = loadDigits();

function imagesOf(set: DigitSet, row: number): number[] {
  return Array.from(set.images.subarray(row * PIXELS, (row + 1) * PIXELS));
}

describe('prograd-finetune data', () => {
  it('splits every class 80/20', () => {
    expect(digits.train.size + digits.test.size).toBe(10000);
    for (let digit = 0; digit < CLASSES; digit++) {
      const train = digits.train.labels.filter((label) => label === digit).length;
      const test = digits.test.labels.filter((label) => label === digit).length;
      expect(train).toBe(Math.floor((train + test) * 0.8));
    }
  });

  it('samples each class equally and reproducibly', () => {
    const first = sampleIndices(digits.train, 16, new SeededRandom(3));
    const second = sampleIndices(digits.train, 16, new SeededRandom(3));
    expect(first).toEqual(second);
    expect(new Set(first).size).toBe(160);
    const counts = Array.from({ length: CLASSES }, (_, digit) => first.filter((row) => digits.train.labels[row] === digit).length);
    expect(counts).toEqual(Array.from({ length: CLASSES }, () => 16));
    expect(sampleIndices(digits.train, 16, new SeededRandom(4))).not.toEqual(first);
  });

  it('inverts and rotates images', () => {
    const some = subset(digits.test, [0, 500, 1500]);
    const inverted = shiftDomain(some, { kind: 'invert' });
    imagesOf(inverted, 1).forEach((value, i) => expect(value).toBeCloseTo(1 - imagesOf(some, 1)[i]!, 6));
    const unrotated = shiftDomain(some, { kind: 'rotate', degrees: 0 });
    imagesOf(unrotated, 2).forEach((value, i) => expect(value).toBeCloseTo(imagesOf(some, 2)[i]!, 5));
    const quarter = shiftDomain(some, { kind: 'rotate', degrees: 90 });
    // A quarter turn counterclockwise moves the pixel at (row, column) to (27 − column, row).
    const row = 10;
    const column = 14;
    expect(imagesOf(quarter, 0)[(27 - column) * 28 + row]).toBeCloseTo(imagesOf(some, 0)[row * 28 + column]!, 5);
  });
});

describe('prograd-finetune experiment', () => {
  it('runs every method on a small sample', async () => {
    const small = {
      train: subset(digits.train, sampleIndices(digits.train, 30, new SeededRandom(1))),
      test: subset(digits.test, sampleIndices(digits.test, 10, new SeededRandom(2))),
    };
    const start = tf.memory().numTensors;
    const result = await runExperiment(small, {
      hiddenUnits: 16,
      pretrainSeed: 7,
      pretrain: { epochs: 2, batchSize: 32, learningRate: 1e-2 },
      fineTune: { epochs: 2, batchSize: 8, learningRate: 1e-2 },
      shotsPerClass: 2,
      shifts: [{ kind: 'rotate', degrees: 45 }],
      seeds: [1],
    });
    expect(tf.memory().numTensors).toBe(start);
    const [shift] = result.shifts;
    expect(shift!.methods.map((entry) => entry.method)).toEqual([...METHODS]);
    for (const { method, runs } of shift!.methods) {
      for (const value of [runs[0]!.shifted, runs[0]!.original]) {
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
      }
      expect(runs[0]!.projection === undefined).toBe(method !== 'prograd');
    }
    const share = shift!.methods.find((entry) => entry.method === 'prograd')!.runs[0]!.projection!.projectedShare;
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  });
});
