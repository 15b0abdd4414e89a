import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import type { PluginSpec, TelemetryEventName } from '@gradhooks/core';
import { accumulate, agc, autoclip, clipGlobalNorm, clipNorm, clipValue, emaWeights, emaWeightsOf, flushOnTrainEnd, nonfinite, zclip } from '@gradhooks/plugin-clip';
import { assertSteadyTensorCount } from '@gradhooks/testing';

import { uniquePrefix } from './helpers.js';

interface FitCase {
  name: string;
  plugins: () => PluginSpec[];
  /** Telemetry event the plugin must emit during fit, with how many per epoch of 4 batches. */
  event: TelemetryEventName;
  perEpoch: number;
  /** Optimizer updates per epoch of 4 batches. */
  updatesPerEpoch: number;
  /** Put NaN into the targets of the second batch, so its gradients are not finite. */
  poisoned?: boolean;
}

const cases: FitCase[] = [
  { name: 'clip-value', plugins: () => [clipValue({ max: 0.1 })], event: 'clip', perEpoch: 4, updatesPerEpoch: 4 },
  { name: 'clip-norm', plugins: () => [clipNorm({ maxNorm: 0.5 })], event: 'clip', perEpoch: 4, updatesPerEpoch: 4 },
  { name: 'agc', plugins: () => [agc({ clipping: 0.05 })], event: 'clip', perEpoch: 4, updatesPerEpoch: 4 },
  { name: 'autoclip', plugins: () => [autoclip()], event: 'clip', perEpoch: 4, updatesPerEpoch: 4 },
  { name: 'zclip', plugins: () => [zclip({ warmupSteps: 2 })], event: 'clip', perEpoch: 4, updatesPerEpoch: 4 },
  { name: 'nonfinite', plugins: () => [nonfinite()], event: 'skip', perEpoch: 1, updatesPerEpoch: 3, poisoned: true },
  { name: 'accumulate', plugins: () => [accumulate({ steps: 2 })], event: 'skip', perEpoch: 2, updatesPerEpoch: 2 },
  { name: 'ema-weights', plugins: () => [emaWeights({ decay: 0.5 })], event: 'state', perEpoch: 4, updatesPerEpoch: 4 },
];

function model(prefix: string): tf.Sequential {
  const net = tf.sequential({ name: prefix });
  net.add(tf.layers.dense({ inputShape: [5], units: 8, activation: 'tanh', name: `${prefix}_hidden`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  net.add(tf.layers.batchNormalization({ name: `${prefix}_norm` }));
  net.add(tf.layers.dense({ units: 1, name: `${prefix}_out`, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return net;
}

describe.each(cases)('$name in model.fit', (entry) => {
  it('trains with flat memory and frees its state', async () => {
    const prefix = uniquePrefix(`fit_${entry.name.replace(/-/g, '_')}_`);
    const net = model(prefix);
    const x = tf.randomNormal([32, 5], 0, 3, 'float32', 71);
    const targets = tf.tidy(() => tf.mul(tf.randomNormal([32, 1], 0, 1, 'float32', 72), 50).dataSync());
    if (entry.poisoned === true) {
      targets.fill(Number.NaN, 8, 16);
    }
    const y = tf.tensor2d(targets, [32, 1]);
    const start = tf.memory().numTensors;
    const optimizer = new HookedOptimizer(tf.train.adam(0.01), { plugins: entry.plugins() });
    net.compile({ optimizer, loss: 'meanSquaredError' });
    let events = 0;
    optimizer.telemetry.on(entry.event, ((payload: { plugin?: string }) => {
      if (payload.plugin === entry.name) {
        events += 1;
      }
    }) as never);

    const counts: number[][] = [];
    const history = await net.fit(x, y, {
      epochs: 3,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void counts.push([]),
        onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
      },
    });

    expect(events).toBe(3 * entry.perEpoch);
    expect(optimizer.iterations).toBe(3 * entry.updatesPerEpoch);
    const losses = history.history['loss'] as number[];
    expect(losses.every(Number.isFinite)).toBe(entry.poisoned !== true);
    // The first update creates Adam's slots and the plugin state; with accumulation it comes with the second batch.
    const firstUpdate = entry.name === 'accumulate' ? 1 : 0;
    counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? firstUpdate + 1 : 0));
    const weights = net.getWeights().flatMap((weight) => Array.from(weight.dataSync()));
    expect(weights.every(Number.isFinite)).toBe(true);

    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, y]);
    net.dispose();
  });
});

describe('fit helpers', () => {
  it('flushOnTrainEnd applies the partial window', async () => {
    const prefix = uniquePrefix('flush_');
    const net = model(prefix);
    const x = tf.randomNormal([20, 5], 0, 1, 'float32', 73);
    const y = tf.randomNormal([20, 1], 0, 1, 'float32', 74);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.01), { plugins: [accumulate({ steps: 2 })] });
    net.compile({ optimizer, loss: 'meanSquaredError' });
    const flush = flushOnTrainEnd(optimizer);
    // 20 samples in batches of 8: 8, 8, 4. The third batch opens a window that the flush closes.
    await net.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0, callbacks: [flush] });
    expect(flush.lastFlush).toMatchObject({ applied: true });
    expect(optimizer.iterations).toBe(2);
    optimizer.dispose();
    tf.dispose([x, y]);
    net.dispose();
  });

  it('averages BatchNorm moving statistics in average mode', async () => {
    const prefix = uniquePrefix('emabn_');
    const net = model(prefix);
    const x = tf.randomNormal([32, 5], 0, 3, 'float32', 75);
    const y = tf.randomNormal([32, 1], 0, 1, 'float32', 76);
    const optimizer = new HookedOptimizer(tf.train.adam(0.01), { plugins: [emaWeights({ decay: 0.9, nonTrainable: 'average', variables: [`${prefix}*/**`] })] });
    net.compile({ optimizer, loss: 'meanSquaredError' });
    await net.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const average = emaWeightsOf(optimizer)!;
    const movingMean = net.getLayer(`${prefix}_norm`).weights.find((weight) => weight.name.includes('moving_mean'))!;
    const read = () => Array.from(movingMean.read().dataSync());
    expect(average.variableNames()).toContain((movingMean.read() as tf.Variable).name);
    const live = read();
    const averaged = await average.withAveragedWeights(read);
    expect(averaged).not.toEqual(live);
    expect(read()).toEqual(live);
    optimizer.dispose();
    tf.dispose([x, y]);
    net.dispose();
  });
});
