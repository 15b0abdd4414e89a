import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { definePlugin, ErrorCode, HookedOptimizer } from '@gradhooks/core';
import type { ObjectiveGradients } from '@gradhooks/core';
import { assertAllClose, assertSteadyTensorCount } from '@gradhooks/testing';

import { tapPlugin, twoHeadData, twoHeadModel, twoObjectiveProblem, uniquePrefix } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

/** Records, per step, each objective's gradient values and key order, read inside the tap. */
function recorder() {
  const steps: Array<Record<string, Record<string, number[] | null>>> = [];
  const plugin = tapPlugin('recorder', () => ({
    objectiveGradients: (gradients: ObjectiveGradients) => {
      const copy: Record<string, Record<string, number[] | null>> = {};
      for (const [objective, map] of Object.entries(gradients)) {
        copy[objective] = Object.fromEntries(Object.entries(map).map(([name, tensor]) => [name, tensor === null ? null : Array.from(tensor.dataSync())]));
      }
      steps.push(copy);
      return gradients;
    },
  }));
  return { plugin, steps };
}

describe('custom-loop objectives', () => {
  it('leave unreached variables out of an objective map', () => {
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const { plugin, steps } = recorder();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [plugin] });
    const result = optimizer.step(problem.objectives, { variables: problem.variables });
    expect(result.applied).toBe(true);
    expect(Object.keys(steps[0]!)).toEqual(['left', 'right']);
    expect(Object.keys(steps[0]!['left']!)).toEqual([problem.shared.name, problem.head.name]);
    expect(Object.keys(steps[0]!['right']!)).toEqual([problem.shared.name]);
    expect(steps[0]!['right']![problem.shared.name]).toEqual([6, 1, 1]);
    // The head gradient is 2h = [1, -2]; the shared gradient is the sum [2, 2, 2].
    expect(problem.values()).toEqual([[1 - 0.2, 2 - 0.2, 3 - 0.2].map(Math.fround), [0.5 - 0.1, -1 + 0.2].map(Math.fround)]);
    expect(result.losses['left']).toBeCloseTo(-4 + 2 + 3 + 0.25 + 1, 5);
    expect(result.losses['right']).toBeCloseTo(6 + 2 + 3, 5);
    optimizer.dispose();
  });

  it('scale gradients by declared weights', () => {
    const weighted = twoObjectiveProblem();
    const scaled = twoObjectiveProblem();
    cleanups.push(weighted.dispose, scaled.dispose);
    const withWeights = new HookedOptimizer(tf.train.sgd(0.1), { objectives: { left: { weight: 0.5 }, right: { weight: 2 } } });
    const byHand = new HookedOptimizer(tf.train.sgd(0.1));
    withWeights.step(weighted.objectives, { variables: weighted.variables });
    byHand.step(
      {
        left: () => tf.mul(scaled.objectives.left(), 0.5) as tf.Scalar,
        right: () => tf.mul(scaled.objectives.right(), 2) as tf.Scalar,
      },
      { variables: scaled.variables },
    );
    expect(weighted.values()).toEqual(scaled.values());
    withWeights.dispose();
    byHand.dispose();
  });

  it('reject objectives that differ from the declared ones', () => {
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { objectives: ['left', 'right'] });
    expect(() => optimizer.step({ left: problem.objectives.left }, { variables: problem.variables })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OBJECTIVE_MISMATCH, expected: 'left, right' }),
    );
    optimizer.dispose();
  });

  it('name an objective that reaches no variable', () => {
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1));
    expect(() => optimizer.step({ constant: () => tf.scalar(3) }, { variables: problem.variables })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OBJECTIVE_INVALID, message: expect.stringContaining("objective 'constant'") }),
    );
    optimizer.dispose();
  });
});

describe('per-output objectives in fit', () => {
  it('give each output its own gradients and keep fit logs', async () => {
    const data = twoHeadData();
    cleanups.push(data.dispose);
    const prefix = uniquePrefix('outputs');
    const model = twoHeadModel(prefix);
    const reference = twoHeadModel(uniquePrefix('reference'));
    cleanups.push(() => model.dispose(), () => reference.dispose());
    const { plugin, steps } = recorder();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.05), { plugins: [plugin], model, objectives: [`${prefix}_left`, `${prefix}_right`] });
    model.compile({ optimizer, loss: ['categoricalCrossentropy', 'meanSquaredError'], metrics: ['mse'] });
    reference.compile({ optimizer: tf.train.sgd(0.05), loss: ['categoricalCrossentropy', 'meanSquaredError'], metrics: ['mse'] });

    // Gradients of each output's loss alone, at the initial weights, on the first batch.
    const batch = tf.slice(data.x, 0, 8);
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const expectedLeft = tf.variableGrads(
      () => tf.mean(tf.losses.softmaxCrossEntropy(tf.slice(data.yLeft, 0, 8), tf.log((model.apply(batch) as tf.Tensor[])[0]!), undefined, 0, tf.Reduction.NONE)) as tf.Scalar,
      variables,
    );
    tf.dispose([batch, expectedLeft.value]);

    const history = await model.fit(data.x, [data.yLeft, data.yRight], { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const referenceHistory = await reference.fit(data.x, [data.yLeft, data.yRight], { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });

    const first = steps[0]!;
    expect(Object.keys(first)).toEqual([`${prefix}_left`, `${prefix}_right`]);
    const leftKeys = Object.keys(first[`${prefix}_left`]!);
    const rightKeys = Object.keys(first[`${prefix}_right`]!);
    expect(leftKeys.some((name) => name.includes(`${prefix}_right`))).toBe(false);
    expect(rightKeys.some((name) => name.includes(`${prefix}_left`))).toBe(false);
    expect(leftKeys.filter((name) => name.includes(`${prefix}_shared`))).toHaveLength(2);
    expect(rightKeys.filter((name) => name.includes(`${prefix}_shared`))).toHaveLength(2);
    for (const [name, tensor] of Object.entries(expectedLeft.grads)) {
      // categoricalCrossentropy clips probabilities and normalizes; the softmax head makes it equal to -log p of the label.
      assertAllClose(first[`${prefix}_left`]![name] ?? [], Array.from(tensor!.dataSync()), { rtol: 1e-4, atol: 1e-6, label: name });
    }
    tf.dispose(Object.values(expectedLeft.grads) as tf.Tensor[]);

    for (const key of Object.keys(referenceHistory.history)) {
      const expectedKey = key.replace(/^[a-z]+\d+_/, `${prefix}_`).replace(/reference\d+_/, `${prefix}_`);
      const actual = history.history[expectedKey] ?? history.history[key];
      assertAllClose(actual as number[], referenceHistory.history[key] as number[], { rtol: 1e-5, atol: 1e-6, label: key });
    }
    optimizer.dispose();
  });

  it('keep memory flat and count regularization once', async () => {
    const data = twoHeadData();
    cleanups.push(data.dispose);
    const prefix = uniquePrefix('regularized');
    const model = twoHeadModel(prefix, { regularize: true });
    const reference = twoHeadModel(uniquePrefix('plain'), { regularize: true });
    cleanups.push(() => model.dispose(), () => reference.dispose());
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { model });
    model.compile({ optimizer, loss: ['categoricalCrossentropy', 'meanSquaredError'] });
    reference.compile({ optimizer: tf.train.sgd(0.1), loss: ['categoricalCrossentropy', 'meanSquaredError'] });
    const batchCounts: number[][] = [];
    const history = await model.fit(data.x, [data.yLeft, data.yRight], {
      epochs: 3,
      batchSize: 6,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void batchCounts.push([]),
        onBatchEnd: async () => void batchCounts[batchCounts.length - 1]!.push(tf.memory().numTensors),
      },
    });
    const referenceHistory = await reference.fit(data.x, [data.yLeft, data.yRight], { epochs: 3, batchSize: 6, shuffle: false, verbose: 0 });
    batchCounts.forEach((counts) => assertSteadyTensorCount(counts, 1));
    assertAllClose(history.history['loss'] as number[], referenceHistory.history['loss'] as number[], { rtol: 1e-5, label: 'loss' });
    const weights = model.getWeights().map((weight) => Array.from(weight.dataSync()));
    const referenceWeights = reference.getWeights().map((weight) => Array.from(weight.dataSync()));
    weights.forEach((values, i) => assertAllClose(values, referenceWeights[i]!, { rtol: 1e-4, atol: 1e-6, label: `weight ${i}` }));
    optimizer.dispose();
  });
});

describe('repeated runs of the fit closure', () => {
  it('compute metrics once per step', async () => {
    const data = twoHeadData();
    cleanups.push(data.dispose);
    const prefix = uniquePrefix('rerun');
    const model = tf.sequential({ name: `${prefix}_model` });
    model.add(tf.layers.dense({ inputShape: [6], units: 3, activation: 'softmax', name: `${prefix}_dense`, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
    cleanups.push(() => model.dispose());
    // A derived objective that runs the task's loss closure a second time, as a sharpness objective does.
    const rerun = tapPlugin('rerun', () => ({
      objectiveSources: (sources) => {
        const task = sources['loss'] as { loss: () => tf.Scalar };
        return { ...sources, again: { loss: () => tf.mul(task.loss(), 0) as tf.Scalar } };
      },
    }));
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [rerun], model });
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy', 'mse'] });
    const batchCounts: number[][] = [];
    const history = await model.fit(data.x, data.yLeft, {
      epochs: 2,
      batchSize: 6,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void batchCounts.push([]),
        onBatchEnd: async () => void batchCounts[batchCounts.length - 1]!.push(tf.memory().numTensors),
      },
    });
    batchCounts.forEach((counts) => assertSteadyTensorCount(counts, 1));
    expect(Object.keys(history.history).sort()).toEqual(['acc', 'loss', 'mse']);
    optimizer.dispose();
  });

  it('name the fit objective after the one declared objective no plugin derives', async () => {
    const data = twoHeadData();
    cleanups.push(data.dispose);
    const prefix = uniquePrefix('derived');
    const model = tf.sequential({ name: `${prefix}_model` });
    model.add(tf.layers.dense({ inputShape: [6], units: 3, activation: 'softmax', name: `${prefix}_dense` }));
    cleanups.push(() => model.dispose());
    const deriving = definePlugin({
      name: 'deriving',
      description: 'adds a smoothness objective',
      options: { type: 'object', properties: {}, additionalProperties: false },
      derivedObjectives: () => ['smoothness'],
      create: () => ({
        objectiveSources: (sources) => ({ ...sources, smoothness: { loss: () => tf.mul((sources['task'] as { loss: () => tf.Scalar }).loss(), 0) as tf.Scalar } }),
      }),
    });
    const seen: string[][] = [];
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [deriving(), tapPlugin('names', () => ({ objectiveGradients: (gradients) => (seen.push(Object.keys(gradients)), gradients) }))],
      objectives: ['task', 'smoothness'],
      model,
    });
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await model.fit(data.x, data.yLeft, { epochs: 1, batchSize: 12, shuffle: false, verbose: 0 });
    expect(seen).toEqual([
      ['task', 'smoothness'],
      ['task', 'smoothness'],
    ]);
    optimizer.dispose();
  });
});

describe('declared objectives and the model', () => {
  it('must match the output names when the optimizer is built', () => {
    const prefix = uniquePrefix('mismatch');
    const model = twoHeadModel(prefix);
    cleanups.push(() => model.dispose());
    let caught: { code?: string; path?: string; message: string } | undefined;
    try {
      new HookedOptimizer(tf.train.sgd(0.1), { model, objectives: ['a', 'b'] });
    } catch (error) {
      caught = error as typeof caught;
    }
    expect(caught?.code).toBe(ErrorCode.ERR_OBJECTIVE_MISMATCH);
    expect(caught?.path).toBe('/objectives');
    expect(caught?.message).toContain(`Name the objectives after the model's outputs: ${prefix}_left, ${prefix}_right.`);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { model, objectives: [`${prefix}_right`, `${prefix}_left`] });
    optimizer.dispose();
  });
});
