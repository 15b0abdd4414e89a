import * as tf from '@tensorflow/tfjs';

import { FanOut } from '@gradhooks/core';

import { CLASSES } from './data.js';

/** Options of `buildMultiTaskModel`. */
export interface MultiTaskModelOptions {
  /** Width of the input vector. */
  inputSize: number;
  /** Units of the two shared dense layers (default [256, 128]). */
  hiddenUnits?: readonly [number, number];
  /** Seed of the kernel initializers (default 0). The same seed gives the same initial weights. */
  seed?: number;
  /**
   * Puts a `FanOut` layer (`fan_out`) between the shared layers and the heads,
   * for representation-level surgery. It adds no weights, so the initial
   * weights are the same with and without it.
   */
  fanOut?: boolean;
}

/**
 * Builds a shared-bottom MLP: two shared ReLU dense layers (`shared_1`,
 * `shared_2`) feed two 10-way softmax heads, `left` and `right`. The model's
 * output names are `left` and `right`, so inside `fit` a HookedOptimizer
 * receives two objectives with those names. Variables are named
 * `<layer>/kernel` and `<layer>/bias`; tfjs appends `_1`, `_2`, ... when a
 * name is already taken by a model built earlier in the same process.
 */
export function buildMultiTaskModel(options: MultiTaskModelOptions): tf.LayersModel {
  const [firstUnits, secondUnits] = options.hiddenUnits ?? [256, 128];
  const seed = options.seed ?? 0;
  const dense = (name: string, units: number, activation: 'relu' | 'softmax', layerSeed: number) =>
    tf.layers.dense({
      name,
      units,
      activation,
      kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed }),
      biasInitializer: 'zeros',
    });

  const input = tf.input({ shape: [options.inputSize], name: 'pixels' });
  const shared1 = dense('shared_1', firstUnits, 'relu', seed).apply(input) as tf.SymbolicTensor;
  const shared2 = dense('shared_2', secondUnits, 'relu', seed + 1).apply(shared1) as tf.SymbolicTensor;
  const [leftInput, rightInput] =
    options.fanOut === true ? (new FanOut({ objectives: ['left', 'right'], name: 'fan_out' }).apply(shared2) as tf.SymbolicTensor[]) : [shared2, shared2];
  const left = dense('left', CLASSES, 'softmax', seed + 2).apply(leftInput!) as tf.SymbolicTensor;
  const right = dense('right', CLASSES, 'softmax', seed + 3).apply(rightInput!) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [left, right], name: 'multitask_mlp' });
}
