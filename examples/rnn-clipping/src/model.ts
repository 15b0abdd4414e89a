import * as tf from '@tensorflow/tfjs';

import { CLASSES, ROW_WIDTH, TIME_STEPS } from './data.js';

/**
 * Builds an IRNN (Le, Jaitly and Hinton, "A Simple Way to Initialize
 * Recurrent Networks of Rectified Linear Units", 2015): a simple RNN with
 * ReLU units whose recurrent weights start as the identity, followed by a
 * linear layer that outputs the 10 class logits. Nothing bounds the ReLU
 * activations across the 28 time steps, so a large update makes the next
 * gradients explode. The layers are named `rnn` and `classifier`, and the
 * initializers are seeded.
 */
export function buildIrnn(options: { units: number; seed: number }): tf.LayersModel {
  const model = tf.sequential({ name: 'irnn' });
  model.add(
    tf.layers.simpleRNN({
      name: 'rnn',
      units: options.units,
      inputShape: [TIME_STEPS, ROW_WIDTH],
      activation: 'relu',
      recurrentInitializer: tf.initializers.identity({}),
      kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed }),
    }),
  );
  model.add(tf.layers.dense({ name: 'classifier', units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed + 1 }) }));
  return model;
}

/** Softmax cross-entropy computed from logits, so a saturated softmax still gives a gradient. */
export function logitsCrossEntropy(labels: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.losses.softmaxCrossEntropy(labels, logits);
}
