import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import type { FreezeEvent, PluginSpec } from '@gradhooks/core';
import { gaqat, quantizeModel, sam, sharpness } from '@gradhooks/plugin-gaqat';
import { assertSteadyTensorCount } from '@gradhooks/testing';

import { observer, uniquePrefix } from './harness.js';
import type { ObservedStep } from './harness.js';

/** Builds a quantized 8-12-3 MLP and a fixed batch of 32 examples. */
async function quantizedMlp() {
  const name = uniquePrefix('gt');
  const model = tf.sequential({ name });
  model.add(tf.layers.dense({ inputShape: [8], units: 12, activation: 'relu', name: `${name}_hidden`, kernelInitializer: tf.initializers.glorotUniform({ seed: 21 }) }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax', name: `${name}_out`, kernelInitializer: tf.initializers.glorotUniform({ seed: 22 }) }));
  const x = tf.randomNormal([32, 8], 0, 1, 'float32', 23);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 3), 'int32'), 3);
  const quantized = await quantizeModel(model, { bits: 4, calibration: x });
  model.dispose();
  return {
    model: quantized,
    x,
    y,
    dispose: () => {
      quantized.dispose();
      tf.dispose([x, y]);
    },
  };
}

/** Trains with fit for three epochs of four batches and returns what it saw. */
async function fitWith(plugins: PluginSpec[]) {
  const { model, x, y, dispose } = await quantizedMlp();
  const steps: ObservedStep[] = [];
  const start = tf.memory().numTensors;
  const optimizer = new HookedOptimizer(tf.train.adam(1e-2), { plugins: [...plugins, observer('', steps)] });
  const freezes: FreezeEvent[] = [];
  optimizer.telemetry.on('freeze', (event) => freezes.push(event));
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const before = model.getWeights().map((weight) => Array.from(weight.dataSync()));
  const counts: number[][] = [];
  const history = await model.fit(x, y, {
    epochs: 3,
    batchSize: 8,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => void counts.push([]),
      onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
    },
  });
  const after = model.getWeights().map((weight) => Array.from(weight.dataSync()));
  const scales = model.trainableWeights.map((weight) => weight.name).filter((name) => name.includes('quant_scale'));
  optimizer.dispose();
  const end = tf.memory().numTensors;
  dispose();
  return { steps, freezes, counts, history, before, after, scales, start, end };
}

describe('gaqat in model.fit', () => {
  it('freezes task gradients of scales after a window', async () => {
    const run = await fitWith([sharpness({ rho: 0.05 }), gaqat({ window: 2, threshold: 1.01 })]);
    expect(run.steps).toHaveLength(12);
    expect(Object.keys(run.steps[0]!.objectives)).toEqual(['loss', 'smoothness']);
    // Windows end after steps 2, 4, ..., 12: six per scale; τ > 1 freezes every scale with a non-zero window.
    expect(run.freezes).toHaveLength(6 * run.scales.length);
    expect(run.freezes.every((event) => event.frozen)).toBe(true);
    for (const scale of run.scales) {
      expect(scale in run.steps[1]!.objectives['loss']!).toBe(true);
      expect(scale in run.steps[2]!.objectives['loss']!).toBe(false);
      expect(scale in run.steps[2]!.objectives['smoothness']!).toBe(true);
    }
    expect(run.after).not.toEqual(run.before);
    expect(run.history.history['loss']!.every((value) => Number.isFinite(value as number))).toBe(true);
    run.counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
    expect(run.end).toBe(run.start);
  });

  it('sam trains through fit without leaks', async () => {
    const run = await fitWith([sam({ rho: 0.05 })]);
    expect(Object.keys(run.steps[0]!.objectives)).toEqual(['loss']);
    expect(run.after).not.toEqual(run.before);
    run.counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
    expect(run.end).toBe(run.start);
  });
});

describe('gaqat exact resume', () => {
  it('checkpoint mid-window continues bit for bit', async () => {
    const total = 8;
    const stopAt = 4;
    const plugins = () => [sharpness({ rho: 0.05, form: 'gap' }), gaqat({ window: 3, threshold: 1.01 })];

    /** Runs steps [from, to) of a custom loop on `model`. */
    const train = (optimizer: HookedOptimizer, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, from: number, to: number) => {
      for (let step = from; step < to; step++) {
        const batch = tf.tidy(() => [x.slice([(step % 4) * 8, 0], [8, -1]), y.slice([(step % 4) * 8, 0], [8, -1])]);
        optimizer.step({ task: () => tf.losses.softmaxCrossEntropy(batch[1]!, model.apply(batch[0]!) as tf.Tensor) as tf.Scalar }, { variables: model.trainableWeights.map((weight) => weight.read() as tf.Variable) });
        tf.dispose(batch);
      }
    };
    const bits = (model: tf.LayersModel) => model.getWeights().map((weight) => Array.from(new Uint32Array(Float32Array.from(weight.dataSync()).buffer)));

    const whole = await quantizedMlp();
    const wholeOptimizer = new HookedOptimizer(tf.train.adam(1e-2), { plugins: plugins() });
    const wholeFreezes: Array<[number, number, boolean]> = [];
    wholeOptimizer.telemetry.on('freeze', (event) => wholeFreezes.push([event.step, event.disorder, event.frozen]));
    train(wholeOptimizer, whole.model, whole.x, whole.y, 0, total);

    const split = await quantizedMlp();
    const variables = split.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const first = new HookedOptimizer(tf.train.adam(1e-2), { plugins: plugins() });
    const splitFreezes: Array<[number, number, boolean]> = [];
    first.telemetry.on('freeze', (event) => splitFreezes.push([event.step, event.disorder, event.frozen]));
    train(first, split.model, split.x, split.y, 0, stopAt);
    const checkpoint = JSON.parse(JSON.stringify(await first.saveCheckpoint({ variables })));
    first.dispose();
    // Scramble the weights so only the checkpoint can bring them back.
    for (const variable of variables) {
      variable.assign(tf.tidy(() => tf.onesLike(variable)));
    }
    const second = new HookedOptimizer(tf.train.adam(1e-2), { plugins: plugins() });
    second.telemetry.on('freeze', (event) => splitFreezes.push([event.step, event.disorder, event.frozen]));
    await second.loadCheckpoint(checkpoint, { variables });
    train(second, split.model, split.x, split.y, stopAt, total);

    expect(bits(split.model)).toEqual(bits(whole.model));
    expect(splitFreezes).toEqual(wholeFreezes);
    expect(wholeFreezes.length).toBeGreaterThan(0);
    wholeOptimizer.dispose();
    second.dispose();
    whole.dispose();
    split.dispose();
  });
});
