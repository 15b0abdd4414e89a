import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import type { StateEvent } from '@gradhooks/core';
import { assertNoLeak, assertSteadyTensorCount, tensorCountsPerStep } from '@gradhooks/testing';

import { GRADIENT_NOISE, gradientNoise } from '../src/index.js';
import { leastSquares, uniquePrefix } from './harness.js';

function regressionModel() {
  const prefix = uniquePrefix('noisefit');
  const model = tf.sequential({ name: `${prefix}_model` });
  model.add(tf.layers.dense({ inputShape: [4], units: 8, activation: 'tanh', name: `${prefix}_hidden`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: 1, name: `${prefix}_out`, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return model;
}

describe('gradient-noise memory', () => {
  it('keeps the tensor count steady and frees everything', async () => {
    await assertNoLeak(() => {
      const problem = leastSquares();
      const optimizer = new HookedOptimizer(tf.train.adam(0.01), { plugins: [gradientNoise({ eta: 0.3, seed: 1 })] });
      const counts = tensorCountsPerStep(() => optimizer.step(problem.objectives, { variables: [problem.weights] }), 8);
      assertSteadyTensorCount(counts);
      optimizer.dispose();
      problem.dispose();
    }, 'eight noisy Adam steps');
  });
});

describe('gradient-noise in model.fit', () => {
  it('trains with noise and flat memory', async () => {
    const x = tf.randomNormal([48, 4], 0, 1, 'float32', 31);
    const y = tf.sum(tf.mul(x, tf.tensor1d([1, -2, 0.5, 3])), 1, true);
    const start = tf.memory().numTensors;
    const weightsAfter: number[][][] = [];

    for (const plugins of [[gradientNoise({ eta: 0.3, seed: 8 })], []]) {
      const model = regressionModel();
      const optimizer = new HookedOptimizer(tf.train.sgd(0.05), { plugins });
      const states: StateEvent[] = [];
      optimizer.telemetry.on('state', (event) => states.push(event));
      model.compile({ optimizer, loss: 'meanSquaredError' });
      const counts: number[][] = [];
      const history = await model.fit(x, y, {
        epochs: 3,
        batchSize: 12,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onEpochBegin: async () => void counts.push([]),
          onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
        },
      });
      const losses = history.history['loss'] as number[];
      expect(losses.every(Number.isFinite)).toBe(true);
      counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
      if (plugins.length > 0) {
        expect(states.map((event) => event.plugin)).toEqual(new Array(12).fill(GRADIENT_NOISE));
        expect(states.map((event) => event.values['noiseStep'])).toEqual(Array.from({ length: 12 }, (_, i) => i));
        expect(losses[2]!).toBeLessThan(losses[0]!);
      }
      weightsAfter.push(model.getWeights().map((weight) => [...weight.dataSync()]));
      optimizer.dispose();
      model.dispose();
    }

    // Same data, same initial weights: only the noise separates the two runs.
    expect(weightsAfter[0]).not.toEqual(weightsAfter[1]);
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, y]);
  });
});
