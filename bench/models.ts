import * as tf from '@tensorflow/tfjs';

import { FanOut } from '@gradhooks/core';

/** Batch size, input width and layer widths of the reference MLP (784-256-128-10). */
export const BATCH = 128;
export const INPUT = 784;
export const HIDDEN = [256, 128] as const;
export const CLASSES = 10;

/** One synthetic batch: inputs and two one-hot label sets, one per head. */
export interface Batch {
  x: tf.Tensor2D;
  left: tf.Tensor2D;
  right: tf.Tensor2D;
}

/**
 * Generates the batch from fixed seeds, so every run times the same numbers:
 * inputs uniform in [0, 1) like pixel intensities, labels uniform over the classes.
 */
export function syntheticBatch(seed = 20240601): Batch {
  return tf.tidy(() => {
    const x = tf.randomUniform([BATCH, INPUT], 0, 1, 'float32', seed) as tf.Tensor2D;
    const labels = (labelSeed: number) =>
      tf.oneHot(tf.randomUniform([BATCH], 0, CLASSES, 'int32', labelSeed) as tf.Tensor1D, CLASSES).toFloat() as tf.Tensor2D;
    return { x, left: labels(seed + 1), right: labels(seed + 2) };
  });
}

function dense(units: number, activation: 'relu' | 'linear', name: string, seed: number): tf.layers.Layer {
  return tf.layers.dense({
    units,
    activation,
    name,
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    biasInitializer: 'zeros',
  });
}

/** Builds the single-head 784-256-128-10 MLP. The `prefix` keeps tfjs's global variable names unique. */
export function singleHeadModel(prefix: string): tf.LayersModel {
  const input = tf.input({ shape: [INPUT], name: `${prefix}_input` });
  const h1 = dense(HIDDEN[0], 'relu', `${prefix}_dense1`, 1).apply(input) as tf.SymbolicTensor;
  const h2 = dense(HIDDEN[1], 'relu', `${prefix}_dense2`, 2).apply(h1) as tf.SymbolicTensor;
  const output = dense(CLASSES, 'linear', `${prefix}_head`, 3).apply(h2) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: prefix });
}

/**
 * Builds the two-head model: a 784-256-128 trunk shared by two 10-way heads,
 * `left` and `right`. With `fanOut`, a `FanOut` layer sits between the trunk
 * and the heads, so representation-level plugins see each head's gradient
 * with respect to the 128-wide trunk output. Same seeds as `singleHeadModel`,
 * so the trunks start from the same weights.
 */
export function twoHeadModel(prefix: string, options: { fanOut: boolean }): tf.LayersModel {
  const input = tf.input({ shape: [INPUT], name: `${prefix}_input` });
  const h1 = dense(HIDDEN[0], 'relu', `${prefix}_dense1`, 1).apply(input) as tf.SymbolicTensor;
  const z = dense(HIDDEN[1], 'relu', `${prefix}_dense2`, 2).apply(h1) as tf.SymbolicTensor;
  const [zLeft, zRight] = options.fanOut
    ? (new FanOut({ objectives: ['left', 'right'], name: `${prefix}_fan_out` }).apply(z) as tf.SymbolicTensor[])
    : [z, z];
  const left = dense(CLASSES, 'linear', `${prefix}_left`, 3).apply(zLeft!) as tf.SymbolicTensor;
  const right = dense(CLASSES, 'linear', `${prefix}_right`, 4).apply(zRight!) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [left, right], name: prefix });
}

/** Returns the model's trainable variables in the order `fit` passes them to the optimizer. */
export function trainableVariablesOf(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
}

/** Mean softmax cross-entropy of logits against one-hot labels. */
export function crossEntropy(labels: tf.Tensor2D, logits: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}
