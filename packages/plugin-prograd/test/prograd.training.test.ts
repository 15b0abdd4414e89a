import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import type { SessionCheckpoint } from '@gradhooks/core';
import { klToReference, prograd } from '@gradhooks/plugin-prograd';
import type { ProgradOptions } from '@gradhooks/plugin-prograd';
import { assertAllClose, assertSteadyTensorCount } from '@gradhooks/testing';

import { referenceProgradVector } from './harness.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

let counter = 0;

/**
 * Builds a seeded classifier with two outputs on the same logits: `task`
 * (softmax, trained with cross-entropy) and `general` (the logits themselves,
 * trained with `klToReference` against a fixed reference's logits).
 */
function classifier() {
  counter += 1;
  const prefix = `pgfit${counter}`;
  const input = tf.input({ shape: [6] });
  const hidden = tf.layers
    .dense({ units: 8, activation: 'tanh', name: `${prefix}_hidden`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })
    .apply(input) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 3, name: `${prefix}_logits`, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(hidden) as tf.SymbolicTensor;
  const task = tf.layers.activation({ activation: 'softmax', name: 'task' }).apply(logits) as tf.SymbolicTensor;
  const general = tf.layers.activation({ activation: 'linear', name: 'general' }).apply(logits) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [task, general], name: `${prefix}_model` });
  const x = tf.randomNormal([32, 6], 0, 1, 'float32', 61);
  const labels = tf.oneHot(tf.cast(tf.floor(tf.mul(tf.randomUniform([32], 0, 1, 'float32', 62), 3)), 'int32'), 3);
  const referenceLogits = tf.randomNormal([32, 3], 0, 2, 'float32', 63);
  cleanups.push(() => tf.dispose([x, labels, referenceLogits]), () => model.dispose());
  return { model, x, labels, referenceLogits };
}

/** The general objective's loss in fit: the target is the reference's logits. */
const generalLoss = (referenceLogits: tf.Tensor, logits: tf.Tensor) => klToReference(logits, referenceLogits);

describe('prograd in model.fit', () => {
  it('applies the projected task gradient', async () => {
    const { model, x, labels, referenceLogits } = classifier();
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const outputs = () => model.apply(x) as tf.Tensor[];
    const task = tf.variableGrads(() => tf.mean(tf.metrics.categoricalCrossentropy(labels, outputs()[0]!)) as tf.Scalar, variables);
    const general = tf.variableGrads(() => generalLoss(referenceLogits, outputs()[1]!), variables);
    const before = variables.map((variable) => Array.from(variable.dataSync()));

    const learningRate = 0.5;
    const optimizer = new HookedOptimizer(tf.train.sgd(learningRate), { plugins: [prograd({ task: 'task', general: 'general' })], model });
    const projected: boolean[] = [];
    optimizer.telemetry.on('state', (event) => projected.push(...Object.entries(event.values).filter(([key]) => key.startsWith('projected:')).map(([, value]) => value as boolean)));
    model.compile({ optimizer, loss: [tf.metrics.categoricalCrossentropy, generalLoss] });
    await model.fit(x, [labels, referenceLogits], { epochs: 1, batchSize: 32, shuffle: false, verbose: 0 });

    // At least one variable conflicts on this batch, so the check below covers a projection.
    expect(projected).toHaveLength(4);
    expect(projected.some((value) => value)).toBe(true);
    variables.forEach((variable, i) => {
      const update = referenceProgradVector(Array.from(task.grads[variable.name]!.dataSync()), Array.from(general.grads[variable.name]!.dataSync()), 1);
      assertAllClose(Array.from(variable.dataSync()), before[i]!.map((value, j) => value - learningRate * update[j]!), { rtol: 1e-4, atol: 1e-6, label: variable.name });
    });
    tf.dispose([task.value, general.value, ...Object.values(task.grads), ...Object.values(general.grads)]);
    optimizer.dispose();
  });

  it('trains with flat memory', async () => {
    const { model, x, labels, referenceLogits } = classifier();
    const start = tf.memory().numTensors;
    const optimizer = new HookedOptimizer(tf.train.adam(0.01), {
      plugins: [prograd({ task: 'task', general: 'general' })],
      model,
      objectives: ['task', 'general'],
    });
    let reports = 0;
    optimizer.telemetry.on('state', () => {
      reports += 1;
    });
    model.compile({ optimizer, loss: [tf.metrics.categoricalCrossentropy, generalLoss] });
    const counts: number[][] = [];
    const history = await model.fit(x, [labels, referenceLogits], {
      epochs: 4,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void counts.push([]),
        onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
      },
    });
    expect(reports).toBe(16);
    const taskLoss = history.history['task_loss'] as number[];
    expect(taskLoss[3]!).toBeLessThan(taskLoss[0]!);
    counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

/** Builds a two-objective problem on one linear layer: cross-entropy on labels and the KL to fixed reference logits. */
function problem(prefix: string, options: ProgradOptions) {
  const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.5, -1, 0.2], [2, 0.25, -0.4], [0.1, 0.3, 1]]), true, `${prefix}/w`));
  const b = tf.tidy(() => tf.variable(tf.tensor1d([0.1, -0.3, 0]), true, `${prefix}/b`));
  const x = tf.tensor2d([[1, 2, 0.5], [-1, 0.5, 2], [0.3, -2, 1], [1, 1, -1]]);
  const labels = tf.tensor2d([[1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]);
  const reference = tf.tensor2d([[-1, 2, 0], [2, 0.5, -1], [0, 0, 3], [0.5, 1, -2]]);
  const optimizer = new HookedOptimizer(tf.train.adam(0.05), { plugins: [prograd(options)] });
  const logits = () => tf.add(tf.matMul(x, w), b);
  const step = () =>
    optimizer.step(
      {
        task: () => tf.losses.softmaxCrossEntropy(labels, logits()) as tf.Scalar,
        general: () => klToReference(logits(), reference),
      },
      { variables: [w, b] },
    );
  return {
    optimizer,
    variables: [w, b],
    step,
    snapshot: () => [w, b].map((variable) => Array.from(variable.dataSync())),
    dispose: () => {
      optimizer.dispose();
      tf.dispose([w, b, x, labels, reference]);
    },
  };
}

describe('prograd checkpoints', () => {
  for (const scope of ['per-variable', 'global'] as const) {
    it(`resumes ${scope} bit for bit`, async () => {
      const start = tf.memory().numTensors;
      const options = { task: 'task', general: 'general', scope };
      const uninterrupted = problem(`pgresume${scope}a`, options);
      for (let i = 0; i < 8; i++) {
        uninterrupted.step();
      }
      const expected = uninterrupted.snapshot();
      uninterrupted.dispose();

      const first = problem(`pgresume${scope}b`, options);
      for (let i = 0; i < 4; i++) {
        first.step();
      }
      const checkpoint = JSON.parse(JSON.stringify(await first.optimizer.saveCheckpoint({ variables: first.variables }))) as SessionCheckpoint;
      first.dispose();

      const resumed = problem(`pgresume${scope}b`, options);
      await resumed.optimizer.loadCheckpoint(checkpoint, { variables: resumed.variables });
      for (let i = 0; i < 4; i++) {
        resumed.step();
      }
      expect(resumed.snapshot()).toEqual(expected);
      resumed.dispose();
      expect(tf.memory().numTensors).toBe(start);
    });
  }
});
