import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import { clipGlobalNorm } from '@gradhooks/plugin-clip';
import { assertSteadyTensorCount } from '@gradhooks/testing';

describe('clip-global-norm in model.fit', () => {
  it('bounds every SGD update, keeps memory flat and frees its state', async () => {
    const model = tf.sequential({ name: 'clipfit' });
    model.add(tf.layers.dense({ inputShape: [5], units: 8, activation: 'tanh', name: 'clipfit_hidden', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
    model.add(tf.layers.dense({ units: 1, name: 'clipfit_out', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
    const x = tf.randomNormal([40, 5], 0, 3, 'float32', 71);
    const y = tf.mul(tf.randomNormal([40, 1], 0, 1, 'float32', 72), 50);
    const start = tf.memory().numTensors;
    const learningRate = 0.1;
    const maxNorm = 0.5;
    const optimizer = new HookedOptimizer(tf.train.sgd(learningRate), { plugins: [clipGlobalNorm({ maxNorm })] });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const clips: boolean[] = [];
    optimizer.telemetry.on('clip', (event) => clips.push(event.clipped));
    const updates: number[] = [];
    const counts: number[][] = [];
    let previous = model.getWeights().map((weight) => Array.from(weight.dataSync()));
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 10,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void counts.push([]),
        onBatchEnd: async () => {
          counts[counts.length - 1]!.push(tf.memory().numTensors);
          const current = model.getWeights().map((weight) => Array.from(weight.dataSync()));
          const squared = current.flat().reduce((total, value, i) => total + (value - previous.flat()[i]!) ** 2, 0);
          updates.push(Math.sqrt(squared));
          previous = current;
        },
      },
    });
    expect(clips).toHaveLength(12);
    expect(clips.every((clipped) => clipped)).toBe(true);
    updates.forEach((norm) => expect(norm).toBeLessThanOrEqual(learningRate * maxNorm * (1 + 1e-5)));
    counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, y]);
    model.dispose();
  });
});
