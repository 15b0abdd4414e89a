import * as tf from '@tensorflow/tfjs';

import type { SeededRandom } from '@gradhooks/core';

/** Optimization settings of one training phase. */
export interface PhaseSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
}

/**
 * Trains `model` (compiled by the caller) with `model.fit`, one call per
 * epoch on the data in a fresh order drawn from `random`. Fit's own shuffle
 * is off because it would use Math.random.
 */
export async function fitEpochs(model: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D, settings: PhaseSettings, random: SeededRandom): Promise<void> {
  const indices = Array.from({ length: x.shape[0] }, (_, i) => i);
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const order = tf.tensor1d(random.shuffle(indices), 'int32');
    const [xs, ys] = [tf.gather(x, order), tf.gather(y, order)];
    try {
      await model.fit(xs, ys, { epochs: 1, batchSize: settings.batchSize, shuffle: false, verbose: 0 });
    } finally {
      tf.dispose([order, xs, ys]);
    }
  }
}

/** Share of `labels` that `model` predicts, computed in batches of 1,000. */
export function accuracy(model: tf.LayersModel, x: tf.Tensor2D, labels: Int32Array): number {
  let correct = 0;
  for (let start = 0; start < labels.length; start += 1000) {
    const size = Math.min(1000, labels.length - start);
    const predicted = tf.tidy(() => tf.argMax(model.predict(x.slice([start, 0], [size, -1])) as tf.Tensor, -1).dataSync());
    for (let i = 0; i < size; i++) {
      if (predicted[i] === labels[start + i]) {
        correct += 1;
      }
    }
  }
  return correct / labels.length;
}
