import * as tf from '@tensorflow/tfjs';

import { quantizeModel } from '@gradhooks/plugin-gaqat';

import { CLASSES, FEATURES } from './data.js';

/** Layer names of the classifier, input to output. */
export const LAYER_NAMES = ['hidden_1', 'hidden_2', 'logits'] as const;

/**
 * Builds a 784-h1-h2-10 MLP: two ReLU dense layers and a softmax output,
 * with initializers seeded from `seed`.
 */
export function buildClassifier(hiddenUnits: readonly [number, number], seed: number): tf.LayersModel {
  const model = tf.sequential({ name: 'rotated_mnist_mlp' });
  model.add(tf.layers.dense({ inputShape: [FEATURES], units: hiddenUnits[0], activation: 'relu', name: LAYER_NAMES[0], kernelInitializer: tf.initializers.heNormal({ seed }) }));
  model.add(tf.layers.dense({ units: hiddenUnits[1], activation: 'relu', name: LAYER_NAMES[1], kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }) }));
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', name: LAYER_NAMES[2], kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
  return model;
}

/**
 * Builds the b-bit twin of a trained classifier. The hidden layers quantize
 * kernels and inputs to `bits` bits. The pixels entering the first layer and
 * the whole output layer stay at 8 bits, as LSQ keeps its first and last
 * layers at 8 bits. Step sizes start from LSQ's rule on the calibration batch.
 */
export function quantizeClassifier(model: tf.LayersModel, bits: number, calibration: tf.Tensor): Promise<tf.LayersModel> {
  return quantizeModel(model, {
    bits,
    layers: {
      [LAYER_NAMES[0]]: { inputBits: 8 },
      [LAYER_NAMES[2]]: { weightBits: 8, inputBits: 8 },
    },
    calibration,
  });
}
