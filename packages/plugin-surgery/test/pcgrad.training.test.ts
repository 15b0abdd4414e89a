import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { definePlugin, FanOut, HookedOptimizer, Stage } from '@gradhooks/core';
import type { RepresentationGradients } from '@gradhooks/core';
import { pcgrad } from '@gradhooks/plugin-surgery';
import { assertAllClose, assertSteadyTensorCount } from '@gradhooks/testing';

import { referencePcgrad } from './harness.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

let counter = 0;

function twoHeads(level: 'parameter' | 'representation') {
  counter += 1;
  const prefix = `pcfit${counter}`;
  const input = tf.input({ shape: [6] });
  const trunk = tf.layers.dense({ units: 8, activation: 'relu', name: `${prefix}_shared`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  let leftInput = trunk;
  let rightInput = trunk;
  if (level === 'representation') {
    [leftInput, rightInput] = new FanOut({ objectives: ['left', 'right'], name: `${prefix}_fan` }).apply(trunk) as [tf.SymbolicTensor, tf.SymbolicTensor];
  }
  const left = tf.layers.dense({ units: 3, activation: 'softmax', name: 'left', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(leftInput) as tf.SymbolicTensor;
  const right = tf.layers.dense({ units: 3, activation: 'softmax', name: 'right', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(rightInput) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [left, right], name: `${prefix}_model` });
  const x = tf.randomNormal([32, 6], 0, 1, 'float32', 51);
  const labels = (seed: number) => tf.oneHot(tf.cast(tf.floor(tf.mul(tf.randomUniform([32], 0, 1, 'float32', seed), 3)), 'int32'), 3);
  const yLeft = labels(52);
  const yRight = labels(53);
  cleanups.push(() => tf.dispose([x, yLeft, yRight]), () => model.dispose());
  return { model, x, yLeft, yRight };
}

async function fitWithCounts(model: tf.LayersModel, optimizer: HookedOptimizer, x: tf.Tensor, ys: tf.Tensor[]) {
  model.compile({ optimizer, loss: ['categoricalCrossentropy', 'categoricalCrossentropy'] });
  const counts: number[][] = [];
  const history = await model.fit(x, ys, {
    epochs: 4,
    batchSize: 8,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => void counts.push([]),
      onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
    },
  });
  return { counts, losses: history.history['loss'] as number[] };
}

describe('pcgrad in model.fit', () => {
  for (const level of ['parameter', 'representation'] as const) {
    it(`trains at the ${level} level with flat memory`, async () => {
      const { model, x, yLeft, yRight } = twoHeads(level);
      const start = tf.memory().numTensors;
      const optimizer = new HookedOptimizer(tf.train.adam(0.01), { plugins: [pcgrad({ seed: 1 })], model, level, objectives: ['left', 'right'] });
      const conflicts: number[] = [];
      optimizer.telemetry.on('conflict', (event) => conflicts.push(event.conflicts));
      const { counts, losses } = await fitWithCounts(model, optimizer, x, [yLeft, yRight]);
      expect(conflicts).toHaveLength(16);
      expect(losses[3]!).toBeLessThan(losses[0]!);
      counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
      optimizer.dispose();
      expect(tf.memory().numTensors).toBe(start);
    });
  }

  it('projects the representation gradients as PCGrad does on vectors', () => {
    counter += 1;
    const prefix = `pcrep${counter}`;
    const x = tf.randomNormal([4, 3], 0, 1, 'float32', 61);
    const trunk = tf.variable(tf.randomNormal([3, 5], 0, 1, 'float32', 62), true, `${prefix}/trunk`);
    const headA = tf.variable(tf.randomNormal([5, 2], 0, 1, 'float32', 63), true, `${prefix}/a`);
    const headB = tf.variable(tf.randomNormal([5, 2], 0, 1, 'float32', 64), true, `${prefix}/b`);
    const targetA = tf.randomNormal([4, 2], 0, 1, 'float32', 65);
    const targetB = tf.randomNormal([4, 2], 0, 1, 'float32', 66);
    cleanups.push(() => tf.dispose([x, trunk, headA, headB, targetA, targetB]));
    const seen: { before?: number[][]; after?: number[][] } = {};
    const probe = (key: 'before' | 'after', stage: number) =>
      definePlugin({
        name: `probe-${key}`,
        description: 'reads representation gradients',
        options: { type: 'object', properties: {}, additionalProperties: false },
        stage,
        create: () => ({
          representationGradients: (gradients: RepresentationGradients) => {
            seen[key] = Object.values(gradients).map((tensor) => Array.from(tensor.dataSync()));
            return gradients;
          },
        }),
      })();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      level: 'representation',
      plugins: [probe('before', Stage.GUARD), pcgrad(), probe('after', Stage.OBSERVE)],
    });
    let slices: tf.Tensor[] = [];
    optimizer.step(
      {
        a: () => {
          slices = tf.tidy(() => new FanOut({ objectives: ['a', 'b'] }).apply(tf.relu(tf.matMul(x, trunk))) as tf.Tensor[]);
          return tf.mean(tf.square(tf.sub(tf.matMul(slices[0]!, headA), targetA))) as tf.Scalar;
        },
        b: () => tf.mean(tf.square(tf.sub(tf.matMul(slices[1]!, headB), targetB))) as tf.Scalar,
      },
      { variables: [trunk, headA, headB] },
    );
    const expected = referencePcgrad(seen.before!, [[1], [0]]).projected;
    expected.forEach((row, k) => assertAllClose(seen.after![k]!, row, { rtol: 1e-4, atol: 1e-6, label: `objective ${k}` }));
    optimizer.dispose();
  });
});
