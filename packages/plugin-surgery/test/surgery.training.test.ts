import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { resolveConfig } from '@gradhooks/config';
import { FanOut, HookedOptimizer } from '@gradhooks/core';
import type { GradientLevel, PluginSpec } from '@gradhooks/core';
import { surgeryPlugins, upgrad } from '@gradhooks/plugin-surgery';
import { aggregateJacobians, assertAllClose, assertSteadyTensorCount } from '@gradhooks/testing';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

/** Options each aggregator needs in a three-objective config; the others take none. */
const requiredOptions: Record<string, Record<string, unknown>> = {
  constant: { weights: { a: 1, b: 0.5, c: 2 } },
  krum: { byzantine: 0 },
  'trimmed-mean': { trim: 1 },
};

const names: string[] = (surgeryPlugins as unknown as ReadonlyArray<{ definition: { name: string } }>).map((plugin) => plugin.definition.name);

let counter = 0;

/** A shared trunk and three softmax heads, optionally behind a fan-out. */
function threeHeads(level: GradientLevel) {
  counter += 1;
  const prefix = `surgeryfit${counter}`;
  const input = tf.input({ shape: [6] });
  const trunk = tf.layers.dense({ units: 8, activation: 'relu', name: `${prefix}_shared`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  const objectives = ['a', 'b', 'c'];
  const inputs = level === 'representation' ? (new FanOut({ objectives, name: `${prefix}_fan` }).apply(trunk) as tf.SymbolicTensor[]) : objectives.map(() => trunk);
  const heads = objectives.map(
    (name, k) => tf.layers.dense({ units: 3, activation: 'softmax', name, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 + k }) }).apply(inputs[k]!) as tf.SymbolicTensor,
  );
  const model = tf.model({ inputs: input, outputs: heads, name: `${prefix}_model` });
  const x = tf.randomNormal([24, 6], 0, 1, 'float32', 51);
  const ys = [52, 53, 54].map((seed) => tf.oneHot(tf.cast(tf.floor(tf.mul(tf.randomUniform([24], 0, 1, 'float32', seed), 3)), 'int32'), 3));
  cleanups.push(() => tf.dispose([x, ...ys]), () => model.dispose());
  return { model, x, ys, objectives };
}

async function pluginFromConfig(name: string, extra: Record<string, unknown> = {}): Promise<PluginSpec> {
  const config = await resolveConfig({
    objectives: { a: {}, b: {}, c: {} },
    plugins: [{ use: name, options: { ...requiredOptions[name], ...extra } }],
  });
  return config.plugins[0]!;
}

describe('surgery plugins from config', () => {
  it('registers every aggregator under its config name', async () => {
    expect(names).toEqual([
      'sum',
      'mean',
      'constant',
      'random',
      'pcgrad',
      'upgrad',
      'dualproj',
      'mgda',
      'cagrad',
      'imtl-g',
      'aligned-mtl',
      'conflictfree',
      'gradvac',
      'graddrop',
      'nash-mtl',
      'krum',
      'trimmed-mean',
    ]);
    for (const name of names) {
      expect((await pluginFromConfig(name)).definition.name).toBe(name);
    }
  });

  it('rejects weights for an objective the config does not declare', async () => {
    await expect(resolveConfig({ objectives: { a: {}, b: {} }, plugins: [{ use: 'constant', options: { weights: { a: 1, z: 1 } } }] })).rejects.toMatchObject({
      issues: [expect.objectContaining({ path: '/plugins/0/options/weights', received: 'z' })],
    });
  });

  for (const level of ['parameter', 'representation'] as const) {
    it(`trains with each aggregator inside model.fit at the ${level} level`, async () => {
      for (const name of names) {
        const { model, x, ys, objectives } = threeHeads(level);
        const start = tf.memory().numTensors;
        const optimizer = new HookedOptimizer(tf.train.adam(0.01), { plugins: [await pluginFromConfig(name)], model, level, objectives, seed: 5 });
        model.compile({ optimizer, loss: objectives.map(() => 'categoricalCrossentropy') });
        // fit allocates a few tensors per epoch, so counts are compared within an epoch.
        const counts: number[][] = [];
        const history = await model.fit(x, ys, {
          epochs: 2,
          batchSize: 8,
          shuffle: false,
          verbose: 0,
          callbacks: {
            onEpochBegin: async () => void counts.push([]),
            onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
          },
        });
        const losses = history.history['loss'] as number[];
        expect(losses.every(Number.isFinite), `${name} losses ${losses.join(', ')}`).toBe(true);
        counts.forEach((epoch, i) => assertSteadyTensorCount(epoch, i === 0 ? 1 : 0));
        optimizer.dispose();
        expect(tf.memory().numTensors, `${name} leaves tensors`).toBe(start);
      }
    });
  }
});

describe('surgery dry run', () => {
  it('applies the plain sum and reports what the aggregator would do', () => {
    const rows = [
      [-4, 1, 1],
      [6, 1, 1],
    ];
    const [dry] = aggregateJacobians(upgrad({ dryRun: true }), [rows]);
    assertAllClose(dry!.output, [2, 2, 2], { rtol: 1e-6, label: 'applied update' });
    expect(dry!.conflicts[0]!.plugin).toBe('upgrad');
    assertAllClose(dry!.conflicts[0]!.weights!, [1.11092, 0.789431], { rtol: 1e-5, label: 'reported weights' });
    expect(dry!.dryRuns[0]!.relativeChange!).toBeGreaterThan(0);
  });

  for (const name of names) {
    it(`${name}: a dry run leaves the sum in place at both levels`, async () => {
      const rows = [
        [-4, 1, 1],
        [6, 1, 1],
        [1, -2, 0.5],
      ];
      for (const level of ['parameter', 'representation'] as const) {
        const [dry] = aggregateJacobians(await pluginFromConfig(name, { dryRun: true }), [rows], { level, objectives: ['a', 'b', 'c'] });
        assertAllClose(dry!.output, [3, 0, 2.5], { rtol: 1e-6, label: `${name} at the ${level} level` });
      }
    });
  }
});
