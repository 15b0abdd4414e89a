import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer, mapGradients } from '@gradhooks/core';
import type { GradientMap } from '@gradhooks/core';
import { assertSteadyTensorCount } from '@gradhooks/testing';

import { firstDifference, snapshot, tapPlugin, uniquePrefix } from './helpers.js';

const optimizers: Record<string, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.05),
  momentum: () => tf.train.momentum(0.05, 0.9),
  nesterov: () => tf.train.momentum(0.05, 0.9, true),
  adam: () => tf.train.adam(0.01),
  adamax: () => tf.train.adamax(0.01),
  rmsprop: () => tf.train.rmsprop(0.01),
  centeredRmsprop: () => tf.train.rmsprop(0.01, 0.9, 0.1, 1e-7, true),
  adagrad: () => tf.train.adagrad(0.1),
  adadelta: () => tf.train.adadelta(0.5),
};

const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  disposables.splice(0).forEach((item) => item.dispose());
});

function seededModel(prefix: string) {
  const model = tf.sequential({ name: `${prefix}_model` });
  model.add(tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu', name: `${prefix}_d1`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: 2, name: `${prefix}_d2`, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  disposables.push(model);
  return model;
}

function data() {
  const x = tf.randomNormal([20, 4], 0, 1, 'float32', 5);
  const y = tf.randomNormal([20, 2], 0, 1, 'float32', 6);
  disposables.push({ dispose: () => tf.dispose([x, y]) });
  return { x, y };
}

describe('HookedOptimizer without plugins', () => {
  it.each(Object.keys(optimizers))('matches bare %s bit for bit in fit', async (name) => {
    const { x, y } = data();
    const bare = seededModel(uniquePrefix('bare'));
    const hooked = seededModel(uniquePrefix('hooked'));
    expect(firstDifference(snapshot(bare.getWeights()), snapshot(hooked.getWeights()))).toBeUndefined();
    bare.compile({ optimizer: optimizers[name]!(), loss: 'meanSquaredError' });
    const wrapped = new HookedOptimizer(optimizers[name]!());
    hooked.compile({ optimizer: wrapped, loss: 'meanSquaredError' });
    const bareHistory = await bare.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const hookedHistory = await hooked.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expect(firstDifference(snapshot(hooked.getWeights()), snapshot(bare.getWeights()))).toBeUndefined();
    expect(hookedHistory.history['loss']).toEqual(bareHistory.history['loss']);
    expect(wrapped.iterations).toBe(9);
    wrapped.dispose();
  });

  it.each(Object.keys(optimizers))('matches bare %s bit for bit in minimize', (name) => {
    const prefix = uniquePrefix('minimize');
    const a = tf.variable(tf.tensor2d([[1, -2], [0.5, 3]]), true, `${prefix}/a`);
    const b = tf.variable(tf.tensor2d([[1, -2], [0.5, 3]]), true, `${prefix}/b`);
    disposables.push(a, b);
    const target = tf.tensor2d([[0.3, 0.1], [-1, 2]]);
    disposables.push(target);
    const bare = optimizers[name]!();
    const wrapped = new HookedOptimizer(optimizers[name]!());
    for (let i = 0; i < 4; i++) {
      bare.minimize(() => tf.mul(tf.sum(tf.square(tf.sub(tf.mul(a, a), target))), 0.1) as tf.Scalar, false, [a]);
      wrapped.minimize(() => tf.mul(tf.sum(tf.square(tf.sub(tf.mul(b, b), target))), 0.1) as tf.Scalar, false, [b]);
    }
    expect(a.dataSync().every((value) => Number.isFinite(value))).toBe(true);
    expect(firstDifference(snapshot([b]), snapshot([a]))).toBeUndefined();
    bare.dispose();
    wrapped.dispose();
  });

  it('keeps memory flat from step to step in fit', async () => {
    const { x, y } = data();
    const model = seededModel(uniquePrefix('memory'));
    const optimizer = new HookedOptimizer(tf.train.adam(0.01));
    model.compile({ optimizer, loss: 'meanSquaredError' });
    // tfjs's fit holds one tensor per epoch while the epoch runs, so counts are compared
    // between batches of one epoch and between epoch ends.
    const batchCounts: number[][] = [];
    const epochCounts: number[] = [];
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 5,
      shuffle: true,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void batchCounts.push([]),
        onBatchEnd: async () => void batchCounts[batchCounts.length - 1]!.push(tf.memory().numTensors),
        onEpochEnd: async () => void epochCounts.push(tf.memory().numTensors),
      },
    });
    expect(batchCounts.flat()).toHaveLength(12);
    batchCounts.forEach((counts, epoch) => assertSteadyTensorCount(counts, epoch === 0 ? 1 : 0));
    assertSteadyTensorCount(epochCounts, 0);
    optimizer.dispose();
  });

  it('returns memory to its start after dispose', () => {
    const prefix = uniquePrefix('dispose');
    const v = tf.variable(tf.tensor1d([1, 2]), true, `${prefix}/v`);
    disposables.push(v);
    const start = tf.memory().numTensors;
    const optimizer = new HookedOptimizer(tf.train.adam(0.1));
    for (let i = 0; i < 3; i++) {
      optimizer.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    }
    expect(tf.memory().numTensors).toBeGreaterThan(start);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('gradient list handed to the optimizer', () => {
  it('keeps the variable order and key set every step', () => {
    const prefix = uniquePrefix('order');
    const used = tf.variable(tf.tensor1d([1, 2]), true, `${prefix}/used`);
    const unused = tf.variable(tf.tensor1d([5]), true, `${prefix}/unused`);
    const alsoUsed = tf.variable(tf.tensor1d([3]), true, `${prefix}/alsoUsed`);
    disposables.push(used, unused, alsoUsed);
    const inner = tf.train.adam(0.1);
    const received: Array<Array<[string, boolean]>> = [];
    const original = inner.applyGradients.bind(inner);
    inner.applyGradients = (gradients) => {
      received.push((gradients as Array<{ name: string; tensor: tf.Tensor | null }>).map((entry) => [entry.name, entry.tensor !== null]));
      original(gradients);
    };
    const optimizer = new HookedOptimizer(inner);
    const varList = [used, unused, alsoUsed];
    optimizer.minimize(() => tf.add(tf.sum(used), tf.sum(alsoUsed)) as tf.Scalar, false, varList);
    optimizer.minimize(() => tf.sum(tf.square(alsoUsed)) as tf.Scalar, false, varList);
    const names = varList.map((variable) => variable.name);
    expect(received).toEqual([
      [[names[0]!, true], [names[1]!, false], [names[2]!, true]],
      [[names[0]!, false], [names[1]!, false], [names[2]!, true]],
    ]);
    expect(Array.from(unused.dataSync())).toEqual([5]);
    optimizer.dispose();
  });

  it('keeps null for an explicitly listed non-trainable variable', () => {
    const prefix = uniquePrefix('frozen');
    const trainable = tf.variable(tf.tensor1d([1, 2]), true, `${prefix}/trainable`);
    const frozen = tf.variable(tf.tensor1d([4]), false, `${prefix}/frozen`);
    disposables.push(trainable, frozen);
    const seen: GradientMap[] = [];
    const optimizer = new HookedOptimizer(tf.train.sgd(0.5), {
      plugins: [tapPlugin('observer', () => ({ gradients: (gradients) => (seen.push({ ...gradients }), gradients) }))],
    });
    optimizer.minimize(() => tf.add(tf.sum(tf.square(trainable)), tf.sum(frozen)) as tf.Scalar, false, [trainable, frozen]);
    expect(Object.keys(seen[0]!)).toEqual([trainable.name, frozen.name]);
    expect(seen[0]![frozen.name]).toBeNull();
    expect(Array.from(frozen.dataSync())).toEqual([4]);
    expect(Array.from(trainable.dataSync())).toEqual([0, 0]);
    optimizer.dispose();
  });

  it('scales SGD updates by a tap factor exactly', () => {
    const prefix = uniquePrefix('scale');
    const a = tf.variable(tf.tensor1d([1, -3]), true, `${prefix}/a`);
    const b = tf.variable(tf.tensor1d([1, -3]), true, `${prefix}/b`);
    disposables.push(a, b);
    const bare = tf.train.sgd(0.25);
    const halved = new HookedOptimizer(tf.train.sgd(0.25), {
      plugins: [tapPlugin('halver', () => ({ gradients: (gradients) => mapGradients(gradients, (g) => tf.mul(g, 0.5)) }))],
    });
    bare.minimize(() => tf.sum(tf.square(a)) as tf.Scalar, false, [a]);
    halved.minimize(() => tf.sum(tf.square(b)) as tf.Scalar, false, [b]);
    // Gradient 2x; bare moves by 0.5x, halved by 0.25x.
    expect(Array.from(a.dataSync())).toEqual([0.5, -1.5]);
    expect(Array.from(b.dataSync())).toEqual([0.75, -2.25]);
    bare.dispose();
    halved.dispose();
  });
});

describe('non-finite refusal', () => {
  it('names the first variable and changes nothing', () => {
    const prefix = uniquePrefix('nonfinite');
    const fine = tf.variable(tf.tensor1d([1]), true, `${prefix}/fine`);
    const broken = tf.variable(tf.tensor1d([0, 1]), true, `${prefix}/broken`);
    disposables.push(fine, broken);
    const optimizer = new HookedOptimizer(tf.train.adam(0.1));
    const loss = () => tf.add(tf.sum(tf.square(fine)), tf.sum(tf.sqrt(broken))) as tf.Scalar;
    const tensorsBefore = tf.memory().numTensors;
    let caught: { code?: string; variable?: string; message: string } | undefined;
    try {
      optimizer.minimize(loss, false, [fine, broken]);
    } catch (error) {
      caught = error as typeof caught;
    }
    expect(caught?.code).toBe(ErrorCode.ERR_GRADIENT_NONFINITE);
    expect(caught?.variable).toBe(broken.name);
    expect(caught?.message).toContain(`'${broken.name}' has 1 NaN or infinite value(s)`);
    expect(Array.from(fine.dataSync())).toEqual([1]);
    expect(Array.from(broken.dataSync())).toEqual([0, 1]);
    expect(optimizer.iterations).toBe(0);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    optimizer.dispose();
  });

  it('can be turned off with guard false', () => {
    const prefix = uniquePrefix('unguarded');
    const broken = tf.variable(tf.tensor1d([0, 1]), true, `${prefix}/broken`);
    disposables.push(broken);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { guard: false });
    optimizer.minimize(() => tf.sum(tf.sqrt(broken)) as tf.Scalar, false, [broken]);
    expect(Number.isFinite(broken.dataSync()[0]!)).toBe(false);
    optimizer.dispose();
  });
});

describe('tfjs integration', () => {
  it('serializes as the wrapped optimizer', () => {
    const optimizer = new HookedOptimizer(tf.train.adam(0.003, 0.8, 0.95));
    expect(optimizer.getClassName()).toBe('Adam');
    expect(optimizer.getConfig()).toEqual(tf.train.adam(0.003, 0.8, 0.95).getConfig());
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    optimizer.dispose();
  });

  it('returns the wrapped optimizer from unwrap', () => {
    const inner = tf.train.sgd(0.1);
    const optimizer = new HookedOptimizer(inner);
    expect(optimizer.unwrap()).toBe(inner);
    optimizer.dispose();
  });

  it('saves and loads a model compiled with it', async () => {
    const prefix = uniquePrefix('saved');
    const { x, y } = data();
    const model = seededModel(prefix);
    const optimizer = new HookedOptimizer(tf.train.adam(0.01));
    model.compile({ optimizer, loss: 'meanSquaredError' });
    await model.fit(x, y, { epochs: 2, batchSize: 10, shuffle: false, verbose: 0 });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    expect((artifacts!.trainingConfig as unknown as { optimizer_config: { class_name: string } }).optimizer_config.class_name).toBe('Adam');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    disposables.push(loaded);
    expect(loaded.optimizer.getClassName()).toBe('Adam');
    expect(loaded.optimizer.iterations).toBe(4);
    const expected = model.predict(x) as tf.Tensor;
    const actual = loaded.predict(x) as tf.Tensor;
    expect(Array.from(actual.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([expected, actual]);
    optimizer.dispose();
  });

  it('continues bit for bit after tfjs restores Adam weights', async () => {
    const prefix = uniquePrefix('restore');
    const v1 = tf.variable(tf.tensor1d([1, -2, 3]), true, `${prefix}/v1`);
    const v2 = tf.variable(tf.tensor1d([1, -2, 3]), true, `${prefix}/v2`);
    disposables.push(v1, v2);
    const loss = (v: tf.Variable) => () => tf.sum(tf.square(tf.sub(v, tf.tensor1d([0.5, 0.5, 0.5])))) as tf.Scalar;
    const uninterrupted = new HookedOptimizer(tf.train.adam(0.05));
    for (let i = 0; i < 7; i++) {
      uninterrupted.minimize(loss(v1), false, [v1]);
    }
    const first = new HookedOptimizer(tf.train.adam(0.05));
    for (let i = 0; i < 4; i++) {
      first.minimize(loss(v2), false, [v2]);
    }
    const weights = await first.getWeights();
    const copies = weights.map((entry) => ({ name: entry.name, tensor: tf.clone(entry.tensor) }));
    const resumed = new HookedOptimizer(tf.train.adam(0.05));
    await resumed.setWeights(copies);
    tf.dispose(copies.map((entry) => entry.tensor));
    tf.dispose(weights[0]!.tensor);
    for (let i = 0; i < 3; i++) {
      resumed.minimize(loss(v2), false, [v2]);
    }
    expect(Array.from(v2.dataSync())).toEqual(Array.from(v1.dataSync()));
    uninterrupted.dispose();
    first.dispose();
    resumed.dispose();
  });
});

describe('non-finite check', () => {
  it('accepts finite gradients whose sum overflows', () => {
    const prefix = uniquePrefix('overflow');
    const big = tf.variable(tf.tensor1d([0, 0]), true, `${prefix}/big`);
    disposables.push(big);
    const optimizer = new HookedOptimizer(tf.train.sgd(1e-38));
    // d/dw of 3e38 * w is 3e38 per element; their sum overflows float32, the elements do not.
    optimizer.minimize(() => tf.sum(tf.mul(big, 3e38)) as tf.Scalar, false, [big]);
    expect(Array.from(big.dataSync()).every((value) => Number.isFinite(value) && value < 0)).toBe(true);
    optimizer.dispose();
  });
});

describe('default variable order', () => {
  function run(prefix: string, interfere: (step: number) => void) {
    const w1 = tf.variable(tf.tensor1d([1, -2]), true, `${prefix}/w1`);
    const w2 = tf.variable(tf.tensor2d([[0.5, 3]]), true, `${prefix}/w2`);
    disposables.push(w1, w2);
    const optimizer = new HookedOptimizer(tf.train.adam(0.05));
    for (let step = 0; step < 6; step++) {
      interfere(step);
      optimizer.step({ loss: () => tf.add(tf.sum(tf.square(tf.sub(w1, 0.3))), tf.sum(tf.square(tf.mul(w2, 2)))) as tf.Scalar });
    }
    optimizer.dispose();
    return snapshot([w1, w2]);
  }

  it('survives variables created mid-run', () => {
    const expected = run(uniquePrefix('quiet'), () => {});
    const extra: Array<{ dispose(): void }> = [];
    const actual = run(uniquePrefix('busy'), (step) => {
      if (step === 3) {
        // An unrelated optimizer (with trainable beta powers) and a variable with an integer-like name,
        // which tfjs enumerates before all others.
        extra.push(tf.train.adam(0.1), tf.variable(tf.scalar(1), true, String(900000 + Math.floor(Math.random() * 1000))));
      }
    });
    extra.forEach((item) => item.dispose());
    expect(firstDifference(actual, expected)).toBeUndefined();
  });

  it('keeps the order of fit when a custom step follows', async () => {
    const { x, y } = data();
    const model = seededModel(uniquePrefix('mixed'));
    const optimizer = new HookedOptimizer(tf.train.adam(0.01));
    model.compile({ optimizer, loss: 'meanSquaredError' });
    await model.fit(x, y, { epochs: 1, batchSize: 10, shuffle: false, verbose: 0 });
    const result = optimizer.step({ loss: () => tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, y))) as tf.Scalar });
    expect(result.applied).toBe(true);
    optimizer.dispose();
  });
});
