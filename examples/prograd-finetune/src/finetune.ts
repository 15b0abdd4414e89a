import * as tf from '@tensorflow/tfjs';

import { HookedOptimizer, SeededRandom } from '@gradhooks/core';
import { klToReference, prograd } from '@gradhooks/plugin-prograd';

import { CLASSES, PIXELS, shuffledIndices } from './data.js';
import type { DigitSet } from './data.js';

/** Builds a seeded MLP classifier, PIXELS → `hiddenUnits` (ReLU) → CLASSES logits. */
export function buildClassifier(hiddenUnits: number, seed: number): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [PIXELS], units: hiddenUnits, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  model.add(tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  return model;
}

/** Returns the model's trainable variables in layer order. */
export function trainableVariablesOf(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
}

/** Settings of one training phase. */
export interface PhaseSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
}

/** Trains `model` on `set` with softmax cross-entropy and plain tfjs Adam, in seeded batch order. */
export async function pretrain(model: tf.LayersModel, set: DigitSet, settings: PhaseSettings, seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const optimizer = tf.train.adam(settings.learningRate);
  const variables = trainableVariablesOf(model);
  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      forEachBatch(set, shuffledIndices(set.size, random), settings.batchSize, (x, y) => {
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, false, variables);
      });
      await tf.nextFrame();
    }
  } finally {
    optimizer.dispose();
  }
}

/** Fine-tuning method: the way the task loss and the general-knowledge loss are combined. */
export type Method = 'plain' | 'kl' | 'prograd';

/** Summary of ProGrad's projections over a fine-tuning run. */
export interface ProjectionSummary {
  /** Share of (step, variable) pairs where the task gradient conflicted with the KL gradient and was projected. */
  projectedShare: number;
}

/**
 * Fine-tunes a copy of `pretrained` on `set` through a HookedOptimizer and
 * returns it; the caller disposes it. `plain` minimizes the cross-entropy
 * alone. `kl` adds the KL to the frozen `reference` model's predictions on
 * the same batch, summing the two objectives. `prograd` takes the same two
 * objectives, and the `prograd` plugin projects the cross-entropy gradient
 * where it conflicts with the KL gradient.
 */
export async function fineTune(
  pretrained: tf.LayersModel,
  reference: tf.LayersModel,
  set: DigitSet,
  method: Method,
  settings: PhaseSettings & { hiddenUnits: number },
  seed: number,
): Promise<{ model: tf.LayersModel; projection: ProjectionSummary | undefined }> {
  const model = buildClassifier(settings.hiddenUnits, 0);
  model.setWeights(pretrained.getWeights());
  const variables = trainableVariablesOf(model);
  const optimizer = new HookedOptimizer(tf.train.adam(settings.learningRate), {
    plugins: method === 'prograd' ? [prograd({ task: 'task', general: 'general' })] : [],
  });
  let projected = 0;
  let decided = 0;
  optimizer.telemetry.on('state', (event) => {
    projected += event.values['projectedVariables'] as number;
    decided += event.values['sharedVariables'] as number;
  });
  const random = new SeededRandom(seed);
  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      forEachBatch(set, shuffledIndices(set.size, random), settings.batchSize, (x, y) => {
        const task = () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar;
        if (method === 'plain') {
          optimizer.step({ task }, { variables });
          return;
        }
        // The reference's logits are computed once per batch, outside the loss closures.
        const referenceLogits = reference.predict(x) as tf.Tensor;
        optimizer.step({ task, general: () => klToReference(model.apply(x) as tf.Tensor, referenceLogits) }, { variables });
      });
      await tf.nextFrame();
    }
  } finally {
    optimizer.dispose();
  }
  return { model, projection: decided === 0 ? undefined : { projectedShare: projected / decided } };
}

/** Returns the share of `set` that `model` classifies correctly. */
export function accuracy(model: tf.LayersModel, set: DigitSet): number {
  return tf.tidy(() => {
    const x = tf.tensor2d(set.images, [set.size, PIXELS]);
    const predicted = tf.argMax(model.predict(x, { batchSize: 500 }) as tf.Tensor, 1);
    return tf.mean(tf.cast(tf.equal(predicted, tf.tensor1d(set.labels, 'int32')), 'float32')).dataSync()[0]!;
  });
}

/** Calls `fn` on each batch of `set` in `order`, with one-hot labels, and frees the batch tensors after each call. */
function forEachBatch(set: DigitSet, order: readonly number[], batchSize: number, fn: (x: tf.Tensor2D, y: tf.Tensor2D) => void): void {
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize);
    tf.tidy(() => {
      const images = new Float32Array(rows.length * PIXELS);
      rows.forEach((row, i) => images.set(set.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS));
      const x = tf.tensor2d(images, [rows.length, PIXELS]);
      const y = tf.oneHot(tf.tensor1d(rows.map((row) => set.labels[row]!), 'int32'), CLASSES).toFloat() as tf.Tensor2D;
      fn(x, y);
    });
  }
}
